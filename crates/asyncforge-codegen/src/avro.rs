//! Apache Avro schemas (`application/vnd.apache.avro*`) as Rust types, in Avro's JSON
//! encoding: records → structs, enums → enums, arrays, maps, fixed and bytes → strings,
//! `["null", T]` → `Option<T>`, other unions → untagged enums.

use std::collections::HashMap;

use asyncforge_spec::ir::SchemaId;
use serde_json::Value;

use crate::names::{NameSet, field_name, type_name, variant_name};
use crate::types::{Field, Kind, Prim, Ty, TypeSpace};

/// The type of an Avro schema.
pub fn ty(space: &mut TypeSpace<'_>, id: SchemaId, schema: &Value, hint: &str) -> Ty {
    let mut named: HashMap<String, Ty> = HashMap::new();
    convert(space, id, schema, hint, &mut named, 0)
}

fn convert(
    space: &mut TypeSpace<'_>,
    id: SchemaId,
    s: &Value,
    hint: &str,
    named: &mut HashMap<String, Ty>,
    depth: usize,
) -> Ty {
    if depth > 64 {
        space.warn_at(
            id,
            "Avro schema nested too deeply; using `serde_json::Value`".into(),
        );
        return Ty::Value;
    }
    match s {
        Value::String(t) => primitive(t).unwrap_or_else(|| {
            match named
                .get(t)
                .or_else(|| named.get(t.rsplit('.').next().unwrap_or(t)))
            {
                Some(n) => n.clone(),
                None => {
                    space.warn_at(
                        id,
                        format!("unknown Avro type `{t}`; using `serde_json::Value`"),
                    );
                    Ty::Value
                }
            }
        }),
        Value::Array(branches) => {
            let non_null: Vec<&Value> = branches
                .iter()
                .filter(|b| b.as_str() != Some("null"))
                .collect();
            let nullable = non_null.len() < branches.len();
            let inner = match non_null.as_slice() {
                [] => Ty::Prim(Prim::Unit),
                [one] => convert(space, id, one, hint, named, depth + 1),
                several => {
                    // Avro's JSON encoding wraps union values as {"type": value}; keep the
                    // plain shape users write in examples: an untagged enum of the branches.
                    let idx = space.reserve_entry(hint, None);
                    let mut vnames = NameSet::default();
                    let variants = several
                        .iter()
                        .enumerate()
                        .map(|(i, b)| {
                            let label = b
                                .as_str()
                                .map(str::to_owned)
                                .or_else(|| {
                                    b.get("name").and_then(Value::as_str).map(str::to_owned)
                                })
                                .unwrap_or_else(|| format!("Variant{}", i + 1));
                            let t = convert(
                                space,
                                id,
                                b,
                                &format!("{hint}{}", type_name(&label)),
                                named,
                                depth + 1,
                            );
                            (vnames.unique(&variant_name(&label)), t)
                        })
                        .collect();
                    space.set_kind(idx, Kind::Untagged(variants));
                    Ty::Named(idx)
                }
            };
            if nullable {
                Ty::Option(Box::new(inner))
            } else {
                inner
            }
        }
        Value::Object(o) => {
            let t = o.get("type").and_then(Value::as_str).unwrap_or_default();
            let doc = o.get("doc").and_then(Value::as_str).map(str::to_owned);
            match t {
                "record" | "error" => {
                    let name = o
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or(hint)
                        .to_owned();
                    let idx = space.reserve_entry(&name, doc);
                    named.insert(name.clone(), Ty::Named(idx));
                    if let Some(ns) = o.get("namespace").and_then(Value::as_str) {
                        named.insert(format!("{ns}.{name}"), Ty::Named(idx));
                    }
                    let mut fnames = NameSet::default();
                    let mut fields = Vec::new();
                    for f in o
                        .get("fields")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        let Some(fname) = f.get("name").and_then(Value::as_str) else {
                            continue;
                        };
                        let fty = f.get("type").cloned().unwrap_or(Value::Null);
                        let ty = convert(
                            space,
                            id,
                            &fty,
                            &format!("{name}{}", type_name(fname)),
                            named,
                            depth + 1,
                        );
                        let mut fdoc = f.get("doc").and_then(Value::as_str).map(str::to_owned);
                        if let Some(d) = f.get("default") {
                            let note = format!("Default: `{d}`.");
                            fdoc = Some(match fdoc {
                                Some(x) => format!("{x}\n\n{note}"),
                                None => note,
                            });
                        }
                        let optional = matches!(ty, Ty::Option(_));
                        fields.push(Field {
                            rust: fnames.unique_field(&field_name(fname)),
                            json: fname.to_owned(),
                            ty,
                            optional,
                            doc: fdoc,
                        });
                    }
                    space.set_kind(
                        idx,
                        Kind::Struct {
                            fields,
                            deny_unknown: false,
                            extra: None,
                        },
                    );
                    Ty::Named(idx)
                }
                "enum" => {
                    let name = o
                        .get("name")
                        .and_then(Value::as_str)
                        .unwrap_or(hint)
                        .to_owned();
                    let mut vnames = NameSet::default();
                    let variants = o
                        .get("symbols")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .map(|sym| (vnames.unique(&variant_name(sym)), sym.to_owned()))
                        .collect();
                    let idx = space.add_entry(&name, doc, Kind::StringEnum(variants));
                    named.insert(name, Ty::Named(idx));
                    Ty::Named(idx)
                }
                "array" => {
                    let items = o.get("items").cloned().unwrap_or(Value::Null);
                    Ty::Vec(Box::new(convert(
                        space,
                        id,
                        &items,
                        &format!("{hint}Item"),
                        named,
                        depth + 1,
                    )))
                }
                "map" => {
                    let values = o.get("values").cloned().unwrap_or(Value::Null);
                    Ty::Map(Box::new(convert(
                        space,
                        id,
                        &values,
                        &format!("{hint}Value"),
                        named,
                        depth + 1,
                    )))
                }
                "fixed" => {
                    if let Some(n) = o.get("name").and_then(Value::as_str) {
                        named.insert(n.to_owned(), Ty::Prim(Prim::String));
                    }
                    Ty::Prim(Prim::String)
                }
                other => match o.get("logicalType").and_then(Value::as_str) {
                    Some("uuid") if other == "string" => Ty::Prim(Prim::Uuid),
                    _ => primitive(other).unwrap_or_else(|| {
                        convert(
                            space,
                            id,
                            &Value::String(other.to_owned()),
                            hint,
                            named,
                            depth + 1,
                        )
                    }),
                },
            }
        }
        _ => {
            space.warn_at(id, "not an Avro schema; using `serde_json::Value`".into());
            Ty::Value
        }
    }
}

fn primitive(t: &str) -> Option<Ty> {
    Some(match t {
        "null" => Ty::Prim(Prim::Unit),
        "boolean" => Ty::Prim(Prim::Bool),
        "int" => Ty::Prim(Prim::I32),
        "long" => Ty::Prim(Prim::I64),
        "float" => Ty::Prim(Prim::F32),
        "double" => Ty::Prim(Prim::F64),
        "bytes" | "string" => Ty::Prim(Prim::String),
        _ => return None,
    })
}
