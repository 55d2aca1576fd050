//! Structure of AsyncAPI 2.0–2.6 documents: one set of tables, with fields gated by version.
//!
//! The objects 3.x shares with 2.x (Contact, License, External Documentation, Correlation ID,
//! Security Scheme, OAuth Flows) are defined here and reused by `v3`.

use serde_json::Value;

use super::schema::{self, HEADERS, SCHEMA};
use super::*;
use crate::version::Version::{V2_1, V2_2, V2_3, V2_4, V2_5, V2_6, V3_0};

/// Keys of reusable components that the official schemas restrict (security schemes,
/// correlation IDs).
pub(crate) const COMPONENT_KEY: &str = r"^[A-Za-z0-9_.\-]+$";

/// A runtime expression pointing into a message (`$message.header#/…`).
pub(crate) static RUNTIME_EXPRESSION: Shape = Shape::Str {
    format: None,
    pattern: Some(r"^\$message\.(header|payload)#(/(([^/~])|(~[01]))*)*"),
};

static UNIQUE_STRINGS: Shape = Shape::Array {
    items: &s::STR,
    min_items: 0,
    unique: true,
};

// ---------------------------------------------------------------------------------------------
// Objects shared with 3.x.

/// Contact Object.
pub static CONTACT: Shape = Shape::Object(&Obj {
    name: "Contact Object",
    fields: &[
        Field::new("name", &s::STR),
        Field::new("url", &s::URI),
        Field::new("email", &s::EMAIL),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

/// License Object.
pub static LICENSE: Shape = Shape::Object(&Obj {
    name: "License Object",
    fields: &[Field::new("name", &s::STR), Field::new("url", &s::URI)],
    required: &["name"],
    extensions: true,
    additional: None,
    checks: &[],
});

/// External Documentation Object.
pub static EXTERNAL_DOCS: Shape = Shape::Object(&Obj {
    name: "External Documentation Object",
    fields: &[
        Field::new("description", &s::STR),
        Field::new("url", &s::URI),
    ],
    required: &["url"],
    extensions: true,
    additional: None,
    checks: &[],
});

/// Correlation ID Object.
pub static CORRELATION_ID: Shape = Shape::Object(&Obj {
    name: "Correlation ID Object",
    fields: &[
        Field::new("description", &s::STR),
        Field::new("location", &RUNTIME_EXPRESSION),
    ],
    required: &["location"],
    extensions: true,
    additional: None,
    checks: &[],
});

pub(crate) static CORRELATION_ID_OR_REF: Shape = Shape::RefOr(&CORRELATION_ID);

static SCOPES: Shape = Shape::Map(&MapShape {
    name: "OAuth scopes",
    keys: Keys::Any,
    values: &s::STR,
    extensions: false,
});

/// Fields of an OAuth Flow Object, minus those a given flow forbids. `scopes` became
/// `availableScopes` in 3.0.
macro_rules! oauth_flow {
    ($name:literal, [$($field:literal),*], $required:expr) => {
        Shape::Object(&Obj {
            name: $name,
            fields: &[
                $(Field::new($field, &s::URI),)*
                Field::new("refreshUrl", &s::URI),
                Field::new("scopes", &SCOPES).until(V2_6),
                Field::new("availableScopes", &SCOPES).since(V3_0),
            ],
            required: $required,
            extensions: true,
            additional: None,
            checks: &[],
        })
    };
}

static OAUTH_FLOWS: Shape = Shape::Object(&Obj {
    name: "OAuth Flows Object",
    fields: &[
        Field::new(
            "implicit",
            &oauth_flow!(
                "OAuth Flow Object (implicit)",
                ["authorizationUrl"],
                &["authorizationUrl", "scopes", "availableScopes"]
            ),
        ),
        Field::new(
            "password",
            &oauth_flow!(
                "OAuth Flow Object (password)",
                ["tokenUrl"],
                &["tokenUrl", "scopes", "availableScopes"]
            ),
        ),
        Field::new(
            "clientCredentials",
            &oauth_flow!(
                "OAuth Flow Object (clientCredentials)",
                ["tokenUrl"],
                &["tokenUrl", "scopes", "availableScopes"]
            ),
        ),
        Field::new(
            "authorizationCode",
            &oauth_flow!(
                "OAuth Flow Object (authorizationCode)",
                ["authorizationUrl", "tokenUrl"],
                &["authorizationUrl", "tokenUrl", "scopes", "availableScopes"]
            ),
        ),
    ],
    required: &[],
    extensions: false,
    additional: None,
    checks: &[],
});

/// A security scheme that has only `type` and `description`.
macro_rules! plain_scheme {
    ($name:literal) => {
        Shape::Object(&Obj {
            name: $name,
            fields: &[
                Field::new("type", &s::STR),
                Field::new("description", &s::STR),
            ],
            required: &["type"],
            extensions: true,
            additional: None,
            checks: &[],
        })
    };
}

static HTTP_BEARER: Shape = Shape::Object(&Obj {
    name: "Security Scheme Object (http, bearer)",
    fields: &[
        Field::new("type", &s::STR),
        Field::new("scheme", &s::STR),
        Field::new("bearerFormat", &s::STR),
        Field::new("description", &s::STR),
    ],
    required: &["type", "scheme"],
    extensions: true,
    additional: None,
    checks: &[],
});

static HTTP_OTHER: Shape = Shape::Object(&Obj {
    name: "Security Scheme Object (http)",
    fields: &[
        Field::new("type", &s::STR),
        Field::new("scheme", &s::STR),
        Field::new("description", &s::STR),
    ],
    required: &["type", "scheme"],
    extensions: true,
    additional: None,
    checks: &[],
});

/// `bearerFormat` is only allowed with the `bearer` scheme.
fn http_scheme(c: &mut Checker<'_>, at: Loc<'_>) {
    if at.value.get("scheme").and_then(Value::as_str) == Some("bearer") {
        c.check(at, &HTTP_BEARER)
    } else {
        c.check(at, &HTTP_OTHER)
    }
}

static SCHEME_VARIANTS_2_0: &[(&str, &Shape)] = &[
    (
        "userPassword",
        &plain_scheme!("Security Scheme Object (userPassword)"),
    ),
    (
        "apiKey",
        &Shape::Object(&Obj {
            name: "Security Scheme Object (apiKey)",
            fields: &[
                Field::new("type", &s::STR),
                Field::new("in", &Shape::Enum(&["user", "password"])),
                Field::new("description", &s::STR),
            ],
            required: &["type", "in"],
            extensions: true,
            additional: None,
            checks: &[],
        }),
    ),
    ("X509", &plain_scheme!("Security Scheme Object (X509)")),
    (
        "symmetricEncryption",
        &plain_scheme!("Security Scheme Object (symmetricEncryption)"),
    ),
    (
        "asymmetricEncryption",
        &plain_scheme!("Security Scheme Object (asymmetricEncryption)"),
    ),
    ("http", &Shape::Custom(http_scheme)),
    (
        "httpApiKey",
        &Shape::Object(&Obj {
            name: "Security Scheme Object (httpApiKey)",
            fields: &[
                Field::new("type", &s::STR),
                Field::new("name", &s::STR),
                Field::new("in", &Shape::Enum(&["header", "query", "cookie"])),
                Field::new("description", &s::STR),
            ],
            required: &["type", "name", "in"],
            extensions: true,
            additional: None,
            checks: &[],
        }),
    ),
    (
        "oauth2",
        &Shape::Object(&Obj {
            name: "Security Scheme Object (oauth2)",
            fields: &[
                Field::new("type", &s::STR),
                Field::new("description", &s::STR),
                Field::new("flows", &OAUTH_FLOWS),
                Field::new("scopes", &s::STR_ARRAY).since(V3_0),
            ],
            required: &["type", "flows"],
            extensions: true,
            // The official schemas leave this object open.
            additional: Some(&s::ANY),
            checks: &[],
        }),
    ),
    (
        "openIdConnect",
        &Shape::Object(&Obj {
            name: "Security Scheme Object (openIdConnect)",
            fields: &[
                Field::new("type", &s::STR),
                Field::new("description", &s::STR),
                Field::new("openIdConnectUrl", &s::URI),
                Field::new("scopes", &s::STR_ARRAY).since(V3_0),
            ],
            required: &["type", "openIdConnectUrl"],
            extensions: true,
            additional: None,
            checks: &[],
        }),
    ),
];

static SCHEMES_2_0: Shape = Shape::Tagged {
    field: "type",
    variants: SCHEME_VARIANTS_2_0,
    name: "Security Scheme Object",
};

static SCHEMES: Shape = Shape::Tagged {
    field: "type",
    variants: &[
        SCHEME_VARIANTS_2_0[0],
        SCHEME_VARIANTS_2_0[1],
        SCHEME_VARIANTS_2_0[2],
        SCHEME_VARIANTS_2_0[3],
        SCHEME_VARIANTS_2_0[4],
        SCHEME_VARIANTS_2_0[5],
        SCHEME_VARIANTS_2_0[6],
        SCHEME_VARIANTS_2_0[7],
        SCHEME_VARIANTS_2_0[8],
        ("plain", &plain_scheme!("Security Scheme Object (plain)")),
        (
            "scramSha256",
            &plain_scheme!("Security Scheme Object (scramSha256)"),
        ),
        (
            "scramSha512",
            &plain_scheme!("Security Scheme Object (scramSha512)"),
        ),
        ("gssapi", &plain_scheme!("Security Scheme Object (gssapi)")),
    ],
    name: "Security Scheme Object",
};

/// Security Scheme Object (the SASL schemes exist from 2.1 on).
pub static SECURITY_SCHEME: Shape = Shape::Custom(security_scheme);

fn security_scheme(c: &mut Checker<'_>, at: Loc<'_>) {
    if c.version == Version::V2_0 {
        c.check(at, &SCHEMES_2_0)
    } else {
        c.check(at, &SCHEMES)
    }
}

pub(crate) static SECURITY_SCHEME_OR_REF: Shape = Shape::RefOr(&SECURITY_SCHEME);

// ---------------------------------------------------------------------------------------------
// 2.x objects.

static TAG: Shape = Shape::Object(&Obj {
    name: "Tag Object",
    fields: &[
        Field::new("name", &s::STR),
        Field::new("description", &s::STR),
        Field::new("externalDocs", &EXTERNAL_DOCS),
    ],
    required: &["name"],
    extensions: true,
    additional: None,
    checks: &[],
});

static TAGS: Shape = Shape::Array {
    items: &TAG,
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
    ],
    required: &["title", "version"],
    extensions: true,
    additional: None,
    checks: &[],
});

pub(crate) static SERVER_VARIABLE: Shape = Shape::Object(&Obj {
    name: "Server Variable Object",
    fields: &[
        Field::new("enum", &UNIQUE_STRINGS),
        Field::new("default", &s::STR),
        Field::new("description", &s::STR),
        Field::new("examples", &s::STR_ARRAY),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static SERVER_VARIABLE_OR_REF: Shape = Shape::RefOr(&SERVER_VARIABLE);

static SECURITY_REQUIREMENTS: Shape = Shape::Array {
    items: &Shape::Map(&MapShape {
        name: "Security Requirement Object",
        keys: Keys::Any,
        values: &UNIQUE_STRINGS,
        extensions: false,
    }),
    min_items: 0,
    unique: false,
};

static SERVER: Shape = Shape::Object(&Obj {
    name: "Server Object",
    fields: &[
        Field::new("url", &s::STR),
        Field::new("description", &s::STR),
        Field::new("protocol", &s::STR),
        Field::new("protocolVersion", &s::STR),
        Field::new(
            "variables",
            &Shape::Map(&MapShape {
                name: "Server Variables",
                keys: Keys::Any,
                values: &SERVER_VARIABLE,
                extensions: false,
            }),
        )
        .until(V2_4),
        Field::new(
            "variables",
            &Shape::Map(&MapShape {
                name: "Server Variables",
                keys: Keys::Any,
                values: &SERVER_VARIABLE_OR_REF,
                extensions: false,
            }),
        )
        .since(V2_5),
        Field::new("security", &SECURITY_REQUIREMENTS),
        Field::new("bindings", &bindings::SERVER_OR_REF),
        Field::new("tags", &TAGS).since(V2_5),
    ],
    required: &["url", "protocol"],
    extensions: true,
    additional: None,
    checks: &[],
});

static SERVERS_2_0: Shape = Shape::Map(&MapShape {
    name: "Servers Object",
    keys: Keys::Any,
    values: &SERVER,
    extensions: false,
});

static SERVERS: Shape = Shape::Map(&MapShape {
    name: "Servers Object",
    keys: Keys::Any,
    values: &Shape::RefOr(&SERVER),
    extensions: false,
});

static PARAMETER: Shape = Shape::Object(&Obj {
    name: "Parameter Object",
    fields: &[
        Field::new("description", &s::STR),
        Field::new("schema", &SCHEMA),
        Field::new("location", &RUNTIME_EXPRESSION),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static PARAMETER_OR_REF: Shape = Shape::RefOr(&PARAMETER);

static PARAMETERS: Shape = Shape::Map(&MapShape {
    name: "Parameters Object",
    keys: Keys::Any,
    values: &PARAMETER_OR_REF,
    extensions: false,
});

static MESSAGE_EXAMPLE: Shape = Shape::Object(&Obj {
    name: "Message Example Object",
    fields: &[
        Field::new("name", &s::STR).since(V2_1),
        Field::new("summary", &s::STR).since(V2_1),
        Field::new("headers", &s::ANY_OBJECT),
        Field::new("payload", &s::ANY),
    ],
    required: &[],
    extensions: false,
    additional: None,
    checks: &[example_has_content],
});

/// From 2.1 on, an example has `payload` or `headers` (or both).
pub(crate) fn example_has_content(c: &mut Checker<'_>, at: Loc<'_>) {
    if c.version == Version::V2_0 {
        return;
    }
    if at.value.get("payload").is_none() && at.value.get("headers").is_none() {
        c.error_at_key(
            codes::REQUIRED,
            at,
            "Message Example Object must have `payload` or `headers`".into(),
        );
    }
}

static MESSAGE_EXAMPLES: Shape = Shape::Array {
    items: &MESSAGE_EXAMPLE,
    min_items: 0,
    unique: false,
};

static LOOSE_EXAMPLES: Shape = Shape::Array {
    items: &s::ANY_OBJECT,
    min_items: 0,
    unique: false,
};

/// Message traits' `examples` are Message Example Objects in 2.1 and 2.6 and any objects in the
/// other versions (as in the official schemas).
fn trait_examples(c: &mut Checker<'_>, at: Loc<'_>) {
    if matches!(c.version, Version::V2_1 | Version::V2_6) {
        c.check(at, &MESSAGE_EXAMPLES)
    } else {
        c.check(at, &LOOSE_EXAMPLES)
    }
}

/// Fields shared by the Message Object and the Message Trait Object.
macro_rules! message_fields {
    ($examples:expr; $($extra:expr,)*) => {
        &[
            Field::new("schemaFormat", &s::STR),
            Field::new("contentType", &s::STR),
            Field::new("headers", &HEADERS),
            Field::new("messageId", &s::STR).since(V2_4),
            Field::new("correlationId", &CORRELATION_ID_OR_REF),
            Field::new("tags", &TAGS),
            Field::new("summary", &s::STR),
            Field::new("name", &s::STR),
            Field::new("title", &s::STR),
            Field::new("description", &s::STR),
            Field::new("externalDocs", &EXTERNAL_DOCS),
            Field::new("deprecated", &s::BOOL),
            Field::new("examples", $examples),
            Field::new("bindings", &bindings::MESSAGE_OR_REF),
            $($extra,)*
        ]
    };
}

static MESSAGE_TRAIT: Shape = Shape::Object(&Obj {
    name: "Message Trait Object",
    fields: message_fields!(&Shape::Custom(trait_examples);),
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static MESSAGE_OBJECT: Shape = Shape::Object(&Obj {
    name: "Message Object",
    fields: message_fields!(&MESSAGE_EXAMPLES;
        Field::new("payload", &s::ANY),
        Field::new(
            "traits",
            &Shape::Array {
                items: &Shape::RefOr(&MESSAGE_TRAIT),
                min_items: 0,
                unique: false,
            },
        ),
    ),
    required: &[],
    extensions: true,
    additional: None,
    checks: &[schema::payload_v2],
});

static MESSAGE_ONE_OF: Shape = Shape::Object(&Obj {
    name: "Message Object (`oneOf`)",
    fields: &[Field::new(
        "oneOf",
        &Shape::Array {
            items: &MESSAGE_OR_REF,
            min_items: 0,
            unique: false,
        },
    )],
    required: &["oneOf"],
    extensions: false,
    additional: None,
    checks: &[],
});

/// A message: a Message Object, or `{oneOf: [messages]}`.
fn message(c: &mut Checker<'_>, at: Loc<'_>) {
    if at.value.get("oneOf").is_some() {
        c.check(at, &MESSAGE_ONE_OF)
    } else {
        c.check(at, &MESSAGE_OBJECT)
    }
}

static MESSAGE_OR_REF: Shape = Shape::RefOr(&Shape::Custom(message));

/// Fields shared by the Operation Object and the Operation Trait Object.
macro_rules! operation_fields {
    ($($extra:expr,)*) => {
        &[
            Field::new("summary", &s::STR),
            Field::new("description", &s::STR),
            Field::new("tags", &TAGS),
            Field::new("externalDocs", &EXTERNAL_DOCS),
            Field::new("operationId", &s::STR),
            Field::new("bindings", &bindings::OPERATION_OR_REF),
            Field::new("security", &SECURITY_REQUIREMENTS).since(V2_4),
            $($extra,)*
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

static OPERATION: Shape = Shape::Object(&Obj {
    name: "Operation Object",
    fields: operation_fields!(
        Field::new(
            "traits",
            &Shape::Array {
                items: &Shape::RefOr(&OPERATION_TRAIT),
                min_items: 0,
                unique: false,
            },
        ),
        Field::new("message", &MESSAGE_OR_REF),
    ),
    required: &[],
    extensions: true,
    additional: None,
    checks: &[],
});

static CHANNEL_ITEM_OBJ: Obj = Obj {
    name: "Channel Item Object",
    fields: &[
        Field::new("$ref", &s::URI_REF),
        Field::new("parameters", &PARAMETERS),
        Field::new("description", &s::STR),
        Field::new("servers", &UNIQUE_STRINGS).since(V2_2),
        Field::new("publish", &OPERATION),
        Field::new("subscribe", &OPERATION),
        Field::new("deprecated", &s::BOOL),
        Field::new("bindings", &bindings::CHANNEL_OR_REF),
    ],
    required: &[],
    extensions: true,
    additional: None,
    checks: &[follow_channel_ref],
};

static CHANNEL_ITEM: Shape = Shape::Object(&CHANNEL_ITEM_OBJ);

/// A Channel Item's `$ref` names another Channel Item Object (its own fields still apply).
fn follow_channel_ref(c: &mut Checker<'_>, at: Loc<'_>) {
    if is_ref(at.value) {
        c.check_ref(at, &CHANNEL_ITEM);
    }
}

static CHANNELS_MAP: Shape = Shape::Map(&MapShape {
    name: "Channels Object",
    keys: Keys::Any,
    values: &CHANNEL_ITEM,
    extensions: false,
});

/// Channels Object: channel names are RFC 6570 URI templates.
static CHANNELS: Shape = Shape::Custom(channels);

fn channels(c: &mut Checker<'_>, at: Loc<'_>) {
    c.check(at, &CHANNELS_MAP);
    let Some(map) = at.value.as_object() else {
        return;
    };
    if is_ref(at.value) {
        return;
    }
    for (name, value) in map {
        if let Err(why) = uri_template(name) {
            let p = pointer::join(at.ptr, name);
            c.error_at_key(
                codes::FORMAT,
                Loc {
                    file: at.file,
                    ptr: &p,
                    value,
                },
                format!("channel name `{name}` is not a URI template (RFC 6570): {why}"),
            );
        }
    }
}

/// Checks RFC 6570 syntax: literals without spaces or reserved delimiters, and well-formed
/// `{expressions}`.
pub(crate) fn uri_template(t: &str) -> Result<(), String> {
    if t.is_empty() {
        return Err("it is empty".into());
    }
    let mut chars = t.char_indices().peekable();
    while let Some((_, ch)) = chars.next() {
        match ch {
            '{' => {
                let mut expr = String::new();
                let mut closed = false;
                for (_, e) in chars.by_ref() {
                    if e == '}' {
                        closed = true;
                        break;
                    }
                    expr.push(e);
                }
                if !closed {
                    return Err("a `{` is never closed".into());
                }
                let body = expr
                    .strip_prefix(['+', '#', '.', '/', ';', '?', '&', '=', ',', '!', '@', '|'])
                    .unwrap_or(&expr);
                for var in body.split(',') {
                    let name = var
                        .strip_suffix('*')
                        .or_else(|| var.split_once(':').map(|(n, _)| n))
                        .unwrap_or(var);
                    let ok = !name.is_empty()
                        && name.split('.').all(|part| {
                            !part.is_empty()
                                && part
                                    .bytes()
                                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'%')
                        });
                    if !ok {
                        return Err(format!("`{{{expr}}}` is not a valid expression"));
                    }
                }
            }
            '}' => return Err("a `}` has no matching `{`".into()),
            ' ' => return Err("it contains a space".into()),
            '"' | '\'' | '<' | '>' | '\\' | '^' | '`' | '|' => {
                return Err(format!("`{ch}` must be percent-encoded"));
            }
            '%' => {
                let hex = |c: Option<(usize, char)>| c.is_some_and(|(_, c)| c.is_ascii_hexdigit());
                if !(hex(chars.next()) && hex(chars.next())) {
                    return Err("`%` must start a percent-encoded byte (`%XX`)".into());
                }
            }
            c if c.is_control() => return Err("it contains a control character".into()),
            _ => {}
        }
    }
    Ok(())
}

/// A components map of reusable bindings.
macro_rules! binding_map {
    ($name:literal, $values:ident) => {
        Shape::Map(&MapShape {
            name: $name,
            keys: Keys::Any,
            values: &bindings::$values,
            extensions: false,
        })
    };
}

static COMPONENTS: Shape = Shape::Object(&Obj {
    name: "Components Object",
    fields: &[
        Field::new(
            "schemas",
            &Shape::Map(&MapShape {
                name: "`schemas`",
                keys: Keys::Any,
                values: &SCHEMA,
                extensions: false,
            }),
        ),
        Field::new("servers", &SERVERS).since(V2_3),
        Field::new("channels", &CHANNELS).since(V2_3),
        Field::new(
            "serverVariables",
            &Shape::Map(&MapShape {
                name: "`serverVariables`",
                keys: Keys::Any,
                values: &SERVER_VARIABLE_OR_REF,
                extensions: false,
            }),
        )
        .since(V2_4),
        Field::new(
            "messages",
            &Shape::Map(&MapShape {
                name: "`messages`",
                keys: Keys::Any,
                values: &MESSAGE_OR_REF,
                extensions: false,
            }),
        ),
        Field::new(
            "securitySchemes",
            &Shape::Map(&MapShape {
                name: "`securitySchemes`",
                keys: Keys::Pattern(COMPONENT_KEY),
                values: &SECURITY_SCHEME_OR_REF,
                extensions: false,
            }),
        ),
        Field::new("parameters", &PARAMETERS),
        Field::new(
            "correlationIds",
            &Shape::Map(&MapShape {
                name: "`correlationIds`",
                keys: Keys::Pattern(COMPONENT_KEY),
                values: &CORRELATION_ID_OR_REF,
                extensions: false,
            }),
        ),
        Field::new(
            "operationTraits",
            &Shape::Map(&MapShape {
                name: "`operationTraits`",
                keys: Keys::Any,
                values: &OPERATION_TRAIT,
                extensions: false,
            }),
        ),
        Field::new(
            "messageTraits",
            &Shape::Map(&MapShape {
                name: "`messageTraits`",
                keys: Keys::Any,
                values: &MESSAGE_TRAIT,
                extensions: false,
            }),
        ),
        Field::new(
            "serverBindings",
            &binding_map!("`serverBindings`", SERVER_OR_REF),
        ),
        Field::new(
            "channelBindings",
            &binding_map!("`channelBindings`", CHANNEL_OR_REF),
        ),
        Field::new(
            "operationBindings",
            &binding_map!("`operationBindings`", OPERATION_OR_REF),
        ),
        Field::new(
            "messageBindings",
            &binding_map!("`messageBindings`", MESSAGE_OR_REF),
        ),
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
        Field::new("servers", &SERVERS_2_0).until(V2_2),
        Field::new("servers", &SERVERS).since(V2_3),
        Field::new("defaultContentType", &s::STR),
        Field::new("channels", &CHANNELS),
        Field::new("components", &COMPONENTS),
        Field::new("tags", &TAGS),
        Field::new("externalDocs", &EXTERNAL_DOCS),
    ],
    required: &["asyncapi", "info", "channels"],
    extensions: true,
    additional: None,
    checks: &[],
});

// Editor support (`crate::ide`): the shapes behind the custom checks above.

/// The 2.x Channels Object as a plain map.
pub(crate) fn ide_channels() -> &'static Shape {
    &CHANNELS_MAP
}

/// The two forms of a 2.x message: a Message Object and `{oneOf: [...]}`.
pub(crate) fn ide_message_forms() -> [&'static Shape; 2] {
    [&MESSAGE_OBJECT, &MESSAGE_ONE_OF]
}

/// The Security Scheme Object of a version, dispatched on `type`.
pub(crate) fn ide_security_scheme(v: Version) -> &'static Shape {
    if v == Version::V2_0 {
        &SCHEMES_2_0
    } else {
        &SCHEMES
    }
}

/// The two forms of an `http` security scheme (with and without `bearerFormat`).
pub(crate) fn ide_http_scheme_forms() -> [&'static Shape; 2] {
    [&HTTP_BEARER, &HTTP_OTHER]
}

#[cfg(test)]
mod tests {
    use super::uri_template;

    #[test]
    fn uri_templates() {
        assert!(uri_template("user/{userId}/signedup").is_ok());
        assert!(uri_template("smartylighting.streetlights.1.0.event.{streetlightId}").is_ok());
        assert!(uri_template("/a{?x,y}").is_ok());
        assert!(uri_template("a b").is_err());
        assert!(uri_template("a/{b").is_err());
        assert!(uri_template("a/b}").is_err());
        assert!(uri_template("a/{}").is_err());
        assert!(uri_template("a%2").is_err());
    }
}
