//! Schema compatibility: does the new schema accept more, fewer, or other values than the old?
//!
//! Two IR schemas (each in its own [`Api`]) are walked side by side. Every difference that
//! changes the set of accepted values becomes a [`Finding`] with its [`Effect`] and the path of
//! the instance location it applies to (`/order/items/[]/sku`). A pair of schema ids is
//! compared once per walk, so shared and recursive schemas cost one visit and never loop.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use serde_json::Value;

use crate::ir::{Api, Items, JsonType, SchemaBody, SchemaId, SchemaObject, Source};

/// Deepest nesting compared; deeper differences are reported as unclassified.
const MAX_DEPTH: usize = 128;

/// What a schema change does to the set of accepted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// Same values accepted (documentation, annotations).
    None,
    /// The new schema accepts values the old one rejected, and rejects nothing it accepted.
    Widened,
    /// The new schema rejects values the old one accepted, and accepts nothing new.
    Narrowed,
    /// Both: some values are newly accepted, others newly rejected.
    Changed,
    /// The change cannot be decided (a changed `pattern`, `not`, a foreign schema language).
    Unknown,
}

impl Effect {
    fn of(widened: bool, narrowed: bool) -> Effect {
        match (widened, narrowed) {
            (false, false) => Effect::None,
            (true, false) => Effect::Widened,
            (false, true) => Effect::Narrowed,
            (true, true) => Effect::Changed,
        }
    }

    /// Both effects together.
    pub fn and(self, other: Effect) -> Effect {
        use Effect::*;
        match (self, other) {
            (Unknown, _) | (_, Unknown) => Unknown,
            (None, e) | (e, None) => e,
            (a, b) if a == b => a,
            _ => Changed,
        }
    }

    /// The effect of a change seen in the opposite direction (new → old).
    pub fn reversed(self) -> Effect {
        match self {
            Effect::Widened => Effect::Narrowed,
            Effect::Narrowed => Effect::Widened,
            e => e,
        }
    }
}

/// One difference between two schemas.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// Stable code suffix (`type-narrowed`, `required-added`, …; see `docs/diff.md`).
    pub code: &'static str,
    /// What it does to the accepted values.
    pub effect: Effect,
    /// Instance path inside the value the schema describes (`""` is the value itself).
    pub path: String,
    /// What changed, in words.
    pub detail: String,
    /// The old schema node it was found at.
    pub old: Source,
    /// The new schema node it was found at.
    pub new: Source,
}

/// The combined effect of a list of findings.
pub fn overall(findings: &[Finding]) -> Effect {
    findings.iter().fold(Effect::None, |e, f| e.and(f.effect))
}

/// Compares the schema `old` of `old_api` with `new` of `new_api`.
pub fn compare(old_api: &Api, old: SchemaId, new_api: &Api, new: SchemaId) -> Vec<Finding> {
    let mut walk = Walk::new(old_api, new_api);
    let (os, ns) = (
        old_api.schema(old).source.clone(),
        new_api.schema(new).source.clone(),
    );
    walk.cmp(Some(old), Some(new), "", &os, &ns, 0);
    walk.out
}

/// Compares two optional schemas (absent: anything is accepted); findings at an absent side
/// point at its `parent`.
pub fn compare_opt(
    old_api: &Api,
    old: Option<SchemaId>,
    old_parent: &Source,
    new_api: &Api,
    new: Option<SchemaId>,
    new_parent: &Source,
) -> Vec<Finding> {
    let mut walk = Walk::new(old_api, new_api);
    walk.cmp(old, new, "", old_parent, new_parent, 0);
    walk.out
}

/// Compares the schemas of a channel parameter. Its `enum` is left out: the parameter's allowed
/// values are compared instead.
pub fn compare_parameter(
    old_api: &Api,
    old: Option<SchemaId>,
    old_parent: &Source,
    new_api: &Api,
    new: Option<SchemaId>,
    new_parent: &Source,
) -> Vec<Finding> {
    let mut walk = Walk::new(old_api, new_api);
    walk.cmp(old, new, "", old_parent, new_parent, 0);
    walk.out
        .retain(|f| !(f.path.is_empty() && f.code.starts_with("enum-")));
    walk.out
}

/// Whether two schemas accept exactly the same values (annotations may differ).
pub fn equivalent(old_api: &Api, old: SchemaId, new_api: &Api, new: SchemaId) -> bool {
    compare(old_api, old, new_api, new)
        .iter()
        .all(|f| f.effect == Effect::None)
}

/// A schema as the comparison sees it; an absent schema accepts anything.
#[derive(Clone, Copy)]
enum View<'a> {
    Any,
    Nothing,
    Object(&'a SchemaObject),
    Foreign(&'a Value),
}

static EMPTY: std::sync::LazyLock<SchemaObject> = std::sync::LazyLock::new(SchemaObject::default);

impl<'a> View<'a> {
    fn object(self) -> Option<&'a SchemaObject> {
        match self {
            View::Object(o) => Some(o),
            View::Any => Some(&EMPTY),
            _ => None,
        }
    }
}

struct Walk<'a> {
    old: &'a Api,
    new: &'a Api,
    /// Pairs this walk has reported on.
    seen: HashSet<Pair>,
    out: Vec<Finding>,
    /// Effects of pairs, shared by a walk and the walks it starts to weigh a subschema.
    shared: Rc<RefCell<Effects>>,
}

/// An old and a new schema id.
type Pair = (Option<SchemaId>, Option<SchemaId>);

/// Effects already computed, and those being computed (a pair met again while it is being
/// computed is taken as unchanged: recursion adds no difference of its own).
#[derive(Default)]
struct Effects {
    done: HashMap<Pair, Effect>,
    open: HashSet<Pair>,
}

/// Old or new id with the source to report when it is absent.
type Side<'s> = (Option<SchemaId>, &'s Source);

impl<'a> Walk<'a> {
    fn new(old: &'a Api, new: &'a Api) -> Self {
        Walk {
            old,
            new,
            seen: HashSet::new(),
            out: Vec::new(),
            shared: Rc::default(),
        }
    }

    fn view(api: &'a Api, id: Option<SchemaId>) -> View<'a> {
        let Some(id) = id else { return View::Any };
        match &api.schema(id).body {
            SchemaBody::Bool(true) => View::Any,
            SchemaBody::Bool(false) => View::Nothing,
            SchemaBody::Object(o) => View::Object(o),
            SchemaBody::Foreign(v) => View::Foreign(v),
        }
    }

    fn src(api: &'a Api, id: Option<SchemaId>, parent: &Source) -> Source {
        id.map(|i| api.schema(i).source.clone())
            .unwrap_or_else(|| parent.clone())
    }

    /// The effect of comparing two subschemas, without reporting anything.
    fn effect_of(&self, o: Side<'_>, n: Side<'_>, depth: usize) -> Effect {
        let key = (o.0, n.0);
        {
            let shared = self.shared.borrow();
            if let Some(e) = shared.done.get(&key) {
                return *e;
            }
            if shared.open.contains(&key) {
                return Effect::None;
            }
        }
        self.shared.borrow_mut().open.insert(key);
        let mut w = Walk {
            old: self.old,
            new: self.new,
            seen: HashSet::new(),
            out: Vec::new(),
            shared: Rc::clone(&self.shared),
        };
        w.cmp(o.0, n.0, "", o.1, n.1, depth + 1);
        let effect = overall(&w.out);
        let mut shared = self.shared.borrow_mut();
        shared.open.remove(&key);
        shared.done.insert(key, effect);
        effect
    }

    fn cmp(
        &mut self,
        o: Option<SchemaId>,
        n: Option<SchemaId>,
        path: &str,
        o_parent: &Source,
        n_parent: &Source,
        depth: usize,
    ) {
        if o.is_none() && n.is_none() {
            return;
        }
        if !self.seen.insert((o, n)) {
            return;
        }
        let os = Self::src(self.old, o, o_parent);
        let ns = Self::src(self.new, n, n_parent);
        let finding = |code, effect, detail: String| Finding {
            code,
            effect,
            path: path.to_owned(),
            detail,
            old: os.clone(),
            new: ns.clone(),
        };
        if depth > MAX_DEPTH {
            self.out.push(finding(
                "too-deep",
                Effect::Unknown,
                format!("schemas nested deeper than {MAX_DEPTH} levels were not compared"),
            ));
            return;
        }
        let (ov, nv) = (Self::view(self.old, o), Self::view(self.new, n));
        match (ov, nv) {
            (View::Nothing, View::Nothing) => return,
            (View::Nothing, _) => {
                self.out.push(finding(
                    "schema-widened",
                    Effect::Widened,
                    "accepted nothing, now accepts values".into(),
                ));
                return;
            }
            (_, View::Nothing) => {
                self.out.push(finding(
                    "schema-narrowed",
                    Effect::Narrowed,
                    "now accepts nothing".into(),
                ));
                return;
            }
            (View::Foreign(a), View::Foreign(b)) => {
                if a != b {
                    self.out.push(finding(
                        "foreign-changed",
                        Effect::Unknown,
                        "a schema in another language changed".into(),
                    ));
                }
                return;
            }
            (View::Foreign(_), _) | (_, View::Foreign(_)) => {
                self.out.push(finding(
                    "foreign-changed",
                    Effect::Unknown,
                    "the schema language changed".into(),
                ));
                return;
            }
            _ => {}
        }
        let (Some(a), Some(b)) = (ov.object(), nv.object()) else {
            return;
        };
        let mut push = |code, effect, detail: String| self.out.push(finding(code, effect, detail));
        types(a, b, &mut push);
        enums(a, b, &mut push);
        lower_bound(a, b, &mut push);
        upper_bound(a, b, &mut push);
        multiple_of(a, b, &mut push);
        count(
            a.min_length,
            b.min_length,
            true,
            ["min-length-widened", "min-length-narrowed"],
            "minLength",
            &mut push,
        );
        count(
            a.max_length,
            b.max_length,
            false,
            ["max-length-widened", "max-length-narrowed"],
            "maxLength",
            &mut push,
        );
        count(
            a.min_items,
            b.min_items,
            true,
            ["min-items-widened", "min-items-narrowed"],
            "minItems",
            &mut push,
        );
        count(
            a.max_items,
            b.max_items,
            false,
            ["max-items-widened", "max-items-narrowed"],
            "maxItems",
            &mut push,
        );
        count(
            a.min_properties,
            b.min_properties,
            true,
            ["min-properties-widened", "min-properties-narrowed"],
            "minProperties",
            &mut push,
        );
        count(
            a.max_properties,
            b.max_properties,
            false,
            ["max-properties-widened", "max-properties-narrowed"],
            "maxProperties",
            &mut push,
        );
        pattern(a, b, &mut push);
        format(a, b, &mut push);
        flag_unique(a, b, &mut push);
        required(a, b, &mut push);
        annotations(a, b, &mut push);
        self.properties(a, b, path, &os, &ns, depth);
        self.items(a, b, path, &os, &ns, depth);
        for (name, oc, nc) in [
            ("contains", a.contains, b.contains),
            ("propertyNames", a.property_names, b.property_names),
        ] {
            match (oc, nc) {
                (None, None) => {}
                (None, Some(_)) | (Some(_), None) => {
                    let effect = if oc.is_none() {
                        Effect::Narrowed
                    } else {
                        Effect::Widened
                    };
                    let what = if oc.is_none() { "added" } else { "removed" };
                    self.out.push(Finding {
                        code: if name == "contains" {
                            "contains-changed"
                        } else {
                            "property-names-changed"
                        },
                        effect,
                        path: path.to_owned(),
                        detail: format!("`{name}` {what}"),
                        old: os.clone(),
                        new: ns.clone(),
                    });
                }
                (Some(_), Some(_)) => {
                    let sub = format!("{path}/{{{name}}}");
                    self.cmp(oc, nc, &sub, &os, &ns, depth + 1);
                }
            }
        }
        self.branches(&a.all_of, &b.all_of, Combinator::All, path, &os, &ns, depth);
        self.branches(&a.any_of, &b.any_of, Combinator::Any, path, &os, &ns, depth);
        self.branches(&a.one_of, &b.one_of, Combinator::One, path, &os, &ns, depth);
        self.undecidable(a, b, path, &os, &ns, depth);
    }

    fn properties(
        &mut self,
        a: &SchemaObject,
        b: &SchemaObject,
        path: &str,
        os: &Source,
        ns: &Source,
        depth: usize,
    ) {
        let find = |o: &SchemaObject, k: &str| {
            o.properties
                .iter()
                .find(|(name, _)| name == k)
                .map(|(_, id)| *id)
        };
        // A property not listed is checked by `additionalProperties` (absent: anything).
        for (k, oid) in &a.properties {
            let sub = format!("{path}/{}", escape(k));
            match find(b, k) {
                Some(nid) => self.cmp(Some(*oid), Some(nid), &sub, os, ns, depth + 1),
                None => {
                    let effect =
                        self.effect_of((Some(*oid), os), (b.additional_properties, ns), depth);
                    self.out.push(Finding {
                        code: "property-removed",
                        effect,
                        path: sub,
                        detail: format!("property `{k}` removed"),
                        old: Self::src(self.old, Some(*oid), os),
                        new: ns.clone(),
                    });
                }
            }
        }
        for (k, nid) in &b.properties {
            if find(a, k).is_some() {
                continue;
            }
            let effect = self.effect_of((a.additional_properties, os), (Some(*nid), ns), depth);
            self.out.push(Finding {
                code: "property-added",
                effect,
                path: format!("{path}/{}", escape(k)),
                detail: format!("property `{k}` added"),
                old: os.clone(),
                new: Self::src(self.new, Some(*nid), ns),
            });
        }
        let (oa, na) = (a.additional_properties, b.additional_properties);
        if oa.is_none() && na.is_none() {
            return;
        }
        let objects = |o| matches!(o, View::Object(_));
        if objects(Self::view(self.old, oa)) && objects(Self::view(self.new, na)) {
            self.cmp(oa, na, &format!("{path}/*"), os, ns, depth + 1);
            return;
        }
        let effect = self.effect_of((oa, os), (na, ns), depth);
        if effect != Effect::None {
            self.out.push(Finding {
                code: match effect {
                    Effect::Widened => "additional-properties-widened",
                    Effect::Narrowed => "additional-properties-narrowed",
                    _ => "additional-properties-changed",
                },
                effect,
                path: format!("{path}/*"),
                detail: "properties not listed are checked differently".into(),
                old: Self::src(self.old, oa, os),
                new: Self::src(self.new, na, ns),
            });
        }
    }

    fn items(
        &mut self,
        a: &SchemaObject,
        b: &SchemaObject,
        path: &str,
        os: &Source,
        ns: &Source,
        depth: usize,
    ) {
        match (&a.items, &b.items) {
            (None, None) => {}
            (Some(Items::Single(x)), Some(Items::Single(y))) => {
                self.cmp(Some(*x), Some(*y), &format!("{path}/[]"), os, ns, depth + 1)
            }
            (None, Some(Items::Single(y))) => {
                self.cmp(None, Some(*y), &format!("{path}/[]"), os, ns, depth + 1)
            }
            (Some(Items::Single(x)), None) => {
                self.cmp(Some(*x), None, &format!("{path}/[]"), os, ns, depth + 1)
            }
            _ => {
                // A tuple on at least one side: position by position, then the rest.
                let len = |o: &SchemaObject| match &o.items {
                    Some(Items::Tuple(t)) => t.len(),
                    _ => 0,
                };
                let at = |o: &SchemaObject, i: usize| match &o.items {
                    Some(Items::Single(s)) => Some(*s),
                    Some(Items::Tuple(t)) => t.get(i).copied().or(o.additional_items),
                    None => None,
                };
                let n = len(a).max(len(b));
                for i in 0..=n {
                    let sub = if i == n {
                        format!("{path}/[{i}..]")
                    } else {
                        format!("{path}/[{i}]")
                    };
                    self.cmp(at(a, i), at(b, i), &sub, os, ns, depth + 1);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn branches(
        &mut self,
        a: &[SchemaId],
        b: &[SchemaId],
        kind: Combinator,
        path: &str,
        os: &Source,
        ns: &Source,
        depth: usize,
    ) {
        if a.is_empty() && b.is_empty() {
            return;
        }
        let name = kind.keyword();
        if a.is_empty() || b.is_empty() {
            // Adding a combinator constrains a schema that had none; removing one frees it.
            let effect = if a.is_empty() {
                Effect::Narrowed
            } else {
                Effect::Widened
            };
            self.out.push(Finding {
                code: if a.is_empty() {
                    kind.codes().2
                } else {
                    kind.codes().3
                },
                effect,
                path: path.to_owned(),
                detail: format!(
                    "`{name}` {}",
                    if a.is_empty() { "added" } else { "removed" }
                ),
                old: os.clone(),
                new: ns.clone(),
            });
            return;
        }
        // Pair equivalent branches first (order does not matter), then the rest by position.
        let mut pair_of: Vec<Option<usize>> = vec![None; a.len()];
        let mut taken = vec![false; b.len()];
        for (i, x) in a.iter().enumerate() {
            for (j, y) in b.iter().enumerate() {
                if !taken[j]
                    && self.effect_of((Some(*x), os), (Some(*y), ns), depth) == Effect::None
                {
                    pair_of[i] = Some(j);
                    taken[j] = true;
                    break;
                }
            }
        }
        let mut rest = (0..b.len())
            .filter(|j| !taken[*j])
            .collect::<Vec<_>>()
            .into_iter();
        for p in pair_of.iter_mut() {
            if p.is_none() {
                *p = rest.next();
                if let Some(j) = *p {
                    taken[j] = true;
                }
            }
        }
        for (i, p) in pair_of.iter().enumerate() {
            let sub = format!("{path}/({name} {i})");
            match p {
                Some(j) => self.cmp(Some(a[i]), Some(b[*j]), &sub, os, ns, depth + 1),
                None => self.out.push(Finding {
                    code: kind.codes().1,
                    effect: kind.removing(),
                    path: sub,
                    detail: format!("`{name}` branch {i} removed"),
                    old: Self::src(self.old, Some(a[i]), os),
                    new: ns.clone(),
                }),
            }
        }
        for (j, t) in taken.iter().enumerate() {
            if !t {
                self.out.push(Finding {
                    code: kind.codes().0,
                    effect: kind.removing().reversed(),
                    path: format!("{path}/({name} +{j})"),
                    detail: format!("`{name}` branch {j} added"),
                    old: os.clone(),
                    new: Self::src(self.new, Some(b[j]), ns),
                });
            }
        }
    }

    /// `not`, `if`/`then`/`else` and `patternProperties`: any change is unclassified.
    fn undecidable(
        &mut self,
        a: &SchemaObject,
        b: &SchemaObject,
        path: &str,
        os: &Source,
        ns: &Source,
        depth: usize,
    ) {
        let same = |w: &Self, x: Option<SchemaId>, y: Option<SchemaId>| match (x, y) {
            (None, None) => true,
            (Some(_), Some(_)) => w.effect_of((x, os), (y, ns), depth) == Effect::None,
            _ => false,
        };
        let mut changed = Vec::new();
        if !same(self, a.not, b.not) {
            changed.push("not");
        }
        if !same(self, a.if_, b.if_) || !same(self, a.then, b.then) || !same(self, a.else_, b.else_)
        {
            changed.push("if/then/else");
        }
        let pp_same = a.pattern_properties.len() == b.pattern_properties.len()
            && a.pattern_properties.iter().all(|(k, x)| {
                b.pattern_properties
                    .iter()
                    .any(|(l, y)| k == l && same(self, Some(*x), Some(*y)))
            });
        if !pp_same {
            changed.push("patternProperties");
        }
        for kw in changed {
            self.out.push(Finding {
                code: "keyword-changed",
                effect: Effect::Unknown,
                path: path.to_owned(),
                detail: format!("`{kw}` changed"),
                old: os.clone(),
                new: ns.clone(),
            });
        }
        let unknown = |o: &SchemaObject| -> Vec<(String, Value)> {
            o.extra
                .iter()
                .filter(|(k, _)| !k.starts_with("x-") && !matches!(k.as_str(), "$id" | "$comment"))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        if unknown(a) != unknown(b) {
            self.out.push(Finding {
                code: "keyword-changed",
                effect: Effect::Unknown,
                path: path.to_owned(),
                detail: "a keyword asyncforge does not model changed".into(),
                old: os.clone(),
                new: ns.clone(),
            });
        }
    }
}

#[derive(Clone, Copy)]
enum Combinator {
    All,
    Any,
    One,
}

impl Combinator {
    fn keyword(self) -> &'static str {
        match self {
            Combinator::All => "allOf",
            Combinator::Any => "anyOf",
            Combinator::One => "oneOf",
        }
    }

    /// Codes: branch added, branch removed, keyword added, keyword removed.
    fn codes(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Combinator::All => (
                "all-of-branch-added",
                "all-of-branch-removed",
                "all-of-added",
                "all-of-removed",
            ),
            Combinator::Any => (
                "any-of-branch-added",
                "any-of-branch-removed",
                "any-of-added",
                "any-of-removed",
            ),
            Combinator::One => (
                "one-of-branch-added",
                "one-of-branch-removed",
                "one-of-added",
                "one-of-removed",
            ),
        }
    }

    /// What removing a branch does: fewer alternatives narrow, fewer conjuncts widen.
    fn removing(self) -> Effect {
        match self {
            Combinator::All => Effect::Widened,
            Combinator::Any | Combinator::One => Effect::Narrowed,
        }
    }
}

/// `~` and `/` in a property name, escaped as in a JSON pointer.
fn escape(k: &str) -> String {
    k.replace('~', "~0").replace('/', "~1")
}

type Push<'p> = dyn FnMut(&'static str, Effect, String) + 'p;

/// The types a schema allows; `None` is any type.
fn type_set(o: &SchemaObject) -> Option<Vec<JsonType>> {
    if o.types.is_empty() {
        return None;
    }
    let mut t = o.types.clone();
    if o.nullable && !t.contains(&JsonType::Null) {
        t.push(JsonType::Null);
    }
    Some(t)
}

fn covered(t: JsonType, set: &Option<Vec<JsonType>>) -> bool {
    match set {
        None => true,
        Some(s) => s.contains(&t) || (t == JsonType::Integer && s.contains(&JsonType::Number)),
    }
}

fn type_names(set: &Option<Vec<JsonType>>) -> String {
    match set {
        None => "any".into(),
        Some(s) => s
            .iter()
            .map(|t| {
                serde_json::to_value(t)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
            })
            .map(Option::unwrap_or_default)
            .collect::<Vec<_>>()
            .join("|"),
    }
}

fn types(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    let (x, y) = (type_set(a), type_set(b));
    let all = [
        JsonType::Null,
        JsonType::Boolean,
        JsonType::Integer,
        JsonType::Number,
        JsonType::String,
        JsonType::Array,
        JsonType::Object,
    ];
    let list = |s: &Option<Vec<JsonType>>| s.clone().unwrap_or_else(|| all.to_vec());
    let widened = list(&y).iter().any(|t| !covered(*t, &x));
    let narrowed = list(&x).iter().any(|t| !covered(*t, &y));
    let effect = Effect::of(widened, narrowed);
    if effect != Effect::None {
        let code = match effect {
            Effect::Widened => "type-widened",
            Effect::Narrowed => "type-narrowed",
            _ => "type-changed",
        };
        push(
            code,
            effect,
            format!("type {} → {}", type_names(&x), type_names(&y)),
        );
    }
}

/// `enum`, or `const` as a one-value enum; `None` allows every value.
fn allowed(o: &SchemaObject) -> Option<Vec<Value>> {
    match (&o.const_value, &o.enum_values) {
        (Some(c), _) => Some(vec![c.clone()]),
        (None, Some(e)) => Some(e.clone()),
        (None, None) => None,
    }
}

fn enums(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    let (x, y) = (allowed(a), allowed(b));
    let (widened, narrowed, detail) = match (&x, &y) {
        (None, None) => return,
        (None, Some(v)) => (false, true, format!("values limited to {}", short(v))),
        (Some(v), None) => (
            true,
            false,
            format!("values no longer limited to {}", short(v)),
        ),
        (Some(v), Some(w)) => {
            let added: Vec<Value> = w.iter().filter(|e| !v.contains(e)).cloned().collect();
            let removed: Vec<Value> = v.iter().filter(|e| !w.contains(e)).cloned().collect();
            let mut d = Vec::new();
            if !added.is_empty() {
                d.push(format!("added {}", short(&added)));
            }
            if !removed.is_empty() {
                d.push(format!("removed {}", short(&removed)));
            }
            (!added.is_empty(), !removed.is_empty(), d.join(", "))
        }
    };
    let effect = Effect::of(widened, narrowed);
    let code = match effect {
        Effect::None => return,
        Effect::Widened => "enum-widened",
        Effect::Narrowed => "enum-narrowed",
        _ => "enum-changed",
    };
    push(code, effect, detail);
}

fn short(v: &[Value]) -> String {
    let s = serde_json::to_string(v).unwrap_or_default();
    if s.chars().count() > 80 {
        format!("{}…", s.chars().take(80).collect::<String>())
    } else {
        s
    }
}

/// A bound: the value and whether it is exclusive.
type Bound = Option<(f64, bool)>;

/// The stricter of an inclusive and an exclusive bound (`lower`: the larger one).
fn strictest(inclusive: Option<f64>, exclusive: Option<f64>, lower: bool) -> Bound {
    match (inclusive, exclusive) {
        (None, None) => None,
        (Some(i), None) => Some((i, false)),
        (None, Some(e)) => Some((e, true)),
        (Some(i), Some(e)) => {
            let exclusive_wins = if lower { e >= i } else { e <= i };
            Some(if exclusive_wins {
                (e, true)
            } else {
                (i, false)
            })
        }
    }
}

/// Compares two bounds: `Greater` means `y` lets through fewer values than `x`.
fn bound_effect(x: Bound, y: Bound, lower: bool) -> Effect {
    match (x, y) {
        (None, None) => Effect::None,
        (None, Some(_)) => Effect::Narrowed,
        (Some(_), None) => Effect::Widened,
        (Some((xv, xe)), Some((yv, ye))) => {
            if xv == yv {
                return match (xe, ye) {
                    (false, true) => Effect::Narrowed,
                    (true, false) => Effect::Widened,
                    _ => Effect::None,
                };
            }
            let tighter = if lower { yv > xv } else { yv < xv };
            if tighter {
                Effect::Narrowed
            } else {
                Effect::Widened
            }
        }
    }
}

fn show_bound(b: Bound, lower: bool) -> String {
    match b {
        None => "none".into(),
        Some((v, e)) => {
            let op = match (lower, e) {
                (true, false) => ">=",
                (true, true) => ">",
                (false, false) => "<=",
                (false, true) => "<",
            };
            format!("{op} {v}")
        }
    }
}

fn lower_bound(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    let x = strictest(a.minimum, a.exclusive_minimum, true);
    let y = strictest(b.minimum, b.exclusive_minimum, true);
    let effect = bound_effect(x, y, true);
    let code = match effect {
        Effect::Widened => "minimum-widened",
        Effect::Narrowed => "minimum-narrowed",
        _ => return,
    };
    push(
        code,
        effect,
        format!(
            "lower bound {} → {}",
            show_bound(x, true),
            show_bound(y, true)
        ),
    );
}

fn upper_bound(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    let x = strictest(a.maximum, a.exclusive_maximum, false);
    let y = strictest(b.maximum, b.exclusive_maximum, false);
    let effect = bound_effect(x, y, false);
    let code = match effect {
        Effect::Widened => "maximum-widened",
        Effect::Narrowed => "maximum-narrowed",
        _ => return,
    };
    push(
        code,
        effect,
        format!(
            "upper bound {} → {}",
            show_bound(x, false),
            show_bound(y, false)
        ),
    );
}

fn is_multiple(x: f64, of: f64) -> bool {
    if of == 0.0 {
        return false;
    }
    let q = x / of;
    (q - q.round()).abs() < 1e-9
}

fn multiple_of(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    let effect = match (a.multiple_of, b.multiple_of) {
        (None, None) => return,
        (None, Some(_)) => Effect::Narrowed,
        (Some(_), None) => Effect::Widened,
        (Some(x), Some(y)) if x == y => return,
        // Every multiple of y is a multiple of x when y is a multiple of x.
        (Some(x), Some(y)) if is_multiple(y, x) => Effect::Narrowed,
        (Some(x), Some(y)) if is_multiple(x, y) => Effect::Widened,
        _ => Effect::Changed,
    };
    let code = match effect {
        Effect::Widened => "multiple-of-widened",
        Effect::Narrowed => "multiple-of-narrowed",
        _ => "multiple-of-changed",
    };
    push(
        code,
        effect,
        format!(
            "multipleOf {} → {}",
            a.multiple_of.map_or("none".to_owned(), |m| m.to_string()),
            b.multiple_of.map_or("none".to_owned(), |m| m.to_string())
        ),
    );
}

/// A count bound (`minLength`, `maxItems`, …); `min` says which way is stricter.
fn count(
    x: Option<u64>,
    y: Option<u64>,
    min: bool,
    codes: [&'static str; 2],
    keyword: &str,
    push: &mut Push<'_>,
) {
    // `minX: 0` is no bound at all.
    let norm = |v: Option<u64>| v.filter(|n| !(min && *n == 0));
    let (x, y) = (norm(x), norm(y));
    let effect = match (x, y) {
        (None, None) => return,
        (None, Some(_)) => Effect::Narrowed,
        (Some(_), None) => Effect::Widened,
        (Some(p), Some(q)) if p == q => return,
        (Some(p), Some(q)) => {
            if (q > p) == min {
                Effect::Narrowed
            } else {
                Effect::Widened
            }
        }
    };
    let code = if effect == Effect::Widened {
        codes[0]
    } else {
        codes[1]
    };
    let show = |v: Option<u64>| v.map_or("none".to_owned(), |n| n.to_string());
    push(code, effect, format!("{keyword} {} → {}", show(x), show(y)));
}

fn pattern(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    match (&a.pattern, &b.pattern) {
        (None, None) => {}
        (Some(x), Some(y)) if x == y => {}
        (None, Some(y)) => push(
            "pattern-added",
            Effect::Narrowed,
            format!("pattern `{y}` added"),
        ),
        (Some(x), None) => push(
            "pattern-removed",
            Effect::Widened,
            format!("pattern `{x}` removed"),
        ),
        (Some(x), Some(y)) => {
            let effect = match pattern_relation(x, y) {
                Some(e) => e,
                None => Effect::Unknown,
            };
            push("pattern-changed", effect, format!("pattern `{x}` → `{y}`"))
        }
    }
}

/// The few pattern changes that can be decided: `.*`/`^.*$` (anything) on one side.
fn pattern_relation(x: &str, y: &str) -> Option<Effect> {
    let anything = |p: &str| matches!(p, "" | ".*" | "^.*$" | "^.*" | ".*$");
    match (anything(x), anything(y)) {
        (true, true) => Some(Effect::None),
        (false, true) => Some(Effect::Widened),
        (true, false) => Some(Effect::Narrowed),
        (false, false) => None,
    }
}

fn format(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    match (&a.format, &b.format) {
        (None, None) => {}
        (Some(x), Some(y)) if x == y => {}
        (None, Some(y)) => push(
            "format-added",
            Effect::Narrowed,
            format!("format `{y}` added"),
        ),
        (Some(x), None) => push(
            "format-removed",
            Effect::Widened,
            format!("format `{x}` removed"),
        ),
        (Some(x), Some(y)) => {
            let effect = format_relation(x, y);
            push("format-changed", effect, format!("format `{x}` → `{y}`"))
        }
    }
}

/// Known inclusions between formats (`date-time` values are a subset of … nothing standard but
/// `idn-email` ⊃ `email`, `iri` ⊃ `uri`, `idn-hostname` ⊃ `hostname`).
fn format_relation(x: &str, y: &str) -> Effect {
    let wider = [
        ("email", "idn-email"),
        ("uri", "iri"),
        ("hostname", "idn-hostname"),
        ("uri-reference", "iri-reference"),
        ("uri", "uri-reference"),
        ("int32", "int64"),
        ("float", "double"),
    ];
    if wider.contains(&(x, y)) {
        Effect::Widened
    } else if wider.contains(&(y, x)) {
        Effect::Narrowed
    } else {
        Effect::Changed
    }
}

fn flag_unique(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    match (a.unique_items, b.unique_items) {
        (false, true) => push(
            "unique-items-added",
            Effect::Narrowed,
            "items must now be unique".into(),
        ),
        (true, false) => push(
            "unique-items-removed",
            Effect::Widened,
            "items no longer need to be unique".into(),
        ),
        _ => {}
    }
}

fn required(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    for r in &b.required {
        if !a.required.contains(r) {
            push(
                "required-added",
                Effect::Narrowed,
                format!("property `{r}` is now required"),
            );
        }
    }
    for r in &a.required {
        if !b.required.contains(r) {
            push(
                "required-removed",
                Effect::Widened,
                format!("property `{r}` is no longer required"),
            );
        }
    }
}

fn annotations(a: &SchemaObject, b: &SchemaObject, push: &mut Push<'_>) {
    let mut changed = Vec::new();
    if a.title != b.title {
        changed.push("title");
    }
    if a.description != b.description {
        changed.push("description");
    }
    if a.default != b.default {
        changed.push("default");
    }
    if a.examples != b.examples {
        changed.push("examples");
    }
    if a.deprecated != b.deprecated {
        changed.push("deprecated");
    }
    if (a.read_only, a.write_only) != (b.read_only, b.write_only) {
        changed.push("readOnly/writeOnly");
    }
    if a.discriminator != b.discriminator {
        changed.push("discriminator");
    }
    if !changed.is_empty() {
        push(
            "annotation-changed",
            Effect::None,
            format!("{} changed", changed.join(", ")),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LoadOptions;

    /// The payload schema of a one-message document.
    fn api(schema: &str) -> (Api, SchemaId) {
        let doc = format!(
            "asyncapi: 3.0.0\ninfo: {{title: t, version: '1'}}\nchannels:\n  c:\n    address: c\n    messages:\n      m:\n        payload: {schema}\ncomponents:\n  schemas:\n    Node: {{type: object, properties: {{next: {{$ref: '#/components/schemas/Node'}}, v: {{type: integer}}}}}}\n    Node2: {{type: object, properties: {{next: {{$ref: '#/components/schemas/Node2'}}, v: {{type: number}}}}}}\n    Tree: {{anyOf: [{{type: string}}, {{type: array, items: {{$ref: '#/components/schemas/Tree'}}}}, {{type: object, additionalProperties: {{$ref: '#/components/schemas/Tree'}}}}]}}\n    Tree2: {{anyOf: [{{type: string, maxLength: 9}}, {{type: array, items: {{$ref: '#/components/schemas/Tree2'}}}}, {{type: object, additionalProperties: {{$ref: '#/components/schemas/Tree2'}}}}]}}\n"
        );
        let checked = crate::load_bytes(
            std::path::Path::new("/virtual/doc.yaml"),
            doc.as_bytes(),
            &LoadOptions::default(),
        );
        assert!(!checked.has_errors(), "{schema}: {:?}", checked.diagnostics);
        let api = checked.lower().expect("lowered");
        let id = api.messages[0].payload.expect("payload");
        (api, id)
    }

    fn diff(old: &str, new: &str) -> Vec<Finding> {
        let (a, x) = api(old);
        let (b, y) = api(new);
        compare(&a, x, &b, y)
    }

    /// Checks `old → new` gives exactly `codes` with `effect`, and `new → old` the mirror.
    fn both_ways(old: &str, new: &str, codes: &[&str], effect: Effect) {
        let f = diff(old, new);
        let got: Vec<&str> = f.iter().map(|f| f.code).collect();
        assert_eq!(got, codes, "{old} → {new}: {f:#?}");
        assert_eq!(overall(&f), effect, "{old} → {new}: {f:#?}");
        let back = diff(new, old);
        assert_eq!(
            overall(&back),
            effect.reversed(),
            "{new} → {old}: {back:#?}"
        );
    }

    #[test]
    fn equal_schemas_have_no_findings() {
        assert!(diff("{type: string}", "{type: string}").is_empty());
        assert!(
            diff(
                "{$ref: '#/components/schemas/Node'}",
                "{$ref: '#/components/schemas/Node'}"
            )
            .is_empty()
        );
    }

    #[test]
    fn types() {
        both_ways(
            "{type: integer}",
            "{type: number}",
            &["type-widened"],
            Effect::Widened,
        );
        both_ways(
            "{type: string}",
            "{type: [string, 'null']}",
            &["type-widened"],
            Effect::Widened,
        );
        both_ways(
            "{type: string}",
            "{type: string, nullable: true}",
            &["type-widened"],
            Effect::Widened,
        );
        both_ways("{type: string}", "{}", &["type-widened"], Effect::Widened);
        both_ways(
            "{type: string}",
            "{type: integer}",
            &["type-changed"],
            Effect::Changed,
        );
        both_ways(
            "{type: [integer, number]}",
            "{type: number}",
            &[],
            Effect::None,
        );
    }

    #[test]
    fn required() {
        both_ways(
            "{type: object, properties: {a: {type: string}}}",
            "{type: object, properties: {a: {type: string}}, required: [a]}",
            &["required-added"],
            Effect::Narrowed,
        );
    }

    #[test]
    fn properties_under_open_and_closed_objects() {
        // Open: a new property constrains what could be anything.
        both_ways(
            "{type: object}",
            "{type: object, properties: {a: {type: string}}}",
            &["property-added"],
            Effect::Narrowed,
        );
        // A property accepting anything changes nothing.
        both_ways(
            "{type: object}",
            "{type: object, properties: {a: {}}}",
            &["property-added"],
            Effect::None,
        );
        // Closed: a new property is newly accepted.
        both_ways(
            "{type: object, additionalProperties: false}",
            "{type: object, additionalProperties: false, properties: {a: {type: string}}}",
            &["property-added"],
            Effect::Widened,
        );
        both_ways(
            "{type: object}",
            "{type: object, additionalProperties: false}",
            &["additional-properties-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{type: object, additionalProperties: {type: string}}",
            "{type: object, additionalProperties: {type: [string, integer]}}",
            &["type-widened"],
            Effect::Widened,
        );
        let f = diff(
            "{type: object, properties: {a: {type: object, properties: {b: {type: integer}}}}}",
            "{type: object, properties: {a: {type: object, properties: {b: {type: string}}}}}",
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].path, "/a/b");
    }

    #[test]
    fn enum_and_const() {
        both_ways(
            "{enum: [a, b]}",
            "{enum: [a, b, c]}",
            &["enum-widened"],
            Effect::Widened,
        );
        both_ways(
            "{enum: [a, b]}",
            "{enum: [a, c]}",
            &["enum-changed"],
            Effect::Changed,
        );
        both_ways(
            "{type: string}",
            "{type: string, enum: [a]}",
            &["enum-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{const: a}",
            "{enum: [a, b]}",
            &["enum-widened"],
            Effect::Widened,
        );
        both_ways("{const: a}", "{enum: [a]}", &[], Effect::None);
    }

    #[test]
    fn numeric_bounds() {
        both_ways(
            "{minimum: 1}",
            "{minimum: 0}",
            &["minimum-widened"],
            Effect::Widened,
        );
        both_ways(
            "{minimum: 1}",
            "{exclusiveMinimum: 1}",
            &["minimum-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{exclusiveMinimum: 0}",
            "{minimum: 0}",
            &["minimum-widened"],
            Effect::Widened,
        );
        both_ways(
            "{maximum: 10}",
            "{maximum: 5}",
            &["maximum-narrowed"],
            Effect::Narrowed,
        );
        both_ways("{maximum: 10}", "{}", &["maximum-widened"], Effect::Widened);
        both_ways(
            "{exclusiveMaximum: 10}",
            "{maximum: 10}",
            &["maximum-widened"],
            Effect::Widened,
        );
        both_ways(
            "{multipleOf: 2}",
            "{multipleOf: 4}",
            &["multiple-of-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{multipleOf: 2}",
            "{multipleOf: 3}",
            &["multiple-of-changed"],
            Effect::Changed,
        );
        both_ways(
            "{}",
            "{multipleOf: 3}",
            &["multiple-of-narrowed"],
            Effect::Narrowed,
        );
    }

    #[test]
    fn lengths_and_counts() {
        both_ways(
            "{maxLength: 5}",
            "{maxLength: 10}",
            &["max-length-widened"],
            Effect::Widened,
        );
        both_ways(
            "{minLength: 1}",
            "{minLength: 2}",
            &["min-length-narrowed"],
            Effect::Narrowed,
        );
        both_ways("{minLength: 0}", "{}", &[], Effect::None);
        both_ways(
            "{minItems: 1}",
            "{}",
            &["min-items-widened"],
            Effect::Widened,
        );
        both_ways(
            "{maxItems: 3}",
            "{maxItems: 2}",
            &["max-items-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{minProperties: 1}",
            "{minProperties: 2}",
            &["min-properties-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{}",
            "{maxProperties: 2}",
            &["max-properties-narrowed"],
            Effect::Narrowed,
        );
    }

    #[test]
    fn patterns_and_formats() {
        both_ways(
            "{pattern: '^a'}",
            "{}",
            &["pattern-removed"],
            Effect::Widened,
        );
        both_ways(
            "{pattern: '^a'}",
            "{pattern: '.*'}",
            &["pattern-changed"],
            Effect::Widened,
        );
        let f = diff("{pattern: '^a'}", "{pattern: '^b'}");
        assert_eq!(overall(&f), Effect::Unknown);
        both_ways(
            "{format: email}",
            "{format: idn-email}",
            &["format-changed"],
            Effect::Widened,
        );
        both_ways(
            "{format: email}",
            "{format: uuid}",
            &["format-changed"],
            Effect::Changed,
        );
        both_ways(
            "{type: string}",
            "{type: string, format: uuid}",
            &["format-added"],
            Effect::Narrowed,
        );
    }

    #[test]
    fn arrays_and_tuples() {
        both_ways(
            "{type: array, items: {type: integer}}",
            "{type: array, items: {type: number}}",
            &["type-widened"],
            Effect::Widened,
        );
        let f = diff(
            "{type: array, items: {type: integer}}",
            "{type: array, items: {type: number}}",
        );
        assert_eq!(f[0].path, "/[]");
        both_ways(
            "{type: array}",
            "{type: array, uniqueItems: true}",
            &["unique-items-added"],
            Effect::Narrowed,
        );
        // A tuple gains a position: positions past the old tuple were anything.
        both_ways(
            "{type: array, items: [{type: string}]}",
            "{type: array, items: [{type: string}, {type: integer}]}",
            &["type-narrowed"],
            Effect::Narrowed,
        );
        both_ways(
            "{type: array, items: [{type: string}], additionalItems: false}",
            "{type: array, items: [{type: string}, {type: integer}], additionalItems: false}",
            &["schema-widened"],
            Effect::Widened,
        );
    }

    #[test]
    fn combinators() {
        both_ways(
            "{oneOf: [{type: string}, {type: integer}]}",
            "{oneOf: [{type: string}, {type: integer}, {type: boolean}]}",
            &["one-of-branch-added"],
            Effect::Widened,
        );
        both_ways(
            "{anyOf: [{type: string}, {type: integer}]}",
            "{anyOf: [{type: integer}, {type: string}]}",
            &[],
            Effect::None,
        );
        both_ways(
            "{anyOf: [{type: string}, {type: integer}]}",
            "{anyOf: [{type: string}]}",
            &["any-of-branch-removed"],
            Effect::Narrowed,
        );
        both_ways(
            "{allOf: [{required: [a]}]}",
            "{allOf: [{required: [a]}, {required: [b]}]}",
            &["all-of-branch-added"],
            Effect::Narrowed,
        );
        both_ways(
            "{}",
            "{oneOf: [{type: string}]}",
            &["one-of-added"],
            Effect::Narrowed,
        );
        both_ways(
            "{oneOf: [{type: string, maxLength: 3}]}",
            "{oneOf: [{type: string, maxLength: 4}]}",
            &["max-length-widened"],
            Effect::Widened,
        );
    }

    #[test]
    fn recursive_and_shared_schemas_terminate() {
        // Node.v: integer; Node2.v: number — found once even though `next` recurses.
        let f = diff(
            "{$ref: '#/components/schemas/Node'}",
            "{$ref: '#/components/schemas/Node2'}",
        );
        let codes: Vec<_> = f.iter().map(|f| (f.code, f.path.as_str())).collect();
        assert_eq!(codes, [("type-widened", "/v")]);
    }

    #[test]
    fn recursion_through_branches_terminates() {
        // Branch pairing weighs recursive branches against each other: no loop, one finding.
        let f = diff(
            "{$ref: '#/components/schemas/Tree'}",
            "{$ref: '#/components/schemas/Tree2'}",
        );
        let codes: Vec<_> = f.iter().map(|f| f.code).collect();
        assert_eq!(codes, ["max-length-narrowed"], "{f:#?}");
        assert!(
            diff(
                "{$ref: '#/components/schemas/Tree'}",
                "{$ref: '#/components/schemas/Tree'}"
            )
            .is_empty()
        );
    }

    #[test]
    fn undecidable_keywords_and_annotations() {
        let f = diff("{not: {type: string}}", "{not: {type: integer}}");
        assert_eq!(overall(&f), Effect::Unknown);
        both_ways(
            "{description: a}",
            "{description: b, title: c}",
            &["annotation-changed"],
            Effect::None,
        );
        both_ways(
            "{properties: {a: true}}",
            "{properties: {a: false}}",
            &["schema-narrowed"],
            Effect::Narrowed,
        );
    }
}
