//! The AsyncAPI language server behind `asyncforge lsp`.
//!
//! Speaks LSP 3.17 over stdio ([`run_stdio`]) or any [`lsp_server::Connection`] ([`run`]):
//! incremental text sync, the diagnostics `asyncforge validate` reports (in the documents and in
//! the files they `$ref`), go to definition and find references on `$ref`s, document symbols,
//! rename of components across files, formatting, hover, completion (on half-typed text too)
//! and quick fixes.
//!
//! One thread owns the state. Messages are drained from the connection before any check runs,
//! so a burst of edits costs one check of the latest text; a request is answered after the
//! edits that came before it are checked.
//!
//! Requests are routed by one table (`REQUESTS`, method → handler); a handler is a plain
//! function of the [`Server`] and the request's parameters; a new request is one entry there
//! plus its capability in `capabilities()`. [`features::navigation::locate`] gives the unit,
//! file and engine position of a request, every [`state::Unit`] keeps the engine's diagnostics
//! (for code actions) and the last workspace that parsed (for completion while typing).
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod convert;
pub mod features;
pub mod state;

use std::collections::BTreeSet;
use std::collections::HashMap;

use asyncforge_spec::Severity;
use crossbeam_channel::{Receiver, Sender};
use lsp_server::{Connection, ErrorCode, Message, Notification, Request, Response};
use lsp_types::notification::{
    DidChangeTextDocument, DidChangeWatchedFiles, DidCloseTextDocument, DidOpenTextDocument,
    DidSaveTextDocument, Notification as _, PublishDiagnostics,
};
use lsp_types::request::{
    CodeActionRequest, Completion, DocumentSymbolRequest, Formatting, GotoDefinition, HoverRequest,
    PrepareRenameRequest, References, RegisterCapability, Rename, Request as _,
};
use lsp_types::{
    CodeActionKind, CodeActionOptions, CodeActionProviderCapability, CompletionOptions,
    DidChangeTextDocumentParams, DidChangeWatchedFilesParams,
    DidChangeWatchedFilesRegistrationOptions, DidCloseTextDocumentParams,
    DidOpenTextDocumentParams, FileSystemWatcher, GlobPattern, HoverProviderCapability,
    InitializeParams, OneOf, Registration, RegistrationParams, RenameOptions, ServerCapabilities,
    TextDocumentSyncCapability, TextDocumentSyncKind, TextDocumentSyncOptions,
    TextDocumentSyncSaveOptions,
};
use serde_json::Value;

use crate::features::diagnostics::{self, MinSeverity, Published};
use crate::state::{OpenDoc, State};

/// Why the server stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The client broke the protocol (or went away during initialization).
    #[error("LSP protocol error: {0}")]
    Protocol(#[from] lsp_server::ProtocolError),
    /// The `initialize` parameters could not be read.
    #[error("invalid initialize parameters: {0}")]
    Initialize(#[source] serde_json::Error),
    /// Reading stdin or writing stdout failed.
    #[error("stdio: {0}")]
    Io(#[from] std::io::Error),
    /// The client sent `exit` without `shutdown` first (the process should exit with status 1).
    #[error("the client sent `exit` before `shutdown`")]
    ExitWithoutShutdown,
    /// The server thread could not be started or panicked.
    #[error("the server thread failed: {0}")]
    Thread(String),
}

/// A request that cannot be answered: a JSON-RPC error code and a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// JSON-RPC error code.
    pub code: i32,
    /// What went wrong.
    pub message: String,
}

impl Failure {
    /// The request is understood but cannot be carried out (`RequestFailed`).
    pub fn request_failed(message: impl Into<String>) -> Self {
        Failure {
            code: ErrorCode::RequestFailed as i32,
            message: message.into(),
        }
    }

    fn invalid_params(e: serde_json::Error) -> Self {
        Failure {
            code: ErrorCode::InvalidParams as i32,
            message: e.to_string(),
        }
    }
}

/// Stack size of the server thread: validation of deeply nested schemas recurses.
const STACK_SIZE: usize = 256 << 20;

/// Runs the server on stdin/stdout until the client sends `exit`.
pub fn run_stdio() -> Result<(), Error> {
    let (connection, io_threads) = Connection::stdio();
    let result = std::thread::Builder::new()
        .name("asyncforge-lsp".into())
        .stack_size(STACK_SIZE)
        .spawn(move || run(connection))
        .map_err(|e| Error::Thread(e.to_string()))?
        .join()
        .map_err(|_| Error::Thread("it panicked".into()))?;
    io_threads.join()?;
    result
}

/// Runs the server on a connection: the `initialize` handshake, then messages until `exit`.
pub fn run(connection: Connection) -> Result<(), Error> {
    let (id, params) = connection.initialize_start()?;
    let params: InitializeParams = serde_json::from_value(params).map_err(Error::Initialize)?;
    let result = serde_json::json!({
        "capabilities": capabilities(),
        "serverInfo": { "name": "asyncforge", "version": env!("CARGO_PKG_VERSION") },
    });
    connection.initialize_finish(id, result)?;
    let watch = params
        .capabilities
        .workspace
        .as_ref()
        .and_then(|w| w.did_change_watched_files.as_ref())
        .and_then(|w| w.dynamic_registration)
        .unwrap_or(false);
    let min = params
        .initialization_options
        .as_ref()
        .and_then(|o| o.get("severity"))
        .and_then(Value::as_str)
        .map_or_else(MinSeverity::default, |s| {
            MinSeverity(match s {
                "error" => Severity::Error,
                "info" => Severity::Info,
                "hint" => Severity::Hint,
                _ => Severity::Warning,
            })
        });
    // Forward messages into an unbounded queue, so that everything the client sent while a
    // check ran can be drained at once (lsp-server's own channel holds one message).
    let (tx, rx) = crossbeam_channel::unbounded();
    let incoming = connection.receiver.clone();
    std::thread::Builder::new()
        .name("asyncforge-lsp-queue".into())
        .spawn(move || {
            for msg in incoming {
                if tx.send(msg).is_err() {
                    break;
                }
            }
        })
        .map_err(|e| Error::Thread(e.to_string()))?;
    let mut server = Server {
        state: State::default(),
        published: HashMap::new(),
        min,
        sender: connection.sender.clone(),
        shutdown: false,
    };
    if watch {
        server.register_watcher();
    }
    server.main_loop(&rx)
}

/// What the server advertises.
fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        text_document_sync: Some(TextDocumentSyncCapability::Options(
            TextDocumentSyncOptions {
                open_close: Some(true),
                change: Some(TextDocumentSyncKind::INCREMENTAL),
                will_save: None,
                will_save_wait_until: None,
                save: Some(TextDocumentSyncSaveOptions::Supported(true)),
            },
        )),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: Default::default(),
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some(
                features::completion::TRIGGER_CHARACTERS
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
            ),
            ..CompletionOptions::default()
        }),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        ..ServerCapabilities::default()
    }
}

/// A request handler: the server state and the raw parameters in, the raw result out.
type RequestHandler = fn(&Server, Value) -> Result<Value, Failure>;
/// A notification handler.
type NotificationHandler = fn(&mut Server, Value) -> Result<(), Failure>;

/// Decodes the parameters, calls `f` and encodes its result.
fn route<R: lsp_types::request::Request>(
    server: &Server,
    params: Value,
    f: fn(&Server, R::Params) -> Result<R::Result, Failure>,
) -> Result<Value, Failure> {
    let params: R::Params = serde_json::from_value(params).map_err(Failure::invalid_params)?;
    let result = f(server, params)?;
    serde_json::to_value(result).map_err(Failure::invalid_params)
}

fn on<N: lsp_types::notification::Notification>(
    server: &mut Server,
    params: Value,
    f: fn(&mut Server, N::Params),
) -> Result<(), Failure> {
    let params: N::Params = serde_json::from_value(params).map_err(Failure::invalid_params)?;
    f(server, params);
    Ok(())
}

/// Every request the server answers (besides `shutdown`).
const REQUESTS: &[(&str, RequestHandler)] = &[
    (GotoDefinition::METHOD, |s, p| {
        route::<GotoDefinition>(s, p, features::navigation::definition)
    }),
    (References::METHOD, |s, p| {
        route::<References>(s, p, features::navigation::references)
    }),
    (DocumentSymbolRequest::METHOD, |s, p| {
        route::<DocumentSymbolRequest>(s, p, features::symbols::document_symbols)
    }),
    (PrepareRenameRequest::METHOD, |s, p| {
        route::<PrepareRenameRequest>(s, p, features::rename::prepare)
    }),
    (Rename::METHOD, |s, p| {
        route::<Rename>(s, p, features::rename::rename)
    }),
    (Formatting::METHOD, |s, p| {
        route::<Formatting>(s, p, features::formatting::formatting)
    }),
    (HoverRequest::METHOD, |s, p| {
        route::<HoverRequest>(s, p, features::hover::hover)
    }),
    (Completion::METHOD, |s, p| {
        route::<Completion>(s, p, features::completion::completion)
    }),
    (CodeActionRequest::METHOD, |s, p| {
        route::<CodeActionRequest>(s, p, features::code_action::code_actions)
    }),
];

/// Every notification the server acts on; others are ignored.
const NOTIFICATIONS: &[(&str, NotificationHandler)] = &[
    (DidOpenTextDocument::METHOD, |s, p| {
        on::<DidOpenTextDocument>(s, p, Server::did_open)
    }),
    (DidChangeTextDocument::METHOD, |s, p| {
        on::<DidChangeTextDocument>(s, p, Server::did_change)
    }),
    (DidCloseTextDocument::METHOD, |s, p| {
        on::<DidCloseTextDocument>(s, p, Server::did_close)
    }),
    (DidSaveTextDocument::METHOD, |_, _| Ok(())),
    (DidChangeWatchedFiles::METHOD, |s, p| {
        on::<DidChangeWatchedFiles>(s, p, Server::did_change_watched_files)
    }),
];

/// The server: state plus the channel to the client.
pub struct Server {
    /// Open documents and checked units.
    pub state: State,
    published: HashMap<String, Published>,
    min: MinSeverity,
    sender: Sender<Message>,
    shutdown: bool,
}

impl Server {
    fn send(&self, msg: Message) {
        // The client going away ends the loop through the receiving side.
        let _ = self.sender.send(msg);
    }

    fn register_watcher(&self) {
        let options = DidChangeWatchedFilesRegistrationOptions {
            watchers: vec![FileSystemWatcher {
                glob_pattern: GlobPattern::String("**/*.{yaml,yml,json}".into()),
                kind: None,
            }],
        };
        let params = RegistrationParams {
            registrations: vec![Registration {
                id: "asyncforge-watch-documents".into(),
                method: DidChangeWatchedFiles::METHOD.into(),
                register_options: serde_json::to_value(options).ok(),
            }],
        };
        self.send(Message::Request(Request::new(
            "asyncforge-register-watcher".to_owned().into(),
            RegisterCapability::METHOD.into(),
            params,
        )));
    }

    fn main_loop(&mut self, rx: &Receiver<Message>) -> Result<(), Error> {
        while let Ok(first) = rx.recv() {
            let mut batch = vec![first];
            batch.extend(rx.try_iter());
            for msg in batch {
                match msg {
                    Message::Request(req) => self.on_request(req),
                    Message::Notification(n) if n.method == "exit" => {
                        return if self.shutdown {
                            Ok(())
                        } else {
                            Err(Error::ExitWithoutShutdown)
                        };
                    }
                    Message::Notification(n) => self.on_notification(n),
                    Message::Response(_) => {}
                }
            }
            self.check_and_publish();
        }
        // The client closed the stream without `exit`.
        Ok(())
    }

    fn on_request(&mut self, req: Request) {
        if self.shutdown {
            self.send(
                Response::new_err(
                    req.id,
                    ErrorCode::InvalidRequest as i32,
                    "the server is shutting down".into(),
                )
                .into(),
            );
            return;
        }
        if req.method == "shutdown" {
            self.shutdown = true;
            self.send(Response::new_ok(req.id, ()).into());
            return;
        }
        // Answer on the text as it is now: check what earlier edits changed first.
        self.check_and_publish();
        let response = match REQUESTS.iter().find(|(m, _)| *m == req.method) {
            // Handlers only read the state, so a panic in one (a bug of the engine's editor
            // features on some text) leaves nothing half-changed: answer with an error and
            // keep serving.
            Some((_, handler)) => {
                let server: &Server = self;
                let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handler(server, req.params)
                }));
                match answer {
                    Ok(Ok(v)) => Response::new_ok(req.id, v),
                    Ok(Err(f)) => Response::new_err(req.id, f.code, f.message),
                    Err(_) => Response::new_err(
                        req.id,
                        ErrorCode::InternalError as i32,
                        format!(
                            "asyncforge failed while answering `{}`; please report it with the text",
                            req.method
                        ),
                    ),
                }
            }
            None => Response::new_err(
                req.id,
                ErrorCode::MethodNotFound as i32,
                format!("asyncforge does not handle `{}`", req.method),
            ),
        };
        self.send(response.into());
    }

    fn on_notification(&mut self, n: Notification) {
        if let Some((_, handler)) = NOTIFICATIONS.iter().find(|(m, _)| *m == n.method) {
            // A malformed notification has nobody to answer; it is dropped.
            let _ = handler(self, n.params);
        }
    }

    fn check_and_publish(&mut self) {
        let affected: BTreeSet<String> = self.state.flush();
        for params in diagnostics::to_publish(&self.state, &mut self.published, &affected, self.min)
        {
            self.send(Notification::new(PublishDiagnostics::METHOD.into(), params).into());
        }
    }

    fn did_open(&mut self, p: DidOpenTextDocumentParams) {
        let key = convert::uri_to_key(&p.text_document.uri);
        self.state.open.insert(
            key.clone(),
            OpenDoc {
                uri: p.text_document.uri,
                version: p.text_document.version,
                text: p.text_document.text,
            },
        );
        self.state.touch(&key);
    }

    fn did_change(&mut self, p: DidChangeTextDocumentParams) {
        let key = convert::uri_to_key(&p.text_document.uri);
        let Some(doc) = self.state.open.get_mut(&key) else {
            return;
        };
        for change in p.content_changes {
            match change.range {
                Some(range) => {
                    let start = convert::offset(&doc.text, range.start);
                    let end = convert::offset(&doc.text, range.end).max(start);
                    doc.text.replace_range(start..end, &change.text);
                }
                None => doc.text = change.text,
            }
        }
        doc.version = p.text_document.version;
        self.state.touch(&key);
    }

    fn did_close(&mut self, p: DidCloseTextDocumentParams) {
        let key = convert::uri_to_key(&p.text_document.uri);
        self.state.open.remove(&key);
        // Its own unit goes; the documents that use it read it from disk again.
        self.state.touch(&key);
    }

    fn did_change_watched_files(&mut self, p: DidChangeWatchedFilesParams) {
        for change in p.changes {
            let key = convert::uri_to_key(&change.uri);
            // An open file's buffer wins over the disk.
            if !self.state.open.contains_key(&key) {
                self.state.touch(&key);
            }
        }
    }
}
