// napi-build sets the linker flags a Node addon needs (e.g. `-undefined dynamic_lookup` on macOS).
fn main() {
  napi_build::setup();
}
