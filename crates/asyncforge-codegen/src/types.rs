//! The type space: every schema the API uses, as Rust types.
//!
//! Schemas are turned into entries of an arena (structs, enums, aliases) addressed by index;
//! a schema reached again (shared or recursive) reuses its entry, so recursion only needs a
//! `Box` where a type would otherwise contain itself. Constructs with no faithful Rust type
//! become `serde_json::Value`, with a [`Warning`] pointing at the schema.

use std::collections::{HashMap, HashSet};

use asyncforge_spec::ir::{
    Api, Items, JsonType, SchemaBody, SchemaFormat, SchemaId, SchemaObject, Source,
};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::Value;

use crate::names::{NameSet, field_name, type_name, variant_name};
use crate::tokens::{doc_attrs, ident};

/// Something generated less precisely than the schema says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// What was not represented, and what was generated instead.
    pub message: String,
    /// The schema.
    pub source: Source,
}

/// A primitive Rust type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prim {
    /// `String`
    String,
    /// `bool`
    Bool,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `f32`
    F32,
    /// `f64`
    F64,
    /// RFC 3339 timestamp.
    DateTime,
    /// Calendar date.
    Date,
    /// UUID.
    Uuid,
    /// JSON `null`.
    Unit,
}

/// How a schema is used as a type.
#[derive(Debug, Clone, PartialEq)]
pub enum Ty {
    /// An entry of the type space.
    Named(usize),
    /// A primitive.
    Prim(Prim),
    /// `Vec<T>`.
    Vec(Box<Ty>),
    /// `BTreeMap<String, T>`.
    Map(Box<Ty>),
    /// `Option<T>`.
    Option(Box<Ty>),
    /// `(A, B, …)`.
    Tuple(Vec<Ty>),
    /// `Box<T>` (recursion).
    Boxed(Box<Ty>),
    /// Any JSON value.
    Value,
    /// Any JSON object (`Map<String, Value>`).
    Object,
}

/// A struct field.
#[derive(Debug, Clone)]
pub struct Field {
    /// Rust name.
    pub rust: String,
    /// JSON name.
    pub json: String,
    /// Type (without the `Option` of an optional field).
    pub ty: Ty,
    /// Not required: `Option<T>`, skipped when `None`.
    pub optional: bool,
    /// Documentation.
    pub doc: Option<String>,
}

/// What an entry is.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A struct.
    Struct {
        /// Fields in schema order.
        fields: Vec<Field>,
        /// `additionalProperties: false`.
        deny_unknown: bool,
        /// Field name and value type of the flattened map holding properties the schema does
        /// not name, when they are allowed.
        extra: Option<(String, Ty)>,
    },
    /// An enum of strings: (variant, JSON value).
    StringEnum(Vec<(String, String)>),
    /// An untagged union: (variant, content).
    Untagged(Vec<(String, Ty)>),
    /// An internally tagged union: tag property, (variant, tag value, content).
    Tagged(String, Vec<(String, String, Ty)>),
    /// A type alias.
    Alias(Ty),
}

/// A named type.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Rust name.
    pub name: String,
    /// Documentation.
    pub doc: Option<String>,
    /// Content.
    pub kind: Kind,
}

/// All generated types of one API.
pub struct TypeSpace<'a> {
    api: &'a Api,
    /// Entries, in creation order.
    pub entries: Vec<Entry>,
    memo: HashMap<SchemaId, Ty>,
    in_progress: HashSet<SchemaId>,
    names: NameSet,
    /// Warnings collected on the way.
    pub warnings: Vec<Warning>,
}

/// A schema's documentation: its description, plus its default when there is one.
fn doc_of(o: &SchemaObject) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(t) = &o.title
        && o.description.is_none()
    {
        parts.push(t.clone());
    }
    if let Some(d) = &o.description {
        parts.push(d.trim().to_owned());
    }
    if let Some(d) = &o.default {
        parts.push(format!("Default: `{d}`."));
    }
    if let Some(f) = &o.format
        && !matches!(
            f.as_str(),
            "date-time" | "date" | "uuid" | "int32" | "int64" | "float" | "double"
        )
    {
        parts.push(format!("Format: `{f}`."));
    }
    (!parts.is_empty()).then(|| parts.join("\n\n"))
}

/// Names of the prelude: a type called `Default` (the official Gemini example has a `default`
/// schema) would shadow the trait wherever `types::*` is imported; such a type is called
/// `DefaultSchema` instead.
const PRELUDE: &[&str] = &[
    "Default", "Some", "None", "Ok", "Err", "Clone", "Copy", "Debug", "Send", "Sync", "Sized",
    "Drop", "Iterator", "From", "Into",
];

impl<'a> TypeSpace<'a> {
    /// An empty type space for an API.
    pub fn new(api: &'a Api) -> Self {
        let mut names = NameSet::default();
        // Names the generated modules use themselves.
        names.reserve(&[
            "Value", "Map", "BTreeMap", "Option", "Vec", "String", "Box", "Result", "DateTime",
            "Date", "Uuid",
        ]);
        names.reserve(PRELUDE);
        TypeSpace {
            api,
            entries: Vec::new(),
            memo: HashMap::new(),
            in_progress: HashSet::new(),
            names,
            warnings: Vec::new(),
        }
    }

    fn warn(&mut self, id: SchemaId, message: String) {
        self.warnings.push(Warning {
            message,
            source: self.api.schema(id).source.clone(),
        });
    }

    fn new_entry(&mut self, base: &str, doc: Option<String>) -> usize {
        let mut base = type_name(base);
        if PRELUDE.contains(&base.as_str()) {
            base.push_str("Schema");
        }
        let name = self.names.unique(&base);
        self.entries.push(Entry {
            name,
            doc,
            kind: Kind::Alias(Ty::Value),
        });
        self.entries.len() - 1
    }

    /// The type of a schema; `hint` names it when the schema has no name of its own.
    pub fn ty(&mut self, id: SchemaId, hint: &str) -> Ty {
        if let Some(t) = self.memo.get(&id) {
            return t.clone();
        }
        if !self.in_progress.insert(id) {
            self.warn(id, "a schema that contains itself without an object in between has no Rust type; using `serde_json::Value`".into());
            return Ty::Value;
        }
        let schema = self.api.schema(id);
        let name = schema.name.clone().unwrap_or_else(|| hint.to_owned());
        let t = match (&schema.body, &schema.format) {
            (SchemaBody::Bool(true), _) => Ty::Value,
            (SchemaBody::Bool(false), _) => {
                self.warn(
                    id,
                    "schema `false` accepts nothing; using `serde_json::Value`".into(),
                );
                Ty::Value
            }
            (SchemaBody::Foreign(v), SchemaFormat::Avro(_)) => {
                let v = v.clone();
                crate::avro::ty(self, id, &v, &name)
            }
            (SchemaBody::Foreign(_), f) => {
                self.warn(id, format!("schemas in format {f:?} are not turned into types; using `serde_json::Value`"));
                Ty::Value
            }
            (SchemaBody::Object(o), _) => {
                let o = (**o).clone();
                self.object(id, &o, &name)
            }
        };
        self.in_progress.remove(&id);
        self.memo.insert(id, t.clone());
        t
    }

    fn object(&mut self, id: SchemaId, o: &SchemaObject, name: &str) -> Ty {
        let non_null: Vec<JsonType> = o
            .types
            .iter()
            .copied()
            .filter(|t| *t != JsonType::Null)
            .collect();
        let nullable = o.nullable || (o.types.contains(&JsonType::Null) && !non_null.is_empty());
        let inner = self.non_null(id, o, &non_null, name);
        if nullable && !matches!(inner, Ty::Option(_)) {
            Ty::Option(Box::new(inner))
        } else {
            inner
        }
    }

    fn non_null(&mut self, id: SchemaId, o: &SchemaObject, types: &[JsonType], name: &str) -> Ty {
        // Enumerations.
        if let Some(values) = &o.enum_values {
            let strings: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
            let non_null = values.iter().filter(|v| !v.is_null()).count();
            if !strings.is_empty() && strings.len() == non_null {
                let t = self.string_enum(id, name, &strings, doc_of(o));
                return if non_null < values.len() {
                    Ty::Option(Box::new(t))
                } else {
                    t
                };
            }
        }
        if let Some(Value::String(c)) = &o.const_value {
            return self.string_enum(id, name, &[c.as_str()], doc_of(o));
        }
        // Composition.
        if !o.all_of.is_empty() {
            return self.all_of(id, o, name);
        }
        let alternatives = if !o.one_of.is_empty() {
            &o.one_of
        } else {
            &o.any_of
        };
        if !alternatives.is_empty() && o.properties.is_empty() {
            return self.union(id, o, alternatives, name);
        }
        if !alternatives.is_empty() {
            self.warn(id, "`oneOf`/`anyOf` beside `properties` is not represented; the alternatives' extra fields land in the `extra` map".into());
        }
        match types {
            [] => {
                if !o.properties.is_empty() || o.additional_properties.is_some() {
                    self.object_type(id, o, name)
                } else if let Some(items) = &o.items {
                    self.array(id, o, Some(items), name)
                } else {
                    Ty::Value
                }
            }
            [t] => match t {
                JsonType::Object => self.object_type(id, o, name),
                JsonType::Array => self.array(id, o, o.items.as_ref(), name),
                JsonType::String => Ty::Prim(match o.format.as_deref() {
                    Some("date-time") => Prim::DateTime,
                    Some("date") => Prim::Date,
                    Some("uuid") => Prim::Uuid,
                    _ => Prim::String,
                }),
                JsonType::Integer => Ty::Prim(integer(o)),
                JsonType::Number => Ty::Prim(if o.format.as_deref() == Some("float") {
                    Prim::F32
                } else {
                    Prim::F64
                }),
                JsonType::Boolean => Ty::Prim(Prim::Bool),
                JsonType::Null => Ty::Prim(Prim::Unit),
            },
            several => {
                // A value of one of several JSON types: an untagged enum of them.
                let idx = self.new_entry(name, doc_of(o));
                self.memo.insert(id, Ty::Named(idx));
                let mut variants = Vec::new();
                let mut vnames = NameSet::default();
                for t in several {
                    let (v, ty) = match t {
                        JsonType::String => ("String", Ty::Prim(Prim::String)),
                        JsonType::Integer => ("Integer", Ty::Prim(integer(o))),
                        JsonType::Number => ("Number", Ty::Prim(Prim::F64)),
                        JsonType::Boolean => ("Boolean", Ty::Prim(Prim::Bool)),
                        JsonType::Array => (
                            "Array",
                            self.array(id, o, o.items.as_ref(), &format!("{name}Item")),
                        ),
                        JsonType::Object => {
                            ("Object", self.object_type(id, o, &format!("{name}Object")))
                        }
                        JsonType::Null => continue,
                    };
                    variants.push((vnames.unique(v), ty));
                }
                // Integers before numbers, so `1` stays an integer.
                variants.sort_by_key(|(n, _)| n != "Integer");
                self.entries[idx].kind = Kind::Untagged(variants);
                Ty::Named(idx)
            }
        }
    }

    fn string_enum(
        &mut self,
        id: SchemaId,
        name: &str,
        values: &[&str],
        doc: Option<String>,
    ) -> Ty {
        let idx = self.new_entry(name, doc);
        self.memo.insert(id, Ty::Named(idx));
        let mut vnames = NameSet::default();
        let variants = values
            .iter()
            .map(|v| (vnames.unique(&variant_name(v)), (*v).to_owned()))
            .collect();
        self.entries[idx].kind = Kind::StringEnum(variants);
        Ty::Named(idx)
    }

    fn array(&mut self, id: SchemaId, o: &SchemaObject, items: Option<&Items>, name: &str) -> Ty {
        match items {
            None => Ty::Vec(Box::new(Ty::Value)),
            Some(Items::Single(i)) => Ty::Vec(Box::new(self.ty(*i, &format!("{name}Item")))),
            Some(Items::Tuple(list)) => {
                let closed = o
                    .additional_items
                    .is_some_and(|a| matches!(self.api.schema(a).body, SchemaBody::Bool(false)))
                    || o.max_items.is_some_and(|m| m as usize == list.len());
                if closed && o.min_items.is_some_and(|m| m as usize == list.len()) {
                    Ty::Tuple(
                        list.iter()
                            .enumerate()
                            .map(|(i, s)| self.ty(*s, &format!("{name}{i}")))
                            .collect(),
                    )
                } else {
                    self.warn(id, "a tuple whose length is not fixed has no Rust tuple type; using `Vec<serde_json::Value>`".into());
                    Ty::Vec(Box::new(Ty::Value))
                }
            }
        }
    }

    fn object_type(&mut self, id: SchemaId, o: &SchemaObject, name: &str) -> Ty {
        if o.properties.is_empty() {
            return match o.additional_properties {
                Some(a) => match &self.api.schema(a).body {
                    SchemaBody::Bool(true) => Ty::Object,
                    SchemaBody::Bool(false) => {
                        self.warn(
                            id,
                            "an object that allows no property at all; using an empty map".into(),
                        );
                        Ty::Object
                    }
                    _ => Ty::Map(Box::new(self.ty(a, &format!("{name}Value")))),
                },
                None => Ty::Object,
            };
        }
        let props: Vec<(String, SchemaId)> = o.properties.clone();
        self.struct_entry(
            id,
            name,
            doc_of(o),
            &props,
            &o.required,
            o.additional_properties,
            None,
        )
    }

    /// Builds a struct entry (memoized under `id` unless `skip` removes a tag property).
    #[allow(clippy::too_many_arguments)]
    fn struct_entry(
        &mut self,
        id: SchemaId,
        name: &str,
        doc: Option<String>,
        props: &[(String, SchemaId)],
        required: &[String],
        additional: Option<SchemaId>,
        skip: Option<&str>,
    ) -> Ty {
        let idx = self.new_entry(name, doc);
        if skip.is_none() {
            self.memo.insert(id, Ty::Named(idx));
        }
        let struct_name = self.entries[idx].name.clone();
        let mut fnames = NameSet::default();
        // The map of unnamed properties is `extra`, unless a property takes that name.
        let extra_name = if props.iter().any(|(k, _)| field_name(k) == "extra") {
            "additional_properties"
        } else {
            "extra"
        };
        fnames.reserve(&[extra_name]);
        let mut fields = Vec::new();
        for (json, pid) in props {
            if skip == Some(json.as_str()) {
                continue;
            }
            let ty = self.ty(*pid, &format!("{struct_name}{}", type_name(json)));
            let doc = match &self.api.schema(*pid).body {
                SchemaBody::Object(po) => doc_of(po),
                _ => None,
            };
            let optional = !required.contains(json);
            // A required property whose schema is nullable stays `Option` but is always written.
            fields.push(Field {
                rust: fnames.unique_field(&field_name(json)),
                json: json.clone(),
                ty,
                optional,
                doc,
            });
        }
        let (deny_unknown, extra) = match additional.map(|a| &self.api.schema(a).body) {
            None | Some(SchemaBody::Bool(true)) => {
                (false, Some((extra_name.to_owned(), Ty::Value)))
            }
            Some(SchemaBody::Bool(false)) => (true, None),
            Some(_) => {
                let a = additional.expect("matched Some");
                (
                    false,
                    Some((
                        extra_name.to_owned(),
                        self.ty(a, &format!("{struct_name}Extra")),
                    )),
                )
            }
        };
        self.entries[idx].kind = Kind::Struct {
            fields,
            deny_unknown,
            extra,
        };
        Ty::Named(idx)
    }

    /// `allOf`: the properties of every part merged into one struct.
    fn all_of(&mut self, id: SchemaId, o: &SchemaObject, name: &str) -> Ty {
        let mut props: Vec<(String, SchemaId)> = o.properties.clone();
        let mut required: Vec<String> = o.required.clone();
        let mut additional = o.additional_properties;
        let mut ok = true;
        let mut stack: Vec<SchemaId> = o.all_of.iter().rev().copied().collect();
        let mut seen = HashSet::new();
        let only_ref = o.properties.is_empty() && o.all_of.len() == 1;
        while let Some(part) = stack.pop() {
            if !seen.insert(part) {
                continue;
            }
            match &self.api.schema(part).body {
                SchemaBody::Object(p) => {
                    let object_like = p.types.iter().all(|t| *t == JsonType::Object)
                        && p.one_of.is_empty()
                        && p.any_of.is_empty()
                        && p.enum_values.is_none();
                    if !object_like {
                        ok = false;
                        continue;
                    }
                    for (k, v) in &p.properties {
                        if !props.iter().any(|(pk, _)| pk == k) {
                            props.push((k.clone(), *v));
                        }
                    }
                    required.extend(p.required.iter().cloned());
                    if p.additional_properties.is_some() && additional.is_none() {
                        additional = p.additional_properties;
                    }
                    stack.extend(p.all_of.iter().rev().copied());
                }
                SchemaBody::Bool(true) => {}
                _ => ok = false,
            }
        }
        if only_ref && ok && props.is_empty() {
            // `allOf: [$ref]` is the referenced type itself.
            return self.ty(o.all_of[0], name);
        }
        if !ok || props.is_empty() {
            self.warn(id, "`allOf` of parts that are not all objects has no Rust type; using `serde_json::Value`".into());
            return Ty::Value;
        }
        self.struct_entry(id, name, doc_of(o), &props, &required, additional, None)
    }

    /// The constant value of a property in an object schema (`const` or a one-value `enum`).
    fn tag_value(&self, object: SchemaId, prop: &str) -> Option<String> {
        let SchemaBody::Object(o) = &self.api.schema(object).body else {
            return None;
        };
        let (_, pid) = o.properties.iter().find(|(k, _)| k == prop)?;
        let SchemaBody::Object(p) = &self.api.schema(*pid).body else {
            return None;
        };
        match (&p.const_value, &p.enum_values) {
            (Some(Value::String(c)), _) => Some(c.clone()),
            (None, Some(e)) if e.len() == 1 => e[0].as_str().map(str::to_owned),
            _ => None,
        }
    }

    /// `oneOf`/`anyOf`: tagged when a discriminator or a distinguishing constant exists,
    /// untagged otherwise.
    fn union(
        &mut self,
        id: SchemaId,
        o: &SchemaObject,
        alternatives: &[SchemaId],
        name: &str,
    ) -> Ty {
        let idx = self.new_entry(name, doc_of(o));
        self.memo.insert(id, Ty::Named(idx));
        let enum_name = self.entries[idx].name.clone();
        // Candidate tag: the discriminator, or a property every alternative fixes to a
        // different constant.
        let tag = o.discriminator.clone().or_else(|| {
            let SchemaBody::Object(first) = &self.api.schema(*alternatives.first()?).body else {
                return None;
            };
            first
                .properties
                .iter()
                .map(|(k, _)| k.clone())
                .find(|k| alternatives.iter().all(|a| self.tag_value(*a, k).is_some()))
        });
        let tag_values: Option<Vec<String>> = tag
            .as_ref()
            .and_then(|t| alternatives.iter().map(|a| self.tag_value(*a, t)).collect());
        let distinct = tag_values.as_ref().is_some_and(|v| {
            let mut s = v.clone();
            s.sort();
            s.dedup();
            s.len() == v.len()
        });
        let mut vnames = NameSet::default();
        if let (Some(tag), Some(values), true) = (tag, tag_values, distinct) {
            let mut variants = Vec::new();
            for (alt, value) in alternatives.iter().zip(values) {
                let vname = vnames.unique(&variant_name(&value));
                let SchemaBody::Object(ao) = &self.api.schema(*alt).body else {
                    continue;
                };
                let ao = (**ao).clone();
                let content = self.struct_entry(
                    *alt,
                    &format!("{enum_name}{vname}"),
                    doc_of(&ao),
                    &ao.properties,
                    &ao.required,
                    ao.additional_properties,
                    Some(&tag),
                );
                variants.push((vname, value, content));
            }
            self.entries[idx].kind = Kind::Tagged(tag, variants);
            return Ty::Named(idx);
        }
        let mut variants = Vec::new();
        for (i, alt) in alternatives.iter().enumerate() {
            let s = self.api.schema(*alt);
            let base = match (&s.name, &s.body) {
                (Some(n), _) => variant_name(n),
                (None, SchemaBody::Object(ao)) => match ao.types.as_slice() {
                    [JsonType::String] => "String".into(),
                    [JsonType::Integer] => "Integer".into(),
                    [JsonType::Number] => "Number".into(),
                    [JsonType::Boolean] => "Boolean".into(),
                    [JsonType::Array] => "Array".into(),
                    [JsonType::Null] => "Null".into(),
                    _ => format!("Variant{}", i + 1),
                },
                _ => format!("Variant{}", i + 1),
            };
            let vname = vnames.unique(&base);
            let ty = self.ty(*alt, &format!("{enum_name}{vname}"));
            variants.push((vname, ty));
        }
        self.entries[idx].kind = Kind::Untagged(variants);
        Ty::Named(idx)
    }

    /// Boxes the fields and variants through which a type would contain itself.
    pub fn box_recursion(&mut self) {
        fn direct(t: &Ty) -> Option<usize> {
            match t {
                Ty::Named(i) => Some(*i),
                Ty::Option(inner) => direct(inner),
                _ => None,
            }
        }
        let n = self.entries.len();
        let mut edges: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, e) in self.entries.iter().enumerate() {
            let tys: Vec<&Ty> = match &e.kind {
                Kind::Struct { fields, .. } => fields.iter().map(|f| &f.ty).collect(),
                Kind::Untagged(v) => v.iter().map(|(_, t)| t).collect(),
                Kind::Tagged(_, v) => v.iter().map(|(_, _, t)| t).collect(),
                Kind::Alias(t) => vec![t],
                Kind::StringEnum(_) => vec![],
            };
            edges[i] = tys.into_iter().filter_map(direct).collect();
        }
        let reaches = |from: usize, to: usize| -> bool {
            let mut stack = vec![from];
            let mut seen = vec![false; n];
            while let Some(x) = stack.pop() {
                if x == to {
                    return true;
                }
                if std::mem::replace(&mut seen[x], true) {
                    continue;
                }
                stack.extend(edges[x].iter().copied());
            }
            false
        };
        fn boxed(t: &Ty) -> Ty {
            match t {
                Ty::Option(inner) => Ty::Option(Box::new(boxed(inner))),
                other => Ty::Boxed(Box::new(other.clone())),
            }
        }
        for i in 0..n {
            let kind = self.entries[i].kind.clone();
            let fix = |t: &Ty| -> Ty {
                match direct(t) {
                    Some(j) if reaches(j, i) => boxed(t),
                    _ => t.clone(),
                }
            };
            self.entries[i].kind = match kind {
                Kind::Struct {
                    fields,
                    deny_unknown,
                    extra,
                } => Kind::Struct {
                    fields: fields
                        .into_iter()
                        .map(|f| Field {
                            ty: fix(&f.ty),
                            ..f
                        })
                        .collect(),
                    deny_unknown,
                    extra,
                },
                Kind::Untagged(v) => {
                    Kind::Untagged(v.into_iter().map(|(n, t)| (n, fix(&t))).collect())
                }
                Kind::Tagged(tag, v) => Kind::Tagged(
                    tag,
                    v.into_iter().map(|(n, val, t)| (n, val, fix(&t))).collect(),
                ),
                other => other,
            };
        }
    }

    /// Adds a named entry built by hand (Avro).
    pub(crate) fn add_entry(&mut self, base: &str, doc: Option<String>, kind: Kind) -> usize {
        let idx = self.new_entry(base, doc);
        self.entries[idx].kind = kind;
        idx
    }

    /// Reserves an entry to fill later (Avro records that refer to themselves).
    pub(crate) fn reserve_entry(&mut self, base: &str, doc: Option<String>) -> usize {
        self.new_entry(base, doc)
    }

    /// Fills a reserved entry.
    pub(crate) fn set_kind(&mut self, idx: usize, kind: Kind) {
        self.entries[idx].kind = kind;
    }

    /// Records a warning about a schema.
    pub(crate) fn warn_at(&mut self, id: SchemaId, message: String) {
        self.warn(id, message);
    }

    /// The Rust type tokens of `t`; named types get `prefix` (e.g. `super::types::`).
    pub fn tokens(&self, t: &Ty, prefix: &TokenStream) -> TokenStream {
        match t {
            Ty::Named(i) => {
                let id = format_ident!("{}", self.entries[*i].name);
                quote!(#prefix #id)
            }
            Ty::Prim(p) => match p {
                Prim::String => quote!(String),
                Prim::Bool => quote!(bool),
                Prim::I32 => quote!(i32),
                Prim::I64 => quote!(i64),
                Prim::U32 => quote!(u32),
                Prim::U64 => quote!(u64),
                Prim::F32 => quote!(f32),
                Prim::F64 => quote!(f64),
                Prim::DateTime => quote!(DateTime),
                Prim::Date => quote!(Date),
                Prim::Uuid => quote!(Uuid),
                Prim::Unit => quote!(()),
            },
            Ty::Vec(inner) => {
                let i = self.tokens(inner, prefix);
                quote!(Vec<#i>)
            }
            Ty::Map(inner) => {
                let i = self.tokens(inner, prefix);
                quote!(BTreeMap<String, #i>)
            }
            Ty::Option(inner) => {
                let i = self.tokens(inner, prefix);
                quote!(Option<#i>)
            }
            Ty::Boxed(inner) => {
                let i = self.tokens(inner, prefix);
                quote!(Box<#i>)
            }
            Ty::Tuple(items) => {
                let is: Vec<TokenStream> = items.iter().map(|t| self.tokens(t, prefix)).collect();
                quote!((#(#is),*))
            }
            Ty::Value => quote!(Value),
            Ty::Object => quote!(Map<String, Value>),
        }
    }
}

fn integer(o: &SchemaObject) -> Prim {
    let unsigned =
        o.minimum.is_some_and(|m| m >= 0.0) || o.exclusive_minimum.is_some_and(|m| m >= -1.0);
    match o.format.as_deref() {
        Some("int32") if unsigned => Prim::U32,
        Some("int32") => Prim::I32,
        Some("uint32") => Prim::U32,
        Some("uint64") => Prim::U64,
        _ if unsigned && o.maximum.is_some_and(|m| m <= f64::from(u32::MAX)) => Prim::U32,
        _ if unsigned => Prim::U64,
        _ if o.minimum.is_some_and(|m| m >= f64::from(i32::MIN))
            && o.maximum.is_some_and(|m| m <= f64::from(i32::MAX)) =>
        {
            Prim::I32
        }
        _ => Prim::I64,
    }
}

/// The value a required field of type `ty` always has, when its schema allows one value only
/// (a `const` discriminator: a string enum of one variant).
fn fixed_value(space: &TypeSpace<'_>, ty: &Ty) -> Option<TokenStream> {
    let Ty::Named(i) = ty else {
        return None;
    };
    let entry = &space.entries[*i];
    match &entry.kind {
        Kind::StringEnum(variants) if variants.len() == 1 => {
            let name = format_ident!("{}", entry.name);
            let variant = format_ident!("{}", variants[0].0);
            Some(quote!(#name::#variant))
        }
        _ => None,
    }
}

/// How a struct is built without naming every field: `Default` when no property is required
/// (the returned derive), else `new` with the required properties (fixed discriminators filled
/// in); `with_…` for each optional property and `with_property` for one the schema does not
/// name.
fn constructors(
    space: &TypeSpace<'_>,
    name: &str,
    fields: &[Field],
    extra: &Option<(String, Ty)>,
) -> (TokenStream, TokenStream) {
    let none = TokenStream::new();
    let type_ident = format_ident!("{}", name);
    let string = Ty::Prim(Prim::String);
    // A parameter type and the expression that stores it.
    let param = |f: &Field, ty: &Ty| -> (TokenStream, TokenStream) {
        let fname = ident(&f.rust);
        if *ty == string {
            (quote!(impl Into<String>), quote!(#fname.into()))
        } else {
            (space.tokens(ty, &none), quote!(#fname))
        }
    };
    let required: Vec<&Field> = fields.iter().filter(|f| !f.optional).collect();
    let mut methods = Vec::new();
    let mut default_impl = None;
    let default = if required.is_empty() {
        quote!(Default,)
    } else {
        let mut args = Vec::new();
        let mut inits = Vec::new();
        for f in fields {
            let fname = ident(&f.rust);
            if f.optional {
                inits.push(quote!(#fname: None,));
            } else if let Some(value) = fixed_value(space, &f.ty) {
                inits.push(quote!(#fname: #value,));
            } else {
                let (ty, value) = param(f, &f.ty);
                args.push(quote!(#fname: #ty));
                if f.ty == string {
                    inits.push(quote!(#fname: #value,));
                } else {
                    inits.push(quote!(#fname,));
                }
            }
        }
        if let Some((n, _)) = extra {
            let n = ident(n);
            inits.push(quote!(#n: BTreeMap::new(),));
        }
        let doc = format!(
            " A `{name}` with its required properties{}.",
            if fields.len() > required.len() || extra.is_some() {
                "; the others are unset"
            } else {
                ""
            }
        );
        let allow = (args.len() > 7).then(|| quote!(#[allow(clippy::too_many_arguments)]));
        methods.push(quote! {
            #[doc = #doc]
            #allow
            pub fn new(#(#args),*) -> Self {
                #type_ident { #(#inits)* }
            }
        });
        if args.is_empty() {
            // Every required property is fixed: `new()` is the default value.
            default_impl = Some(quote! {
                impl Default for #type_ident {
                    fn default() -> Self {
                        Self::new()
                    }
                }
            });
        }
        quote!()
    };
    let mut setters: Vec<String> = Vec::new();
    for f in fields.iter().filter(|f| f.optional) {
        let fname = ident(&f.rust);
        let base = f.rust.trim_start_matches("r#").trim_start_matches('_');
        let setter = format!("with_{base}");
        if base.is_empty() || setters.contains(&setter) {
            continue;
        }
        let method = format_ident!("{}", setter);
        setters.push(setter);
        let inner = match &f.ty {
            Ty::Option(t) => t.as_ref(),
            t => t,
        };
        let (ty, value) = param(f, inner);
        let doc = format!(" Sets `{}`.", f.json);
        methods.push(quote! {
            #[doc = #doc]
            pub fn #method(mut self, #fname: #ty) -> Self {
                self.#fname = Some(#value);
                self
            }
        });
    }
    if let Some((n, t)) = extra
        && !setters.iter().any(|s| s == "with_property")
    {
        let n = ident(n);
        let ty = space.tokens(t, &none);
        methods.push(quote! {
            /// Sets a property the schema does not name.
            pub fn with_property(mut self, name: impl Into<String>, value: #ty) -> Self {
                self.#n.insert(name.into(), value);
                self
            }
        });
    }
    let constructors = (!methods.is_empty()).then(|| {
        quote! {
            impl #type_ident {
                #(#methods)*
            }
        }
    });
    (default, quote!(#constructors #default_impl))
}

/// Emits every entry of the type space.
///
/// `serde_crate` is the path serde derives use (`asyncforge_runtime::codegen::serde`), so
/// the generated crate needs no direct serde dependency.
pub fn emit(space: &TypeSpace<'_>, serde_crate: &str) -> TokenStream {
    let none = TokenStream::new();
    let serde_attr = quote!(#[serde(crate = #serde_crate)]);
    let items = space.entries.iter().map(|e| {
        let name = format_ident!("{}", e.name);
        let doc = doc_attrs(e.doc.as_deref());
        match &e.kind {
            Kind::Struct {
                fields,
                deny_unknown,
                extra,
            } => {
                let deny = deny_unknown.then(|| quote!(#[serde(deny_unknown_fields)]));
                let struct_fields = fields;
                let fields = fields.iter().map(|f| {
                    let fname = ident(&f.rust);
                    let doc = doc_attrs(f.doc.as_deref());
                    let ty = space.tokens(&f.ty, &none);
                    let rename = (f.rust.trim_start_matches("r#") != f.json).then(|| {
                        let j = &f.json;
                        quote!(#[serde(rename = #j)])
                    });
                    // Decoders as strict as the schema where serde's are not (see the
                    // runtime's `types::strict`): a present optional property is not `null`,
                    // a UUID is hyphenated.
                    let uuid = f.ty == Ty::Prim(Prim::Uuid);
                    if f.optional && !matches!(f.ty, Ty::Option(_)) {
                        let with = if uuid { "strict::present_uuid" } else { "strict::present" };
                        quote! {
                            #doc
                            #rename
                            #[serde(default, deserialize_with = #with, skip_serializing_if = "Option::is_none")]
                            pub #fname: Option<#ty>,
                        }
                    } else if f.optional {
                        quote! {
                            #doc
                            #rename
                            #[serde(default, skip_serializing_if = "Option::is_none")]
                            pub #fname: #ty,
                        }
                    } else if uuid {
                        quote! {
                            #doc
                            #rename
                            #[serde(deserialize_with = "strict::uuid")]
                            pub #fname: #ty,
                        }
                    } else {
                        quote! {
                            #doc
                            #rename
                            pub #fname: #ty,
                        }
                    }
                });
                let extra_field = extra.as_ref().map(|(n, t)| {
                    let ty = space.tokens(t, &none);
                    let n = ident(n);
                    quote! {
                        /// Properties the schema does not name.
                        #[serde(flatten, default, skip_serializing_if = "BTreeMap::is_empty")]
                        pub #n: BTreeMap<String, #ty>,
                    }
                });
                let (default, constructors) = constructors(space, &e.name, struct_fields, extra);
                quote! {
                    #doc
                    #[derive(Debug, Clone, PartialEq, #default Serialize, Deserialize)]
                    #serde_attr
                    #deny
                    pub struct #name {
                        #(#fields)*
                        #extra_field
                    }

                    #constructors
                }
            }
            Kind::StringEnum(variants) => {
                let vs = variants.iter().map(|(v, json)| {
                    let vi = format_ident!("{}", v);
                    let d = format!(" `{json}`");
                    quote! {
                        #[doc = #d]
                        #[serde(rename = #json)]
                        #vi,
                    }
                });
                let arms = variants.iter().map(|(v, json)| {
                    let vi = format_ident!("{}", v);
                    quote!(#name::#vi => #json,)
                });
                let picks = variants.iter().map(|(v, json)| {
                    let vi = format_ident!("{}", v);
                    quote!(#json => Some(#name::#vi),)
                });
                let values = variants.iter().map(|(_, json)| json);
                quote! {
                    #doc
                    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
                    #serde_attr
                    pub enum #name {
                        #(#vs)*
                    }

                    /// Read from a JSON string only.
                    impl<'de> Deserialize<'de> for #name {
                        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                            strict::string_enum(d, Self::VALUES, Self::from_value)
                        }
                    }

                    impl #name {
                        /// Every value, as written in the specification.
                        #[rustfmt::skip]
                        pub const VALUES: &'static [&'static str] = &[#(#values),*];

                        /// The value as written in the specification.
                        pub fn as_str(&self) -> &'static str {
                            match self {
                                #(#arms)*
                            }
                        }

                        /// The variant written `value` in the specification.
                        #[rustfmt::skip]
                        pub fn from_value(value: &str) -> Option<Self> {
                            match value {
                                #(#picks)*
                                _ => None,
                            }
                        }
                    }

                    impl std::fmt::Display for #name {
                        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                            f.write_str(self.as_str())
                        }
                    }
                }
            }
            Kind::Untagged(variants) => {
                let vs = variants.iter().map(|(v, t)| {
                    let vi = format_ident!("{}", v);
                    let ty = space.tokens(t, &none);
                    quote!(#vi(#ty),)
                });
                quote! {
                    #doc
                    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
                    #serde_attr
                    #[serde(untagged)]
                    pub enum #name {
                        #(#vs)*
                    }
                }
            }
            Kind::Tagged(tag, variants) => {
                let vs = variants.iter().map(|(v, value, t)| {
                    let vi = format_ident!("{}", v);
                    let ty = space.tokens(t, &none);
                    quote! {
                        #[serde(rename = #value)]
                        #vi(#ty),
                    }
                });
                quote! {
                    #doc
                    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
                    #serde_attr
                    #[serde(tag = #tag)]
                    pub enum #name {
                        #(#vs)*
                    }
                }
            }
            Kind::Alias(t) => {
                let ty = space.tokens(t, &none);
                quote! {
                    #doc
                    pub type #name = #ty;
                }
            }
        }
    });
    quote!(#(#items)*)
}

#[cfg(test)]
mod prelude_tests {
    #[test]
    fn a_schema_named_like_a_prelude_item_does_not_shadow_it() {
        let checked = asyncforge_spec::load_bytes(
            std::path::Path::new("api.yaml"),
            b"asyncapi: 3.0.0\ninfo: {title: T, version: '1'}\ncomponents:\n  schemas:\n    default: {type: object, properties: {a: {type: string}}}\n    some: {type: object, properties: {b: {type: string}}}\n",
            &asyncforge_spec::LoadOptions::default(),
        );
        let api = checked.lower().expect("lowers");
        let settings = crate::Settings::default().layout(crate::Layout::Module);
        let generated = crate::generate(&api, &settings).expect("generates");
        let text = &generated.files[0].contents;
        assert!(text.contains("pub struct DefaultSchema"), "{text}");
        assert!(text.contains("pub struct SomeSchema"), "{text}");
        assert!(!text.contains("pub struct Default "), "{text}");
    }
}
