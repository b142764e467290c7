#!/usr/bin/env bash
# Rust: format, lint and docs; the workspace tests; the deterministic simulation; the chaos,
# crash/resume and workers runs.
# Run alone (`./scripts/test/rust.sh`) or as part of `./scripts/test.sh`.
set -euo pipefail
# shellcheck source=scripts/test/common.sh
source "$(dirname "$0")/common.sh"
ensure_postgres

section "Format and lint: rustfmt, clippy, cargo doc (warnings are errors)"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# The CLI without its OTLP exporter (feature `otlp`, on by default) builds clean too.
cargo clippy -p postato-cli --no-default-features --all-targets -- -D warnings
echo "rustfmt and clippy: clean"
# The API docs, as docs.rs builds them (every feature), and the CLI's: no broken links, no warnings.
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --lib --quiet \
  --features postato/opentelemetry,postato/testing,postato-postgres/testing,postato-core/testing
RUSTDOCFLAGS="-D warnings" cargo doc -p postato-cli --no-deps --quiet
echo "cargo doc: no warnings"

section "Rust: build and test the workspace"
# The three crash and chaos runs go in their own section below, where their figures print.
cargo test --workspace --lib --bins --tests --examples -- --skip chaos_run --skip four_workers --skip a_batch_killed \
  --skip simulation_of_the_shared_machinery --skip outbox_crash_test
cargo test --workspace --doc
# The README's install line from a checkout (debug here: the build above is reused).
INSTALL_ROOT=$(mktemp -d)
cargo install --quiet --locked --debug --path crates/postato-cli --root "$INSTALL_ROOT"
echo "cargo install --path crates/postato-cli: $("$INSTALL_ROOT/bin/postato" --version)"
rm -rf "$INSTALL_ROOT"

section "Deterministic simulation of the shared machinery (10,000 seeds and every seed that once failed, on a virtual clock)"
cargo test -p postato --test simulation simulation_of_the_shared_machinery -- --nocapture

section "Reliability runs: chaos (5,000 posts, 10 SIGKILLs), crash/resume, 4 workers on PostgreSQL, the outbox under SIGKILLs"
cargo test -p postato-cli --test chaos --test crash_resume --test workers -- --nocapture --test-threads=1
cargo test -p postato-cli --test outbox outbox_crash_test -- --nocapture
