//! `uniffi-bindgen`, built from the same uniffi version as `bindings/uniffi`, so generated
//! Kotlin and Swift always match the library. Use library mode:
//! `cargo run -p uniffi-bindgen -- generate --library target/debug/libpostato_uniffi.so --language kotlin --out-dir DIR --no-format`

fn main() {
    uniffi::uniffi_bindgen_main()
}
