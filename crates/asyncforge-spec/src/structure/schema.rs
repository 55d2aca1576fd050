//! Structure of Schema Objects (JSON Schema draft-07 plus AsyncAPI's additions), of the other
//! schema languages a message payload may be written in (OpenAPI 3.0 Schema Objects, Avro 1.9),
//! and of the 3.x Multi Format Schema Object.
//!
//! A payload whose `schemaFormat` is not one of those (RAML, Protobuf, a newer Avro, …) is not
//! checked: its content belongs to another specification.

use serde_json::Value;

use super::{Checker, Field, Format, Keys, Loc, MapShape, Obj, Shape, is_ref, s};
use crate::pointer;
use crate::version::{SUPPORTED, Version};

/// The JSON types a draft-07 `type` may name.
static SIMPLE_TYPES: Shape = Shape::Enum(&[
    "array", "boolean", "integer", "null", "number", "object", "string",
]);

static REGEX: Shape = Shape::Str {
    format: Some(Format::Regex),
    pattern: None,
};

static UNIQUE_STRINGS: Shape = Shape::Array {
    items: &s::STR,
    min_items: 0,
    unique: true,
};

/// `multipleOf`: a number greater than 0.
static POSITIVE: Shape = Shape::Custom(positive_number);

fn positive_number(c: &mut Checker<'_>, at: Loc<'_>) {
    c.check(at, &s::NUM);
    if let Some(n) = at.value.as_f64()
        && n <= 0.0
    {
        c.error(
            super::codes::RANGE,
            at,
            format!("`multipleOf` must be greater than 0, found {n}"),
        );
    }
}

/// The draft-07 keywords. `$sub` is the shape of subschemas under the keywords AsyncAPI
/// redefines (so they are AsyncAPI schemas again); `$d7` is the shape under the keywords it
/// leaves to draft-07 (`definitions`, `dependencies`, `if`/`then`/`else`, `additionalItems`).
macro_rules! draft7_fields {
    ($sub:expr, $d7:expr; $($extra:expr,)*) => {
        [
            Field::new("$id", &s::URI_REF),
            Field::new("$schema", &s::URI),
            Field::new("$ref", &s::URI_REF),
            Field::new("$comment", &s::STR),
            Field::new("title", &s::STR),
            Field::new("description", &s::STR),
            Field::new("default", &s::ANY),
            Field::new("readOnly", &s::BOOL),
            Field::new("writeOnly", &s::BOOL),
            Field::new(
                "examples",
                &Shape::Array {
                    items: &s::ANY,
                    min_items: 0,
                    unique: false,
                },
            ),
            Field::new("multipleOf", &POSITIVE),
            Field::new("maximum", &s::NUM),
            Field::new("exclusiveMaximum", &s::NUM),
            Field::new("minimum", &s::NUM),
            Field::new("exclusiveMinimum", &s::NUM),
            Field::new("maxLength", &s::UINT),
            Field::new("minLength", &s::UINT),
            Field::new("pattern", &REGEX),
            Field::new("additionalItems", $d7),
            Field::new(
                "items",
                &Shape::AnyOf(&[
                    $sub,
                    &Shape::Array {
                        items: $sub,
                        min_items: 1,
                        unique: false,
                    },
                ]),
            ),
            Field::new("maxItems", &s::UINT),
            Field::new("minItems", &s::UINT),
            Field::new("uniqueItems", &s::BOOL),
            Field::new("contains", $sub),
            Field::new("maxProperties", &s::UINT),
            Field::new("minProperties", &s::UINT),
            Field::new("required", &UNIQUE_STRINGS),
            Field::new("additionalProperties", $sub),
            Field::new(
                "definitions",
                &Shape::Map(&MapShape {
                    name: "`definitions`",
                    keys: Keys::Any,
                    values: $d7,
                    extensions: false,
                }),
            ),
            Field::new(
                "properties",
                &Shape::Map(&MapShape {
                    name: "`properties`",
                    keys: Keys::Any,
                    values: $sub,
                    extensions: false,
                }),
            ),
            Field::new(
                "patternProperties",
                &Shape::Map(&MapShape {
                    name: "`patternProperties`",
                    keys: Keys::Any,
                    values: $sub,
                    extensions: false,
                }),
            ),
            Field::new(
                "dependencies",
                &Shape::Map(&MapShape {
                    name: "`dependencies`",
                    keys: Keys::Any,
                    values: &Shape::AnyOf(&[$d7, &UNIQUE_STRINGS]),
                    extensions: false,
                }),
            ),
            Field::new("propertyNames", $sub),
            Field::new("const", &s::ANY),
            // The draft-07 meta-schema the validators use has no `minItems`/`uniqueItems`
            // here (the specification says SHOULD).
            Field::new(
                "enum",
                &Shape::Array {
                    items: &s::ANY,
                    min_items: 0,
                    unique: false,
                },
            ),
            Field::new(
                "type",
                &Shape::AnyOf(&[
                    &SIMPLE_TYPES,
                    &Shape::Array {
                        items: &SIMPLE_TYPES,
                        min_items: 1,
                        unique: true,
                    },
                ]),
            ),
            Field::new("format", &s::STR),
            Field::new("contentMediaType", &s::STR),
            Field::new("contentEncoding", &s::STR),
            Field::new("if", $d7),
            Field::new("then", $d7),
            Field::new("else", $d7),
            Field::new(
                "allOf",
                &Shape::Array {
                    items: $sub,
                    min_items: 1,
                    unique: false,
                },
            ),
            Field::new(
                "anyOf",
                &Shape::Array {
                    items: $sub,
                    min_items: 1,
                    unique: false,
                },
            ),
            Field::new(
                "oneOf",
                &Shape::Array {
                    items: $sub,
                    min_items: 1,
                    unique: false,
                },
            ),
            Field::new("not", $sub),
            $($extra,)*
        ]
    };
}

/// The AsyncAPI Schema Object's keywords: draft-07's plus `discriminator`, `externalDocs` and
/// `deprecated`.
static SCHEMA_FIELDS: &[Field] = &draft7_fields!(&SCHEMA, &DRAFT7;
    Field::new("discriminator", &s::STR),
    Field::new("externalDocs", &EXTERNAL_DOCS),
    Field::new("deprecated", &s::BOOL),
);

/// `externalDocs` inside a schema: a Reference Object is allowed from 3.0 on.
static EXTERNAL_DOCS: Shape = Shape::Custom(external_docs);

fn external_docs(c: &mut Checker<'_>, at: Loc<'_>) {
    if c.version.is_v2() {
        c.check(at, &super::v2::EXTERNAL_DOCS)
    } else {
        c.check(at, &EXTERNAL_DOCS_OR_REF)
    }
}

static EXTERNAL_DOCS_OR_REF: Shape = Shape::RefOr(&super::v2::EXTERNAL_DOCS);

static SCHEMA_OBJ: Obj = Obj {
    name: "Schema Object",
    fields: SCHEMA_FIELDS,
    required: &[],
    extensions: true,
    additional: Some(&s::ANY),
    checks: &[follow_schema_ref],
};

/// A Schema Object (an object or a boolean); a `$ref` is allowed anywhere inside it.
pub static SCHEMA: Shape = Shape::AnyOf(&[&s::BOOL, &Shape::Object(&SCHEMA_OBJ)]);

fn follow_schema_ref(c: &mut Checker<'_>, at: Loc<'_>) {
    if is_ref(at.value) {
        c.check_ref(at, &SCHEMA);
    }
}

static HEADERS_OBJ: Obj = Obj {
    name: "Schema Object",
    fields: SCHEMA_FIELDS,
    required: &[],
    extensions: true,
    additional: Some(&s::ANY),
    checks: &[follow_headers_ref, headers_type_object],
};

/// A 2.x message's `headers`: a Schema Object whose `type`, when given, is `object`.
pub static HEADERS: Shape = Shape::AnyOf(&[&s::BOOL, &Shape::Object(&HEADERS_OBJ)]);

fn follow_headers_ref(c: &mut Checker<'_>, at: Loc<'_>) {
    if is_ref(at.value) {
        c.check_ref(at, &HEADERS);
    }
}

fn headers_type_object(c: &mut Checker<'_>, at: Loc<'_>) {
    if let Some(t) = at.value.get("type")
        && t.as_str() != Some("object")
    {
        let p = pointer::join(at.ptr, "type");
        c.error(
            super::codes::ENUM,
            Loc {
                file: at.file,
                ptr: &p,
                value: t,
            },
            format!("message headers must be a schema of `type: object`, found `type: {t}`"),
        );
    }
}

static DRAFT7_FIELDS: &[Field] = &draft7_fields!(&DRAFT7, &DRAFT7;);

static DRAFT7_OBJ: Obj = Obj {
    name: "JSON Schema",
    fields: DRAFT7_FIELDS,
    required: &[],
    extensions: false,
    additional: Some(&s::ANY),
    checks: &[follow_draft7_ref],
};

/// A plain JSON Schema draft-07 schema (payloads whose `schemaFormat` is
/// `application/schema+json;version=draft-07`).
pub static DRAFT7: Shape = Shape::AnyOf(&[&s::BOOL, &Shape::Object(&DRAFT7_OBJ)]);

fn follow_draft7_ref(c: &mut Checker<'_>, at: Loc<'_>) {
    if is_ref(at.value) {
        c.check_ref(at, &DRAFT7);
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAPI 3.0 Schema Object.

static OAS_NESTED: Shape = Shape::RefOr(&OPENAPI);

static OAS_NESTED_ARRAY: Shape = Shape::Array {
    items: &OAS_NESTED,
    min_items: 0,
    unique: false,
};

static OAS_FIELDS: &[Field] = &[
    Field::new("title", &s::STR),
    Field::new("multipleOf", &POSITIVE),
    Field::new("maximum", &s::NUM),
    Field::new("exclusiveMaximum", &s::BOOL),
    Field::new("minimum", &s::NUM),
    Field::new("exclusiveMinimum", &s::BOOL),
    Field::new("maxLength", &s::UINT),
    Field::new("minLength", &s::UINT),
    Field::new("pattern", &REGEX),
    Field::new("maxItems", &s::UINT),
    Field::new("minItems", &s::UINT),
    Field::new("uniqueItems", &s::BOOL),
    Field::new("maxProperties", &s::UINT),
    Field::new("minProperties", &s::UINT),
    Field::new(
        "required",
        &Shape::Array {
            items: &s::STR,
            min_items: 1,
            unique: true,
        },
    ),
    Field::new(
        "enum",
        &Shape::Array {
            items: &s::ANY,
            min_items: 1,
            unique: false,
        },
    ),
    Field::new(
        "type",
        &Shape::Enum(&["array", "boolean", "integer", "number", "object", "string"]),
    ),
    Field::new("not", &OAS_NESTED),
    Field::new("allOf", &OAS_NESTED_ARRAY),
    Field::new("oneOf", &OAS_NESTED_ARRAY),
    Field::new("anyOf", &OAS_NESTED_ARRAY),
    Field::new("items", &OAS_NESTED),
    Field::new(
        "properties",
        &Shape::Map(&MapShape {
            name: "`properties`",
            keys: Keys::Any,
            values: &OAS_NESTED,
            extensions: false,
        }),
    ),
    Field::new(
        "additionalProperties",
        &Shape::AnyOf(&[&OAS_NESTED, &s::BOOL]),
    ),
    Field::new("description", &s::STR),
    Field::new("format", &s::STR),
    Field::new("default", &s::ANY),
    Field::new("nullable", &s::BOOL),
    Field::new(
        "discriminator",
        &Shape::Object(&Obj {
            name: "OpenAPI Discriminator Object",
            fields: &[
                Field::new("propertyName", &s::STR),
                Field::new(
                    "mapping",
                    &Shape::Map(&MapShape {
                        name: "`mapping`",
                        keys: Keys::Any,
                        values: &s::STR,
                        extensions: false,
                    }),
                ),
            ],
            required: &["propertyName"],
            extensions: false,
            additional: Some(&s::ANY),
            checks: &[],
        }),
    ),
    Field::new("readOnly", &s::BOOL),
    Field::new("writeOnly", &s::BOOL),
    Field::new("example", &s::ANY),
    Field::new(
        "externalDocs",
        &Shape::Object(&Obj {
            name: "OpenAPI External Documentation Object",
            fields: &[
                Field::new("description", &s::STR),
                Field::new("url", &s::URI_REF),
            ],
            required: &["url"],
            extensions: true,
            additional: None,
            checks: &[],
        }),
    ),
    Field::new("deprecated", &s::BOOL),
    Field::new(
        "xml",
        &Shape::Object(&Obj {
            name: "OpenAPI XML Object",
            fields: &[
                Field::new("name", &s::STR),
                Field::new("namespace", &s::URI),
                Field::new("prefix", &s::STR),
                Field::new("attribute", &s::BOOL),
                Field::new("wrapped", &s::BOOL),
            ],
            required: &[],
            extensions: true,
            additional: None,
            checks: &[],
        }),
    ),
];

/// An OpenAPI 3.0 Schema Object (payloads in `application/vnd.oai.openapi;version=3.0.0`).
pub static OPENAPI: Shape = Shape::Object(&Obj {
    name: "OpenAPI 3.0 Schema Object",
    fields: OAS_FIELDS,
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

// ---------------------------------------------------------------------------------------------
// Avro 1.9.

static AVRO_NAME: Shape = Shape::Str {
    format: None,
    pattern: Some(r"^[A-Za-z_][A-Za-z0-9_]*$"),
};

static AVRO_NAMESPACE: Shape = Shape::Str {
    format: None,
    pattern: Some(r"^([A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)*$"),
};

/// A primitive type name or the (full) name of a named type.
static AVRO_TYPE_NAME: Shape = Shape::Str {
    format: None,
    pattern: Some(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"),
};

static AVRO_NAMES: Shape = Shape::Array {
    items: &AVRO_NAME,
    min_items: 0,
    unique: false,
};

static AVRO_PRIMITIVE: Obj = Obj {
    name: "Avro primitive type",
    fields: &[],
    required: &["type"],
    extensions: false,
    additional: Some(&s::ANY),
    checks: &[],
};

static AVRO_FIELD: Shape = Shape::Object(&Obj {
    name: "Avro record field",
    fields: &[
        Field::new("name", &AVRO_NAME),
        Field::new("type", &AVRO),
        Field::new("doc", &s::STR),
        Field::new("default", &s::ANY),
        Field::new(
            "order",
            &Shape::Enum(&["ascending", "descending", "ignore"]),
        ),
        Field::new("aliases", &AVRO_NAMES),
    ],
    required: &["name", "type"],
    extensions: false,
    additional: Some(&s::ANY),
    checks: &[],
});

macro_rules! avro_named {
    ($name:literal, [$($extra:expr),*], $required:expr) => {
        Shape::Object(&Obj {
            name: $name,
            fields: &[
                Field::new("type", &s::STR),
                Field::new("name", &AVRO_NAME),
                Field::new("namespace", &AVRO_NAMESPACE),
                Field::new("doc", &s::STR),
                Field::new("aliases", &AVRO_NAMES),
                $($extra),*
            ],
            required: $required,
            extensions: false,
            additional: Some(&s::ANY),
            checks: &[],
        })
    };
}

static AVRO_RECORD: Shape = avro_named!(
    "Avro record",
    [Field::new(
        "fields",
        &Shape::Array {
            items: &AVRO_FIELD,
            min_items: 0,
            unique: false
        }
    )],
    &["type", "name", "fields"]
);
static AVRO_ENUM: Shape = avro_named!(
    "Avro enum",
    [Field::new("symbols", &AVRO_NAMES)],
    &["type", "name", "symbols"]
);
static AVRO_ARRAY: Shape = avro_named!(
    "Avro array",
    [Field::new("items", &AVRO)],
    &["type", "items"]
);
static AVRO_MAP: Shape = avro_named!(
    "Avro map",
    [Field::new("values", &AVRO)],
    &["type", "values"]
);
static AVRO_FIXED: Shape = avro_named!(
    "Avro fixed",
    [Field::new("size", &s::NUM)],
    &["type", "name", "size"]
);

static AVRO_OBJECT: Shape = Shape::Tagged {
    field: "type",
    variants: &[
        ("null", &Shape::Object(&AVRO_PRIMITIVE)),
        ("boolean", &Shape::Object(&AVRO_PRIMITIVE)),
        ("int", &Shape::Object(&AVRO_PRIMITIVE)),
        ("long", &Shape::Object(&AVRO_PRIMITIVE)),
        ("float", &Shape::Object(&AVRO_PRIMITIVE)),
        ("double", &Shape::Object(&AVRO_PRIMITIVE)),
        ("bytes", &Shape::Object(&AVRO_PRIMITIVE)),
        ("string", &Shape::Object(&AVRO_PRIMITIVE)),
        ("record", &AVRO_RECORD),
        ("enum", &AVRO_ENUM),
        ("array", &AVRO_ARRAY),
        ("map", &AVRO_MAP),
        ("fixed", &AVRO_FIXED),
    ],
    name: "Avro schema",
};

/// An Avro 1.9 schema: a type name, a union (array) or a type definition (object).
pub static AVRO: Shape = Shape::AnyOf(&[
    &AVRO_TYPE_NAME,
    &Shape::Array {
        items: &AVRO,
        min_items: 1,
        unique: false,
    },
    &AVRO_OBJECT,
]);

// ---------------------------------------------------------------------------------------------
// Payload formats.

/// How a payload in a given `schemaFormat` is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// An AsyncAPI Schema Object (no `schemaFormat`, or an AsyncAPI one).
    AsyncApi,
    /// JSON Schema draft-07.
    JsonSchema,
    /// OpenAPI 3.0 Schema Object.
    OpenApi,
    /// Avro 1.9.
    Avro,
    /// Another format: not checked.
    Other,
}

/// Classifies a `schemaFormat` as the official schemas do: only the exact media types they list
/// (AsyncAPI up to the document's own version, JSON Schema draft-07, OpenAPI 3.0.0, Avro 1.9.0)
/// are checked in depth.
pub fn payload_format(schema_format: Option<&str>, doc: Version) -> PayloadFormat {
    let Some(f) = schema_format else {
        return PayloadFormat::AsyncApi;
    };
    let versioned = |prefix: &str, version: &str| {
        ["", "+json", "+yaml"]
            .iter()
            .any(|suffix| f == format!("{prefix}{suffix};version={version}"))
    };
    let aai = SUPPORTED
        .iter()
        .filter(|v| **v <= doc)
        .any(|v| versioned("application/vnd.aai.asyncapi", v.as_str()));
    if aai {
        PayloadFormat::AsyncApi
    } else if f == "application/schema+json;version=draft-07"
        || f == "application/schema+yaml;version=draft-07"
    {
        PayloadFormat::JsonSchema
    } else if versioned("application/vnd.oai.openapi", "3.0.0") {
        PayloadFormat::OpenApi
    } else if versioned("application/vnd.apache.avro", "1.9.0") {
        PayloadFormat::Avro
    } else {
        PayloadFormat::Other
    }
}

/// A 2.x message's `payload`, checked according to the message's `schemaFormat`.
///
/// As in the official 2.x schemas, OpenAPI and Avro payloads allow no top-level `$ref`.
pub fn payload_v2(c: &mut Checker<'_>, at: Loc<'_>) {
    let Some(payload) = at.value.get("payload") else {
        return;
    };
    let p = pointer::join(at.ptr, "payload");
    let loc = Loc {
        file: at.file,
        ptr: &p,
        value: payload,
    };
    let format = at.value.get("schemaFormat").and_then(Value::as_str);
    match payload_format(format, c.version) {
        PayloadFormat::AsyncApi => c.check(loc, &SCHEMA),
        PayloadFormat::JsonSchema => c.check(loc, &DRAFT7),
        PayloadFormat::OpenApi => c.check(loc, &OPENAPI),
        PayloadFormat::Avro => c.check(loc, &AVRO),
        PayloadFormat::Other => {}
    }
}

// ---------------------------------------------------------------------------------------------
// 3.x: Multi Format Schema Object.

static MULTI_FORMAT_OBJ: Obj = Obj {
    name: "Multi Format Schema Object",
    fields: &[Field::new("schemaFormat", &s::STR)],
    required: &[],
    extensions: true,
    additional: Some(&s::ANY),
    checks: &[multi_format_schema],
};

/// A 3.x Multi Format Schema Object.
pub static MULTI_FORMAT: Shape = Shape::Object(&MULTI_FORMAT_OBJ);

fn multi_format_schema(c: &mut Checker<'_>, at: Loc<'_>) {
    let Some(schema) = at.value.get("schema") else {
        return;
    };
    let p = pointer::join(at.ptr, "schema");
    let loc = Loc {
        file: at.file,
        ptr: &p,
        value: schema,
    };
    let format = at.value.get("schemaFormat").and_then(Value::as_str);
    match payload_format(format, c.version) {
        PayloadFormat::AsyncApi => c.check(loc, &SCHEMA),
        PayloadFormat::JsonSchema => c.check(loc, &DRAFT7),
        PayloadFormat::OpenApi => c.check(loc, &OPENAPI_OR_REF),
        PayloadFormat::Avro => c.check(loc, &AVRO_OR_REF),
        PayloadFormat::Other => {}
    }
}

static OPENAPI_OR_REF: Shape = Shape::RefOr(&OPENAPI);
static AVRO_OR_REF: Shape = Shape::RefOr(&AVRO);

/// A Schema Object in a place that also takes a Multi Format Schema Object: its `$ref` may name
/// either.
static SCHEMA_OBJECT: Shape = Shape::Object(&Obj {
    name: "Schema Object",
    fields: SCHEMA_FIELDS,
    required: &[],
    extensions: true,
    additional: Some(&s::ANY),
    checks: &[follow_any_schema_ref],
});

fn follow_any_schema_ref(c: &mut Checker<'_>, at: Loc<'_>) {
    if is_ref(at.value) {
        c.check_ref(at, &ANY_SCHEMA);
    }
}

/// A 3.x `payload`/`headers`/component schema: a Multi Format Schema Object when it has a
/// `schema` field, otherwise a Schema Object (whose `$ref` may name either). Either way it
/// must be an object.
pub static ANY_SCHEMA: Shape = Shape::Custom(any_schema);

fn any_schema(c: &mut Checker<'_>, at: Loc<'_>) {
    match at.value {
        Value::Object(m) if m.contains_key("schema") => c.check(at, &MULTI_FORMAT),
        Value::Object(_) => c.check(at, &SCHEMA_OBJECT),
        _ => c.error(
            super::codes::TYPE,
            at,
            format!(
                "{} must be an object (a Schema Object or a Multi Format Schema Object)",
                super::field_label(at.ptr)
            ),
        ),
    }
}
