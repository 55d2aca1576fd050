//! `textDocument/documentSymbol`: the outline of a document (servers, channels, operations,
//! messages, components by section), or the top-level keys of a referenced file.

use asyncforge_spec::{FileId, Workspace, pointer};
use lsp_types::{DocumentSymbol, DocumentSymbolParams, DocumentSymbolResponse, SymbolKind};
use serde_json::Value;

use crate::convert;
use crate::state::Unit;
use crate::{Failure, Server};

struct Outline<'a> {
    ws: &'a Workspace,
    file: FileId,
}

impl Outline<'_> {
    /// A symbol for the entry at `ptr`, `None` when it is not written in this file.
    fn symbol(
        &self,
        ptr: &str,
        name: String,
        kind: SymbolKind,
        detail: Option<String>,
        children: Vec<DocumentSymbol>,
    ) -> Option<DocumentSymbol> {
        let source = self.ws.file(self.file).source();
        let key = self.ws.key_location(self.file, ptr).span;
        let value = self.ws.location(self.file, ptr).span;
        let selection = convert::range(source, key);
        let whole = convert::range(
            source,
            asyncforge_spec::Span::new(key.start.min(value.start), key.end.max(value.end)),
        );
        #[allow(deprecated)]
        Some(DocumentSymbol {
            name: if name.is_empty() {
                "\"\"".to_owned()
            } else {
                name
            },
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: whole,
            selection_range: selection,
            children: (!children.is_empty()).then_some(children),
        })
    }

    /// One symbol per entry of the mapping at `ptr`.
    fn entries(
        &self,
        ptr: &str,
        kind: SymbolKind,
        detail: impl Fn(&Value) -> Option<String>,
        children: impl Fn(&str, &Value) -> Vec<DocumentSymbol>,
    ) -> Vec<DocumentSymbol> {
        let Some(Value::Object(m)) = self.ws.get(self.file, ptr) else {
            return Vec::new();
        };
        m.iter()
            .filter_map(|(k, v)| {
                let p = pointer::join(ptr, k);
                self.symbol(&p, k.clone(), kind, detail(v), children(&p, v))
            })
            .collect()
    }

    /// A section (`channels`, …) holding one symbol per entry.
    fn section(&self, name: &str, items: Vec<DocumentSymbol>) -> Option<DocumentSymbol> {
        let ptr = pointer::join("", name);
        self.ws.get(self.file, &ptr)?;
        self.symbol(&ptr, name.to_owned(), SymbolKind::NAMESPACE, None, items)
    }

    fn document(&self, root: &Value) -> Vec<DocumentSymbol> {
        let v3 = root
            .get("asyncapi")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with('3'));
        let mut out = Vec::new();
        let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let servers = self.entries(
            "/servers",
            SymbolKind::OBJECT,
            |v| {
                let at = str_of(v, "host").or_else(|| str_of(v, "url"));
                let proto = str_of(v, "protocol");
                match (at, proto) {
                    (Some(a), Some(p)) => Some(format!("{p} {a}")),
                    (a, p) => a.or(p),
                }
            },
            |_, _| Vec::new(),
        );
        out.extend(self.section("servers", servers));
        let channels = self.entries(
            "/channels",
            SymbolKind::INTERFACE,
            |v| if v3 { str_of(v, "address") } else { None },
            |p, _| {
                if v3 {
                    self.entries(
                        &pointer::join(p, "messages"),
                        SymbolKind::EVENT,
                        |_| None,
                        |_, _| Vec::new(),
                    )
                } else {
                    ["publish", "subscribe"]
                        .iter()
                        .filter_map(|op| {
                            let op_ptr = pointer::join(p, op);
                            let v = self.ws.get(self.file, &op_ptr)?;
                            self.symbol(
                                &op_ptr,
                                (*op).to_owned(),
                                SymbolKind::METHOD,
                                str_of(v, "operationId"),
                                Vec::new(),
                            )
                        })
                        .collect()
                }
            },
        );
        out.extend(self.section("channels", channels));
        let operations = self.entries(
            "/operations",
            SymbolKind::METHOD,
            |v| {
                let action = str_of(v, "action")?;
                let channel = v
                    .get("channel")
                    .and_then(|c| c.get("$ref"))
                    .and_then(Value::as_str)
                    .and_then(pointer::last);
                Some(match channel {
                    Some(c) => format!("{action} {c}"),
                    None => action,
                })
            },
            |_, _| Vec::new(),
        );
        out.extend(self.section("operations", operations));
        if let Some(Value::Object(sections)) = self.ws.get(self.file, "/components") {
            let items: Vec<DocumentSymbol> = sections
                .keys()
                .filter_map(|s| {
                    let p = pointer::join("/components", s);
                    let kind = match s.as_str() {
                        "schemas" => SymbolKind::STRUCT,
                        "messages" => SymbolKind::EVENT,
                        "operations" => SymbolKind::METHOD,
                        "channels" => SymbolKind::INTERFACE,
                        "servers" => SymbolKind::OBJECT,
                        _ => SymbolKind::PROPERTY,
                    };
                    let entries = self.entries(&p, kind, |_| None, |_, _| Vec::new());
                    self.symbol(&p, s.clone(), SymbolKind::NAMESPACE, None, entries)
                })
                .collect();
            out.extend(self.section("components", items));
        }
        out
    }

    /// A file without `asyncapi` (a referenced file): its top-level entries and their keys.
    fn fragment(&self) -> Vec<DocumentSymbol> {
        self.entries(
            "",
            SymbolKind::OBJECT,
            |_| None,
            |p, _| self.entries(p, SymbolKind::PROPERTY, |_| None, |_, _| Vec::new()),
        )
    }
}

/// The outline of one file of a unit.
pub fn outline(unit: &Unit, file: FileId) -> Vec<DocumentSymbol> {
    let o = Outline {
        ws: &unit.workspace,
        file,
    };
    match unit.workspace.get(file, "") {
        Some(root @ Value::Object(m)) if m.contains_key("asyncapi") => o.document(root),
        Some(Value::Object(_)) => o.fragment(),
        _ => Vec::new(),
    }
}

/// `textDocument/documentSymbol`.
pub fn document_symbols(
    server: &Server,
    params: DocumentSymbolParams,
) -> Result<Option<DocumentSymbolResponse>, Failure> {
    let key = convert::uri_to_key(&params.text_document.uri);
    let Some(unit) = server.state.units_of(&key).into_iter().next() else {
        return Ok(None);
    };
    let Some(file) = unit.file_id(&key) else {
        return Ok(None);
    };
    Ok(Some(DocumentSymbolResponse::Nested(outline(unit, file))))
}
