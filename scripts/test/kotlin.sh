#!/usr/bin/env bash
# Kotlin and Swift: the uniffi bindings generated, the Kotlin suite through Maven, the jars and a
# consumer project using them by coordinates.
# Run alone (`./scripts/test/kotlin.sh`) or as part of `./scripts/test.sh`.
set -euo pipefail
# shellcheck source=scripts/test/common.sh
source "$(dirname "$0")/common.sh"
ensure_postgres

section "Kotlin and Swift: generate the uniffi bindings; test Kotlin for real through Maven"
./scripts/generate-uniffi.sh
(cd kotlin && mvn -B -ntp package -Dpostato.lib.dir="$CARGO_TARGET_DIR/debug")
# Two jars: the library, and the test kit (com.postato.testing) apart from it. Their version
# is the workspace's (scripts/check-versions.sh keeps pom.xml at it).
jar tf "kotlin/target/postato-$VERSION.jar" | grep 'com/postato/Client.class' >/dev/null
if jar tf "kotlin/target/postato-$VERSION.jar" | grep 'com/postato/testing/' >/dev/null; then echo "the library jar holds the test kit"; exit 1; fi
jar tf "kotlin/target/postato-$VERSION-testing.jar" | grep 'com/postato/testing/Simulator.class' >/dev/null
echo "kotlin: postato-$VERSION.jar without the simulator, postato-$VERSION-testing.jar with it"
# Each jar carries its native library where JNA finds it on the classpath (the tests above ran
# with no jna.library.path); then a separate project uses them by coordinates, as users do.
jar tf "kotlin/target/postato-$VERSION.jar" | grep -x 'linux-x86-64/libpostato_uniffi.so' >/dev/null
if jar tf "kotlin/target/postato-$VERSION.jar" | grep 'libpostato_testing_uniffi' >/dev/null; then echo "the library jar holds the simulator's library"; exit 1; fi
jar tf "kotlin/target/postato-$VERSION-testing.jar" | grep -x 'linux-x86-64/libpostato_testing_uniffi.so' >/dev/null
(cd kotlin && mvn -B -ntp -q install -DskipTests -Dpostato.lib.dir="$CARGO_TARGET_DIR/debug")
env PATH="$NO_RUST_PATH" mvn -B -ntp -f tests/kotlin-consumer/pom.xml test -Dpostato.version="$VERSION"
echo "kotlin: sizes: $(for f in kotlin/target/postato-"$VERSION"*.jar; do printf '%s %s B; ' "$(basename "$f")" "$(stat -c %s "$f")"; done)"
echo "kotlin: the jars carry their libraries; tests/kotlin-consumer uses com.postato:postato:$VERSION by coordinates and publishes"
echo "swift: sources regenerated (the XCTest suite runs on macOS; see swift/README.md)"
