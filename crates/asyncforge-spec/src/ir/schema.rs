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

impl Lowerer<'_> {
    /// Lowers the schema at `at` (following references) into the arena; a node reached twice
    /// (shared or recursive) gets one id.
    pub(crate) fn schema(
        &mut self,
        at: &At<'_>,
        format: &SchemaFormat,
        name: Option<&str>,
    ) -> SchemaId {
        let node = self.resolve(at);
        let key = (node.file, node.ptr.clone());
        if let Some(&id) = self.schema_ids.get(&key) {
            return id;
        }
        let id = SchemaId(self.api.schemas.len() as u32);
        self.schema_ids.insert(key, id);
        let name = name
            .map(str::to_owned)
            .or_else(|| self.component_name(&node, "schemas"))
            .or_else(|| node.str("title").map(str::to_owned));
        let source = self.source(&node);
        // Reserve the slot before descending, so recursion finds the id.
        self.api.schemas.push(Schema {
            name,
            format: format.clone(),
            body: SchemaBody::Bool(true),
            source,
        });
        let body = match format {
            SchemaFormat::JsonSchema => match node.v {
                Value::Bool(b) => SchemaBody::Bool(*b),
                Value::Object(_) => SchemaBody::Object(Box::new(self.schema_object(&node, format))),
                other => SchemaBody::Foreign(other.clone()),
            },
            _ => SchemaBody::Foreign(self.inline(&node, 0)),
        };
        self.api.schemas[id.index()].body = body;
        id
    }

    fn sub(&mut self, at: &At<'_>, format: &SchemaFormat) -> SchemaId {
        self.schema(at, format, None)
    }

    fn sub_opt(&mut self, parent: &At<'_>, key: &str, format: &SchemaFormat) -> Option<SchemaId> {
        let child = parent.child(key)?;
        Some(self.sub(&child, format))
    }

    fn sub_list(&mut self, parent: &At<'_>, key: &str, format: &SchemaFormat) -> Vec<SchemaId> {
        parent
            .child(key)
            .map(|l| l.items().iter().map(|s| self.sub(s, format)).collect())
            .unwrap_or_default()
    }

    fn sub_map(
        &mut self,
        parent: &At<'_>,
        key: &str,
        format: &SchemaFormat,
    ) -> Vec<(String, SchemaId)> {
        let Some(m) = parent.child(key) else {
            return Vec::new();
        };
        let Some(obj) = m.v.as_object() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(obj.len());
        for (k, _) in obj {
            if let Some(child) = m.child(k) {
                let id = self.sub(&child, format);
                out.push((k.clone(), id));
            }
        }
        out
    }

    fn schema_object(&mut self, node: &At<'_>, format: &SchemaFormat) -> SchemaObject {
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
        let items = match node.child("items") {
            Some(i) if i.v.is_array() => Some(Items::Tuple(
                i.items().iter().map(|s| self.sub(s, format)).collect(),
            )),
            Some(i) => Some(Items::Single(self.sub(&i, format))),
            None => None,
        };
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
            properties: self.sub_map(node, "properties", format),
            required: v
                .get("required")
                .and_then(Value::as_array)
                .map(|r| {
                    r.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            additional_properties: self.sub_opt(node, "additionalProperties", format),
            pattern_properties: self.sub_map(node, "patternProperties", format),
            property_names: self.sub_opt(node, "propertyNames", format),
            items,
            additional_items: self.sub_opt(node, "additionalItems", format),
            contains: self.sub_opt(node, "contains", format),
            all_of: self.sub_list(node, "allOf", format),
            any_of: self.sub_list(node, "anyOf", format),
            one_of: self.sub_list(node, "oneOf", format),
            not: self.sub_opt(node, "not", format),
            if_: self.sub_opt(node, "if", format),
            then: self.sub_opt(node, "then", format),
            else_: self.sub_opt(node, "else", format),
            definitions: self.sub_map(node, "definitions", format),
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
}
