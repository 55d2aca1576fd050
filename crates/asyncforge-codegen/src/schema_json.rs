//! A message schema as one self-contained draft-07 JSON Schema, for payload validation at
//! run time (`asyncforge_runtime::validate::SchemaCheck`).
//!
//! Named schemas (components) and recursive ones go to `definitions` and are referenced
//! there; the rest is written inline. Documentation keywords (title, description, examples)
//! are left out: they do not validate anything.

use std::collections::BTreeMap;

use asyncforge_spec::ir::{Api, Items, JsonType, SchemaBody, SchemaFormat, SchemaId};
use serde_json::{Map, Value, json};

/// The validation schema of `root`, or `None` when it validates nothing worth checking
/// (`true`, or a foreign format such as Avro, whose decoding is the check).
pub fn validation_schema(api: &Api, root: SchemaId) -> Option<Value> {
    let mut b = Bundler {
        api,
        defs: BTreeMap::new(),
        stack: Vec::new(),
    };
    let body = b.schema(root, true);
    if body == Value::Bool(true) {
        return None;
    }
    let mut out = match body {
        Value::Object(m) => m,
        other => {
            let mut m = Map::new();
            m.insert("allOf".into(), json!([other]));
            m
        }
    };
    if !b.defs.is_empty() {
        out.insert(
            "definitions".into(),
            Value::Object(b.defs.into_iter().collect()),
        );
    }
    Some(Value::Object(out))
}

struct Bundler<'a> {
    api: &'a Api,
    defs: BTreeMap<String, Value>,
    stack: Vec<SchemaId>,
}

fn def_name(id: SchemaId) -> String {
    format!("s{}", id.0)
}

impl Bundler<'_> {
    fn schema(&mut self, id: SchemaId, root: bool) -> Value {
        let s = self.api.schema(id);
        let shared = !root && s.name.is_some();
        if shared || self.stack.contains(&id) || self.stack.len() > 64 {
            let name = def_name(id);
            if !self.defs.contains_key(&name) && !self.stack.contains(&id) {
                self.defs.insert(name.clone(), Value::Bool(true));
                self.stack.push(id);
                let body = self.body(id);
                self.stack.pop();
                self.defs.insert(name.clone(), body);
            } else if self.stack.contains(&id) && !self.defs.contains_key(&name) {
                // Recursion through an unnamed schema: the outer call fills it in.
                self.defs.insert(name.clone(), Value::Bool(true));
            }
            return json!({ "$ref": format!("#/definitions/{name}") });
        }
        self.stack.push(id);
        let body = self.body(id);
        self.stack.pop();
        let name = def_name(id);
        if self.defs.get(&name) == Some(&Value::Bool(true)) {
            // Something inside referred back to this schema.
            self.defs.insert(name.clone(), body);
            return json!({ "$ref": format!("#/definitions/{name}") });
        }
        body
    }

    fn body(&mut self, id: SchemaId) -> Value {
        let s = self.api.schema(id);
        let o = match (&s.body, &s.format) {
            (SchemaBody::Bool(b), _) => return Value::Bool(*b),
            (SchemaBody::Foreign(_), _) => return Value::Bool(true),
            (SchemaBody::Object(_), SchemaFormat::Avro(_) | SchemaFormat::Other(_)) => {
                return Value::Bool(true);
            }
            (SchemaBody::Object(o), _) => o.clone(),
        };
        let mut m = Map::new();
        let mut types: Vec<JsonType> = o.types.clone();
        if o.nullable && !types.is_empty() && !types.contains(&JsonType::Null) {
            types.push(JsonType::Null);
        }
        match types.len() {
            0 => {}
            1 => {
                m.insert("type".into(), json!(types[0]));
            }
            _ => {
                m.insert("type".into(), json!(types));
            }
        }
        if let Some(f) = &o.format {
            m.insert("format".into(), json!(f));
        }
        if let Some(e) = &o.enum_values {
            let mut e = e.clone();
            if o.nullable && !e.contains(&Value::Null) {
                e.push(Value::Null);
            }
            m.insert("enum".into(), Value::Array(e));
        }
        if let Some(c) = &o.const_value {
            if o.nullable && o.enum_values.is_none() && !c.is_null() {
                // `nullable` lets `null` in beside the constant, as it does beside a type.
                m.insert("enum".into(), json!([c, null]));
            } else {
                m.insert("const".into(), c.clone());
            }
        }
        if !o.properties.is_empty() {
            let mut p = Map::new();
            for (k, sid) in &o.properties {
                p.insert(k.clone(), self.schema(*sid, false));
            }
            m.insert("properties".into(), Value::Object(p));
        }
        if !o.required.is_empty() {
            m.insert("required".into(), json!(o.required));
        }
        if let Some(a) = o.additional_properties {
            m.insert("additionalProperties".into(), self.schema(a, false));
        }
        if !o.pattern_properties.is_empty() {
            let mut p = Map::new();
            for (k, sid) in &o.pattern_properties {
                p.insert(k.clone(), self.schema(*sid, false));
            }
            m.insert("patternProperties".into(), Value::Object(p));
        }
        if let Some(p) = o.property_names {
            m.insert("propertyNames".into(), self.schema(p, false));
        }
        match &o.items {
            Some(Items::Single(i)) => {
                m.insert("items".into(), self.schema(*i, false));
            }
            Some(Items::Tuple(list)) => {
                let v: Vec<Value> = list.iter().map(|i| self.schema(*i, false)).collect();
                m.insert("items".into(), Value::Array(v));
            }
            None => {}
        }
        for (k, sub) in [
            ("additionalItems", o.additional_items),
            ("contains", o.contains),
            ("not", o.not),
            ("if", o.if_),
            ("then", o.then),
            ("else", o.else_),
        ] {
            if let Some(sid) = sub {
                m.insert(k.into(), self.schema(sid, false));
            }
        }
        for (k, list) in [
            ("allOf", &o.all_of),
            ("anyOf", &o.any_of),
            ("oneOf", &o.one_of),
        ] {
            if !list.is_empty() {
                let v: Vec<Value> = list.iter().map(|i| self.schema(*i, false)).collect();
                m.insert(k.into(), Value::Array(v));
            }
        }
        let num = |v: f64| {
            if v.fract() == 0.0 && v.abs() < 9.0e15 {
                json!(v as i64)
            } else {
                json!(v)
            }
        };
        for (k, v) in [
            ("minimum", o.minimum),
            ("maximum", o.maximum),
            ("exclusiveMinimum", o.exclusive_minimum),
            ("exclusiveMaximum", o.exclusive_maximum),
            ("multipleOf", o.multiple_of),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), num(v));
            }
        }
        for (k, v) in [
            ("minLength", o.min_length),
            ("maxLength", o.max_length),
            ("minItems", o.min_items),
            ("maxItems", o.max_items),
            ("minProperties", o.min_properties),
            ("maxProperties", o.max_properties),
        ] {
            if let Some(v) = v {
                m.insert(k.into(), json!(v));
            }
        }
        if let Some(p) = &o.pattern {
            m.insert("pattern".into(), json!(p));
        }
        if o.unique_items {
            m.insert("uniqueItems".into(), json!(true));
        }
        // Validation keywords the IR keeps unmodelled.
        for k in ["dependencies", "dependentRequired", "dependentSchemas"] {
            if let Some(v) = o.extra.get(k) {
                m.insert(k.into(), v.clone());
            }
        }
        Value::Object(m)
    }
}

/// Whether the payload type generated for a schema enforces `schema` (a bundle made by
/// [`validation_schema`], or `None` for one that checks nothing) by itself: every JSON value
/// the type decodes, the schema accepts. The runtime then decodes such messages straight from
/// their bytes and skips the `Value` and the schema pass (`SchemaCheck::by_type`).
///
/// Conservative on purpose: a wrong "yes" would let an invalid message through, a wrong "no"
/// only costs time. Yes needs every part of the schema to be one the type generator turns into
/// a type that is at least as strict:
/// - an object with `properties` (all of `required` among them) and no
///   `additionalProperties` or `additionalProperties: true` — a struct with a flattened map of
///   the rest, which serde reads from a JSON object only (a struct without that map also takes
///   an array); an optional property is decoded with `strict::present` (never `null`);
/// - an object without `properties`: a map (`additionalProperties` a schema that passes too);
/// - `type: array` with `items` one schema that passes;
/// - `type` string (`format` absent, `date-time`, `date`, or `uuid` for a property of an
///   object, decoded with `strict::uuid`), integer, number or boolean, as one type;
/// - `enum` of strings and `const` string: string enums, read from strings only;
/// - `true` and `{}`.
///
/// Anything else — `null` among several types, numeric and length bounds, `pattern`, other
/// formats, `allOf`/`oneOf`/`anyOf`, tuples, `additionalProperties: false`, references back
/// into themselves — answers no.
pub fn enforced_by_type(schema: Option<&Value>) -> bool {
    let Some(root) = schema else {
        return true;
    };
    let defs = root.get("definitions").and_then(Value::as_object);
    let mut seen = Vec::new();
    exact(root, Place::Item, defs, &mut seen)
}

/// Where a schema is used: a property of an object (a field) or anywhere else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Field,
    Item,
}

fn exact<'a>(
    schema: &'a Value,
    place: Place,
    defs: Option<&'a Map<String, Value>>,
    seen: &mut Vec<&'a str>,
) -> bool {
    let m = match schema {
        Value::Bool(b) => return *b,
        Value::Object(m) => m,
        _ => return false,
    };
    if let Some(r) = m.get("$ref") {
        let Some(name) = r.as_str().and_then(|r| r.strip_prefix("#/definitions/")) else {
            return false;
        };
        let (Some(target), true) = (defs.and_then(|d| d.get(name)), m.len() == 1) else {
            return false;
        };
        if seen.contains(&name) {
            return false;
        }
        seen.push(name);
        let ok = exact(target, place, defs, seen);
        seen.pop();
        return ok;
    }
    let known = |k: &str| {
        matches!(
            k,
            "type"
                | "format"
                | "enum"
                | "const"
                | "properties"
                | "required"
                | "additionalProperties"
                | "items"
                | "definitions"
        )
    };
    // `minimum: 0` alone on an integer is what its unsigned type (`types::integer`) enforces.
    let unsigned_floor = m.get("type").and_then(Value::as_str) == Some("integer")
        && m.get("minimum").and_then(Value::as_f64) == Some(0.0);
    if !m
        .keys()
        .all(|k| known(k) || (k == "minimum" && unsigned_floor))
    {
        return false;
    }
    // The type generator's order: enumerations first, then the types.
    if let Some(values) = m.get("enum") {
        return values
            .as_array()
            .is_some_and(|v| !v.is_empty() && v.iter().all(Value::is_string));
    }
    if let Some(c) = m.get("const") {
        return c.is_string();
    }
    let ty = match m.get("type") {
        None => None,
        Some(Value::String(t)) => Some(t.as_str()),
        Some(_) => return false,
    };
    let format = m.get("format").and_then(Value::as_str);
    let properties = m.get("properties").and_then(Value::as_object);
    let additional = m.get("additionalProperties");
    let items = m.get("items");
    match ty {
        None if properties.is_some() || additional.is_some() => {
            object(m, properties, additional, defs, seen)
        }
        None if items.is_some() => array(items, defs, seen),
        None => m.keys().all(|k| k == "definitions"),
        Some("object") => object(m, properties, additional, defs, seen),
        Some("array") => array(items, defs, seen),
        Some("string") => match format {
            None | Some("date-time" | "date") => true,
            Some("uuid") => place == Place::Field,
            Some(_) => false,
        },
        // Integer types refuse fractions and values out of range: stricter than the schema.
        // (`type: null` alone becomes `serde_json::Value`.)
        Some("integer" | "number" | "boolean") => true,
        Some(_) => false,
    }
}

fn object<'a>(
    m: &'a Map<String, Value>,
    properties: Option<&'a Map<String, Value>>,
    additional: Option<&'a Value>,
    defs: Option<&'a Map<String, Value>>,
    seen: &mut Vec<&'a str>,
) -> bool {
    let Some(properties) = properties.filter(|p| !p.is_empty()) else {
        // A map of the values' type.
        return match additional {
            None | Some(Value::Bool(true)) => true,
            Some(Value::Bool(false)) => false,
            Some(a) => exact(a, Place::Item, defs, seen),
        };
    };
    if !matches!(additional, None | Some(Value::Bool(true))) {
        return false;
    }
    let required_named = match m.get("required") {
        None => true,
        Some(Value::Array(r)) => r
            .iter()
            .all(|n| n.as_str().is_some_and(|n| properties.contains_key(n))),
        Some(_) => false,
    };
    required_named
        && properties
            .values()
            .all(|p| exact(p, Place::Field, defs, seen))
}

fn array<'a>(
    items: Option<&'a Value>,
    defs: Option<&'a Map<String, Value>>,
    seen: &mut Vec<&'a str>,
) -> bool {
    match items {
        None => true,
        Some(Value::Array(_)) => false,
        Some(i) => exact(i, Place::Item, defs, seen),
    }
}

/// A schema for a channel parameter: its own schema, or `enum` from its allowed values.
pub fn parameter_schema(api: &Api, schema: Option<SchemaId>, allowed: &[String]) -> Option<Value> {
    if let Some(s) = schema {
        return validation_schema(api, s);
    }
    (!allowed.is_empty()).then(|| json!({ "type": "string", "enum": allowed }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn by_type(schema: Value) -> bool {
        enforced_by_type(Some(&schema))
    }

    #[test]
    fn types_that_enforce_their_schema_are_recognised() {
        assert!(enforced_by_type(None));
        assert!(by_type(json!(true)));
        assert!(by_type(json!({
            "type": "object",
            "required": ["event", "id"],
            "properties": {
                "event": {"const": "ping"},
                "id": {"type": "string", "format": "uuid"},
                "other": {"type": "string", "format": "uuid"},
                "at": {"type": "string", "format": "date-time"},
                "day": {"type": "string", "format": "date"},
                "n": {"type": "integer", "format": "int32"},
                "count": {"type": "integer", "minimum": 0},
                "x": {"type": "number"},
                "ok": {"type": "boolean"},
                "state": {"$ref": "#/definitions/s1"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
                "any": {},
                "bag": {"type": "object"},
                "nested": {"properties": {"a": {"type": "string"}}, "additionalProperties": true}
            },
            "definitions": {"s1": {"type": "string", "enum": ["on", "off"]}}
        })));
    }

    #[test]
    fn anything_the_type_would_let_through_answers_no() {
        let object = |p: Value| json!({"type": "object", "properties": {"p": p}});
        for (why, schema) in [
            ("bounds", object(json!({"type": "integer", "minimum": 1}))),
            (
                "bounds on both sides",
                object(json!({"type": "integer", "minimum": 0, "maximum": 10})),
            ),
            (
                "a floor on a number",
                object(json!({"type": "number", "minimum": 0})),
            ),
            ("length", object(json!({"type": "string", "maxLength": 3}))),
            (
                "pattern",
                object(json!({"type": "string", "pattern": "^a"})),
            ),
            (
                "other formats",
                object(json!({"type": "string", "format": "email"})),
            ),
            ("nullable", object(json!({"type": ["string", "null"]}))),
            ("null alone", object(json!({"type": "null"}))),
            ("enum with null", object(json!({"enum": ["a", null]}))),
            ("enum of numbers", object(json!({"enum": [1, 2]}))),
            ("const number", object(json!({"const": 1}))),
            (
                "uuid in an array",
                object(json!({"type": "array", "items": {"type": "string", "format": "uuid"}})),
            ),
            (
                "uuid at the top",
                json!({"type": "string", "format": "uuid"}),
            ),
            (
                "tuple",
                object(json!({"type": "array", "items": [{"type": "string"}]})),
            ),
            (
                "closed object",
                json!({"type": "object", "properties": {"a": {}}, "additionalProperties": false}),
            ),
            (
                "typed rest",
                json!({"type": "object", "properties": {"a": {}}, "additionalProperties": {"type": "string"}}),
            ),
            (
                "no property at all",
                json!({"type": "object", "additionalProperties": false}),
            ),
            (
                "required, not named",
                json!({"type": "object", "properties": {"a": {}}, "required": ["b"]}),
            ),
            (
                "oneOf",
                json!({"oneOf": [{"type": "string"}, {"type": "integer"}]}),
            ),
            ("allOf wrapper", json!({"allOf": [false]})),
            ("typeless constraint", object(json!({"minimum": 3}))),
            ("false", object(json!(false))),
            (
                "dangling reference",
                object(json!({"$ref": "#/definitions/missing"})),
            ),
            (
                "recursion",
                json!({"$ref": "#/definitions/s1", "definitions": {"s1": {"type": "object", "properties": {"next": {"$ref": "#/definitions/s1"}}}}}),
            ),
        ] {
            assert!(!by_type(schema.clone()), "{why}: {schema}");
        }
    }
}

#[cfg(test)]
mod nullable_tests {
    #[test]
    fn a_nullable_constant_lets_null_in_and_is_not_decoded_by_type() {
        let checked = asyncforge_spec::load_bytes(
            std::path::Path::new("api.yaml"),
            b"asyncapi: 3.0.0\ninfo: {title: T, version: '1'}\ncomponents:\n  schemas:\n    ev: {type: object, required: [kind], properties: {kind: {const: ping, nullable: true}}}\n",
            &asyncforge_spec::LoadOptions::default(),
        );
        let api = checked.lower().expect("lowers");
        let id = (0..api.schemas.len())
            .map(|i| asyncforge_spec::ir::SchemaId(i as u32))
            .find(|&id| api.schema(id).name.as_deref() == Some("ev"))
            .expect("schema ev");
        let bundle = super::validation_schema(&api, id).expect("a schema");
        assert_eq!(
            bundle["properties"]["kind"],
            serde_json::json!({"enum": ["ping", null]})
        );
        assert!(!super::enforced_by_type(Some(&bundle)));
    }
}
