#!/usr/bin/env bash
# The soak a person runs before resolving anything that touches the publisher, the stores, the
# limits, the outbox or the simulation: the deterministic simulation in release mode, 1,000,000
# seeds by default, spread over every core, then the outbox's simulation on a tenth as many
# (from a tenth of FIRST_SEED; before, the outbox's seeds always began at 0).
#   ./scripts/soak.sh [SEEDS] [FIRST_SEED]      e.g. ./scripts/soak.sh 1000000 5000000
# It prints `simulation: N seeds, V violations (…)` and `simulation of the outbox: …`; a failing
# seed is printed with its replay command, and belongs in
# crates/postato/tests/simulation/seeds_that_failed.txt once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-1000000}
FIRST=${2:-0}
for value in "$SEEDS" "$FIRST"; do
  [[ $value =~ ^[0-9]+$ ]] || { echo "soak.sh: '$value' is not a whole number (usage: soak.sh [SEEDS] [FIRST_SEED])" >&2; exit 2; }
  [ ${#value} -le 15 ] || { echo "soak.sh: '$value' is too long (at most 15 digits, leading zeros included)" >&2; exit 2; }
done
# Decimal even with leading zeros (bash reads 010 as octal).
SEEDS=$((10#$SEEDS))
FIRST=$((10#$FIRST))
[ "$SEEDS" -gt 0 ] || { echo "soak.sh: SEEDS must be at least 1" >&2; exit 2; }
export CARGO_PROFILE_RELEASE_DEBUG=0
POSTATO_SIM_SEEDS=$SEEDS POSTATO_SIM_FIRST_SEED=$FIRST \
  cargo test --release --quiet -p postato --test simulation simulation_of_the_shared_machinery_keeps_every_invariant \
  -- --exact --nocapture
POSTATO_SIM_OUTBOX_SEEDS=$(( (SEEDS + 9) / 10 )) POSTATO_SIM_OUTBOX_FIRST_SEED=$(( FIRST / 10 )) \
  cargo test --release --quiet -p postato --test simulation \
  simulation_of_the_outbox_publishes_every_row_once_through_crashed_workers -- --exact --nocapture
