#!/usr/bin/env bash
# Generates the Kotlin and Swift bindings from the built cdylib, in library mode, with the
# workspace's own uniffi-bindgen (same uniffi version as the library). Generated code stays
# out of git: Kotlin goes to kotlin/target/generated-sources/uniffi, Swift to swift/Sources
# (only Postato.swift and PostatoFFI/include are replaced; hand-written Swift files stay).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build -q -p postato-uniffi -p uniffi-bindgen
LIB="$CARGO_TARGET_DIR/debug/libpostato_uniffi.so"
BINDGEN="$CARGO_TARGET_DIR/debug/uniffi-bindgen"
rm -rf kotlin/target/generated-sources/uniffi swift/Sources/Postato/Postato.swift swift/Sources/PostatoFFI/include
"$BINDGEN" generate --library "$LIB" --language kotlin --out-dir kotlin/target/generated-sources/uniffi --no-format
SWIFT_OUT=$(mktemp -d)
"$BINDGEN" generate --library "$LIB" --language swift --out-dir "$SWIFT_OUT" --no-format
mkdir -p swift/Sources/Postato swift/Sources/PostatoFFI/include
cp "$SWIFT_OUT/Postato.swift" swift/Sources/Postato/Postato.swift
cp "$SWIFT_OUT/PostatoFFI.h" swift/Sources/PostatoFFI/include/PostatoFFI.h
cp "$SWIFT_OUT/PostatoFFI.modulemap" swift/Sources/PostatoFFI/include/module.modulemap
rm -rf "$SWIFT_OUT"
# Fail if generation produced something unusable.
grep -q "suspend fun \`publish\`" kotlin/target/generated-sources/uniffi/com/postato/postato_uniffi.kt
grep -q "sealed class PostatoException" kotlin/target/generated-sources/uniffi/com/postato/postato_uniffi.kt
grep -q "func publish(post: PostInput) *async throws" swift/Sources/Postato/Postato.swift
# The hand-written swift/Sources/Postato/TaskCancellation.swift (never deleted here) calls these.
test "$(grep -c 'open func publishCancellable(post: PostInput, cancel: CancelHandle) *async throws *-> PublishedPost' swift/Sources/Postato/Postato.swift)" = 2
grep -q "open class CancelHandle: .*Sendable" swift/Sources/Postato/Postato.swift
grep -q "module PostatoFFI" swift/Sources/PostatoFFI/include/module.modulemap
echo "uniffi: Kotlin and Swift bindings generated"
