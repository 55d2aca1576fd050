//! Messages whose check is `SchemaCheck::by_type` are decoded straight from their bytes,
//! without the JSON Schema pass. That is only right when the generated type accepts nothing
//! the schema refuses: this test decodes hundreds of variants of a valid message (every member
//! replaced by values of other JSON types, by the forms of UUIDs and timestamps serde would
//! take but the formats refuse, by an enum's map form; members left out, added, repeated) both
//! ways — by type, and through the schema as before — and asserts the same verdict and the same
//! message every time.

use asyncforge_runtime::Message;
use asyncforge_runtime::endpoint::Incoming;
use asyncforge_runtime::validate::SchemaCheck;
use serde_json::{Value, json};

/// Variants of a JSON value to put where a member was.
fn replacements(v: &Value) -> Vec<Value> {
    let mut out = vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1.0),
        json!(1e300),
        json!(""),
        json!("x"),
        json!([]),
        json!({}),
        json!([v.clone()]),
        json!({ "k": v.clone() }),
    ];
    if let Value::String(s) = v {
        out.push(json!({ s.clone(): null }));
        out.push(json!(s.to_uppercase()));
        out.push(json!(format!(" {s}")));
        out.push(json!(format!("{s}x")));
        if s.len() == 36 && s.as_bytes()[8] == b'-' {
            out.push(json!(s.replace('-', "")));
            out.push(json!(format!("urn:uuid:{s}")));
            out.push(json!(format!("{{{s}}}")));
        }
        if s.len() >= 20 && s.as_bytes()[10] == b'T' {
            out.push(json!(s.replacen('T', " ", 1)));
            out.push(json!(s.to_lowercase()));
            out.push(json!(s.trim_end_matches('Z')));
            out.push(json!(format!("{}:60Z", &s[..16])));
            out.push(json!("2026-12-31T23:59:60Z"));
            out.push(json!("2026-12-31T23:59:60+01:00"));
            out.push(json!("2026-02-29T10:00:00Z"));
            out.push(json!(format!("{}+0100", s.trim_end_matches('Z'))));
        }
    }
    if let Some(i) = v.as_i64() {
        out.push(json!(i as f64 + 0.5));
        out.push(json!(u64::MAX));
    }
    if let Value::Object(m) = v {
        for (k, inner) in m {
            for r in replacements(inner) {
                let mut changed = m.clone();
                changed.insert(k.clone(), r);
                out.push(Value::Object(changed));
            }
        }
    }
    out
}

/// The frames to try: the valid payload, its members replaced, left out and added, and some
/// texts that are not one JSON object.
fn frames(valid: &Value) -> Vec<Vec<u8>> {
    let mut out = vec![serde_json::to_vec(valid).expect("encodes")];
    for r in replacements(valid) {
        out.push(serde_json::to_vec(&r).expect("encodes"));
    }
    if let Value::Object(m) = valid {
        for k in m.keys() {
            let mut less = m.clone();
            less.shift_remove(k);
            out.push(serde_json::to_vec(&less).expect("encodes"));
            // The member twice (a JSON text serde_json does not write).
            let text = serde_json::to_string(valid).expect("encodes");
            let member = format!("{}:{}", json!(k), m[k]);
            out.push(text.replacen('{', &format!("{{{member},"), 1).into_bytes());
        }
        let mut more = m.clone();
        more.insert("unnamed".into(), json!({"nested": [1, null]}));
        out.push(serde_json::to_vec(&more).expect("encodes"));
        let values: Vec<Value> = m.values().cloned().collect();
        out.push(serde_json::to_vec(&values).expect("encodes"));
    }
    for text in ["", "null", "[]", "\"x\"", "{", "{}", "{} x"] {
        out.push(text.as_bytes().to_vec());
    }
    out
}

/// Decodes every variant of `valid` by type and through the schema; both must agree.
fn agree<M: Message + PartialEq + std::fmt::Debug>(check: &'static SchemaCheck, valid: Value) {
    assert!(
        check.enforced_by_type(),
        "`{}` is expected to be decoded by type",
        M::NAME
    );
    let by_schema = SchemaCheck::new(check.source());
    let mut accepted = 0;
    let frames = frames(&valid);
    for frame in &frames {
        let typed = Incoming::new(frame).try_message::<M>(check);
        let schema = Incoming::new(frame).try_message::<M>(&by_schema);
        assert_eq!(
            typed,
            schema,
            "`{}`: by type and by schema disagree on {}",
            M::NAME,
            String::from_utf8_lossy(frame)
        );
        accepted += usize::from(typed.is_some());
    }
    assert!(
        Incoming::new(&frames[0]).try_message::<M>(check).is_some(),
        "`{}`: the valid message is refused",
        M::NAME
    );
    assert!(
        accepted < frames.len(),
        "`{}`: nothing was refused",
        M::NAME
    );
}

#[test]
fn pulse_rooms_messages_decode_by_type_exactly_as_the_schema_allows() {
    use snapshot_pulse_rooms::channels::checks;
    use snapshot_pulse_rooms::messages::*;
    let id = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    agree::<Ping>(&checks::PING, json!({"event": "ping", "requestId": id}));
    agree::<Pong>(
        &checks::PONG,
        json!({"event": "pong", "requestId": id, "serverTime": "2026-12-03T10:00:00.250Z"}),
    );
    agree::<WhoAreYou>(
        &checks::WHO_ARE_YOU,
        json!({"event": "whoAreYou", "requestId": id}),
    );
    agree::<Presence>(&checks::PRESENCE, json!({"nick": "ann", "state": "joined"}));
    agree::<QuoteAck>(&checks::QUOTE_ACK, json!({"accepted": true, "id": 7}));
}

#[test]
fn official_kraken_messages_decode_by_type_exactly_as_the_schema_allows() {
    use snapshot_official_kraken_3_0::channels::checks;
    use snapshot_official_kraken_3_0::messages::*;
    agree::<Ping>(&checks::PING, json!({"event": "ping", "reqid": 42}));
    agree::<Pong>(&checks::PONG, json!({"event": "pong", "reqid": 42}));
    agree::<Heartbeat>(&checks::HEARTBEAT, json!({"event": "heartbeat"}));
    agree::<SystemStatus>(
        &checks::SYSTEM_STATUS,
        json!({"event": "systemStatus", "connectionID": 8628615390848610000u64, "status": "online", "version": "1.0.0"}),
    );
    agree::<DummyCurrencyInfo>(
        &checks::DUMMY_CURRENCY_INFO,
        json!({"event": "currencyInfo", "reqid": 1, "data": {"XBT": {"decimals": 10}}}),
    );
}

#[test]
fn harbor_and_ledger_messages_decode_by_type_exactly_as_the_schema_allows() {
    agree::<snapshot_harbor_telemetry::messages::Reading>(
        &snapshot_harbor_telemetry::channels::checks::READING,
        json!({"requestId": "67e55044-10b1-426f-9247-bb680e5fe0c8", "values": {"wind": 4.5, "tide": -1}}),
    );
    agree::<snapshot_ledger_hooks::messages::Account>(
        &snapshot_ledger_hooks::channels::checks::ACCOUNT,
        json!({"accountId": "a1", "owner": "ann", "balanceCents": 1200, "status": "open"}),
    );
}
