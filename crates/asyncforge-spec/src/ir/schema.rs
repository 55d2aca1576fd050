//! Schemas in the IR: a JSON Schema tree whose subschemas are arena ids.

use serde::Serialize;
use serde_json::{Map, Value};

use super::lower::Lowerer;
use super::{SchemaId, Source};
use crate::rules::At;

/// The language a schema is written in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "media_type")]
pub enum SchemaFormat {
    /// AsyncAPI Schema / JSON Schema draft-07.
    JsonSchema,
    /// Apache Avro (kept as written in [`SchemaBody::Foreign`]).
    Avro(String),
    /// OpenAPI 3.0 Schema Object.
    OpenApi(String),
    /// Anything else (RAML, protobuf, …), kept as written.
    Other(String),
}

impl SchemaFormat {
    /// Classifies a `schemaFormat` value (`None` means the AsyncAPI default).
    pub fn from_media_type(mt: Option<&str>) -> SchemaFormat {
        let Some(mt) = mt else {
            return SchemaFormat::JsonSchema;
        };
        let l = mt.to_ascii_lowercase();
        if l.starts_with("application/vnd.aai.asyncapi") || l.starts_with("application/schema+") {
            SchemaFormat::JsonSchema
        } else if l.starts_with("application/vnd.apache.avro") {
            SchemaFormat::Avro(mt.to_owned())
        } else if l.starts_with("application/vnd.oai.openapi") {
            SchemaFormat::OpenApi(mt.to_owned())
        } else {
            SchemaFormat::Other(mt.to_owned())
        }
    }
}

/// JSON types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JsonType {
    /// `null`
    Null,
    /// `boolean`
    Boolean,
    /// `integer`
    Integer,
    /// `number`
    Number,
    /// `string`
    String,
    /// `array`
    Array,
    /// `object`
    Object,
}

impl JsonType {
    fn parse(s: &str) -> Option<JsonType> {
        Some(match s {
            "null" => JsonType::Null,
            "boolean" => JsonType::Boolean,
            "integer" => JsonType::Integer,
            "number" => JsonType::Number,
            "string" => JsonType::String,
            "array" => JsonType::Array,
            "object" => JsonType::Object,
            _ => return None,
        })
    }
}

/// A schema of the arena.
#[derive(Debug, Clone, Serialize)]
pub struct Schema {
    /// Name: the component key, or the `title`, when there is one.
    pub name: Option<String>,
    /// Schema language.
    pub format: SchemaFormat,
    /// Content.
    pub body: SchemaBody,
    /// Where it was written.
    pub source: Source,
}

/// The content of a schema.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "value")]
pub enum SchemaBody {
    /// `true` (anything) or `false` (nothing).
    Bool(bool),
    /// A JSON Schema object.
    Object(Box<SchemaObject>),
    /// A schema in another language (Avro, …), as written, references resolved.
    Foreign(Value),
}

/// `items`: one schema for every item, or one per position (tuple).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Items {
    /// Every item.
    Single(SchemaId),
    /// Per position.
    Tuple(Vec<SchemaId>),
}

/// A JSON Schema object, subschemas as ids.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SchemaObject {
    /// `type` (empty: any).
    pub types: Vec<JsonType>,
    /// `title`.
    pub title: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `format`.
    pub format: Option<String>,
    /// `enum`.
    pub enum_values: Option<Vec<Value>>,
    /// `const`.
    pub const_value: Option<Value>,
    /// `default`.
    pub default: Option<Value>,
    /// `examples`.
    pub examples: Vec<Value>,
    /// `properties`, in written order.
    pub properties: Vec<(String, SchemaId)>,
    /// `required`.
    pub required: Vec<String>,
    /// `additionalProperties`.
    pub additional_properties: Option<SchemaId>,
    /// `patternProperties`.
    pub pattern_properties: Vec<(String, SchemaId)>,
    /// `propertyNames`.
    pub property_names: Option<SchemaId>,
    /// `items`.
    pub items: Option<Items>,
    /// `additionalItems`.
    pub additional_items: Option<SchemaId>,
    /// `contains`.
    pub contains: Option<SchemaId>,
    /// `allOf`.
    pub all_of: Vec<SchemaId>,
    /// `anyOf`.
    pub any_of: Vec<SchemaId>,
    /// `oneOf`.
    pub one_of: Vec<SchemaId>,
    /// `not`.
    pub not: Option<SchemaId>,
    /// `if`.
    pub if_: Option<SchemaId>,
    /// `then`.
    pub then: Option<SchemaId>,
    /// `else`.
    pub else_: Option<SchemaId>,
    /// `definitions` (kept so named definitions stay reachable).
    pub definitions: Vec<(String, SchemaId)>,
    /// `discriminator` (AsyncAPI: a property name; OpenAPI style objects keep `propertyName`).
    pub discriminator: Option<String>,
    /// `nullable` (OpenAPI style).
    pub nullable: bool,
    /// `deprecated`.
    pub deprecated: bool,
    /// `readOnly`.
    pub read_only: bool,
    /// `writeOnly`.
    pub write_only: bool,
    /// `minimum`.
    pub minimum: Option<f64>,
    /// `maximum`.
    pub maximum: Option<f64>,
    /// `exclusiveMinimum` (draft-07 number form).
    pub exclusive_minimum: Option<f64>,
    /// `exclusiveMaximum` (draft-07 number form).
    pub exclusive_maximum: Option<f64>,
    /// `multipleOf`.
    pub multiple_of: Option<f64>,
    /// `minLength`.
    pub min_length: Option<u64>,
    /// `maxLength`.
    pub max_length: Option<u64>,
    /// `pattern`.
    pub pattern: Option<String>,
    /// `minItems`.
    pub min_items: Option<u64>,
    /// `maxItems`.
    pub max_items: Option<u64>,
    /// `uniqueItems`.
    pub unique_items: bool,
    /// `minProperties`.
    pub min_properties: Option<u64>,
    /// `maxProperties`.
    pub max_properties: Option<u64>,
    /// Keywords not modelled above (extensions, `$id`, `$comment`, vendor keywords).
    pub extra: Map<String, Value>,
}

const MODELLED: &[&str] = &[
    "type",
    "title",
    "description",
    "format",
    "enum",
    "const",
    "default",
    "examples",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "propertyNames",
    "items",
    "additionalItems",
    "contains",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
    "definitions",
    "discriminator",
    "nullable",
    "deprecated",
    "readOnly",
    "writeOnly",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "$ref",
    "$schema",
];

/// Which field of a [`SchemaObject`] a subschema goes to.
enum Slot {
    Property(String),
    AdditionalProperties,
    PatternProperty(String),
    PropertyNames,
    TupleItem,
    Items,
    AdditionalItems,
    Contains,
    AllOf,
    AnyOf,
    OneOf,
    Not,
    If,
    Then,
    Else,
    Definition(String),
}

/// A JSON Schema object being lowered: its own keywords are read, its subschemas are lowered
/// one after the other (depth first, in the order they are listed) before it is finished.
struct Frame<'a> {
    id: SchemaId,
    format: SchemaFormat,
    object: SchemaObject,
    subs: Vec<(Slot, At<'a>)>,
    ids: Vec<SchemaId>,
}

impl<'a> Lowerer<'a> {
    /// Lowers the schema at `at` (following references) into the arena; a node reached twice
    /// (shared or recursive) gets one id.
    ///
    /// **Architecture Invariant:** lowering a schema uses no recursion. Subschemas are lowered
    /// from an explicit stack of frames, depth first in the order their keywords are listed, so
    /// ids are numbered as a recursive walk would number them, and a chain of thousands of
    /// schemas joined by `$ref`s costs heap, not stack.
    pub(crate) fn schema(
        &mut self,
        at: &At<'a>,
        format: &SchemaFormat,
        name: Option<&str>,
    ) -> SchemaId {
        let (id, node) = self.reserve(at, format, name);
        let Some(node) = node else {
            return id;
        };
        let Some(first) = self.frame(id, &node, format) else {
            return id;
        };
        let mut stack = vec![first];
        while let Some(top) = stack.last_mut() {
            if top.ids.len() < top.subs.len() {
                let at = top.subs[top.ids.len()].1.clone();
                let format = top.format.clone();
                let (child, fresh) = self.reserve(&at, &format, None);
                top.ids.push(child);
                if let Some(node) = fresh
                    && let Some(frame) = self.frame(child, &node, &format)
                {
                    stack.push(frame);
                }
                continue;
            }
            let Some(done) = stack.pop() else { break };
            let id = done.id;
            let object = done.finish();
            self.api.schemas[id.index()].body = SchemaBody::Object(Box::new(object));
        }
        id
    }

    /// The id of the schema at `at`: the one it already has, or a new slot (returned with the
    /// resolved node, whose body is still to be lowered).
    fn reserve(
        &mut self,
        at: &At<'a>,
        format: &SchemaFormat,
        name: Option<&str>,
    ) -> (SchemaId, Option<At<'a>>) {
        let node = self.resolve(at);
        let key = (node.file, node.ptr.clone());
        if let Some(&id) = self.schema_ids.get(&key) {
            return (id, None);
        }
        let id = SchemaId(self.api.schemas.len() as u32);
        self.schema_ids.insert(key, id);
        let name = name
            .map(str::to_owned)
            .or_else(|| self.component_name(&node, "schemas"))
            .or_else(|| node.str("title").map(str::to_owned));
        let source = self.source(&node);
        // The slot exists before its subschemas are lowered, so recursion finds the id.
        self.api.schemas.push(Schema {
            name,
            format: format.clone(),
            body: SchemaBody::Bool(true),
            source,
        });
        (id, Some(node))
    }

    /// Lowers a reserved schema that has no subschemas right away; a JSON Schema object becomes
    /// a frame whose subschemas are still to be lowered.
    fn frame(&mut self, id: SchemaId, node: &At<'a>, format: &SchemaFormat) -> Option<Frame<'a>> {
        let body = match format {
            SchemaFormat::JsonSchema => match node.v {
                Value::Bool(b) => SchemaBody::Bool(*b),
                Value::Object(_) => {
                    return Some(Frame {
                        id,
                        format: format.clone(),
                        object: schema_object(node),
                        subs: subschemas(node),
                        ids: Vec::new(),
                    });
                }
                other => SchemaBody::Foreign(other.clone()),
            },
            _ => SchemaBody::Foreign(self.inline(node, 0)),
        };
        self.api.schemas[id.index()].body = body;
        None
    }
}

impl Frame<'_> {
    /// The schema object with its subschemas' ids in place.
    fn finish(self) -> SchemaObject {
        let mut o = self.object;
        for ((slot, _), id) in self.subs.into_iter().zip(self.ids) {
            match slot {
                Slot::Property(k) => o.properties.push((k, id)),
                Slot::AdditionalProperties => o.additional_properties = Some(id),
                Slot::PatternProperty(k) => o.pattern_properties.push((k, id)),
                Slot::PropertyNames => o.property_names = Some(id),
                Slot::TupleItem => {
                    if let Some(Items::Tuple(l)) = &mut o.items {
                        l.push(id);
                    }
                }
                Slot::Items => o.items = Some(Items::Single(id)),
                Slot::AdditionalItems => o.additional_items = Some(id),
                Slot::Contains => o.contains = Some(id),
                Slot::AllOf => o.all_of.push(id),
                Slot::AnyOf => o.any_of.push(id),
                Slot::OneOf => o.one_of.push(id),
                Slot::Not => o.not = Some(id),
                Slot::If => o.if_ = Some(id),
                Slot::Then => o.then = Some(id),
                Slot::Else => o.else_ = Some(id),
                Slot::Definition(k) => o.definitions.push((k, id)),
            }
        }
        o
    }
}

/// The subschemas of a JSON Schema object, in the order they are lowered (and numbered).
fn subschemas<'a>(node: &At<'a>) -> Vec<(Slot, At<'a>)> {
    let mut out = Vec::new();
    let map = |out: &mut Vec<(Slot, At<'a>)>, key: &str, slot: fn(String) -> Slot| {
        let Some(m) = node.child(key) else { return };
        let Some(obj) = m.v.as_object() else { return };
        for k in obj.keys() {
            if let Some(child) = m.child(k) {
                out.push((slot(k.clone()), child));
            }
        }
    };
    let one = |out: &mut Vec<(Slot, At<'a>)>, key: &str, slot: Slot| {
        if let Some(child) = node.child(key) {
            out.push((slot, child));
        }
    };
    let list = |out: &mut Vec<(Slot, At<'a>)>, key: &str, slot: fn() -> Slot| {
        if let Some(l) = node.child(key) {
            out.extend(l.items().into_iter().map(|s| (slot(), s)));
        }
    };
    match node.child("items") {
        Some(i) if i.v.is_array() => {
            out.extend(i.items().into_iter().map(|s| (Slot::TupleItem, s)))
        }
        Some(i) => out.push((Slot::Items, i)),
        None => {}
    }
    map(&mut out, "properties", Slot::Property);
    one(&mut out, "additionalProperties", Slot::AdditionalProperties);
    map(&mut out, "patternProperties", Slot::PatternProperty);
    one(&mut out, "propertyNames", Slot::PropertyNames);
    one(&mut out, "additionalItems", Slot::AdditionalItems);
    one(&mut out, "contains", Slot::Contains);
    list(&mut out, "allOf", || Slot::AllOf);
    list(&mut out, "anyOf", || Slot::AnyOf);
    list(&mut out, "oneOf", || Slot::OneOf);
    one(&mut out, "not", Slot::Not);
    one(&mut out, "if", Slot::If);
    one(&mut out, "then", Slot::Then);
    one(&mut out, "else", Slot::Else);
    map(&mut out, "definitions", Slot::Definition);
    out
}

/// A JSON Schema object's own keywords; its subschemas (see [`subschemas`]) are added by
/// [`Frame::finish`].
fn schema_object(node: &At<'_>) -> SchemaObject {
    let v = node.v;
    let num = |k: &str| v.get(k).and_then(Value::as_f64);
    let uint = |k: &str| v.get(k).and_then(Value::as_u64);
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let string = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
    let types = match v.get("type") {
        Some(Value::String(t)) => JsonType::parse(t).into_iter().collect(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().and_then(JsonType::parse))
            .collect(),
        _ => Vec::new(),
    };
    // A tuple is filled by `finish`; a single `items` schema is set there.
    let items = v
        .get("items")
        .filter(|i| i.is_array())
        .map(|_| Items::Tuple(Vec::new()));
    let discriminator = match v.get("discriminator") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Object(o)) => o
            .get("propertyName")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    let extra: Map<String, Value> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !MODELLED.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    SchemaObject {
        types,
        title: string("title"),
        description: string("description"),
        format: string("format"),
        enum_values: v.get("enum").and_then(Value::as_array).cloned(),
        const_value: v.get("const").cloned(),
        default: v.get("default").cloned(),
        examples: v
            .get("examples")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
        properties: Vec::new(),
        required: v
            .get("required")
            .and_then(Value::as_array)
            .map(|r| {
                r.iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        additional_properties: None,
        pattern_properties: Vec::new(),
        property_names: None,
        items,
        additional_items: None,
        contains: None,
        all_of: Vec::new(),
        any_of: Vec::new(),
        one_of: Vec::new(),
        not: None,
        if_: None,
        then: None,
        else_: None,
        definitions: Vec::new(),
        discriminator,
        nullable: flag("nullable"),
        deprecated: flag("deprecated"),
        read_only: flag("readOnly"),
        write_only: flag("writeOnly"),
        minimum: num("minimum"),
        maximum: num("maximum"),
        exclusive_minimum: num("exclusiveMinimum"),
        exclusive_maximum: num("exclusiveMaximum"),
        multiple_of: num("multipleOf"),
        min_length: uint("minLength"),
        max_length: uint("maxLength"),
        pattern: string("pattern"),
        min_items: uint("minItems"),
        max_items: uint("maxItems"),
        unique_items: flag("uniqueItems"),
        min_properties: uint("minProperties"),
        max_properties: uint("maxProperties"),
        extra,
    }
}
