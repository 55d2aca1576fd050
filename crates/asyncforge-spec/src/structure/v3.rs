//! Structure of AsyncAPI 3.0 and 3.1 documents.
//!
//! Where 3.x only allows a Reference Object (an operation's `channel` and `messages`, a reply's,
//! a channel's `servers`), the reference is required and its target is checked as the object it
//! must name.

use super::schema::ANY_SCHEMA;
use super::v2::{
    COMPONENT_KEY, CONTACT, CORRELATION_ID, CORRELATION_ID_OR_REF, EXTERNAL_DOCS, LICENSE,
    RUNTIME_EXPRESSION, SECURITY_SCHEME, SECURITY_SCHEME_OR_REF, SERVER_VARIABLE,
    example_has_content,
};
use super::*;

static EXTERNAL_DOCS_OR_REF: Shape = Shape::RefOr(&EXTERNAL_DOCS);

static TAG: Shape = Shape::Object(&Obj {
    name: "Tag Object",
    fields: &[
        Field::new("name", &s::STR),
        Field::new("description", &s::STR),
        Field::new("externalDocs", &EXTERNAL_DOCS_OR_REF),
    ],
    required: &["name"],
    extensions: true,
    additional: None,
    checks: &[],
});

static TAG_OR_REF: Shape = Shape::RefOr(&TAG);

static TAGS: Shape = Shape::Array {
    items: &TAG_OR_REF,
    min_items: 0,
    unique: true,
};

static INFO: Shape = Shape::Object(&Obj {
    name: "Info Object",
    fields: &[
        Field::new("title", &s::STR),
        Field::new("version", &s::STR),
        Field::new("description", &s::STR),
        Field::new("termsOfService", &s::URI),
        Field::new("contact", &CONTACT),
        Field::new("license", &LICENSE),
        Field::new("tags", &TAGS),
        Field::new("externalDocs", &EXTERNAL_DOCS_OR_REF),
        // Extensions the specification defines.
        Field::new("x-x", &s::STR),
        Field::new(
            "x-linkedin",
            &Shape::Str {
                format: None,
                pattern: Some(r"^http(s)?://(www\.)?linkedin\.com.*$"),
            },
        ),
    ],
    required: &["title", "version"],
    extensions: true,
    additional: None,
    checks: &[],
});

/// A 3.x security entry; the 2.x form (`{scheme: [scopes]}`) gets a dedicated message.
fn security_item(c: &mut Checker<'_>, at: Loc<'_>) {
    if let Some(m) = at.value.as_object()
        && !is_ref(at.value)
        && !m.contains_key("type")
        && m.values().all(serde_json::Value::is_array)
        && let Some(name) = m.keys().next()
    {
        let d = c.error_at_key(
            codes::REQUIRED,
            at,
            format!(
                "{} is a 2.x Security Requirement (`{name}: [...]`); in AsyncAPI 3 a security entry is a Security Scheme Object or a `$ref` to one",
                field_label(at.ptr)
            ),
        );
        d.help = Some(format!(
            "write `- $ref: '#/components/securitySchemes/{name}'` (scopes go in the scheme's `scopes`)"
        ));
        return;
    }
    c.check(at, &SECURITY_SCHEME_OR_REF)
}

static SECURITY: Shape = Shape::Array {
    items: &Shape::Custom(security_item),
    min_items: 0,
    unique: false,
};

static SERVER_VARIABLE_OR_REF: Shape = Shape::RefOr(&SERVER_VARIABLE);

static SERVER: Shape = Shape::Object(&Obj {
    name: "Server Object",
    fields: &[
        Field::new("host", &s::STR),
        Field::new("pathname", &s::STR),
        Field::new("title", &s::STR),
        Field::new("summary", &s::STR),
        Field::new("description", &s::STR),
        Field::new("protocol", &s::STR),
        Field::new("protocolVersion", &s::STR),
        Field::new(
            "variables",
            &Shape::Map(&MapShape {
                name: "Server Variables",
                keys: Keys::Any,
                values: &SERVER_VARIABLE_OR_REF,
                extensions: false,
            }),
        ),
        Field::new("security", &SECURITY),
        Field::new("tags", &TAGS),
        Field::new("externalDocs", &EXTERNAL_DOCS_OR_REF),
        Field::new("bindings", &bindings::SERVER_OR_REF),
    ],
    required: &["host", "protocol"],
    extensions: true,
    additional: None,
    checks: &[],
});

static SERVER_OR_REF: Shape = Shape::RefOr(&SERVER);

static PARAMETER: Shape = Shape::Object(&Obj {
    name: "Parameter Object",
    fields: &[
        Field::new("description", &s::STR),
        Field::new("enum", &s::STR_ARRAY),
        Field::new("default", &s::STR),
        Field::new("examples", &s::STR_ARRAY),
        Field::new("location", &RUNTIME_EXPRESSION),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static PARAMETER_OR_REF: Shape = Shape::RefOr(&PARAMETER);

static MESSAGE_EXAMPLE: Shape = Shape::Object(&Obj {
    name: "Message Example Object",
    fields: &[
        Field::new("name", &s::STR),
        Field::new("summary", &s::STR),
        Field::new("headers", &s::ANY_OBJECT),
        Field::new("payload", &s::ANY),
    ],
    required: &[],
    extensions: false,
    additional: None,
    checks: &[example_has_content],
});

/// Fields shared by the Message Object and the Message Trait Object.
macro_rules! message_fields {
    ($($extra:expr,)*) => {
        &[
            Field::new("contentType", &s::STR),
            Field::new("headers", &ANY_SCHEMA),
            Field::new("correlationId", &CORRELATION_ID_OR_REF),
            Field::new("tags", &TAGS),
            Field::new("summary", &s::STR),
            Field::new("name", &s::STR),
            Field::new("title", &s::STR),
            Field::new("description", &s::STR),
            Field::new("externalDocs", &EXTERNAL_DOCS_OR_REF),
            Field::new("deprecated", &s::BOOL),
            Field::new(
                "examples",
                &Shape::Array {
                    items: &MESSAGE_EXAMPLE,
                    min_items: 0,
                    unique: false,
                },
            ),
            Field::new("bindings", &bindings::MESSAGE_OR_REF),
            $($extra,)*
        ]
    };
}

static MESSAGE_TRAIT: Shape = Shape::Object(&Obj {
    name: "Message Trait Object",
    fields: message_fields!(),
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static MESSAGE_TRAIT_OR_REF: Shape = Shape::RefOr(&MESSAGE_TRAIT);

/// A trait given as `[trait, {arguments}]`.
fn trait_with_arguments(c: &mut Checker<'_>, at: Loc<'_>) {
    let Some(items) = at.value.as_array() else {
        return;
    };
    for (i, item) in items.iter().enumerate().take(2) {
        let p = format!("{}/{i}", at.ptr);
        let loc = Loc {
            file: at.file,
            ptr: &p,
            value: item,
        };
        if i == 0 {
            c.check(loc, &MESSAGE_TRAIT_OR_REF)
        } else {
            c.check(loc, &s::ANY_OBJECT)
        }
    }
}

static MESSAGE: Shape = Shape::Object(&Obj {
    name: "Message Object",
    fields: message_fields!(
        Field::new("payload", &ANY_SCHEMA),
        Field::new(
            "traits",
            &Shape::Array {
                items: &Shape::AnyOf(&[
                    &MESSAGE_TRAIT_OR_REF,
                    &Shape::Array {
                        items: &s::ANY,
                        min_items: 0,
                        unique: false,
                    },
                ]),
                min_items: 0,
                unique: false,
            },
        ),
    ),
    required: &[],
    extensions: true,
    additional: None,
    checks: &[traits_with_arguments],
});

fn traits_with_arguments(c: &mut Checker<'_>, at: Loc<'_>) {
    let Some(traits) = at.value.get("traits").and_then(|t| t.as_array()) else {
        return;
    };
    for (i, t) in traits.iter().enumerate() {
        if t.is_array() {
            let p = format!("{}/traits/{i}", at.ptr);
            trait_with_arguments(
                c,
                Loc {
                    file: at.file,
                    ptr: &p,
                    value: t,
                },
            );
        }
    }
}

static MESSAGE_OR_REF: Shape = Shape::RefOr(&MESSAGE);

/// Requires a Reference Object and checks its target as `target`.
fn reference_to(c: &mut Checker<'_>, at: Loc<'_>, target: &'static Shape, what: &str) {
    if is_ref(at.value) {
        return c.check_ref(at, target);
    }
    let label = field_label(at.ptr);
    c.error(
        codes::TYPE,
        at,
        format!("{label} must be a Reference Object (`$ref`) to a {what}, not an inline value"),
    );
}

fn ref_to_channel(c: &mut Checker<'_>, at: Loc<'_>) {
    reference_to(c, at, &CHANNEL, "Channel Object")
}

fn ref_to_message(c: &mut Checker<'_>, at: Loc<'_>) {
    reference_to(c, at, &MESSAGE, "Message Object")
}

fn ref_to_server(c: &mut Checker<'_>, at: Loc<'_>) {
    reference_to(c, at, &SERVER, "Server Object")
}

static REF_TO_CHANNEL: Shape = Shape::Custom(ref_to_channel);

static REFS_TO_MESSAGES: Shape = Shape::Array {
    items: &Shape::Custom(ref_to_message),
    min_items: 0,
    unique: false,
};

static CHANNEL: Shape = Shape::Object(&Obj {
    name: "Channel Object",
    fields: &[
        Field::new(
            "address",
            &Shape::AnyOf(&[&s::STR, &Shape::Values(&["null"])]),
        ),
        Field::new(
            "messages",
            &Shape::Map(&MapShape {
                name: "Messages Object",
                keys: Keys::Any,
                values: &MESSAGE_OR_REF,
                extensions: false,
            }),
        ),
        Field::new(
            "parameters",
            &Shape::Map(&MapShape {
                name: "Parameters Object",
                keys: Keys::Any,
                values: &PARAMETER_OR_REF,
                extensions: false,
            }),
        ),
        Field::new("title", &s::STR),
        Field::new("summary", &s::STR),
        Field::new("description", &s::STR),
        Field::new(
            "servers",
            &Shape::Array {
                items: &Shape::Custom(ref_to_server),
                min_items: 0,
                unique: true,
            },
        ),
        Field::new("tags", &TAGS),
        Field::new("externalDocs", &EXTERNAL_DOCS_OR_REF),
        Field::new("bindings", &bindings::CHANNEL_OR_REF),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static CHANNEL_OR_REF: Shape = Shape::RefOr(&CHANNEL);

static REPLY_ADDRESS: Shape = Shape::Object(&Obj {
    name: "Operation Reply Address Object",
    fields: &[
        Field::new("location", &RUNTIME_EXPRESSION),
        Field::new("description", &s::STR),
    ],
    required: &["location"],
    extensions: true,
    additional: None,
    checks: &[],
});

static REPLY_ADDRESS_OR_REF: Shape = Shape::RefOr(&REPLY_ADDRESS);

static REPLY: Shape = Shape::Object(&Obj {
    name: "Operation Reply Object",
    fields: &[
        Field::new("address", &REPLY_ADDRESS_OR_REF),
        Field::new("channel", &REF_TO_CHANNEL),
        Field::new("messages", &REFS_TO_MESSAGES),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static REPLY_OR_REF: Shape = Shape::RefOr(&REPLY);

/// Fields shared by the Operation Object and the Operation Trait Object.
macro_rules! operation_fields {
    ($($extra:expr,)*) => {
        &[
            $($extra,)*
            Field::new("title", &s::STR),
            Field::new("summary", &s::STR),
            Field::new("description", &s::STR),
            Field::new("security", &SECURITY),
            Field::new("tags", &TAGS),
            Field::new("externalDocs", &EXTERNAL_DOCS_OR_REF),
            Field::new("bindings", &bindings::OPERATION_OR_REF),
        ]
    };
}

static OPERATION_TRAIT: Shape = Shape::Object(&Obj {
    name: "Operation Trait Object",
    fields: operation_fields!(),
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static OPERATION_TRAIT_OR_REF: Shape = Shape::RefOr(&OPERATION_TRAIT);

static OPERATION: Shape = Shape::Object(&Obj {
    name: "Operation Object",
    fields: operation_fields!(
        Field::new("action", &Shape::Enum(&["send", "receive"])),
        Field::new("channel", &REF_TO_CHANNEL),
        Field::new("messages", &REFS_TO_MESSAGES),
        Field::new("reply", &REPLY_OR_REF),
        Field::new(
            "traits",
            &Shape::Array {
                items: &OPERATION_TRAIT_OR_REF,
                min_items: 0,
                unique: false,
            },
        ),
    ),
    required: &["action", "channel"],
    extensions: true,
    additional: None,
    checks: &[],
});

static OPERATION_OR_REF: Shape = Shape::RefOr(&OPERATION);

/// A map of reusable components: keys must match `^[A-Za-z0-9_.-]+$`.
macro_rules! components_map {
    ($name:literal, $values:expr) => {
        Field::new(
            $name,
            &Shape::Map(&MapShape {
                name: concat!("`", $name, "`"),
                keys: Keys::Pattern(COMPONENT_KEY),
                values: $values,
                extensions: false,
            }),
        )
    };
}

static COMPONENTS: Shape = Shape::Object(&Obj {
    name: "Components Object",
    fields: &[
        components_map!("schemas", &ANY_SCHEMA),
        components_map!("servers", &SERVER_OR_REF),
        components_map!("channels", &CHANNEL_OR_REF),
        components_map!("serverVariables", &SERVER_VARIABLE_OR_REF),
        components_map!("operations", &OPERATION_OR_REF),
        components_map!("messages", &MESSAGE_OR_REF),
        components_map!("securitySchemes", &Shape::RefOr(&SECURITY_SCHEME)),
        components_map!("parameters", &PARAMETER_OR_REF),
        components_map!("correlationIds", &Shape::RefOr(&CORRELATION_ID)),
        components_map!("operationTraits", &OPERATION_TRAIT_OR_REF),
        components_map!("messageTraits", &MESSAGE_TRAIT_OR_REF),
        components_map!("replies", &REPLY_OR_REF),
        components_map!("replyAddresses", &REPLY_ADDRESS_OR_REF),
        components_map!("serverBindings", &bindings::SERVER_OR_REF),
        components_map!("channelBindings", &bindings::CHANNEL_OR_REF),
        components_map!("operationBindings", &bindings::OPERATION_OR_REF),
        components_map!("messageBindings", &bindings::MESSAGE_OR_REF),
        components_map!("tags", &TAG_OR_REF),
        components_map!("externalDocs", &EXTERNAL_DOCS_OR_REF),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

/// The root document object.
pub static DOCUMENT: Shape = Shape::Object(&Obj {
    name: "AsyncAPI Object",
    fields: &[
        Field::new("asyncapi", &s::STR),
        Field::new("id", &s::URI),
        Field::new("info", &INFO),
        Field::new(
            "servers",
            &Shape::Map(&MapShape {
                name: "Servers Object",
                keys: Keys::Any,
                values: &SERVER_OR_REF,
                extensions: false,
            }),
        ),
        Field::new("defaultContentType", &s::STR),
        Field::new(
            "channels",
            &Shape::Map(&MapShape {
                name: "Channels Object",
                keys: Keys::Any,
                values: &CHANNEL_OR_REF,
                extensions: false,
            }),
        ),
        Field::new(
            "operations",
            &Shape::Map(&MapShape {
                name: "Operations Object",
                keys: Keys::Any,
                values: &OPERATION_OR_REF,
                extensions: false,
            }),
        ),
        Field::new("components", &COMPONENTS),
    ],
    required: &["asyncapi", "info"],
    extensions: true,
    additional: None,
    checks: &[],
});
