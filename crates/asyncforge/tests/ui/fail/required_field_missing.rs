//! A required property of the schema is a required field of the type.

use snapshot_harbor_telemetry::types::StopCranePayload;

fn main() {
    let _ = StopCranePayload { extra: Default::default() };
}
