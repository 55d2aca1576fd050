//! The generated runtime (`--runtime vendored`): the runtime modules a generated crate needs,
//! copied into its `src/runtime/`, and the crates.io dependencies they need, so that the
//! generated crate is the only thing its user depends on.
//!
//! The runtime's own sources and manifests are embedded at build time. Which modules and
//! dependencies a crate gets follows the runtime's cargo features the spec's protocols need:
//! features are resolved as cargo would (`dep:` entries, implied features, `crate/feature`),
//! `#[cfg(feature = …)]` items are kept or dropped accordingly and their attributes removed,
//! `#[cfg(test)]` items are dropped (the runtime's tests need its dev-dependencies), and
//! `crate::` paths become `crate::runtime::`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use std::ops::Range;

use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::visit::Visit;

use crate::output::{Error, File};

macro_rules! runtime_files {
    ($($path:literal),* $(,)?) => {
        &[$(($path, include_str!(concat!("../../asyncforge-runtime/src/", $path)))),*]
    };
}

/// Every source file of the runtime, by its path under `src/` (a test checks the list is
/// complete).
pub(crate) const FILES: &[(&str, &str)] = runtime_files![
    "address.rs",
    "backoff.rs",
    "backplane/log.rs",
    "backplane/log_nats.rs",
    "backplane/log_redis.rs",
    "backplane/mod.rs",
    "backplane/nats.rs",
    "backplane/redis.rs",
    "codec.rs",
    "codegen.rs",
    "connection.rs",
    "endpoint.rs",
    "error.rs",
    "etag.rs",
    "frame.rs",
    "headers.rs",
    "http/callbacks.rs",
    "http/client.rs",
    "http/idempotency.rs",
    "http/lock.rs",
    "http/mod.rs",
    "http/outbox.rs",
    "http/postgres.rs",
    "http/postgres_outbox.rs",
    "http/postgres_resource.rs",
    "http/postgres_store.rs",
    "http/receiver.rs",
    "http/redis_store.rs",
    "http/resource.rs",
    "http/sender.rs",
    "http/signature.rs",
    "http/ssrf.rs",
    "kafka/client.rs",
    "kafka/mod.rs",
    "kafka/topic.rs",
    "lib.rs",
    "message.rs",
    "mqtt/client.rs",
    "mqtt/mod.rs",
    "mqtt/topic.rs",
    "outcome.rs",
    "received.rs",
    "rpc.rs",
    "sse/client.rs",
    "sse/mod.rs",
    "sse/post.rs",
    "sse/server.rs",
    "tls.rs",
    "types.rs",
    "validate.rs",
    "ws/client.rs",
    "ws/client/reader.rs",
    "ws/mod.rs",
    "ws/server.rs",
];

/// The runtime's manifest (features, dependencies) and the workspace's (dependency versions).
const MANIFEST: &str = include_str!("../../asyncforge-runtime/Cargo.toml");
const WORKSPACE: &str = include_str!("../../../Cargo.toml");

/// The runtime's version, written into the header of every copied file.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What `--runtime vendored` adds to a crate.
#[derive(Debug)]
pub(crate) struct Vendored {
    /// `src/runtime/…` files.
    pub files: Vec<File>,
    /// `[dependencies]` lines of the generated `Cargo.toml`, sorted by crate name.
    pub dependencies: Vec<String>,
}

fn bug(message: impl Into<String>) -> Error {
    Error::Vendor(message.into())
}

/// The runtime copy for a crate whose code uses the runtime `features`.
pub(crate) fn vendor(features: &[&str]) -> Result<Vendored, Error> {
    let manifest: toml::Table = MANIFEST
        .parse()
        .map_err(|e| bug(format!("the runtime's Cargo.toml: {e}")))?;
    let workspace: toml::Table = WORKSPACE
        .parse()
        .map_err(|e| bug(format!("the workspace's Cargo.toml: {e}")))?;
    let enabled = resolve(&manifest, features)?;
    let dependencies = dependencies(&manifest, &workspace, &enabled)?;
    let mut files = Vec::new();
    let mut queue = vec![("lib.rs".to_owned(), PathBuf::from("src/runtime/mod.rs"))];
    while let Some((source, target)) = queue.pop() {
        let text = FILES
            .iter()
            .find(|(p, _)| *p == source)
            .map(|(_, t)| *t)
            .ok_or_else(|| bug(format!("runtime file `{source}` is not embedded")))?;
        let file = syn::parse_file(text).map_err(|e| bug(format!("runtime `{source}`: {e}")))?;
        let mut copier = Copier {
            features: &enabled.features,
            text,
            edits: Vec::new(),
        };
        let modules = copier.items(&file.items);
        let contents = copier.apply();
        for name in modules {
            let (child, child_target) = child_paths(&source, &target, &name);
            let child = [child.clone(), child.replace(".rs", "/mod.rs")]
                .into_iter()
                .find(|c| FILES.iter().any(|(p, _)| p == c))
                .ok_or_else(|| bug(format!("`{source}` declares `mod {name}`, not embedded")))?;
            let child_target = if child.ends_with("/mod.rs") {
                child_target.with_extension("").join("mod.rs")
            } else {
                child_target
            };
            queue.push((child, child_target));
        }
        files.push(File {
            path: target,
            contents: format!(
                "// @generated by asyncforge: a copy of asyncforge-runtime {VERSION}. Do not edit.\n\n{contents}"
            ),
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Vendored {
        files,
        dependencies,
    })
}

/// The runtime file and target file of module `name` declared in `source`.
fn child_paths(source: &str, target: &std::path::Path, name: &str) -> (String, PathBuf) {
    let is_root = source == "lib.rs" || source.ends_with("/mod.rs");
    let source_dir = if is_root {
        source.rsplit_once('/').map_or("", |(d, _)| d).to_owned()
    } else {
        source.trim_end_matches(".rs").to_owned()
    };
    let target_dir = if is_root {
        target.parent().map(PathBuf::from).unwrap_or_default()
    } else {
        target.with_extension("")
    };
    let child = if source_dir.is_empty() {
        format!("{name}.rs")
    } else {
        format!("{source_dir}/{name}.rs")
    };
    (child, target_dir.join(format!("{name}.rs")))
}

/// The runtime features, optional dependencies and dependency features a set of requested
/// features turns on.
#[derive(Debug, Default)]
struct Enabled {
    features: BTreeSet<String>,
    deps: BTreeSet<String>,
    dep_features: BTreeMap<String, BTreeSet<String>>,
}

fn resolve(manifest: &toml::Table, requested: &[&str]) -> Result<Enabled, Error> {
    let table = manifest
        .get("features")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| bug("the runtime has no [features]"))?;
    let mut enabled = Enabled::default();
    let mut weak: Vec<(String, String)> = Vec::new();
    let mut queue: Vec<String> = requested.iter().map(|f| (*f).to_owned()).collect();
    while let Some(entry) = queue.pop() {
        if let Some(dep) = entry.strip_prefix("dep:") {
            enabled.deps.insert(dep.to_owned());
        } else if let Some((dep, feature)) = entry.split_once('/') {
            if let Some(dep) = dep.strip_suffix('?') {
                weak.push((dep.to_owned(), feature.to_owned()));
            } else {
                enabled.deps.insert(dep.to_owned());
                enabled
                    .dep_features
                    .entry(dep.to_owned())
                    .or_default()
                    .insert(feature.to_owned());
            }
        } else if enabled.features.insert(entry.clone()) {
            let implied = table
                .get(&entry)
                .and_then(toml::Value::as_array)
                .ok_or_else(|| bug(format!("the runtime has no feature `{entry}`")))?;
            queue.extend(implied.iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
    }
    for (dep, feature) in weak {
        if enabled.deps.contains(&dep) {
            enabled.dep_features.entry(dep).or_default().insert(feature);
        }
    }
    Ok(enabled)
}

/// The `[dependencies]` lines for the enabled part of the runtime.
fn dependencies(
    manifest: &toml::Table,
    workspace: &toml::Table,
    enabled: &Enabled,
) -> Result<Vec<String>, Error> {
    let deps = manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .ok_or_else(|| bug("the runtime has no [dependencies]"))?;
    let shared = workspace
        .get("workspace")
        .and_then(|w| w.get("dependencies"))
        .and_then(toml::Value::as_table);
    let mut lines = Vec::new();
    for (name, spec) in deps {
        let optional = spec
            .get("optional")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        if optional && !enabled.deps.contains(name) {
            continue;
        }
        let from_workspace = spec
            .get("workspace")
            .and_then(toml::Value::as_bool)
            .unwrap_or(false);
        let base = if from_workspace {
            shared
                .and_then(|s| s.get(name))
                .ok_or_else(|| bug(format!("`{name}` is not a workspace dependency")))?
        } else {
            spec
        };
        let (version, default_features) = match base {
            toml::Value::String(v) => (Some(v.clone()), None),
            toml::Value::Table(t) => (
                t.get("version")
                    .and_then(toml::Value::as_str)
                    .map(str::to_owned),
                t.get("default-features").and_then(toml::Value::as_bool),
            ),
            _ => return Err(bug(format!("dependency `{name}` has an unknown form"))),
        };
        let version = version.ok_or_else(|| bug(format!("dependency `{name}` has no version")))?;
        let mut features: BTreeSet<String> = BTreeSet::new();
        for source in [base, spec] {
            if let Some(list) = source.get("features").and_then(toml::Value::as_array) {
                features.extend(list.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
        }
        if let Some(extra) = enabled.dep_features.get(name) {
            features.extend(extra.iter().cloned());
        }
        let mut line = format!("{name} = {{ version = {}", quoted(&version));
        if default_features == Some(false) {
            line.push_str(", default-features = false");
        }
        if !features.is_empty() {
            let list: Vec<String> = features.iter().map(|f| quoted(f)).collect();
            line.push_str(&format!(", features = [{}]", list.join(", ")));
        }
        line.push_str(" }");
        lines.push(line);
    }
    lines.sort();
    Ok(lines)
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// One change to a runtime file's text.
#[derive(Debug)]
struct Edit {
    range: Range<usize>,
    with: String,
}

/// Copies one runtime file for a set of enabled features, as text edits so that the copy
/// keeps the runtime's formatting and comments: items whose `#[cfg]` is false are removed,
/// decided `#[cfg]`s and `#[cfg_attr]`s are removed or resolved, `crate::` gains `runtime::`.
struct Copier<'a> {
    features: &'a BTreeSet<String>,
    text: &'a str,
    edits: Vec<Edit>,
}

impl Copier<'_> {
    /// What a `cfg` predicate says: `None` when it names something other than features and
    /// `test` (the item and its attribute are kept as they are).
    fn eval(&self, meta: &syn::Meta) -> Option<bool> {
        match meta {
            syn::Meta::Path(p) if p.is_ident("test") => Some(false),
            syn::Meta::NameValue(nv) if nv.path.is_ident("feature") => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(self.features.contains(&s.value())),
                _ => None,
            },
            syn::Meta::List(list) => {
                let nested = list
                    .parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
                    .ok()?;
                let values: Option<Vec<bool>> = nested.iter().map(|m| self.eval(m)).collect();
                let values = values?;
                if list.path.is_ident("any") {
                    Some(values.iter().any(|v| *v))
                } else if list.path.is_ident("all") {
                    Some(values.iter().all(|v| *v))
                } else if list.path.is_ident("not") && values.len() == 1 {
                    Some(!values[0])
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// The edits for an item's `cfg`/`cfg_attr` attributes; `false` when the item goes.
    fn attributes(&mut self, attrs: &[syn::Attribute]) -> bool {
        let mut keep = true;
        for attr in attrs {
            let syn::Meta::List(list) = &attr.meta else {
                continue;
            };
            let Ok(args) =
                list.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
            else {
                continue;
            };
            let Some(decided) = args.first().and_then(|p| self.eval(p)) else {
                continue;
            };
            let range = whole_lines(self.text, attr.span().byte_range());
            if attr.path().is_ident("cfg") {
                keep &= decided;
                self.edits.push(Edit {
                    range,
                    with: String::new(),
                });
            } else if attr.path().is_ident("cfg_attr") {
                let rest: Vec<&syn::Meta> = args.iter().skip(1).collect();
                let with = match (decided, rest.first(), rest.last()) {
                    (true, Some(first), Some(last)) => {
                        let inner = first.span().byte_range().start..last.span().byte_range().end;
                        let indent = &self.text[range.start..attr.span().byte_range().start];
                        let end = if self.text[..range.end].ends_with('\n') {
                            "\n"
                        } else {
                            ""
                        };
                        format!("{indent}#[{}]{end}", &self.text[inner])
                    }
                    _ => String::new(),
                };
                self.edits.push(Edit { range, with });
            }
        }
        keep
    }

    /// Walks `items`; returns the names of the kept `mod name;` declarations.
    fn items(&mut self, items: &[syn::Item]) -> Vec<String> {
        let mut modules = Vec::new();
        for item in items {
            let attrs = item_attrs(item);
            if !self.attributes(attrs) {
                self.edits.push(Edit {
                    range: whole_lines(self.text, item.span().byte_range()),
                    with: String::new(),
                });
                continue;
            }
            match item {
                syn::Item::Mod(m) => match &m.content {
                    Some((_, inner)) => {
                        self.items(inner);
                    }
                    None => modules.push(m.ident.to_string()),
                },
                syn::Item::Impl(i) => {
                    for ii in &i.items {
                        if !self.attributes(impl_item_attrs(ii)) {
                            self.edits.push(Edit {
                                range: whole_lines(self.text, ii.span().byte_range()),
                                with: String::new(),
                            });
                        }
                    }
                }
                _ => {}
            }
            syn::visit::visit_item(&mut Nested { copier: self }, item);
            let mut paths = CratePaths {
                inserts: Vec::new(),
            };
            paths.visit_item(item);
            self.edits.extend(paths.inserts.into_iter().map(|at| Edit {
                range: at..at,
                with: "runtime::".into(),
            }));
        }
        modules
    }

    /// The copy: edits applied (an edit inside a removed range is dropped), and `crate::` in
    /// comments pointed at the runtime too.
    fn apply(mut self) -> String {
        self.edits
            .sort_by_key(|e| (e.range.start, std::cmp::Reverse(e.range.end)));
        let mut kept: Vec<Edit> = Vec::new();
        for e in self.edits {
            if let Some(last) = kept.last()
                && e.range.start < last.range.end
            {
                continue;
            }
            kept.push(e);
        }
        let mut out = self.text.to_owned();
        for e in kept.iter().rev() {
            out.replace_range(e.range.clone(), &e.with);
        }
        out.lines()
            .map(|l| {
                if l.trim_start().starts_with("//") {
                    l.replace("crate::", "crate::runtime::")
                } else {
                    l.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }
}

/// Decides the `cfg`s inside an item: on struct fields, enum variants, field values, match
/// arms and statements (items and impl items are the copier's own walk).
struct Nested<'c, 'a> {
    copier: &'c mut Copier<'a>,
}

impl Nested<'_, '_> {
    /// Applies `attrs`; removes `node` (with the comma after it) when its `cfg` is false.
    /// Whether to look inside it.
    fn node(&mut self, attrs: &[syn::Attribute], span: proc_macro2::Span) -> bool {
        if self.copier.attributes(attrs) {
            return true;
        }
        let text = self.copier.text;
        let mut range = span.byte_range();
        let after = &text[range.end..];
        if after.trim_start().starts_with(',') {
            range.end += after.find(',').map_or(0, |i| i + 1);
        }
        self.copier.edits.push(Edit {
            range: whole_lines(text, range),
            with: String::new(),
        });
        false
    }
}

impl<'ast> Visit<'ast> for Nested<'_, '_> {
    fn visit_item(&mut self, _: &'ast syn::Item) {}

    fn visit_field(&mut self, node: &'ast syn::Field) {
        if self.node(&node.attrs, node.span()) {
            syn::visit::visit_field(self, node);
        }
    }

    fn visit_variant(&mut self, node: &'ast syn::Variant) {
        if self.node(&node.attrs, node.span()) {
            syn::visit::visit_variant(self, node);
        }
    }

    fn visit_field_value(&mut self, node: &'ast syn::FieldValue) {
        if self.node(&node.attrs, node.span()) {
            syn::visit::visit_field_value(self, node);
        }
    }

    fn visit_arm(&mut self, node: &'ast syn::Arm) {
        if self.node(&node.attrs, node.span()) {
            syn::visit::visit_arm(self, node);
        }
    }

    fn visit_stmt(&mut self, node: &'ast syn::Stmt) {
        let attrs: &[syn::Attribute] = match node {
            syn::Stmt::Local(l) => &l.attrs,
            syn::Stmt::Macro(m) => &m.attrs,
            syn::Stmt::Expr(e, _) => expr_attrs(e),
            syn::Stmt::Item(_) => return,
        };
        if self.node(attrs, node.span()) {
            syn::visit::visit_stmt(self, node);
        }
    }
}

/// The outer attributes of the expressions that begin statements.
fn expr_attrs(expr: &syn::Expr) -> &[syn::Attribute] {
    use syn::Expr::*;
    match expr {
        Assign(e) => &e.attrs,
        Block(e) => &e.attrs,
        Call(e) => &e.attrs,
        ForLoop(e) => &e.attrs,
        If(e) => &e.attrs,
        Loop(e) => &e.attrs,
        Macro(e) => &e.attrs,
        Match(e) => &e.attrs,
        MethodCall(e) => &e.attrs,
        Return(e) => &e.attrs,
        Unsafe(e) => &e.attrs,
        While(e) => &e.attrs,
        _ => &[],
    }
}

/// `range` grown to whole lines when nothing but white space shares its lines.
fn whole_lines(text: &str, range: Range<usize>) -> Range<usize> {
    let line_start = text[..range.start].rfind('\n').map_or(0, |i| i + 1);
    let start = if text[line_start..range.start].trim().is_empty() {
        line_start
    } else {
        range.start
    };
    let rest = &text[range.end..];
    let line_end = rest.find('\n').map_or(text.len(), |i| range.end + i + 1);
    let end = if text[range.end..line_end].trim().is_empty() {
        line_end
    } else {
        range.end
    };
    start..end
}

fn item_attrs(item: &syn::Item) -> &[syn::Attribute] {
    use syn::Item::*;
    match item {
        Const(i) => &i.attrs,
        Enum(i) => &i.attrs,
        ExternCrate(i) => &i.attrs,
        Fn(i) => &i.attrs,
        ForeignMod(i) => &i.attrs,
        Impl(i) => &i.attrs,
        Macro(i) => &i.attrs,
        Mod(i) => &i.attrs,
        Static(i) => &i.attrs,
        Struct(i) => &i.attrs,
        Trait(i) => &i.attrs,
        TraitAlias(i) => &i.attrs,
        Type(i) => &i.attrs,
        Union(i) => &i.attrs,
        Use(i) => &i.attrs,
        _ => &[],
    }
}

fn impl_item_attrs(item: &syn::ImplItem) -> &[syn::Attribute] {
    use syn::ImplItem::*;
    match item {
        Const(i) => &i.attrs,
        Fn(i) => &i.attrs,
        Type(i) => &i.attrs,
        Macro(i) => &i.attrs,
        _ => &[],
    }
}

/// Where `runtime::` goes after a `crate::` (paths, `use` trees, macro bodies).
struct CratePaths {
    inserts: Vec<usize>,
}

impl CratePaths {
    fn tokens(&mut self, tokens: proc_macro2::TokenStream) {
        let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
        for (i, t) in tokens.iter().enumerate() {
            match t {
                proc_macro2::TokenTree::Group(g) => self.tokens(g.stream()),
                proc_macro2::TokenTree::Ident(id) if id == "crate" => {
                    if let (
                        Some(proc_macro2::TokenTree::Punct(a)),
                        Some(proc_macro2::TokenTree::Punct(b)),
                        Some(next),
                    ) = (tokens.get(i + 1), tokens.get(i + 2), tokens.get(i + 3))
                        && a.as_char() == ':'
                        && b.as_char() == ':'
                    {
                        self.inserts.push(next.span().byte_range().start);
                    }
                }
                _ => {}
            }
        }
    }
}

impl<'ast> Visit<'ast> for CratePaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none()
            && path.segments.first().is_some_and(|s| s.ident == "crate")
            && let Some(second) = path.segments.iter().nth(1)
        {
            self.inserts.push(second.ident.span().byte_range().start);
        }
        syn::visit::visit_path(self, path);
    }

    fn visit_use_path(&mut self, node: &'ast syn::UsePath) {
        if node.ident == "crate" {
            self.inserts.push(node.tree.span().byte_range().start);
            return;
        }
        syn::visit::visit_use_path(self, node);
    }

    fn visit_macro(&mut self, mac: &'ast syn::Macro) {
        self.tokens(mac.tokens.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_file_is_embedded() {
        let src =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../asyncforge-runtime/src");
        let mut on_disk = Vec::new();
        let mut dirs = vec![src.clone()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("runtime src") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let rel = path.strip_prefix(&src).expect("under src");
                    on_disk.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        on_disk.sort();
        let embedded: Vec<String> = FILES.iter().map(|(p, _)| (*p).to_owned()).collect();
        assert_eq!(on_disk, embedded, "update vendor::FILES");
    }

    fn file<'a>(v: &'a Vendored, path: &str) -> Option<&'a str> {
        v.files
            .iter()
            .find(|f| f.path == std::path::Path::new(path))
            .map(|f| f.contents.as_str())
    }

    #[test]
    fn each_protocol_gets_its_modules_and_dependencies_only() {
        let all: &[&[&str]] = &[
            &[],
            &["ws", "ws-client"],
            &["sse", "sse-client"],
            &["http"],
            &["http", "redis"],
            &["postgres"],
            &["ws", "redis"],
            &["ws", "nats"],
            &["sse", "sse-client", "redis"],
            &["sse", "sse-client", "nats"],
            &["mqtt"],
            &["kafka"],
            &[
                "ws",
                "ws-client",
                "sse",
                "sse-client",
                "http",
                "mqtt",
                "kafka",
            ],
        ];
        for features in all {
            let v = vendor(features).expect("vendor");
            for f in &v.files {
                assert!(
                    !f.contents.contains("cfg(feature") && !f.contents.contains("cfg(test"),
                    "{features:?} {}",
                    f.path.display()
                );
                syn::parse_file(&f.contents).expect("the copy parses");
            }
            let has = |p: &str| file(&v, p).is_some();
            let dep = |d: &str| {
                v.dependencies
                    .iter()
                    .any(|l| l.starts_with(&format!("{d} =")))
            };
            let any = |fs: &[&str]| features.iter().any(|f| fs.contains(f));
            assert!(has("src/runtime/mod.rs") && has("src/runtime/codec.rs"));
            assert_eq!(
                has("src/runtime/ws/server.rs"),
                features.contains(&"ws"),
                "{features:?}"
            );
            assert_eq!(
                has("src/runtime/ws/client/reader.rs"),
                features.contains(&"ws-client")
            );
            assert_eq!(has("src/runtime/http/mod.rs"), any(&["http", "postgres"]));
            assert_eq!(
                has("src/runtime/http/redis_store.rs"),
                features.contains(&"redis") && any(&["http", "postgres"])
            );
            let backplane = any(&["ws", "sse"]);
            assert_eq!(
                has("src/runtime/backplane/redis.rs"),
                features.contains(&"redis") && backplane
            );
            assert_eq!(
                has("src/runtime/backplane/log_redis.rs"),
                features.contains(&"redis") && features.contains(&"sse")
            );
            assert_eq!(
                has("src/runtime/backplane/log_nats.rs"),
                features.contains(&"nats") && features.contains(&"sse")
            );
            assert_eq!(
                has("src/runtime/backplane/log.rs"),
                features.contains(&"sse")
            );
            assert_eq!(dep("redis"), features.contains(&"redis"));
            for file in [
                "postgres.rs",
                "postgres_outbox.rs",
                "postgres_resource.rs",
                "postgres_store.rs",
            ] {
                assert_eq!(
                    has(&format!("src/runtime/http/{file}")),
                    features.contains(&"postgres")
                );
            }
            assert_eq!(
                has("src/runtime/mqtt/client.rs"),
                features.contains(&"mqtt")
            );
            assert_eq!(has("src/runtime/mqtt/topic.rs"), features.contains(&"mqtt"));
            assert_eq!(has("src/runtime/backplane/mod.rs"), backplane);
            assert_eq!(
                has("src/runtime/backplane/nats.rs"),
                features.contains(&"nats") && backplane
            );
            assert_eq!(dep("async-nats"), features.contains(&"nats"));
            assert_eq!(
                has("src/runtime/kafka/client.rs"),
                features.contains(&"kafka")
            );
            assert_eq!(
                has("src/runtime/kafka/topic.rs"),
                features.contains(&"kafka")
            );
            // The pieces several transports share come only with a transport that uses them.
            assert_eq!(has("src/runtime/etag.rs"), any(&["http", "postgres"]));
            assert_eq!(
                has("src/runtime/sse/mod.rs"),
                any(&["sse", "sse-client"]),
                "{features:?}"
            );
            assert_eq!(
                has("src/runtime/backoff.rs"),
                any(&[
                    "ws",
                    "ws-client",
                    "sse",
                    "sse-client",
                    "http",
                    "postgres",
                    "mqtt",
                    "kafka"
                ]),
                "{features:?}"
            );
            assert_eq!(dep("axum"), any(&["ws", "sse", "http", "postgres"]));
            assert_eq!(dep("tokio-postgres"), features.contains(&"postgres"));
            assert_eq!(dep("rdkafka"), features.contains(&"kafka"));
            assert!(dep("serde") && dep("serde_json") && dep("chrono") && dep("uuid"));
        }
    }

    #[test]
    fn paths_to_the_crate_root_become_paths_to_the_runtime() {
        let v = vendor(&["http"]).expect("vendor");
        let sender = file(&v, "src/runtime/http/sender.rs").expect("sender");
        assert!(
            sender.contains("use crate::runtime::backoff::Backoff;"),
            "{sender}"
        );
        assert!(!sender.contains("use crate::backoff"), "{sender}");
        let uuid = v
            .dependencies
            .iter()
            .find(|l| l.starts_with("uuid ="))
            .expect("uuid");
        assert!(
            uuid.contains("\"v4\"") && uuid.contains("\"serde\""),
            "{uuid}"
        );
    }
}
