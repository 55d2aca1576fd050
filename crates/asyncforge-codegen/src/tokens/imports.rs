//! Drops the imports a generated module does not use, so that generated code needs no
//! `#[allow(unused_imports)]`: an emitter imports what any variant of its module may need, and
//! this pass keeps what the module's code names.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Attribute, Item, UseTree};

/// What the glob imports of generated code bring in: a glob stays when the module names one.
/// (Generated code names every trait whose methods it calls, `Outgoing::to_bytes(&m)`, so
/// that an import is used exactly when its name appears.)
const GLOBS: &[(&str, &[&str])] = &[(
    "codegen",
    &[
        "serde",
        "Deserialize",
        "Serialize",
        "serde_json",
        "Map",
        "Value",
        "BTreeMap",
        "Codec",
        "CodecError",
        "Correlation",
        "CorrelationKey",
        "Message",
        "Date",
        "DateTime",
        "Uuid",
        "strict",
    ],
)];

/// Prunes the unused imports of `file` and of every inline module in it.
pub(crate) fn prune(file: &mut syn::File) {
    prune_items(&mut file.items);
}

fn prune_items(items: &mut Vec<Item>) {
    for item in items.iter_mut() {
        if let Item::Mod(m) = item
            && let Some((_, inner)) = &mut m.content
        {
            prune_items(inner);
        }
    }
    let mut used = HashSet::new();
    for item in items.iter() {
        if !matches!(item, Item::Use(_)) {
            idents(item.to_token_stream(), &mut used);
        }
    }
    items.retain_mut(|item| {
        let Item::Use(u) = item else {
            return true;
        };
        strip_allow(&mut u.attrs);
        // A re-export is part of the module's interface, used or not.
        if !matches!(u.vis, syn::Visibility::Inherited) {
            return true;
        }
        match kept(&u.tree, None, &used) {
            Some(tree) => {
                u.tree = tree;
                true
            }
            None => false,
        }
    });
}

/// The part of `tree` that imports a used name (`parent` names what a `self` leaf imports).
fn kept(tree: &UseTree, parent: Option<&str>, used: &HashSet<String>) -> Option<UseTree> {
    let is_used = |name: &str| used.contains(name);
    match tree {
        UseTree::Path(p) => {
            let segment = p.ident.to_string();
            let inner = kept(&p.tree, Some(&segment), used)?;
            // `a::{self}` is `a`.
            if let UseTree::Name(n) = &inner
                && n.ident == "self"
            {
                return Some(UseTree::Name(syn::UseName {
                    ident: p.ident.clone(),
                }));
            }
            let mut p = p.clone();
            p.tree = Box::new(inner);
            Some(UseTree::Path(p))
        }
        UseTree::Name(n) => {
            let name = n.ident.to_string();
            let imported = if name == "self" { parent? } else { &name };
            is_used(imported).then(|| tree.clone())
        }
        UseTree::Rename(r) => is_used(&r.rename.to_string()).then(|| tree.clone()),
        UseTree::Glob(_) => {
            let exports = GLOBS
                .iter()
                .find(|(module, _)| Some(*module) == parent)
                .map(|(_, names)| *names);
            match exports {
                Some(names) if !names.iter().any(|n| is_used(n)) => None,
                _ => Some(tree.clone()),
            }
        }
        UseTree::Group(g) => {
            let mut g = g.clone();
            let items: Vec<UseTree> = g
                .items
                .iter()
                .filter_map(|t| kept(t, parent, used))
                .collect();
            match items.len() {
                0 => None,
                1 => items.into_iter().next(),
                _ => {
                    g.items = items.into_iter().collect();
                    Some(UseTree::Group(g))
                }
            }
        }
    }
}

fn strip_allow(attrs: &mut Vec<Attribute>) {
    attrs.retain(|a| {
        !(a.path().is_ident("allow") && a.to_token_stream().to_string().contains("unused_imports"))
    });
}

/// Every identifier in `tokens`. Doc strings do not count, as they do not for rustc's
/// `unused_imports`: a generated doc links what it does not import by its full path.
fn idents(tokens: TokenStream, out: &mut HashSet<String>) {
    for tree in tokens {
        match tree {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(g.stream(), out),
            TokenTree::Literal(_) | TokenTree::Punct(_) => {}
        }
    }
}

/// Whether `tokens` name the identifier `name` anywhere (emitters use it to leave out what a
/// module would not use).
pub(crate) fn names(tokens: &TokenStream, name: &str) -> bool {
    tokens.clone().into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == name,
        TokenTree::Group(g) => names(&g.stream(), name),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use quote::quote;

    fn pruned(tokens: proc_macro2::TokenStream) -> String {
        let mut file: syn::File = syn::parse2(tokens).expect("parse");
        super::prune(&mut file);
        prettyplease::unparse(&file)
    }

    #[test]
    fn unused_imports_go_and_used_ones_stay() {
        let out = pruned(quote! {
            #[allow(unused_imports)]
            use std::collections::{BTreeMap, HashMap};
            use std::sync::Arc;
            use crate::runtime::ws::{self, Hub};
            use crate::runtime::endpoint::Refusal as FrameRefusal;
            use crate::runtime::{Error, Reject};
            pub use crate::runtime::http::Scheme;
            /// See [`Error`].
            fn f(x: HashMap<u8, u8>) -> ws::Ctx { ws::Ctx::from(x) }
            fn g() -> Result<(), Reject> { Ok(()) }
            mod inner {
                use std::sync::Arc;
                fn g() {}
            }
        });
        assert!(out.contains("use std::collections::HashMap;"), "{out}");
        assert!(!out.contains("BTreeMap"), "{out}");
        assert!(!out.contains("unused_imports"), "{out}");
        assert!(!out.contains("use std::sync::Arc"), "{out}");
        assert!(out.contains("use crate::runtime::ws;"), "{out}");
        assert!(!out.contains("Hub"), "{out}");
        assert!(!out.contains("FrameRefusal"), "{out}");
        assert!(out.contains("use crate::runtime::Reject;"), "{out}");
        assert!(!out.contains("use crate::runtime::{Error"), "{out}");
        assert!(
            out.contains("pub use crate::runtime::http::Scheme"),
            "{out}"
        );
    }
}
