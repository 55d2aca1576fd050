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
            m.insert("const".into(), c.clone());
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

/// A schema for a channel parameter: its own schema, or `enum` from its allowed values.
pub fn parameter_schema(api: &Api, schema: Option<SchemaId>, allowed: &[String]) -> Option<Value> {
    if let Some(s) = schema {
        return validation_schema(api, s);
    }
    (!allowed.is_empty()).then(|| json!({ "type": "string", "enum": allowed }))
}
