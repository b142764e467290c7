//! Sets up the napi link flags for the addon.
fn main() {
    napi_build::setup();
}
