//! The version-independent model every generator reads.
//!
//! 2.x `publish`/`subscribe` and 3.x `send`/`receive` lower to the same [`Operation`]s, seen
//! from the application's point of view. `$ref`s are resolved: every object lives once in an
//! arena and is addressed by a newtype id, so shared and recursive structures (schemas that
//! contain themselves) are plain graphs. Every node keeps the [`Source`] it came from.

mod bindings;
mod extensions;
pub(crate) mod lower;
mod schema;
pub(crate) mod view;

use serde::Serialize;
use serde_json::Value;

pub use bindings::*;
pub use extensions::{ResourceExtension, SignatureScheme, WebhookExtension};
pub use lower::{lower, synthesized_operation_key};
pub use schema::{Items, JsonType, Schema, SchemaBody, SchemaFormat, SchemaObject};
pub use view::{canonical, summary};

use crate::diagnostic::Location;
use crate::source::{FileId, Span};
use crate::version::Version;

macro_rules! ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);
        impl $name {
            /// Position in its arena.
            pub fn index(self) -> usize {
                self.0 as usize
            }
        }
    )*};
}

ids!(
    /// A [`Server`] of [`Api::servers`].
    ServerId,
    /// A [`Channel`] of [`Api::channels`].
    ChannelId,
    /// An [`Operation`] of [`Api::operations`].
    OperationId,
    /// A [`Message`] of [`Api::messages`].
    MessageId,
    /// A [`Schema`] of [`Api::schemas`].
    SchemaId,
    /// A [`SecurityScheme`] of [`Api::security_schemes`].
    SecuritySchemeId,
);

/// Where an IR node was written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Source {
    /// Index into [`Api::files`].
    pub file: u32,
    /// JSON pointer within that file.
    pub pointer: String,
    /// Line/column range.
    pub span: Span,
}

impl Source {
    /// The place as a diagnostic's [`Location`] in the workspace the API was lowered from.
    pub fn location(&self) -> Location {
        Location {
            file: FileId(self.file),
            pointer: self.pointer.clone(),
            span: self.span,
        }
    }
}

/// A whole API.
#[derive(Debug, Clone, Serialize)]
pub struct Api {
    /// The version the document was written in.
    pub source_version: Version,
    /// Files the document was read from (root first); [`Source::file`] indexes this.
    pub files: Vec<String>,
    /// `id` of the document.
    pub id: Option<String>,
    /// General information.
    pub info: Info,
    /// Default content type of messages (already applied to every message).
    pub default_content_type: Option<String>,
    /// Servers.
    pub servers: Vec<Server>,
    /// Channels.
    pub channels: Vec<Channel>,
    /// Operations.
    pub operations: Vec<Operation>,
    /// Messages.
    pub messages: Vec<Message>,
    /// Schemas (payloads, headers, parameters, binding schemas and everything they contain).
    pub schemas: Vec<Schema>,
    /// Security schemes.
    pub security_schemes: Vec<SecurityScheme>,
}

/// General information about the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Info {
    /// Title.
    pub title: String,
    /// Version of the API (not of AsyncAPI).
    pub version: String,
    /// Description (CommonMark).
    pub description: Option<String>,
    /// Terms of service URL.
    pub terms_of_service: Option<String>,
    /// Contact.
    pub contact: Option<Contact>,
    /// License.
    pub license: Option<License>,
    /// Tags of the whole API.
    pub tags: Vec<Tag>,
    /// External documentation.
    pub external_docs: Option<ExternalDocs>,
}

/// Contact information.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Contact {
    /// Name.
    pub name: Option<String>,
    /// URL.
    pub url: Option<String>,
    /// E-mail.
    pub email: Option<String>,
}

/// License information.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct License {
    /// Name.
    pub name: String,
    /// URL.
    pub url: Option<String>,
}

/// A tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tag {
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// External documentation.
    pub external_docs: Option<ExternalDocs>,
}

/// A link to external documentation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalDocs {
    /// URL.
    pub url: String,
    /// Description.
    pub description: Option<String>,
}

/// A server (broker or endpoint).
#[derive(Debug, Clone, Serialize)]
pub struct Server {
    /// Key under `servers`.
    pub key: String,
    /// Host, possibly with a port and `{variables}` (2.x URLs are split into host and pathname).
    pub host: String,
    /// Path, possibly with `{variables}`.
    pub pathname: Option<String>,
    /// Protocol (`mqtt`, `kafka`, `ws`, …).
    pub protocol: String,
    /// Protocol version.
    pub protocol_version: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Variables used in `host` and `pathname`.
    pub variables: Vec<ServerVariable>,
    /// Security requirements (alternatives).
    pub security: Vec<SecurityRequirement>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// External documentation.
    pub external_docs: Option<ExternalDocs>,
    /// Protocol bindings.
    pub bindings: ServerBindings,
    /// Where it was written.
    pub source: Source,
}

/// A variable of a server's host or pathname.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServerVariable {
    /// Name.
    pub name: String,
    /// Allowed values.
    pub allowed: Vec<String>,
    /// Default value.
    pub default: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Examples.
    pub examples: Vec<String>,
    /// Where it was written.
    pub source: Source,
}

/// One way to satisfy security: a scheme and the scopes it needs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SecurityRequirement {
    /// The scheme.
    pub scheme: SecuritySchemeId,
    /// Needed scopes (oauth2, openIdConnect).
    pub scopes: Vec<String>,
}

/// A security scheme.
#[derive(Debug, Clone, Serialize)]
pub struct SecurityScheme {
    /// Key under `components.securitySchemes`.
    pub key: String,
    /// `type` (`userPassword`, `apiKey`, `httpApiKey`, `http`, `oauth2`, `scramSha256`, …).
    pub kind: String,
    /// Description.
    pub description: Option<String>,
    /// `name` of an `httpApiKey`.
    pub name: Option<String>,
    /// `in` of an `apiKey`/`httpApiKey` (`user`, `password`, `query`, `header`, `cookie`).
    pub location: Option<String>,
    /// `scheme` of an `http` scheme (`basic`, `bearer`, …).
    pub http_scheme: Option<String>,
    /// `bearerFormat`.
    pub bearer_format: Option<String>,
    /// `openIdConnectUrl`.
    pub open_id_connect_url: Option<String>,
    /// OAuth2 flows: flow name → (authorization URL, token URL, refresh URL, scopes).
    pub flows: Vec<OAuthFlow>,
    /// Where it was written.
    pub source: Source,
}

/// One OAuth2 flow.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OAuthFlow {
    /// `implicit`, `password`, `clientCredentials` or `authorizationCode`.
    pub kind: String,
    /// Authorization URL.
    pub authorization_url: Option<String>,
    /// Token URL.
    pub token_url: Option<String>,
    /// Refresh URL.
    pub refresh_url: Option<String>,
    /// Scope → description.
    pub scopes: Vec<(String, String)>,
}

/// A channel: an address messages travel on.
#[derive(Debug, Clone, Serialize)]
pub struct Channel {
    /// Key under `channels` (2.x: the channel name).
    pub key: String,
    /// Address template with `{parameters}`; `None` when the address is dynamic or unknown.
    pub address: Option<String>,
    /// Parameters of the address, in order of appearance in it.
    pub parameters: Vec<Parameter>,
    /// Messages that may travel on the channel.
    pub messages: Vec<MessageId>,
    /// Servers the channel is available on; empty means all.
    pub servers: Vec<ServerId>,
    /// Title.
    pub title: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// External documentation.
    pub external_docs: Option<ExternalDocs>,
    /// Protocol bindings.
    pub bindings: ChannelBindings,
    /// `x-asyncforge-webhook`: defaults for the webhook operations of the channel.
    pub webhook: Option<WebhookExtension>,
    /// `x-asyncforge-resource`: the channel is a resource (ETags, locks, long polling).
    pub resource: Option<ResourceExtension>,
    /// Where it was written.
    pub source: Source,
}

/// A parameter of a channel address.
#[derive(Debug, Clone, Serialize)]
pub struct Parameter {
    /// Name as written between braces.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Allowed values (3.x `enum`, or a 2.x string schema's `enum`).
    pub allowed: Vec<String>,
    /// Default value.
    pub default: Option<String>,
    /// Examples.
    pub examples: Vec<String>,
    /// Runtime expression locating the value in a message.
    pub location: Option<String>,
    /// The 2.x parameter schema.
    pub schema: Option<SchemaId>,
    /// Where it was written (the channel, for a parameter used but not declared).
    pub source: Source,
}

/// Direction of an operation, from the application's point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// The application sends messages (2.x `subscribe`).
    Send,
    /// The application receives messages (2.x `publish`).
    Receive,
}

/// Something the application does on a channel.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// Key under `operations` (2.x: the `operationId`, or a name made from the channel).
    pub key: String,
    /// Send or receive.
    pub action: Action,
    /// The channel.
    pub channel: ChannelId,
    /// Messages the operation may carry (all of the channel's when the document lists none).
    pub messages: Vec<MessageId>,
    /// The reply, for request/reply.
    pub reply: Option<Reply>,
    /// Title.
    pub title: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Security requirements (alternatives).
    pub security: Vec<SecurityRequirement>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// External documentation.
    pub external_docs: Option<ExternalDocs>,
    /// Protocol bindings (traits applied).
    pub bindings: OperationBindings,
    /// `x-asyncforge-webhook` (traits applied): the operation is a webhook.
    pub webhook: Option<WebhookExtension>,
    /// Where it was written.
    pub source: Source,
}

/// The reply of a request/reply operation.
#[derive(Debug, Clone, Serialize)]
pub struct Reply {
    /// Where the reply goes when it is decided at runtime (`$message.header#/replyTo`).
    pub address: Option<ReplyAddress>,
    /// The reply channel.
    pub channel: Option<ChannelId>,
    /// Messages of the reply.
    pub messages: Vec<MessageId>,
}

/// A runtime reply address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplyAddress {
    /// Runtime expression.
    pub location: String,
    /// Description.
    pub description: Option<String>,
}

/// A message.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    /// Identifier: `messageId`, the key under `messages`, or `name`.
    pub key: String,
    /// The `name` field (machine-friendly name).
    pub name: Option<String>,
    /// Title.
    pub title: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Content type, the document's default applied.
    pub content_type: Option<String>,
    /// Payload schema.
    pub payload: Option<SchemaId>,
    /// Headers schema.
    pub headers: Option<SchemaId>,
    /// Correlation id.
    pub correlation_id: Option<CorrelationId>,
    /// Examples.
    pub examples: Vec<MessageExample>,
    /// Tags.
    pub tags: Vec<Tag>,
    /// External documentation.
    pub external_docs: Option<ExternalDocs>,
    /// Whether the message is deprecated (2.x only).
    pub deprecated: bool,
    /// Protocol bindings (traits applied).
    pub bindings: MessageBindings,
    /// Where it was written.
    pub source: Source,
}

/// Where a correlation id is found in a message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CorrelationId {
    /// Runtime expression (`$message.header#/correlationId`).
    pub location: String,
    /// Description.
    pub description: Option<String>,
}

/// A message example.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MessageExample {
    /// Name.
    pub name: Option<String>,
    /// Summary.
    pub summary: Option<String>,
    /// Example headers.
    pub headers: Option<Value>,
    /// Example payload.
    pub payload: Option<Value>,
}

impl Api {
    /// A server.
    pub fn server(&self, id: ServerId) -> &Server {
        &self.servers[id.index()]
    }
    /// A channel.
    pub fn channel(&self, id: ChannelId) -> &Channel {
        &self.channels[id.index()]
    }
    /// An operation.
    pub fn operation(&self, id: OperationId) -> &Operation {
        &self.operations[id.index()]
    }
    /// A message.
    pub fn message(&self, id: MessageId) -> &Message {
        &self.messages[id.index()]
    }
    /// A schema.
    pub fn schema(&self, id: SchemaId) -> &Schema {
        &self.schemas[id.index()]
    }
    /// A security scheme.
    pub fn security_scheme(&self, id: SecuritySchemeId) -> &SecurityScheme {
        &self.security_schemes[id.index()]
    }
}
