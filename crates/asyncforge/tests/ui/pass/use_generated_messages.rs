//! User code using a generated crate the way the README shows.

use snapshot_harbor_telemetry::Message;
use snapshot_harbor_telemetry::messages::{CraneStatus, ReadingRequest};
use snapshot_harbor_telemetry::types::{self, CraneStatusState, ReadingRequestPayloadSensorsItem};

fn main() {
    let status = CraneStatus::new(types::CraneStatus {
        crane_id: "C-07".to_owned(),
        state: CraneStatusState::Working,
        load_kg: Some(23_100),
        reported_at: "2026-11-02T08:15:00Z".parse().expect("timestamp"),
        extra: Default::default(),
    });
    assert_eq!(CraneStatus::NAME, "craneStatus");
    assert_eq!(CraneStatus::CONTENT_TYPE, Some("application/json"));
    let bytes = status.encode().expect("encode");
    let back = CraneStatus::decode(&bytes).expect("decode");
    assert_eq!(back.payload, status.payload);
    assert_eq!(back.payload.state.as_str(), "working");

    let request = ReadingRequest::new(types::ReadingRequestPayload {
        request_id: "6f9619ff-8b86-d011-b42d-00cf4fc964ff".parse().expect("uuid"),
        sensors: vec![ReadingRequestPayloadSensorsItem::Wind],
        extra: Default::default(),
    });
    assert_eq!(request.correlation_id().as_deref(), Some("6f9619ff-8b86-d011-b42d-00cf4fc964ff"));
}
