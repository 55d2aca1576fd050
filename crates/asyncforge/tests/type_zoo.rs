//! The generated types of `specs/type-zoo.yaml` behave as the schema says.

use serde_json::{Value, json};
use snapshot_type_zoo::Message;
use snapshot_type_zoo::messages;
use snapshot_type_zoo::types::*;

fn round_trip<T: serde::Serialize + serde::de::DeserializeOwned>(v: Value) -> T {
    let t: T = serde_json::from_value(v.clone()).expect("deserializes");
    assert_eq!(
        serde_json::to_value(&t).expect("serializes"),
        v,
        "round trip"
    );
    t
}

#[test]
fn discriminated_union_is_internally_tagged() {
    let c: Shape = round_trip(json!({"kind": "circle", "radius": 2.5}));
    assert!(matches!(c, Shape::Circle(ShapeCircle { radius, .. }) if radius == 2.5));
    let s: Shape = round_trip(json!({"kind": "square", "side": 3, "label": "big"}));
    match s {
        Shape::Square(sq) => {
            assert_eq!(sq.side, 3i32);
            assert_eq!(sq.label.as_deref(), Some("big"));
        }
        other => panic!("{other:?}"),
    }
    assert!(serde_json::from_value::<Shape>(json!({"kind": "hexagon"})).is_err());
}

#[test]
fn record_fields_have_precise_types() {
    let v = json!({
        "id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff",
        "type": "sensor", "self": "me", "2fa": true,
        "createdAt": "2026-11-02T08:15:00Z", "day": "2026-11-02",
        "count": 7, "big": -9000000000i64, "ratio": 0.25,
        "status": "in-progress", "version": "v1", "nickname": null,
        "point": [1.5, -2.0], "counters": {"a": 1, "b": 2},
        "idOrName": 42, "both": {"name": "x", "size": 3},
        "homepage": "https://example.com", "contact": "someone@example.com",
        "unknownButKept": {"nested": [1, 2]}
    });
    let r: Record = round_trip(v);
    assert_eq!(r.r#type, "sensor");
    assert_eq!(r.self_.as_deref(), Some("me"));
    assert_eq!(r._2fa, Some(true));
    assert_eq!(r.created_at.to_string(), "2026-11-02T08:15:00Z");
    assert_eq!(r.day.map(|d| d.to_string()).as_deref(), Some("2026-11-02"));
    let count: u32 = r.count;
    assert_eq!(count, 7);
    assert_eq!(r.big, Some(-9_000_000_000i64));
    assert_eq!(r.status, Some(RecordStatus::InProgress));
    assert_eq!(
        r.status.map(|s| s.to_string()).as_deref(),
        Some("in-progress")
    );
    assert_eq!(r.nickname, None);
    assert_eq!(r.point, Some((1.5, -2.0)));
    assert_eq!(r.counters.as_ref().and_then(|c| c.get("b")), Some(&2));
    assert_eq!(r.id_or_name, Some(RecordIdOrName::Integer(42)));
    let both = r.both.expect("both");
    assert_eq!((both.name.as_str(), both.size), ("x", Some(3)));
    assert_eq!(
        r.extra.get("unknownButKept"),
        Some(&json!({"nested": [1, 2]}))
    );
}

#[test]
fn required_fields_and_formats_are_enforced() {
    // `count` is required.
    assert!(serde_json::from_value::<Record>(json!({"id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff", "type": "t", "createdAt": "2026-11-02T08:15:00Z", "nickname": null})).is_err());
    // `createdAt` must be RFC 3339.
    assert!(serde_json::from_value::<Record>(json!({"id": "6f9619ff-8b86-d011-b42d-00cf4fc964ff", "type": "t", "createdAt": "yesterday", "count": 1, "nickname": null})).is_err());
    // `additionalProperties: false` refuses unknown fields.
    assert!(serde_json::from_value::<Strict>(json!({"only": "x"})).is_ok());
    assert!(serde_json::from_value::<Strict>(json!({"only": "x", "other": 1})).is_err());
}

#[test]
fn recursive_schemas_become_boxed_types() {
    let t: Tree = round_trip(
        json!({"value": 1, "children": [{"value": 2, "children": []}, {"value": 3}], "parent": {"value": 0}}),
    );
    assert_eq!(t.children.as_ref().map(Vec::len), Some(2));
    let parent: &Tree = t.parent.as_deref().expect("parent");
    assert_eq!(parent.value, 0);
}

#[test]
fn avro_records_become_structs() {
    let r: AvroReading = round_trip(
        json!({"sensor": "t1", "value": 21.5, "unit": "CELSIUS", "tags": ["a"], "extra": {"x": 1}, "note": "ok"}),
    );
    assert_eq!(r.unit, Unit::Celsius);
    assert_eq!(r.extra.get("x"), Some(&1));
}

#[test]
fn messages_encode_and_decode_with_their_content_type() {
    let m = messages::Shape::new(Shape::Circle(ShapeCircle {
        radius: 1.0,
        extra: Default::default(),
    }));
    assert_eq!(messages::Shape::NAME, "shape");
    assert_eq!(messages::Shape::CONTENT_TYPE, Some("application/json"));
    let bytes = m.encode().expect("encode");
    assert_eq!(
        serde_json::from_slice::<Value>(&bytes).expect("json"),
        json!({"kind": "circle", "radius": 1.0})
    );
    assert_eq!(messages::Shape::decode(&bytes).expect("decode"), m);
    assert!(messages::Shape::decode(b"{\"kind\": 3}").is_err());
}
