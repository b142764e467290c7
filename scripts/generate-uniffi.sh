#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings of the library and of its test kit from the built cdylibs, in library mode, with the
# workspace's own uniffi-bindgen (same uniffi version as the library). Generated code stays
# out of git: Kotlin goes to kotlin/target/generated-sources/uniffi, Swift to swift/Sources
# (only Postato.swift and PostatoFFI/include are replaced; hand-written Swift files stay).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
# The library is built on its own, so that no test kit's features reach it.
cargo build -q -p postato-uniffi
cargo build -q -p postato-uniffi-testing -p uniffi-bindgen
BINDGEN="$CARGO_TARGET_DIR/debug/uniffi-bindgen"
rm -rf kotlin/target/generated-sources/uniffi kotlin/target/generated-test-sources/uniffi \
  swift/Sources/Postato/Postato.swift swift/Sources/PostatoFFI/include \
  swift/Sources/PostatoTesting swift/Sources/PostatoTestingFFI

# generate LIBRARY KOTLIN_DIR SWIFT_MODULE: the library (postato_uniffi) or its test kit
# (postato_testing_uniffi, a library of its own so production code never links the simulator).
generate() {
  local lib="$CARGO_TARGET_DIR/debug/lib$1.so" module=$3 swift_out
  "$BINDGEN" generate --library "$lib" --language kotlin --out-dir "$2" --no-format
  swift_out=$(mktemp -d)
  "$BINDGEN" generate --library "$lib" --language swift --out-dir "$swift_out" --no-format
  mkdir -p "swift/Sources/$module" "swift/Sources/${module}FFI/include"
  cp "$swift_out/$module.swift" "swift/Sources/$module/$module.swift"
  cp "$swift_out/${module}FFI.h" "swift/Sources/${module}FFI/include/${module}FFI.h"
  cp "$swift_out/${module}FFI.modulemap" "swift/Sources/${module}FFI/include/module.modulemap"
  rm -rf "$swift_out"
}
generate postato_uniffi kotlin/target/generated-sources/uniffi Postato
generate postato_testing_uniffi kotlin/target/generated-test-sources/uniffi PostatoTesting
# Fail if generation produced something unusable.
grep -q "suspend fun \`publish\`" kotlin/target/generated-sources/uniffi/com/postato/postato_uniffi.kt
grep -q "sealed class PostatoException" kotlin/target/generated-sources/uniffi/com/postato/postato_uniffi.kt
grep -q "func publish(post: PostInput, options: PublishOptions?) *async throws" swift/Sources/Postato/Postato.swift
# The hand-written swift/Sources/Postato/TaskCancellation.swift (never deleted here) calls these:
# the Client's with per-call options, the Publisher's with `force` and its options left at their defaults.
grep -q 'open func publishCancellable(post: PostInput, cancel: CancelHandle, options: PublishOptions? = nil) *async throws *-> PublishedPost' swift/Sources/Postato/Postato.swift
grep -q 'open func publishCancellable(post: PostInput, cancel: CancelHandle, force: Bool = false, options: PublishOptions? = nil) *async throws *-> PublishedPost' swift/Sources/Postato/Postato.swift
# And swift/Sources/Postato/ResponseMetadata.swift reads these cases' `meta`.
test "$(grep -c 'case [A-Za-z]*(.*meta: ResponseMeta' swift/Sources/Postato/Postato.swift)" = 6
grep -q "open class CancelHandle: .*Sendable" swift/Sources/Postato/Postato.swift
grep -q "module PostatoFFI" swift/Sources/PostatoFFI/include/module.modulemap
grep -q "suspend fun \`startSimulator\`" kotlin/target/generated-test-sources/uniffi/com/postato/testing/postato_testing_uniffi.kt
grep -q "module PostatoTestingFFI" swift/Sources/PostatoTestingFFI/include/module.modulemap
# The production library holds no simulator.
if grep -q "startSimulator" kotlin/target/generated-sources/uniffi/com/postato/postato_uniffi.kt; then
  echo "the production uniffi library exports the simulator"; exit 1
fi
echo "uniffi: Kotlin and Swift bindings generated"
