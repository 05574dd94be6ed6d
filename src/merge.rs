//! Three-way merge of plaintext documents at the level of values (key paths), for the git
//! merge driver: their changes relative to the base are applied to our document with
//! [`pathedit`], so our formatting, comments and order stay.
//!
//! # Rules
//! - A path whose value only one side changed (changed, added or removed) takes that side's
//!   value; the same change on both sides is taken once.
//! - A conflict: both sides changed a path to different values; one side removed a map or
//!   list item that the other changed something inside; one side replaced a value by a
//!   structure (or the reverse) that the other changed; both sides changed the same list and
//!   one of them added or removed items (list items are matched by index, which is only
//!   safe while the length stays).
//! - Comments are not values: when only their side changed comments, our changes are applied
//!   to their document instead (so their comments are kept); when both sides changed
//!   comments differently, that is a conflict (reported at the top level).
//! - Layout-only changes (quoting, spacing) of the side whose document is not the target
//!   are not carried over: the data is what is merged.
//!
//! The result is checked: the merged document must hold exactly the data the rules say,
//! else [`Error::Unsupported`] (the caller falls back to a textual merge). Multi-document
//! YAML streams and binary files are refused.
//!
//! Conflicts name paths, never values.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{Error, Result};
use crate::format::{Format, PathSeg, dotenv, ini, json, toml, yaml};
use crate::pathedit::{self, NewValue};
use crate::value::Value;

/// A path step with an order (map keys before list indices; indices numerically).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    K(String),
    I(usize),
}

type P = Vec<Seg>;

fn to_p(path: &[PathSeg]) -> P {
    path.iter()
        .map(|s| match s {
            PathSeg::Key(k) => Seg::K(k.clone()),
            PathSeg::Index(i) => Seg::I(*i),
        })
        .collect()
}

fn from_p(p: &[Seg]) -> Vec<PathSeg> {
    p.iter()
        .map(|s| match s {
            Seg::K(k) => PathSeg::Key(k.clone()),
            Seg::I(i) => PathSeg::Index(*i),
        })
        .collect()
}

/// One leaf of a document's data: a value, a null, or an empty map or list.
#[derive(Clone, PartialEq)]
pub struct Entry {
    pub path: Vec<PathSeg>,
    pub value: Option<Value>,
    /// For a `None` value: `b'{'` an empty map, `b'['` an empty list, else a null.
    pub empty: u8,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("path", &shown(&self.path))
            .field("value", &self.value)
            .finish()
    }
}

/// A change to apply to the target document.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Set { path: Vec<PathSeg>, value: NewValue },
    Unset { path: Vec<PathSeg> },
}

/// A path both sides changed incompatibly (an empty path: the top level, e.g. comments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    pub path: Vec<PathSeg>,
    pub why: &'static str,
}

impl std::fmt::Display for Conflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", shown(&self.path), self.why)
    }
}

/// A path as `--extract` writes it: `["db"]["hosts"][0]`.
pub fn shown(path: &[PathSeg]) -> String {
    if path.is_empty() {
        return "the top level".into();
    }
    path.iter()
        .map(|s| match s {
            PathSeg::Key(k) => format!("[{k:?}]"),
            PathSeg::Index(i) => format!("[{i}]"),
        })
        .collect()
}

/// A document's comments: where each is (its collection's path) and its text, in order.
pub type Comments = Vec<(Vec<PathSeg>, Value)>;

/// A plaintext document's data (comments left out) and its comments (collection path, text),
/// in document order.
///
/// # Errors
/// A document that does not parse; binary; a YAML stream of several documents.
pub fn entries(plain: &[u8], format: Format) -> Result<(Vec<Entry>, Comments)> {
    let src = std::str::from_utf8(plain).map_err(|_| Error::Syntax {
        what: "invalid text",
        line: 1,
        col: 1,
        msg: "the file is not valid UTF-8".into(),
    })?;
    let leaves = match format {
        Format::Yaml => {
            let p = yaml::parse(src)?;
            if p.docs.iter().filter(|d| d.has_root).count() > 1 {
                return Err(Error::Unsupported(
                    "merging a multi-document YAML stream is not supported".into(),
                ));
            }
            p.leaves
        }
        Format::Json => json::parse(src)?.leaves,
        Format::Dotenv => dotenv::parse(src)?.leaves,
        Format::Ini => ini::parse(src)?.leaves,
        Format::Toml => toml::parse(src)?.leaves,
        Format::Binary => {
            return Err(Error::Unsupported(
                "a binary file has no values to merge".into(),
            ));
        }
    };
    let mut data = Vec::new();
    let mut comments = Vec::new();
    for l in leaves {
        match l.value {
            // kept as a Value: zeroized when dropped, like the values
            Some(c @ Value::Comment(_)) => comments.push((l.index_path, c)),
            _ => data.push(Entry {
                empty: if l.value.is_none() { l.ctx.quote } else { 0 },
                path: l.index_path,
                value: l.value,
            }),
        }
    }
    Ok((data, comments))
}

type Leafv = (Option<Value>, u8);

fn leafv(e: &Entry) -> Leafv {
    let empty = if e.value.is_none() && matches!(e.empty, b'{' | b'[') {
        e.empty
    } else {
        0
    };
    (e.value.clone(), empty)
}

fn map_of(es: &[Entry]) -> BTreeMap<P, Leafv> {
    es.iter().map(|e| (to_p(&e.path), leafv(e))).collect()
}

fn under<'a>(m: &'a BTreeMap<P, Leafv>, q: &'a [Seg]) -> impl Iterator<Item = (&'a P, &'a Leafv)> {
    m.range(q.to_vec()..)
        .take_while(move |(k, _)| k.starts_with(q))
}

fn exists(m: &BTreeMap<P, Leafv>, q: &[Seg]) -> bool {
    under(m, q).next().is_some()
}

fn subtree_eq(a: &BTreeMap<P, Leafv>, b: &BTreeMap<P, Leafv>, q: &[Seg]) -> bool {
    under(a, q).eq(under(b, q))
}

/// How many items the list at `l` has.
fn count(m: &BTreeMap<P, Leafv>, l: &[Seg]) -> usize {
    under(m, l)
        .filter_map(|(k, _)| match k.get(l.len()) {
            Some(Seg::I(i)) => Some(*i + 1),
            _ => None,
        })
        .max()
        .unwrap_or(0)
}

/// The paths whose leaf differs between `a` and `b`.
fn changed(a: &BTreeMap<P, Leafv>, b: &BTreeMap<P, Leafv>) -> BTreeSet<P> {
    a.keys()
        .chain(b.keys())
        .filter(|p| a.get(*p) != b.get(*p))
        .cloned()
        .collect()
}

fn new_value(v: &Leafv) -> NewValue {
    match v {
        (Some(v), _) => NewValue::Scalar(Some(v.clone())),
        (None, b'{') => NewValue::Map(Vec::new()),
        (None, b'[') => NewValue::List(Vec::new()),
        (None, _) => NewValue::Scalar(None),
    }
}

/// Their changes relative to `base`, to apply to `ours`: sets in their document order, then
/// removals from the last path to the first (so list indices stay valid). Or every conflict.
///
/// # Errors
/// The conflicts, by path.
pub fn merge_leaves(
    base: &[Entry],
    ours: &[Entry],
    theirs: &[Entry],
) -> std::result::Result<Vec<Change>, Vec<Conflict>> {
    let (b, o, t) = (map_of(base), map_of(ours), map_of(theirs));
    let (ct, co) = (changed(&b, &t), changed(&b, &o));
    let mut conflicts: BTreeMap<P, &'static str> = BTreeMap::new();
    let mut conflict = |p: &[Seg], why| {
        conflicts.entry(p.to_vec()).or_insert(why);
    };
    let mut sets: BTreeSet<P> = BTreeSet::new();
    let mut removals: Vec<P> = Vec::new();
    for p in &ct {
        if o.get(p) == t.get(p) {
            continue;
        }
        // our leaf and everything we hold below it as in the base: their change stands
        if !subtree_eq(&o, &b, p) {
            conflict(p, "changed on both sides");
            continue;
        }
        match t.get(p) {
            Some(_) => {
                sets.insert(p.clone());
            }
            None => removals.push(p.clone()),
        }
    }
    // a map or list item one side removed while the other changed something inside
    for (mine, other) in [(&ct, &o), (&co, &t)] {
        for p in mine {
            if o.get(p) == t.get(p) {
                continue;
            }
            for n in 1..p.len() {
                let q = &p[..n];
                if exists(&b, q) && !exists(other, q) {
                    conflict(q, "removed on one side, changed on the other");
                }
            }
        }
    }
    // list items are matched by index: safe only while neither side adds or removes items
    let lists = |s: &BTreeSet<P>| -> BTreeSet<P> {
        s.iter()
            .flat_map(|p| {
                (0..p.len())
                    .filter(|n| matches!(p[*n], Seg::I(_)))
                    .map(|n| p[..n].to_vec())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let (lt, lo) = (lists(&ct), lists(&co));
    for l in lt.intersection(&lo) {
        let nb = count(&b, l);
        if count(&o, l) != nb || count(&t, l) != nb {
            conflict(l, "list changed on both sides, with items added or removed");
        }
    }
    // a removal P (the largest piece they removed) must not take anything we changed with it
    let mut unsets: BTreeSet<P> = BTreeSet::new();
    for p in &removals {
        let replaced = exists(&t, p) || (1..p.len()).any(|n| sets.contains(&p[..n]));
        if replaced {
            continue;
        }
        let Some(n) = (1..=p.len()).find(|n| !exists(&t, &p[..*n])) else {
            continue;
        };
        let q = &p[..n];
        if subtree_eq(&o, &b, q) {
            unsets.insert(q.to_vec());
        } else {
            conflict(q, "removed on one side, changed on the other");
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts
            .into_iter()
            .map(|(p, why)| Conflict {
                path: from_p(&p),
                why,
            })
            .collect());
    }
    let mut out: Vec<Change> = theirs
        .iter()
        .filter(|e| sets.contains(&to_p(&e.path)))
        .map(|e| Change::Set {
            path: e.path.clone(),
            value: new_value(&leafv(e)),
        })
        .collect();
    // an unset inside a piece removed as a whole is done by that piece's unset
    let kept: Vec<&P> = unsets
        .iter()
        .filter(|p| !(1..p.len()).any(|n| unsets.contains(&p[..n])))
        .collect();
    out.extend(
        kept.into_iter()
            .rev()
            .map(|p| Change::Unset { path: from_p(p) }),
    );
    Ok(out)
}

/// Apply `changes` to a plaintext document with [`pathedit`].
///
/// # Errors
/// As [`pathedit::set_value`] and [`pathedit::unset`].
pub fn apply(plain: &[u8], format: Format, changes: &[Change]) -> Result<Vec<u8>> {
    let mut doc = plain.to_vec();
    for c in changes {
        let next = match c {
            Change::Set { path, value } => pathedit::set_value(&doc, format, path, value)?,
            Change::Unset { path } => pathedit::unset(&doc, format, path)?,
        };
        if let Some(n) = next {
            doc = n;
        }
    }
    Ok(doc)
}

/// What a merge of plaintexts gives.
#[derive(Debug)]
pub enum Outcome {
    /// The merged plaintext.
    Merged(Vec<u8>),
    Conflicts(Vec<Conflict>),
}

/// The data a clean merge must hold: each path as the side that changed it has it.
fn expected(b: &[Entry], o: &[Entry], t: &[Entry]) -> BTreeMap<P, Leafv> {
    let (b, o, t) = (map_of(b), map_of(o), map_of(t));
    let mut out = BTreeMap::new();
    for p in b.keys().chain(o.keys()).chain(t.keys()) {
        let v = if b.get(p) == t.get(p) {
            o.get(p)
        } else {
            t.get(p)
        };
        if let Some(v) = v {
            out.insert(p.clone(), v.clone());
        }
    }
    out
}

/// Three-way merge of plaintext documents: their changes applied to ours (or, when only they
/// changed comments, ours applied to theirs). See the module docs.
///
/// # Errors
/// A document that does not parse, a change the format's editor cannot make, or a result
/// that does not hold exactly the merged data ([`Error::Unsupported`]).
pub fn merge(base: &[u8], ours: &[u8], theirs: &[u8], format: Format) -> Result<Outcome> {
    let (b, bc) = entries(base, format)?;
    let (o, oc) = entries(ours, format)?;
    let (t, tc) = entries(theirs, format)?;
    let (target, target_e, from_e) = if tc == bc || tc == oc {
        (ours, &o, &t)
    } else if oc == bc {
        (theirs, &t, &o)
    } else {
        return Ok(Outcome::Conflicts(vec![Conflict {
            path: Vec::new(),
            why: "comments changed on both sides (values are merged, comments are not)",
        }]));
    };
    let changes = match merge_leaves(&b, target_e, from_e) {
        Ok(c) => c,
        Err(c) => return Ok(Outcome::Conflicts(c)),
    };
    let merged = apply(target, format, &changes)?;
    let (m, _) = entries(&merged, format)?;
    if map_of(&m) != expected(&b, &o, &t) {
        return Err(Error::Unsupported(
            "the merged values could not be written exactly in this format".into(),
        ));
    }
    Ok(Outcome::Merged(merged))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> PathSeg {
        PathSeg::Key(s.into())
    }

    fn e(path: &[PathSeg], v: &str) -> Entry {
        Entry {
            path: path.to_vec(),
            value: Some(Value::Str(v.into())),
            empty: 0,
        }
    }

    fn m(yaml_base: &str, yaml_ours: &str, yaml_theirs: &str) -> Outcome {
        merge(
            yaml_base.as_bytes(),
            yaml_ours.as_bytes(),
            yaml_theirs.as_bytes(),
            Format::Yaml,
        )
        .unwrap()
    }

    fn merged(o: Outcome) -> String {
        match o {
            Outcome::Merged(b) => String::from_utf8(b).unwrap(),
            Outcome::Conflicts(c) => panic!("conflicts: {c:?}"),
        }
    }

    fn conflicts(o: Outcome) -> Vec<String> {
        match o {
            Outcome::Merged(_) => panic!("merged"),
            Outcome::Conflicts(c) => c.iter().map(|c| shown(&c.path)).collect(),
        }
    }

    #[test]
    fn leaf_changes_on_disjoint_paths() {
        let b = [e(&[k("a")], "1"), e(&[k("b")], "1")];
        let o = [e(&[k("a")], "2"), e(&[k("b")], "1")];
        let t = [e(&[k("a")], "1"), e(&[k("b")], "3"), e(&[k("c")], "4")];
        let got = merge_leaves(&b, &o, &t).unwrap();
        assert_eq!(got.len(), 2);
        assert!(matches!(&got[0], Change::Set { path, .. } if path == &[k("b")]));
        assert!(matches!(&got[1], Change::Set { path, .. } if path == &[k("c")]));
    }

    #[test]
    fn same_change_on_both_sides_is_taken_once() {
        let b = [e(&[k("a")], "1")];
        let o = [e(&[k("a")], "2")];
        assert_eq!(merge_leaves(&b, &o, &o).unwrap(), vec![]);
    }

    #[test]
    fn overlapping_change_conflicts() {
        let b = [e(&[k("a")], "1")];
        let o = [e(&[k("a")], "2")];
        let t = [e(&[k("a")], "3")];
        let c = merge_leaves(&b, &o, &t).unwrap_err();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].path, vec![k("a")]);
        assert!(!format!("{}", c[0]).contains('3'));
    }

    #[test]
    fn removed_and_changed_conflicts_both_ways() {
        let b = [e(&[k("a")], "1"), e(&[k("z")], "1")];
        let o = [e(&[k("a")], "2"), e(&[k("z")], "1")];
        let t = [e(&[k("z")], "1")];
        assert_eq!(merge_leaves(&b, &o, &t).unwrap_err()[0].path, vec![k("a")]);
        assert_eq!(merge_leaves(&b, &t, &o).unwrap_err()[0].path, vec![k("a")]);
    }

    #[test]
    fn removed_section_with_our_change_inside_conflicts() {
        let b = [e(&[k("s"), k("x")], "1"), e(&[k("z")], "1")];
        let o = [
            e(&[k("s"), k("x")], "1"),
            e(&[k("s"), k("y")], "new"),
            e(&[k("z")], "1"),
        ];
        let t = [e(&[k("z")], "1")];
        assert_eq!(merge_leaves(&b, &o, &t).unwrap_err()[0].path, vec![k("s")]);
        // and they add inside a section we removed
        assert_eq!(merge_leaves(&b, &t, &o).unwrap_err()[0].path, vec![k("s")]);
    }

    #[test]
    fn yaml_disjoint_edits_keep_our_layout() {
        let b = "# top\na: 1\nb: x # c\nc:\n    - p\n    - q\n";
        let o = "# top\na:   2\nb: x # c\nc:\n    - p\n    - q\n";
        // `y` is written as pathedit writes a new string (YAML 1.1 would read a plain y as a bool)
        let t = "# top\na: 1\nb: 'y' # c\nc:\n    - p\n    - q\n    - r\nd: new\n";
        assert_eq!(
            merged(m(b, o, t)),
            "# top\na:   2\nb: \"y\" # c\nc:\n    - p\n    - q\n    - r\nd: new\n"
        );
    }

    #[test]
    fn yaml_removals_on_either_side() {
        let b = "a: 1\ns:\n  x: 1\n  y: 2\nl:\n  - 1\n  - 2\n  - 3\nz: 0\n";
        let o = "a: 1\ns:\n  x: 1\n  y: 2\nl:\n  - 1\n  - 2\n  - 3\nz: 9\n";
        let t = "a: 1\nl:\n  - 2\n  - 3\nz: 0\n";
        assert_eq!(merged(m(b, o, t)), "a: 1\nl:\n  - 2\n  - 3\nz: 9\n");
        assert_eq!(merged(m(b, t, o)), "a: 1\nl:\n  - 2\n  - 3\nz: 9\n");
    }

    #[test]
    fn list_length_change_with_other_side_edit_conflicts() {
        let b = "l:\n  - a\n  - b\n";
        let o = "l:\n  - a\n  - B\n";
        let t = "l:\n  - x\n  - a\n  - b\n";
        assert_eq!(conflicts(m(b, o, t)), vec!["[\"l\"]", "[\"l\"][1]"]);
    }

    #[test]
    fn scalar_replaced_by_map_conflicts_with_our_change() {
        let b = "a: 1\n";
        let o = "a: 2\n";
        let t = "a:\n  x: 1\n";
        assert_eq!(conflicts(m(b, o, t)), vec!["[\"a\"]"]);
        // the new map is indented with the document's unit (4 when nothing was nested)
        assert_eq!(merged(m(b, b, t)), "a:\n    x: 1\n");
    }

    #[test]
    fn their_comment_changes_move_the_target() {
        let b = "a: 1 # one\nb: 2\n";
        let o = "a: 5 # one\nb: 2\n";
        let t = "a: 1 # uno\nb: 3\n";
        assert_eq!(merged(m(b, o, t)), "a: 5 # uno\nb: 3\n");
        let o2 = "a: 1 # eins\nb: 2\n";
        assert_eq!(conflicts(m(b, o2, t)), vec!["the top level"]);
    }

    #[test]
    fn other_formats() {
        let got = merge(
            b"A=1\nB=2\n",
            b"A=9\nB=2\n",
            b"A=1\nB=2\nC=3\n",
            Format::Dotenv,
        )
        .unwrap();
        assert_eq!(merged(got), "A=9\nB=2\nC=3\n");
        let got = merge(
            b"[s]\na = 1\nb = 2\n",
            b"[s]\na = 9\nb = 2\n",
            b"[s]\na = 1\n",
            Format::Ini,
        )
        .unwrap();
        assert_eq!(merged(got), "[s]\na = 9\n");
        let got = merge(
            b"{\n  \"a\": 1,\n  \"b\": {\"c\": true}\n}\n",
            b"{\n  \"a\": 2,\n  \"b\": {\"c\": true}\n}\n",
            b"{\n  \"a\": 1,\n  \"b\": {\"c\": false, \"d\": null}\n}\n",
            Format::Json,
        )
        .unwrap();
        assert_eq!(
            merged(got),
            "{\n  \"a\": 2,\n  \"b\": {\"c\": false, \"d\": null}\n}\n"
        );
    }

    #[test]
    fn toml_changes_and_additions_merge() {
        let b = b"a = 1\n[s]\nx = \"p\"\ny = true\n";
        let o = b"a = 2\n[s]\nx = \"p\"\ny = true\n";
        let t = b"a = 1\n[s]\nx = \"q\"\ny = true\n";
        let got = merge(b, o, t, Format::Toml).unwrap();
        assert_eq!(merged(got), "a = 2\n[s]\nx = \"q\"\ny = true\n");
        // an added key lands in ours' table, after its last key
        let t2 = b"a = 1\n[s]\nx = \"p\"\ny = true\nz = 3\n";
        let got = merge(b, o, t2, Format::Toml).unwrap();
        assert_eq!(merged(got), "a = 2\n[s]\nx = \"p\"\ny = true\nz = 3\n");
    }

    #[test]
    fn multi_document_yaml_is_refused() {
        let s = b"a: 1\n---\nb: 2\n";
        assert!(matches!(
            merge(s, s, s, Format::Yaml),
            Err(Error::Unsupported(_))
        ));
    }
}
