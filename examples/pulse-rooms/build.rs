//! Generates the Pulse Rooms types, messages, server and client into `OUT_DIR` on every change
//! of the spec (or of a file it references).

fn main() {
    asyncforge::build::Builder::new("../../specs/pulse-rooms.yaml")
        .generate()
        .expect("generating code from specs/pulse-rooms.yaml");
}
