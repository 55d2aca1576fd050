//! Generates the Pulse Rooms types, messages, server and client into `OUT_DIR` on every change
//! of the spec (or of a file it references).

fn main() {
    asyncforge::Generator::new(asyncforge::Settings::build_script())
        .generate("../../specs/pulse-rooms.yaml")
        .expect("generating code from specs/pulse-rooms.yaml");
}
