//! `sops set` and `sops unset` on a plaintext document, in place: only the bytes of the
//! changed value (or the added or removed entry) change; everything else is copied by
//! [`splice`].
//!
//! # Semantics (sops' `TreeBranch.Set` / `Unset`, checked against the sops 3.11 binary)
//! - The value is JSON: a scalar, or an object that becomes a subtree (objects and lists
//!   inside it too). A top-level JSON array is refused, as sops refuses it ("Invalid --set
//!   value format"). A top-level number is a float, as sops reads it (`encoding/json`), so
//!   `5` set in an INI file is written `5.0`, as sops writes it; numbers inside an object are
//!   integers when they are integral, as sops' JSON store reads them.
//! - Missing map keys along the path are created (appended after the map's last entry);
//!   an index at or past the end of a list appends one item; a scalar met along the path is
//!   replaced by the structure the rest of the path describes.
//! - An existing value or subtree at the path is replaced.
//! - `unset` removes a map entry or a list item; a missing key or an index past the end is
//!   `Ok(None)` (sops' "Key not found" / "Index out of bounds", which `--idempotent`
//!   forgives); a path through a single value is an error (sops' "Unsupported type").
//! - YAML streams: the first document is edited, as sops edits `Branches[0]`.
//!
//! # Where we differ from sops, on purpose
//! - List indices count items only. sops counts the comments of a YAML list as items, so its
//!   `["l"][0]` can replace or remove a comment line.
//! - An empty path, a key applied to a list, or an index applied to a map is an error (sops
//!   panics on the first two and silently changes nothing on the third).
//! - `set` returns `None` when the document's data would not change (value and type equal);
//!   sops' `--idempotent` compares a JSON number (a float) unequal to an integer it holds.
//! - Values sops would write but cannot read back (a null or a nested value in dotenv or INI)
//!   are refused.
//! - sops re-emits the whole file; we only touch the edited entry. Comments stay, including a
//!   comment directly above a removed entry (in sops' tree a comment is an item of its own,
//!   so `unset` keeps it too); a comment on the removed entry's own line goes with it.
//!   Replacing an INI section keeps the comment above its header (sops drops it).
//! - New YAML subtrees are written in block style with the document's indentation unit (in
//!   flow style inside a flow collection); new JSON members use the indentation of their
//!   siblings.
//! - TOML (ours; sops has no TOML store): a new key goes after the last `key = value` line
//!   of its table (dotted keys included, so before its sub-tables), as `a.b.k = …` when the
//!   table is made of dotted keys, inside the braces of an inline table; a table with no header
//!   of its own (`a` of `[a.b]`) gets one above its first sub-table. Objects are written as
//!   `[a.b]` tables placed after the last block of the parent table (so inside the right
//!   element of an array of tables; at the end of the document for the top level), lists of
//!   objects as arrays of tables, and both inline (`{ … }`, `[…]`) inside an inline table, an
//!   array, a dotted-key table, or in place of an existing array or inline table. A table
//!   that only holds tables gets no header. An index past the end appends an array item (on
//!   a line of its own in a multi-line array with a trailing comma) or a `[[a]]` block.
//!   `unset` removes a `key = value` line (all of a multi-line value), an item of an array
//!   or inline table with its comma, a table (its header blocks, those of its sub-tables and
//!   its dotted-key lines) or an array-of-tables element. A header block runs to the next
//!   header, less the comment lines right above that one. TOML has no null: nulls are
//!   refused; so are edits inside an inline table written with dotted keys.

use std::ops::Range;

use jsonc_parser::ast::{ObjectPropName, Value as J};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions, parse_to_ast};

use crate::error::{Error, Result};
use crate::format::scalar::{
    json_number, json_render, json_string, yaml_double_quoted, yaml_render, yaml_single_quoted,
};
use crate::format::splice::{Edit, splice};
use crate::format::{Format, PathSeg, dotenv, ini, json, toml, yaml};
use crate::value::Value;

const MAX_DEPTH: usize = 512;

/// A value to write: a scalar (`None` is null) or a subtree, keys in the JSON's order.
#[derive(Debug, Clone, PartialEq)]
pub enum NewValue {
    Scalar(Option<Value>),
    Map(Vec<(String, NewValue)>),
    List(Vec<NewValue>),
}

/// Parse the JSON value of `set` as sops does (see the module docs).
///
/// # Errors
/// [`Error::BadSetValue`] for text that is not JSON or is a top-level array.
pub fn parse_value(value_json: &str) -> Result<NewValue> {
    let opts = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let deep = value_json
        .bytes()
        .filter(|b| matches!(b, b'{' | b'['))
        .count()
        > MAX_DEPTH;
    let ast = (!deep)
        .then(|| {
            parse_to_ast(
                value_json,
                &CollectOptions {
                    comments: CommentCollectionStrategy::Off,
                    tokens: false,
                },
                &opts,
            )
            .ok()
        })
        .flatten()
        .and_then(|a| a.value)
        .ok_or(Error::BadSetValue("the value is not valid JSON"))?;
    match ast {
        J::Array(_) => Err(Error::BadSetValue(
            "the value must be a JSON scalar or object (sops refuses a top-level array)",
        )),
        // sops reads a top-level number with encoding/json: a float64
        J::NumberLit(n) => Ok(NewValue::Scalar(Some(Value::Float(
            n.value
                .parse::<f64>()
                .map_err(|_| Error::BadSetValue("the value is not valid JSON"))?,
        )))),
        v => Ok(from_json(&v)),
    }
}

fn from_json(v: &J) -> NewValue {
    match v {
        J::StringLit(s) => NewValue::Scalar(Some(Value::Str(s.value.to_string()))),
        J::NumberLit(n) => NewValue::Scalar(Some(json_number(n.value))),
        J::BooleanLit(b) => NewValue::Scalar(Some(Value::Bool(b.value))),
        J::NullKeyword(_) => NewValue::Scalar(None),
        J::Object(o) => NewValue::Map(
            o.properties
                .iter()
                .map(|p| (prop_name(&p.name), from_json(&p.value)))
                .collect(),
        ),
        J::Array(a) => NewValue::List(a.elements.iter().map(from_json).collect()),
    }
}

fn prop_name(n: &ObjectPropName) -> String {
    match n {
        ObjectPropName::String(s) => s.value.to_string(),
        ObjectPropName::Word(w) => w.value.to_string(),
    }
}

/// `sops set`: write `value_json` at `path`. `Ok(None)` when the document's data already
/// holds that value there (nothing to write; `--idempotent`).
///
/// # Errors
/// A document that does not parse; a bad value ([`Error::BadSetValue`]); a path that cannot
/// be set (empty, a key into a list, an index into a map, through an alias) or a value the
/// format cannot hold ([`Error::Unsupported`]).
pub fn set(
    plain: &[u8],
    format: Format,
    path: &[PathSeg],
    value_json: &str,
) -> Result<Option<Vec<u8>>> {
    let value = parse_value(value_json)?;
    set_value(plain, format, path, &value)
}

/// [`set`] with an already parsed value.
///
/// # Errors
/// As [`set`].
pub fn set_value(
    plain: &[u8],
    format: Format,
    path: &[PathSeg],
    value: &NewValue,
) -> Result<Option<Vec<u8>>> {
    if path.is_empty() {
        return Err(Error::Unsupported(
            "set needs a path to a value, such as [\"key\"]".into(),
        ));
    }
    let src = utf8(plain)?;
    let before = data(src, format)?;
    let edits = match format {
        Format::Yaml => yaml_set(src, path, value)?,
        Format::Json => json_set(src, path, value)?,
        Format::Dotenv => dotenv_set(src, path, value)?,
        Format::Ini => ini_set(src, path, value)?,
        Format::Toml => toml_set(src, path, value)?,
        Format::Binary => return Err(binary()),
    };
    finish(plain, format, edits, &before)
}

/// `sops unset`: remove the entry or list item at `path`. `Ok(None)` when there is none.
///
/// # Errors
/// A document that does not parse; an empty path, a path through a single value or a key
/// into a list ([`Error::Unsupported`]).
pub fn unset(plain: &[u8], format: Format, path: &[PathSeg]) -> Result<Option<Vec<u8>>> {
    if path.is_empty() {
        return Err(Error::Unsupported(
            "unset needs a path to a value, such as [\"key\"]".into(),
        ));
    }
    let src = utf8(plain)?;
    let before = data(src, format)?;
    let edits = match format {
        Format::Yaml => yaml_unset(src, path)?,
        Format::Json => json_unset(src, path)?,
        Format::Dotenv => dotenv_unset(src, path)?,
        Format::Ini => ini_unset(src, path)?,
        Format::Toml => toml_unset(src, path)?,
        Format::Binary => return Err(binary()),
    };
    let Some(edits) = edits else {
        return Ok(None);
    };
    finish(plain, format, edits, &before)
}

fn binary() -> Error {
    Error::Unsupported("a binary file has no paths to set or unset".into())
}

fn utf8(plain: &[u8]) -> Result<&str> {
    std::str::from_utf8(plain).map_err(|_| Error::Syntax {
        what: "invalid text",
        line: 1,
        col: 1,
        msg: "the file is not valid UTF-8".into(),
    })
}

/// A document's data, for telling whether an edit changed it: each leaf's path, value and
/// empty-collection marker, comments left out.
type Data = Vec<(Vec<PathSeg>, Option<Value>, u8)>;

fn data(src: &str, format: Format) -> Result<Data> {
    let leaves = match format {
        Format::Yaml => yaml::parse(src)?.leaves,
        Format::Json => json::parse(src)?.leaves,
        Format::Dotenv => dotenv::parse(src)?.leaves,
        Format::Ini => ini::parse(src)?.leaves,
        Format::Toml => toml::parse(src)?.leaves,
        Format::Binary => return Err(binary()),
    };
    Ok(leaves
        .into_iter()
        .filter(|l| !matches!(l.value, Some(Value::Comment(_))))
        .map(|l| {
            let marker = if l.value.is_none() { l.ctx.quote } else { 0 };
            (l.index_path.clone(), l.value.clone(), marker)
        })
        .collect())
}

fn finish(
    plain: &[u8],
    format: Format,
    mut edits: Vec<Edit>,
    before: &Data,
) -> Result<Option<Vec<u8>>> {
    // new lines end as the document's lines do
    if plain.windows(2).any(|w| w == b"\r\n") {
        for e in &mut edits {
            let text = String::from_utf8_lossy(&e.text).replace('\n', "\r\n");
            e.text = text.into_bytes();
        }
    }
    let out = splice(plain, edits).map_err(Error::Internal)?;
    // the result must read back: an edit that breaks the document is a bug, never output
    let after = data(utf8(&out)?, format)
        .map_err(|_| Error::Internal("the edited document does not parse"))?;
    Ok((after != *before).then_some(out))
}

fn shown(path: &[PathSeg]) -> String {
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

/// The structure the rest of a path describes around `value` (sops' `valueFromPathAndLeaf`).
fn nest(rest: &[PathSeg], value: &NewValue) -> NewValue {
    rest.iter().rev().fold(value.clone(), |v, seg| match seg {
        PathSeg::Key(k) => NewValue::Map(vec![(k.clone(), v)]),
        PathSeg::Index(_) => NewValue::List(vec![v]),
    })
}

// ---- a format-neutral outline of nested documents (YAML, JSON) ----

/// A node: `start..end` holds it (a collection's nested items included).
#[derive(Debug)]
struct N {
    start: usize,
    end: usize,
    kind: K,
    flow: bool,
}

#[derive(Debug)]
enum K {
    /// `style`: 0 plain, a quote, `|`/`>` (YAML).
    Scalar(u8),
    Map(Vec<(KeyAt, N)>),
    Seq(Vec<N>),
    Alias,
}

#[derive(Debug)]
struct KeyAt {
    name: String,
    start: usize,
    end: usize,
}

/// Where a node sits: the value of a map's entry, or a list's item.
#[derive(Clone, Copy)]
enum Slot<'a> {
    Value(&'a N, usize),
    Item(&'a N, usize),
}

enum SetOp<'a> {
    Replace(Slot<'a>, &'a N, NewValue),
    Insert(&'a N, String, NewValue),
    Append(&'a N, NewValue),
}

fn plan_set<'a>(root: &'a N, path: &[PathSeg], value: &NewValue) -> Result<SetOp<'a>> {
    let mut cur = root;
    let mut slot = None;
    for (i, seg) in path.iter().enumerate() {
        let rest = &path[i + 1..];
        let (child, s) = match (&cur.kind, seg) {
            (K::Map(es), PathSeg::Key(k)) => match es.iter().position(|(key, _)| key.name == *k) {
                Some(j) => (&es[j].1, Slot::Value(cur, j)),
                None => return Ok(SetOp::Insert(cur, k.clone(), nest(rest, value))),
            },
            (K::Seq(items), PathSeg::Index(n)) => match items.get(*n) {
                Some(item) => (item, Slot::Item(cur, *n)),
                None => return Ok(SetOp::Append(cur, nest(rest, value))),
            },
            (K::Map(_), PathSeg::Index(_)) => {
                return Err(Error::Unsupported(format!(
                    "{} is a map: an index cannot select in it",
                    shown(&path[..i])
                )));
            }
            (K::Seq(_), PathSeg::Key(_)) => {
                return Err(Error::Unsupported(format!(
                    "{} is a list: a key cannot select in it",
                    shown(&path[..i])
                )));
            }
            (K::Alias, _) => {
                return Err(Error::Unsupported(format!(
                    "{} is an alias: edit the anchored value instead",
                    shown(&path[..i])
                )));
            }
            (K::Scalar(_), _) => {
                let s = slot.ok_or(Error::Internal("a scalar document root"))?;
                return Ok(SetOp::Replace(s, cur, nest(&path[i..], value)));
            }
        };
        if rest.is_empty() {
            return Ok(SetOp::Replace(s, child, value.clone()));
        }
        cur = child;
        slot = Some(s);
    }
    Err(Error::Internal("an empty path"))
}

/// The slot to remove, or `None` when the path is absent.
fn plan_unset<'a>(root: &'a N, path: &[PathSeg]) -> Result<Option<Slot<'a>>> {
    let mut cur = root;
    for (i, seg) in path.iter().enumerate() {
        let (child, s) = match (&cur.kind, seg) {
            (K::Map(es), PathSeg::Key(k)) => match es.iter().position(|(key, _)| key.name == *k) {
                Some(j) => (&es[j].1, Slot::Value(cur, j)),
                None => return Ok(None),
            },
            (K::Seq(items), PathSeg::Index(n)) => match items.get(*n) {
                Some(item) => (item, Slot::Item(cur, *n)),
                None => return Ok(None),
            },
            // sops: "Key not found", which --idempotent forgives
            (K::Map(_), PathSeg::Index(_)) => return Ok(None),
            (K::Seq(_), PathSeg::Key(_)) => {
                return Err(Error::Unsupported(format!(
                    "{} is a list: a key cannot select in it",
                    shown(&path[..i])
                )));
            }
            (K::Alias, _) => {
                return Err(Error::Unsupported(format!(
                    "{} is an alias: edit the anchored value instead",
                    shown(&path[..i])
                )));
            }
            (K::Scalar(_), _) => {
                return Err(Error::Unsupported(format!(
                    "{} is a single value: it has no {}",
                    shown(&path[..i]),
                    shown(&path[i..i + 1])
                )));
            }
        };
        if i + 1 == path.len() {
            return Ok(Some(s));
        }
        cur = child;
    }
    Err(Error::Internal("an empty path"))
}

/// The byte ranges of a collection's members: a map entry from its key to the end of its
/// value, a list item.
fn members(n: &N) -> Vec<Range<usize>> {
    match &n.kind {
        K::Map(es) => es.iter().map(|(k, v)| k.start..v.end.max(k.end)).collect(),
        K::Seq(items) => items.iter().map(|v| v.start..v.end).collect(),
        _ => Vec::new(),
    }
}

/// Remove member `i` of a bracketed collection (YAML flow, JSON) with its comma.
fn remove_bracketed(n: &N, i: usize) -> Edit {
    let ms = members(n);
    if ms.len() == 1 {
        return Edit::new(n.start + 1..n.end - 1, "");
    }
    if i + 1 < ms.len() {
        Edit::new(ms[i].start..ms[i + 1].start, "")
    } else {
        Edit::new(ms[i - 1].end..ms[i].end, "")
    }
}

fn line_start(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// The offset of the line break ending the line `pos` is on, or the end of the text.
fn line_end(src: &str, pos: usize) -> usize {
    src[pos..].find('\n').map_or(src.len(), |i| pos + i)
}

/// The start of the next line after the content ending at `end`.
fn next_line(src: &str, end: usize) -> usize {
    if end > 0 && src.as_bytes()[end - 1] == b'\n' {
        return end;
    }
    let e = line_end(src, end);
    if e < src.len() { e + 1 } else { e }
}

fn col(src: &str, pos: usize) -> usize {
    src[line_start(src, pos)..pos].chars().count()
}

fn spaces(n: usize) -> String {
    " ".repeat(n)
}

/// A line inserted at `pos`: `text` ends with a line break, unless it goes at the end of a
/// file without a final one (then the break comes first).
fn insert_line(src: &str, pos: usize, text: String) -> Edit {
    if pos == src.len() && !src.is_empty() && !src.ends_with('\n') {
        Edit::insert(pos, format!("\n{}", text.trim_end_matches('\n')))
    } else {
        Edit::insert(pos, text)
    }
}

// ---- YAML ----

fn yaml_outline(src: &str) -> Result<(N, usize)> {
    let p = yaml::parse(src)?;
    let root = yaml::outline(src)?.ok_or_else(|| {
        Error::Unsupported("the document is empty: there is nothing to edit".into())
    })?;
    Ok((from_outline(&root), p.indent.max(1)))
}

fn from_outline(o: &yaml::Outline) -> N {
    let kind = match &o.kind {
        yaml::OutlineKind::Scalar { style, .. } => K::Scalar(*style),
        yaml::OutlineKind::Alias => K::Alias,
        yaml::OutlineKind::Seq(items) => K::Seq(items.iter().map(from_outline).collect()),
        yaml::OutlineKind::Map(es) => K::Map(
            es.iter()
                .map(|(k, v)| {
                    let name = match &k.kind {
                        yaml::OutlineKind::Scalar { text, .. } => text.clone(),
                        _ => String::new(),
                    };
                    (
                        KeyAt {
                            name,
                            start: k.start,
                            end: k.end,
                        },
                        from_outline(v),
                    )
                })
                .collect(),
        ),
    };
    N {
        start: o.start,
        end: o.end,
        kind,
        flow: o.flow,
    }
}

struct Yaml<'s> {
    src: &'s str,
    unit: usize,
}

impl Yaml<'_> {
    /// Just after the `:` that follows a key.
    fn after_colon(&self, key: &KeyAt) -> usize {
        let b = self.src.as_bytes();
        let mut i = key.end;
        while i < b.len() && matches!(b[i], b' ' | b'\t') {
            i += 1;
        }
        if i < b.len() && b[i] == b':' {
            i + 1
        } else {
            key.end
        }
    }

    /// The `-` of the block list item starting at `pos`.
    fn dash(&self, pos: usize) -> Result<usize> {
        let b = self.src.as_bytes();
        let mut i = pos;
        while i > 0 {
            i -= 1;
            match b[i] {
                b' ' | b'\t' => continue,
                b'-' => return Ok(i),
                _ => break,
            }
        }
        Err(Error::Unsupported(
            "cannot find the dash of this list item: edit it by hand".into(),
        ))
    }

    /// Only whitespace before `pos` on its line.
    fn first_on_line(&self, pos: usize) -> bool {
        self.src[line_start(self.src, pos)..pos].trim().is_empty()
    }

    fn key(&self, k: &str) -> String {
        if k.contains('\n') {
            yaml_double_quoted(k)
        } else {
            yaml_render(&Value::Str(k.to_string()), self.unit, 0)
        }
    }

    fn flow_str(&self, s: &str) -> String {
        let r = yaml_render(&Value::Str(s.to_string()), self.unit, 0);
        if s.contains('\n')
            || (!r.starts_with(['"', '\'']) && s.contains([',', '[', ']', '{', '}']))
        {
            yaml_double_quoted(s)
        } else {
            r
        }
    }

    fn flow(&self, v: &NewValue) -> String {
        match v {
            NewValue::Scalar(None) => "null".into(),
            NewValue::Scalar(Some(Value::Str(s))) => self.flow_str(s),
            NewValue::Scalar(Some(v)) => yaml_render(v, self.unit, 0),
            NewValue::Map(es) => {
                let inner: Vec<String> = es
                    .iter()
                    .map(|(k, v)| format!("{}: {}", self.flow_str(k), self.flow(v)))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            NewValue::List(items) => {
                let inner: Vec<String> = items.iter().map(|v| self.flow(v)).collect();
                format!("[{}]", inner.join(", "))
            }
        }
    }

    /// A scalar or an empty collection on one line, keeping a string's quote style.
    fn inline(&self, v: &NewValue, style: u8, content_col: usize, in_flow: bool) -> Option<String> {
        Some(match v {
            NewValue::Scalar(Some(Value::Str(s))) => match style {
                b'"' => yaml_double_quoted(s),
                b'\'' => yaml_single_quoted(s).unwrap_or_else(|| yaml_double_quoted(s)),
                _ if in_flow => self.flow_str(s),
                _ => yaml_render(&Value::Str(s.clone()), self.unit, content_col),
            },
            NewValue::Scalar(_) if in_flow => self.flow(v),
            NewValue::Scalar(None) => "null".into(),
            NewValue::Scalar(Some(v)) => yaml_render(v, self.unit, content_col),
            _ if in_flow => self.flow(v),
            NewValue::Map(es) if es.is_empty() => "{}".into(),
            NewValue::List(items) if items.is_empty() => "[]".into(),
            _ => return None,
        })
    }

    /// What follows `key:` for a value whose key is at `key_col`.
    fn after_key(&self, v: &NewValue, key_col: usize) -> String {
        let n = key_col + self.unit;
        if let Some(s) = self.inline(v, 0, n, false) {
            return format!(" {s}");
        }
        let mut out = String::new();
        match v {
            NewValue::Map(es) => {
                for (k, v) in es {
                    out.push('\n');
                    out.push_str(&spaces(n));
                    out.push_str(&self.key(k));
                    out.push(':');
                    out.push_str(&self.after_key(v, n));
                }
            }
            NewValue::List(items) => {
                for it in items {
                    out.push('\n');
                    out.push_str(&spaces(n));
                    out.push('-');
                    out.push_str(&self.item(it, n));
                }
            }
            NewValue::Scalar(_) => {}
        }
        out
    }

    /// What follows the `-` at `dash_col` for a list item.
    fn item(&self, v: &NewValue, dash_col: usize) -> String {
        let n = dash_col + 2;
        if let Some(s) = self.inline(v, 0, n, false) {
            return format!(" {s}");
        }
        let mut out = String::new();
        match v {
            NewValue::Map(es) => {
                for (i, (k, v)) in es.iter().enumerate() {
                    if i == 0 {
                        out.push(' ');
                    } else {
                        out.push('\n');
                        out.push_str(&spaces(n));
                    }
                    out.push_str(&self.key(k));
                    out.push(':');
                    out.push_str(&self.after_key(v, n));
                }
            }
            NewValue::List(items) => {
                for (i, it) in items.iter().enumerate() {
                    if i == 0 {
                        out.push(' ');
                    } else {
                        out.push('\n');
                        out.push_str(&spaces(n));
                    }
                    out.push('-');
                    out.push_str(&self.item(it, n));
                }
            }
            NewValue::Scalar(_) => {}
        }
        out
    }

    /// A block literal cannot go where the line goes on after the value (a comment):
    /// the string is double-quoted there instead.
    fn one_line(&self, text: String, v: &NewValue, node: &N) -> String {
        let rest = &self.src[node.end..line_end(self.src, node.end)];
        match v {
            NewValue::Scalar(Some(Value::Str(s)))
                if text.contains('\n') && !rest.trim().is_empty() =>
            {
                yaml_double_quoted(s)
            }
            _ => text,
        }
    }

    fn replace(&self, slot: Slot, node: &N, v: &NewValue) -> Result<Edit> {
        let style = match node.kind {
            K::Scalar(s) => s,
            _ => 0,
        };
        let block_coll = !node.flow && matches!(node.kind, K::Map(_) | K::Seq(_));
        let empty = matches!(node.kind, K::Scalar(_)) && node.start == node.end;
        match slot {
            Slot::Value(map, j) | Slot::Item(map, j) if map.flow => {
                let _ = j;
                let text = self
                    .inline(v, style, 0, true)
                    .unwrap_or_else(|| self.flow(v));
                Ok(Edit::new(node.start..node.end, text))
            }
            Slot::Value(map, j) => {
                let K::Map(es) = &map.kind else {
                    return Err(Error::Internal("a value slot outside a map"));
                };
                let key = &es[j].0;
                let key_col = col(self.src, key.start);
                let after = self.after_colon(key);
                if empty {
                    return Ok(Edit::new(after..after, self.after_key(v, key_col)));
                }
                match self.inline(v, style, key_col + self.unit, false) {
                    Some(s) if !block_coll => {
                        Ok(Edit::new(node.start..node.end, self.one_line(s, v, node)))
                    }
                    Some(s) => Ok(Edit::new(after..node.end, format!(" {s}"))),
                    None => Ok(Edit::new(after..node.end, self.after_key(v, key_col))),
                }
            }
            Slot::Item(_, _) => {
                let dash = self.dash(node.start)?;
                let dash_col = col(self.src, dash);
                if empty {
                    return Ok(Edit::new(
                        dash + 1..node.end.max(dash + 1),
                        self.item(v, dash_col),
                    ));
                }
                match self.inline(v, style, dash_col + 2, false) {
                    Some(s) if !block_coll => {
                        Ok(Edit::new(node.start..node.end, self.one_line(s, v, node)))
                    }
                    _ => Ok(Edit::new(dash + 1..node.end, self.item(v, dash_col))),
                }
            }
        }
    }

    fn insert(&self, root: &N, map: &N, key: &str, v: &NewValue) -> Result<Edit> {
        let K::Map(es) = &map.kind else {
            return Err(Error::Internal("insert outside a map"));
        };
        if map.flow {
            let text = format!("{}: {}", self.flow_str(key), self.flow(v));
            return Ok(match es.last() {
                Some((_, last)) => Edit::insert(last.end, format!(", {text}")),
                None => Edit::insert(map.start + 1, text),
            });
        }
        let (first, _) = es.first().ok_or(Error::Internal("an empty block map"))?;
        let key_col = col(self.src, first.start);
        let end = members(map).last().map_or(map.end, |r| r.end);
        let text = format!(
            "{}{}:{}\n",
            spaces(key_col),
            self.key(key),
            self.after_key(v, key_col)
        );
        let at = next_line(self.src, end);
        eof_block_scalar(self.src, root, at)?;
        Ok(insert_line(self.src, at, text))
    }

    fn append(&self, root: &N, seq: &N, v: &NewValue) -> Result<Edit> {
        let K::Seq(items) = &seq.kind else {
            return Err(Error::Internal("append outside a list"));
        };
        if seq.flow {
            let text = self.flow(v);
            return Ok(match items.last() {
                Some(last) => Edit::insert(last.end, format!(", {text}")),
                None => Edit::insert(seq.start + 1, text),
            });
        }
        let first = items
            .first()
            .ok_or(Error::Internal("an empty block list"))?;
        let dash_col = col(self.src, self.dash(first.start)?);
        let end = items.last().map_or(seq.end, |l| l.end);
        let text = format!("{}-{}\n", spaces(dash_col), self.item(v, dash_col));
        let at = next_line(self.src, end);
        eof_block_scalar(self.src, root, at)?;
        Ok(insert_line(self.src, at, text))
    }

    fn remove(&self, root: &N, slot: Slot) -> Result<Edit> {
        let (coll, i) = match slot {
            Slot::Value(c, i) | Slot::Item(c, i) => (c, i),
        };
        if coll.flow {
            return Ok(remove_bracketed(coll, i));
        }
        let ms = members(coll);
        // where the member starts: its key, or the dash of a list item
        let starts: Vec<usize> = match &coll.kind {
            K::Map(es) => es.iter().map(|(k, _)| k.start).collect(),
            K::Seq(items) => items
                .iter()
                .map(|it| self.dash(it.start))
                .collect::<Result<_>>()?,
            _ => return Err(Error::Internal("remove outside a collection")),
        };
        let (start, end) = (starts[i], ms[i].end);
        if ms.len() == 1 {
            // the collection stays, empty, as sops leaves it
            let empty = if matches!(coll.kind, K::Map(_)) {
                "{}"
            } else {
                "[]"
            };
            let mut e = line_end(self.src, end);
            if e > end && self.src.as_bytes()[e - 1] == b'\r' {
                e -= 1;
            }
            return Ok(Edit::new(start..e.max(start), empty));
        }
        if self.first_on_line(start) {
            let from = line_start(self.src, start);
            let mut to = next_line(self.src, end);
            // blank lines after the removed lines would join a `|+` scalar ending just above
            if keeps_trailing_lines(self.src, root, from) {
                while to < self.src.len() && self.src[to..line_end(self.src, to)].trim().is_empty()
                {
                    to = (line_end(self.src, to) + 1).min(self.src.len());
                }
            }
            Ok(Edit::new(from..to, ""))
        } else if i + 1 < starts.len() {
            // `- a: 1` / `- - x`: the next member moves up onto this line
            Ok(Edit::new(start..starts[i + 1], ""))
        } else {
            Err(Error::Unsupported(
                "this entry shares its line with its parent: remove it by hand".into(),
            ))
        }
    }
}

fn yaml_set(src: &str, path: &[PathSeg], v: &NewValue) -> Result<Vec<Edit>> {
    let (root, unit) = yaml_outline(src)?;
    let y = Yaml { src, unit };
    Ok(vec![match plan_set(&root, path, v)? {
        SetOp::Replace(slot, node, v) => y.replace(slot, node, &v)?,
        SetOp::Insert(map, key, v) => y.insert(&root, map, &key, &v)?,
        SetOp::Append(seq, v) => y.append(&root, seq, &v)?,
    }])
}

fn yaml_unset(src: &str, path: &[PathSeg]) -> Result<Option<Vec<Edit>>> {
    let (root, unit) = yaml_outline(src)?;
    let y = Yaml { src, unit };
    plan_unset(&root, path)?
        .map(|slot| y.remove(&root, slot).map(|e| vec![e]))
        .transpose()
}

/// A block scalar whose header has one of `chomping` (`+` keep, `-` strip, `` clip) ends
/// just before `pos`, with only blank lines between: lines added there would be its content.
fn block_scalar_ends_at(src: &str, n: &N, pos: usize, chomping: &[&str]) -> bool {
    match &n.kind {
        K::Scalar(b'|' | b'>') => {
            let header = &src[n.start + 1..line_end(src, n.start)];
            let header = header.split('#').next().unwrap_or_default();
            let chomp = if header.contains('+') {
                "+"
            } else if header.contains('-') {
                "-"
            } else {
                ""
            };
            n.end <= pos && src[n.end..pos].trim().is_empty() && chomping.contains(&chomp)
        }
        K::Map(es) => es
            .iter()
            .any(|(_, v)| block_scalar_ends_at(src, v, pos, chomping)),
        K::Seq(items) => items
            .iter()
            .any(|v| block_scalar_ends_at(src, v, pos, chomping)),
        _ => false,
    }
}

fn keeps_trailing_lines(src: &str, n: &N, line: usize) -> bool {
    block_scalar_ends_at(src, n, line, &["+"])
}

/// A line added at the end of a file without a final newline would give a block scalar
/// that ends the file (read without its line break) a line break it did not have.
fn eof_block_scalar(src: &str, root: &N, pos: usize) -> Result<()> {
    if pos == src.len() && !src.ends_with('\n') && block_scalar_ends_at(src, root, pos, &["+", ""])
    {
        return Err(Error::Unsupported(
            "the file ends in a block scalar without a final line break: add one, then set".into(),
        ));
    }
    Ok(())
}

// ---- JSON ----

fn json_outline(src: &str) -> Result<(N, String)> {
    let p = json::parse(src)?;
    let opts = ParseOptions {
        allow_comments: false,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let ast = parse_to_ast(
        src,
        &CollectOptions {
            comments: CommentCollectionStrategy::Off,
            tokens: false,
        },
        &opts,
    )
    .map_err(|_| Error::Internal("JSON that parsed once does not parse again"))?;
    let v = ast.value.ok_or(Error::Internal("JSON without a value"))?;
    Ok((json_node(&v), p.indent))
}

fn json_node(v: &J) -> N {
    let r = v.range();
    let kind = match v {
        J::Object(o) => K::Map(
            o.properties
                .iter()
                .map(|p| {
                    let nr = match &p.name {
                        ObjectPropName::String(s) => s.range,
                        ObjectPropName::Word(w) => w.range,
                    };
                    (
                        KeyAt {
                            name: prop_name(&p.name),
                            start: nr.start,
                            end: nr.end,
                        },
                        json_node(&p.value),
                    )
                })
                .collect(),
        ),
        J::Array(a) => K::Seq(a.elements.iter().map(json_node).collect()),
        _ => K::Scalar(b'"'),
    };
    N {
        start: r.start,
        end: r.end,
        kind,
        flow: true,
    }
}

struct Json<'s> {
    src: &'s str,
    unit: String,
    /// The document spans several lines (new collections are written on several too).
    multiline: bool,
}

impl Json<'_> {
    fn indent_at(&self, pos: usize) -> String {
        let ls = line_start(self.src, pos);
        self.src[ls..pos]
            .chars()
            .take_while(|c| matches!(c, ' ' | '\t'))
            .collect()
    }

    fn multiline(&self, n: &N) -> bool {
        self.src[n.start..n.end].contains('\n')
    }

    fn render(&self, v: &NewValue, indent: &str, multi: bool) -> Result<String> {
        let inner = format!("{indent}{}", self.unit);
        Ok(match v {
            NewValue::Scalar(None) => "null".into(),
            NewValue::Scalar(Some(v)) => {
                json_render(v).map_err(|e| Error::Unsupported(format!("cannot write JSON: {e}")))?
            }
            NewValue::Map(es) if es.is_empty() => "{}".into(),
            NewValue::List(items) if items.is_empty() => "[]".into(),
            NewValue::Map(es) => {
                let parts = es
                    .iter()
                    .map(|(k, v)| {
                        Ok(format!(
                            "{}: {}",
                            json_string(k),
                            self.render(v, &inner, multi)?
                        ))
                    })
                    .collect::<Result<Vec<_>>>()?;
                self.wrap('{', '}', &parts, indent, multi)
            }
            NewValue::List(items) => {
                let parts = items
                    .iter()
                    .map(|v| self.render(v, &inner, multi))
                    .collect::<Result<Vec<_>>>()?;
                self.wrap('[', ']', &parts, indent, multi)
            }
        })
    }

    fn wrap(&self, open: char, close: char, parts: &[String], indent: &str, multi: bool) -> String {
        if multi {
            let inner = format!("{indent}{}", self.unit);
            let body: Vec<String> = parts.iter().map(|p| format!("{inner}{p}")).collect();
            format!("{open}\n{}\n{indent}{close}", body.join(",\n"))
        } else {
            format!("{open}{}{close}", parts.join(", "))
        }
    }

    /// Add a member (`text`, already rendered for `indent`) to a collection.
    fn add(&self, coll: &N, member: impl Fn(&str) -> Result<String>) -> Result<Edit> {
        let ms = members(coll);
        let (open, close) = if matches!(coll.kind, K::Map(_)) {
            ('{', '}')
        } else {
            ('[', ']')
        };
        match ms.last() {
            Some(last) => {
                if self.multiline(coll) {
                    let ind = self.indent_at(last.start);
                    Ok(Edit::insert(last.end, format!(",\n{ind}{}", member(&ind)?)))
                } else {
                    Ok(Edit::insert(last.end, format!(", {}", member("")?)))
                }
            }
            None => {
                let ind = self.indent_at(coll.start);
                let inner = format!("{ind}{}", self.unit);
                let text = if self.multiline {
                    format!("{open}\n{inner}{}\n{ind}{close}", member(&inner)?)
                } else {
                    format!("{open}{}{close}", member("")?)
                };
                Ok(Edit::new(coll.start..coll.end, text))
            }
        }
    }
}

fn json_set(src: &str, path: &[PathSeg], v: &NewValue) -> Result<Vec<Edit>> {
    let (root, unit) = json_outline(src)?;
    let j = Json {
        src,
        unit,
        multiline: src.trim_end().contains('\n'),
    };
    Ok(vec![match plan_set(&root, path, v)? {
        SetOp::Replace(slot, node, v) => {
            let (Slot::Value(parent, _) | Slot::Item(parent, _)) = slot;
            let multi = j.multiline(parent);
            let text = j.render(&v, &j.indent_at(node.start), multi)?;
            Edit::new(node.start..node.end, text)
        }
        SetOp::Insert(map, key, v) => {
            let multi = j.multiline(map) || j.multiline;
            j.add(map, |ind| {
                Ok(format!(
                    "{}: {}",
                    json_string(&key),
                    j.render(&v, ind, multi)?
                ))
            })?
        }
        SetOp::Append(seq, v) => {
            let multi = j.multiline(seq) || j.multiline;
            j.add(seq, |ind| j.render(&v, ind, multi))?
        }
    }])
}

fn json_unset(src: &str, path: &[PathSeg]) -> Result<Option<Vec<Edit>>> {
    let (root, _) = json_outline(src)?;
    Ok(plan_unset(&root, path)?.map(|slot| {
        let (Slot::Value(c, i) | Slot::Item(c, i)) = slot;
        vec![remove_bracketed(c, i)]
    }))
}

// ---- dotenv ----

/// A top-level key of a flat format, or the error sops gives for anything else.
fn flat_key<'p>(path: &'p [PathSeg], what: &str) -> Result<&'p str> {
    match path {
        [PathSeg::Key(k)] => Ok(k),
        _ => Err(Error::Unsupported(format!(
            "{what} holds only top-level KEY=value entries: {} cannot be used",
            shown(path)
        ))),
    }
}

fn flat_scalar<'v>(v: &'v NewValue, what: &str) -> Result<&'v Value> {
    match v {
        NewValue::Scalar(Some(v)) => Ok(v),
        NewValue::Scalar(None) => Err(Error::Unsupported(format!(
            "{what} cannot hold a null (sops would write a value it cannot read back)"
        ))),
        _ => Err(Error::Unsupported(format!(
            "cannot use complex value in {what} file"
        ))),
    }
}

fn dotenv_set(src: &str, path: &[PathSeg], v: &NewValue) -> Result<Vec<Edit>> {
    let key = flat_key(path, "dotenv")?;
    let value = flat_scalar(v, "dotenv")?;
    let p = dotenv::parse(src)?;
    let leaf = p
        .leaves
        .iter()
        .find(|l| !matches!(l.value, Some(Value::Comment(_))) && l.path == [key]);
    let text = dotenv::render(value);
    if let Some(l) = leaf {
        return Ok(vec![Edit::new(l.span.clone(), text)]);
    }
    if key.is_empty() || key.contains(['=', '\n', '\r']) || key.starts_with('#') {
        return Err(Error::Unsupported(format!(
            "{} cannot be a dotenv key",
            shown(path)
        )));
    }
    let at = p.sops_lines.first().map_or(src.len(), |r| r.start);
    Ok(vec![insert_line(src, at, format!("{key}={text}\n"))])
}

fn dotenv_unset(src: &str, path: &[PathSeg]) -> Result<Option<Vec<Edit>>> {
    let p = dotenv::parse(src)?;
    let key = match path {
        [PathSeg::Key(k)] => k,
        [PathSeg::Index(_), ..] => return Ok(None),
        [PathSeg::Key(k), ..] => {
            return if p.leaves.iter().any(|l| l.path == [k.as_str()]) {
                Err(Error::Unsupported(format!(
                    "{} is a single value: it has no {}",
                    shown(&path[..1]),
                    shown(&path[1..2])
                )))
            } else {
                Ok(None)
            };
        }
        [] => return Err(Error::Internal("an empty path")),
    };
    Ok(p.leaves
        .iter()
        .find(|l| !matches!(l.value, Some(Value::Comment(_))) && l.path == [key.as_str()])
        .map(|l| {
            let ls = line_start(src, l.span.start);
            vec![Edit::new(ls..next_line(src, l.span.end), "")]
        }))
}

// ---- INI ----

/// A section as the leaves show it, with its header line when it has one.
struct Section {
    name: String,
    header: Option<Range<usize>>,
    /// Value leaves: (key, value span).
    keys: Vec<(String, Range<usize>)>,
}

fn ini_sections(src: &str) -> Result<Vec<Section>> {
    let p = ini::parse(src)?;
    // header lines in file order: `[name]` up to the last `]`
    let mut headers: Vec<(String, Range<usize>)> = Vec::new();
    let mut pos = 0;
    while pos < src.len() {
        let end = line_end(src, pos);
        let line = src[pos..end].trim_start();
        if line.starts_with('[')
            && let Some(close) = line.rfind(']')
        {
            headers.push((line[1..close].to_string(), pos..next_line(src, end)));
        }
        pos = if end < src.len() { end + 1 } else { end };
    }
    let mut out = vec![Section {
        name: ini::DEFAULT_SECTION.into(),
        header: None,
        keys: Vec::new(),
    }];
    out.extend(
        headers
            .into_iter()
            .filter(|(n, _)| n != ini::SOPS_SECTION)
            .map(|(name, r)| Section {
                name,
                header: Some(r),
                keys: Vec::new(),
            }),
    );
    for l in &p.leaves {
        if matches!(l.value, Some(Value::Comment(_))) || l.path.len() != 2 {
            continue;
        }
        // the section whose header comes last before the value
        let at = out
            .iter()
            .rposition(|s| s.header.as_ref().is_none_or(|h| h.start <= l.span.start))
            .unwrap_or(0);
        out[at].keys.push((l.path[1].clone(), l.span.clone()));
    }
    Ok(out)
}

/// `key = value` text for a new key, with the separator of `like` (a key of the section).
fn ini_line(src: &str, like: Option<&Range<usize>>, key: &str, value: &Value) -> String {
    let sep = like
        .and_then(|span| {
            let ls = line_start(src, span.start);
            let line = &src[ls..span.start];
            let eq = line.find(['=', ':'])?;
            Some(line[line[..eq].trim_end().len()..].to_string())
        })
        .unwrap_or_else(|| " = ".into());
    format!("{key}{sep}{}\n", ini::render(value))
}

fn ini_key_ok(key: &str) -> Result<()> {
    if key.is_empty()
        || key.contains(['=', ':', '\n', '\r', '"', '`'])
        || key.starts_with(['[', ';', '#'])
    {
        return Err(Error::Unsupported(format!(
            "{key:?} cannot be written as an INI key"
        )));
    }
    Ok(())
}

fn ini_set(src: &str, path: &[PathSeg], v: &NewValue) -> Result<Vec<Edit>> {
    let sections = ini_sections(src)?;
    let not_ini = || {
        Error::Unsupported(format!(
            "INI holds [\"section\"][\"key\"] = value: {} cannot be set to this value",
            shown(path)
        ))
    };
    let (sec, entries): (&String, Vec<(String, &Value)>) = match (path, v) {
        ([PathSeg::Key(s), PathSeg::Key(k)], v) => (s, vec![(k.clone(), flat_scalar(v, "INI")?)]),
        ([PathSeg::Key(s)], NewValue::Map(es)) => (
            s,
            es.iter()
                .map(|(k, v)| Ok((k.clone(), flat_scalar(v, "INI")?)))
                .collect::<Result<_>>()?,
        ),
        _ => return Err(not_ini()),
    };
    for (k, _) in &entries {
        ini_key_ok(k)?;
    }
    if sec == ini::SOPS_SECTION || sec.contains(['[', ']', '\n', '\r']) {
        return Err(Error::Unsupported(format!(
            "{sec:?} cannot be written as an INI section"
        )));
    }
    let found = sections.iter().find(|s| s.name == *sec);
    let Some(s) = found else {
        // a new section at the end, after a blank line as sops writes sections
        let mut text = String::new();
        if !src.is_empty() && !src.ends_with('\n') {
            text.push('\n');
        }
        if !src.trim().is_empty() {
            text.push('\n');
        }
        if sec != ini::DEFAULT_SECTION {
            text.push_str(&format!("[{sec}]\n"));
        }
        for (k, v) in &entries {
            text.push_str(&ini_line(src, None, k, v));
        }
        return Ok(vec![Edit::insert(src.len(), text)]);
    };
    if path.len() == 1 {
        // the section's keys are replaced by the object's
        let mut text = String::new();
        for (k, v) in &entries {
            text.push_str(&ini_line(src, s.keys.first().map(|(_, r)| r), k, v));
        }
        return Ok(match (s.keys.first(), s.keys.last()) {
            (Some((_, first)), Some((_, last))) => vec![Edit::new(
                line_start(src, first.start)..next_line(src, last.end),
                text,
            )],
            _ => vec![section_insert(src, s, text)],
        });
    }
    let (key, value) = &entries[0];
    if let Some((_, span)) = s.keys.iter().find(|(k, _)| k == key) {
        return Ok(vec![Edit::new(span.clone(), ini::render(value))]);
    }
    let text = ini_line(src, s.keys.last().map(|(_, r)| r), key, value);
    Ok(vec![match s.keys.last() {
        Some((_, last)) => insert_line(src, next_line(src, last.end), text),
        None => section_insert(src, s, text),
    }])
}

/// Keys for a section that has none: after its header, or at the top for `DEFAULT`.
fn section_insert(src: &str, s: &Section, text: String) -> Edit {
    match &s.header {
        Some(h) => insert_line(src, h.end, text),
        // sops prints the DEFAULT keys first, then a blank line
        None if src.trim().is_empty() => Edit::insert(0, text),
        None => Edit::insert(0, format!("{text}\n")),
    }
}

fn ini_unset(src: &str, path: &[PathSeg]) -> Result<Option<Vec<Edit>>> {
    let sections = ini_sections(src)?;
    let find = |name: &str| sections.iter().find(|s| s.name == name);
    match path {
        [PathSeg::Key(sec)] => Ok(find(sec).map(|s| {
            let last = s.keys.last().map(|(_, r)| next_line(src, r.end));
            match (&s.header, last) {
                (Some(h), last) => vec![Edit::new(h.start..last.unwrap_or(h.end).max(h.end), "")],
                (None, Some(end)) => {
                    let first = line_start(src, s.keys[0].1.start);
                    vec![Edit::new(first..end, "")]
                }
                (None, None) => Vec::new(),
            }
        })),
        [PathSeg::Key(sec), PathSeg::Key(key)] => Ok(find(sec).and_then(|s| {
            s.keys.iter().find(|(k, _)| k == key).map(|(_, span)| {
                vec![Edit::new(
                    line_start(src, span.start)..next_line(src, span.end),
                    "",
                )]
            })
        })),
        [PathSeg::Index(_), ..] => Ok(None),
        // a section is a map: sops' "Key not found"
        [PathSeg::Key(_), PathSeg::Index(_), ..] => Ok(None),
        [PathSeg::Key(sec), PathSeg::Key(key), ..] => {
            let present = find(sec).is_some_and(|s| s.keys.iter().any(|(k, _)| k == key));
            if present {
                Err(Error::Unsupported(format!(
                    "{} is a single value: it has no {}",
                    shown(&path[..2]),
                    shown(&path[2..3])
                )))
            } else {
                Ok(None)
            }
        }
        [] => Err(Error::Internal("an empty path")),
    }
}

// ---- TOML ----
//
// An outline of the document built from toml_edit's spans. Entries of a table's body are
// whole lines (TOML allows one `key = value` per line), so they are added and removed as
// lines; items of arrays and inline tables are cut with their comma. A table is a set of
// header blocks (a header up to the next header), so it is removed block by block.

/// Where a TOML node sits, which decides how it is written and removed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum TCtx {
    /// the document itself
    Root,
    /// a `key = value` line of a table's body (a dotted key's last part included)
    Line,
    /// a table with a `[header]`, or an element of an array of tables (`[[header]]`)
    Header,
    /// a table with no header of its own (only sub-table headers, or dotted keys)
    Implicit,
    Dotted,
    /// an item of an array or an entry of an inline table
    Inline,
}

#[derive(Debug)]
enum TK {
    Scalar,
    Array(Vec<TN>),
    /// inline table (`dotted`: it holds `a.b = …` keys, which we do not edit inside)
    Inline(Vec<(String, TN)>, bool),
    Table(Vec<(String, TN)>),
    Aot(Vec<TN>),
}

#[derive(Debug)]
struct TN {
    kind: TK,
    ctx: TCtx,
    /// a value's span, a header's span, empty for the root and implicit or dotted tables
    span: Range<usize>,
    /// where an inline entry starts (its key), else `span.start`
    entry_start: usize,
    /// key names from the root, indices left out (what a header spells)
    names: Vec<String>,
    /// for a dotted table, how many of `names` name the table whose body holds its lines
    owner: usize,
}

struct TomlDoc<'a> {
    src: &'a str,
    root: TN,
    /// every header's position, in document order
    headers: Vec<usize>,
}

fn toml_doc(src: &str) -> Result<TomlDoc<'_>> {
    // toml::parse reports syntax errors in this project's form, and the sops-key rule
    toml::parse(src)?;
    let doc =
        toml_edit::Document::parse(src).map_err(|_| Error::Internal("TOML parsers disagree"))?;
    let mut headers = Vec::new();
    let root = toml_table(
        doc.as_table(),
        TCtx::Root,
        0,
        &mut Vec::new(),
        &mut headers,
        0,
    )?;
    headers.sort_unstable();
    Ok(TomlDoc { src, root, headers })
}

fn toml_table(
    t: &toml_edit::Table,
    ctx: TCtx,
    owner: usize,
    names: &mut Vec<String>,
    headers: &mut Vec<usize>,
    depth: usize,
) -> Result<TN> {
    let owner = if ctx == TCtx::Dotted {
        owner
    } else {
        names.len()
    };
    if depth > MAX_DEPTH {
        return Err(Error::Unsupported("TOML: nested too deeply".into()));
    }
    let span = match ctx {
        TCtx::Header => t.span().unwrap_or(0..0),
        _ => 0..0,
    };
    if ctx == TCtx::Header {
        headers.push(span.start);
    }
    let mut entries = Vec::new();
    for (k, item) in t.iter() {
        if depth == 0 && k == toml::SOPS_TABLE {
            continue;
        }
        names.push(k.to_string());
        let node = match item {
            toml_edit::Item::None => None,
            toml_edit::Item::Value(v) => Some(toml_value(v, TCtx::Line, 0, names, depth + 1)?),
            toml_edit::Item::Table(s) => {
                let c = if s.is_dotted() {
                    TCtx::Dotted
                } else if s.is_implicit() {
                    TCtx::Implicit
                } else {
                    TCtx::Header
                };
                Some(toml_table(s, c, owner, names, headers, depth + 1)?)
            }
            toml_edit::Item::ArrayOfTables(a) => {
                let items = a
                    .iter()
                    .map(|s| toml_table(s, TCtx::Header, 0, names, headers, depth + 1))
                    .collect::<Result<Vec<_>>>()?;
                Some(TN {
                    kind: TK::Aot(items),
                    ctx: TCtx::Header,
                    span: 0..0,
                    entry_start: 0,
                    names: names.clone(),
                    owner: 0,
                })
            }
        };
        names.pop();
        if let Some(n) = node {
            entries.push((k.to_string(), n));
        }
    }
    Ok(TN {
        kind: TK::Table(entries),
        ctx,
        entry_start: span.start,
        span,
        names: names.clone(),
        owner,
    })
}

fn toml_value(
    v: &toml_edit::Value,
    ctx: TCtx,
    entry_start: usize,
    names: &mut Vec<String>,
    depth: usize,
) -> Result<TN> {
    if depth > MAX_DEPTH {
        return Err(Error::Unsupported("TOML: nested too deeply".into()));
    }
    let span = v
        .span()
        .ok_or(Error::Internal("a TOML value without a span"))?;
    let kind = match v {
        toml_edit::Value::Array(a) => TK::Array(
            a.iter()
                .map(|x| {
                    let s = x.span().map_or(0, |s| s.start);
                    toml_value(x, TCtx::Inline, s, names, depth + 1)
                })
                .collect::<Result<_>>()?,
        ),
        toml_edit::Value::InlineTable(t) => {
            let mut es = Vec::new();
            // keys of a dotted part are written elsewhere in the braces: not ours to place
            let mut dotted = t.is_dotted();
            for (k, x) in t.iter() {
                dotted |= matches!(x, toml_edit::Value::InlineTable(i) if i.is_dotted());
                let ks = t
                    .key(k)
                    .and_then(|k| k.span())
                    .map_or_else(|| x.span().map_or(0, |s| s.start), |s| s.start);
                names.push(k.to_string());
                es.push((
                    k.to_string(),
                    toml_value(x, TCtx::Inline, ks, names, depth + 1)?,
                ));
                names.pop();
            }
            TK::Inline(es, dotted)
        }
        _ => TK::Scalar,
    };
    Ok(TN {
        kind,
        ctx,
        entry_start: if ctx == TCtx::Inline {
            entry_start
        } else {
            span.start
        },
        span,
        names: names.clone(),
        owner: 0,
    })
}

fn toml_err(msg: &str, path: &[PathSeg]) -> Error {
    Error::Unsupported(format!("TOML: {msg} ({})", shown(path)))
}

/// A value on one line: scalars, `[…]` arrays and `{ … }` inline tables. TOML has no null.
fn toml_inline(v: &NewValue, path: &[PathSeg]) -> Result<String> {
    Ok(match v {
        NewValue::Scalar(Some(s)) => toml::render(s),
        NewValue::Scalar(None) => return Err(toml_err("TOML has no null", path)),
        NewValue::List(items) => {
            let xs = items
                .iter()
                .map(|x| toml_inline(x, path))
                .collect::<Result<Vec<_>>>()?;
            format!("[{}]", xs.join(", "))
        }
        NewValue::Map(es) if es.is_empty() => "{}".into(),
        NewValue::Map(es) => {
            let xs = es
                .iter()
                .map(|(k, x)| Ok(format!("{} = {}", toml::key_text(k), toml_inline(x, path)?)))
                .collect::<Result<Vec<_>>>()?;
            format!("{{ {} }}", xs.join(", "))
        }
    })
}

/// Whether a value is written as a table (a map) or as an array of tables (a non-empty
/// list of maps) when it is an entry of a table with a header.
fn toml_tabular(v: &NewValue) -> bool {
    match v {
        NewValue::Map(_) => true,
        NewValue::List(xs) => !xs.is_empty() && xs.iter().all(|x| matches!(x, NewValue::Map(_))),
        NewValue::Scalar(_) => false,
    }
}

fn toml_header(names: &[String], aot: bool) -> String {
    let n: Vec<String> = names.iter().map(|k| toml::key_text(k)).collect();
    if aot {
        format!("[[{}]]\n", n.join("."))
    } else {
        format!("[{}]\n", n.join("."))
    }
}

/// Header blocks for `value` at `names`: a table, or an array of tables.
fn toml_blocks(names: &[String], value: &NewValue, path: &[PathSeg]) -> Result<String> {
    match value {
        NewValue::Map(es) => toml_block(names, es, false, path),
        NewValue::List(xs) => {
            let mut out = String::new();
            for (i, x) in xs.iter().enumerate() {
                let NewValue::Map(es) = x else {
                    return Err(Error::Internal("an array of tables item that is no map"));
                };
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&toml_block(names, es, true, path)?);
            }
            Ok(out)
        }
        NewValue::Scalar(_) => Err(Error::Internal("a table block for a scalar")),
    }
}

fn toml_block(
    names: &[String],
    es: &[(String, NewValue)],
    aot: bool,
    path: &[PathSeg],
) -> Result<String> {
    let mut out = toml_header(names, aot);
    let mut subs = Vec::new();
    for (k, v) in es {
        if toml_tabular(v) {
            subs.push((k, v));
        } else {
            out.push_str(&format!(
                "{} = {}\n",
                toml::key_text(k),
                toml_inline(v, path)?
            ));
        }
    }
    // a table that only holds tables needs no header of its own
    let bare = !aot && !subs.is_empty() && subs.len() == es.len();
    if bare {
        out.clear();
    }
    for (k, v) in subs {
        let mut n = names.to_vec();
        n.push(k.clone());
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&toml_blocks(&n, v, path)?);
    }
    Ok(out)
}

impl TomlDoc<'_> {
    /// Where a header's block starts: its line (comments above it stay with what precedes).
    fn block(&self, h: usize) -> Range<usize> {
        let start = line_start(self.src, h);
        let end = match self.headers.iter().find(|&&x| x > h) {
            Some(&next) => {
                // comment lines right above the next header belong to it
                let mut at = line_start(self.src, next);
                while at > start {
                    let prev = line_start(self.src, at - 1);
                    if prev > start && self.src[prev..at].trim_start().starts_with('#') {
                        at = prev;
                    } else {
                        break;
                    }
                }
                at
            }
            None => self.src.len(),
        };
        start..end
    }

    /// The header blocks and the body lines outside them that hold `n` and what is under it.
    fn ranges(&self, n: &TN, out: &mut Vec<Range<usize>>) {
        match (&n.kind, n.ctx) {
            (_, TCtx::Line) => {
                out.push(line_start(self.src, n.span.start)..next_line(self.src, n.span.end))
            }
            (TK::Table(es), c) => {
                if c == TCtx::Header {
                    out.push(self.block(n.span.start));
                }
                for (_, x) in es {
                    self.ranges(x, out);
                }
            }
            (TK::Aot(xs), _) => xs.iter().for_each(|x| self.ranges(x, out)),
            _ => {}
        }
    }

    /// `ranges`, sorted, those inside another left out.
    fn cover(&self, n: &TN) -> Vec<Range<usize>> {
        let mut rs = Vec::new();
        self.ranges(n, &mut rs);
        rs.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        let mut out: Vec<Range<usize>> = Vec::new();
        for r in rs {
            if out.last().is_some_and(|l| r.start < l.end) {
                continue;
            }
            out.push(r);
        }
        out
    }

    /// Where new sub-tables of table `t` go: after its last header block.
    fn tables_end(&self, t: &TN) -> usize {
        match t.ctx {
            TCtx::Root => self.src.len(),
            _ => self
                .cover(t)
                .iter()
                .map(|r| r.end)
                .max()
                .unwrap_or(self.src.len()),
        }
    }

    /// Where a new line of table `t`'s body goes: after its last entry (dotted ones
    /// included), else after its header; `None` for a table with no header.
    fn body_end(&self, t: &TN) -> Option<usize> {
        let mut last = None;
        self.last_line(t, &mut last);
        if let Some(e) = last {
            return Some(e);
        }
        match t.ctx {
            TCtx::Header => Some(next_line(self.src, t.span.end)),
            TCtx::Root => Some(
                self.headers
                    .first()
                    .map_or(self.src.len(), |&h| self.block_start(h)),
            ),
            _ => None,
        }
    }

    fn block_start(&self, h: usize) -> usize {
        let mut at = line_start(self.src, h);
        while at > 0 {
            let prev = line_start(self.src, at - 1);
            if self.src[prev..at].trim_start().starts_with('#') {
                at = prev;
            } else {
                break;
            }
        }
        at
    }

    fn last_line(&self, t: &TN, last: &mut Option<usize>) {
        if let TK::Table(es) = &t.kind {
            for (_, x) in es {
                match x.ctx {
                    TCtx::Line => {
                        let e = next_line(self.src, x.span.end);
                        *last = Some(last.map_or(e, |l: usize| l.max(e)));
                    }
                    TCtx::Dotted => self.last_line(x, last),
                    _ => {}
                }
            }
        }
    }

    /// Text inserted at `at` starts on a line of its own.
    fn nl(&self, at: usize) -> &'static str {
        if at > 0 && !self.src[..at].ends_with('\n') {
            "\n"
        } else {
            ""
        }
    }

    /// Header blocks inserted at `at`, a blank line around them.
    fn blocks_at(&self, at: usize, text: &str) -> Edit {
        let mut t = self.nl(at).to_string();
        if at > 0 && !self.src[..at].ends_with("\n\n") && !self.src[..at].ends_with("\n\r\n") {
            t.push('\n');
        }
        t.push_str(text);
        if at < self.src.len() {
            t.push('\n');
        }
        Edit::insert(at, t)
    }

    /// A new entry `key` = `v` in table-like node `t`.
    fn add(&self, t: &TN, key: &str, v: &NewValue, path: &[PathSeg]) -> Result<Vec<Edit>> {
        let kt = toml::key_text(key);
        match (&t.kind, t.ctx) {
            (TK::Inline(es, dotted), _) => {
                if *dotted {
                    return Err(toml_err(
                        "dotted keys inside an inline table: edit by hand",
                        path,
                    ));
                }
                let text = format!("{kt} = {}", toml_inline(v, path)?);
                Ok(vec![match es.last() {
                    Some((_, x)) => Edit::insert(x.span.end, format!(", {text}")),
                    None => Edit::insert(t.span.end - 1, text),
                }])
            }
            (TK::Table(_), TCtx::Dotted) => {
                let mut at = None;
                self.last_line(t, &mut at);
                let at = at.ok_or(Error::Internal("a dotted table without entries"))?;
                let prefix: Vec<String> = t.names[t.owner..]
                    .iter()
                    .map(|k| toml::key_text(k))
                    .collect();
                let text = format!("{}.{kt} = {}\n", prefix.join("."), toml_inline(v, path)?);
                Ok(vec![Edit::insert(at, format!("{}{text}", self.nl(at)))])
            }
            (TK::Table(_), _) => {
                if toml_tabular(v) {
                    let mut names = t.names.clone();
                    names.push(key.to_string());
                    let at = self.tables_end(t);
                    return Ok(vec![self.blocks_at(at, &toml_blocks(&names, v, path)?)]);
                }
                let line = format!("{kt} = {}\n", toml_inline(v, path)?);
                match self.body_end(t) {
                    Some(at) => {
                        let mut text = format!("{}{line}", self.nl(at));
                        // the root's first entry before a header: keep a blank line
                        if t.ctx == TCtx::Root && at < self.src.len() && self.no_lines(t) {
                            text.push('\n');
                        }
                        Ok(vec![Edit::insert(at, text)])
                    }
                    None => {
                        // an implicit table gets its header, before its first sub-table
                        let at = self
                            .cover(t)
                            .first()
                            .map_or(self.src.len(), |r| self.block_start(r.start));
                        let block = format!("{}{line}", toml_header(&t.names, false));
                        Ok(vec![self.blocks_at(at, &block)])
                    }
                }
            }
            _ => Err(toml_err("a key into a value that is not a table", path)),
        }
    }

    fn no_lines(&self, t: &TN) -> bool {
        let mut last = None;
        self.last_line(t, &mut last);
        last.is_none()
    }

    /// Remove node `n`, which sits in `parent`.
    fn remove(&self, parent: &TN, idx: usize, n: &TN) -> Vec<Edit> {
        if n.ctx == TCtx::Inline {
            let siblings: Vec<&TN> = match &parent.kind {
                TK::Array(xs) => xs.iter().collect(),
                TK::Inline(es, _) => es.iter().map(|(_, x)| x).collect(),
                _ => vec![n],
            };
            let r = if siblings.len() == 1 {
                parent.span.start + 1..parent.span.end - 1
            } else if idx + 1 < siblings.len() {
                n.entry_start..siblings[idx + 1].entry_start
            } else {
                siblings[idx - 1].span.end..n.span.end
            };
            return vec![Edit::new(r, "")];
        }
        self.cover(n)
            .into_iter()
            .map(|r| Edit::new(r, ""))
            .collect()
    }

    /// `text` in place of the first of the removals `edits`.
    fn in_first(&self, mut edits: Vec<Edit>, mut text: String) -> Vec<Edit> {
        if edits.is_empty() {
            return edits;
        }
        let first = edits.remove(0);
        if first.range.end < self.src.len() {
            text.push('\n');
        }
        edits.push(Edit::new(first.range, text));
        edits
    }

    /// Replace node `n` (entry `key` of `parent`, or item `idx` of it) by `v`.
    fn replace(
        &self,
        parent: &TN,
        key: Option<&str>,
        idx: usize,
        n: &TN,
        v: &NewValue,
        path: &[PathSeg],
    ) -> Result<Vec<Edit>> {
        let value_node = matches!(n.ctx, TCtx::Line | TCtx::Inline);
        if value_node
            && (n.ctx == TCtx::Inline
                || !matches!(n.kind, TK::Scalar)
                || !toml_tabular(v)
                || parent.ctx == TCtx::Dotted)
        {
            return Ok(vec![Edit::new(n.span.clone(), toml_inline(v, path)?)]);
        }
        // a table, or a line that becomes one: remove it, write the new value
        let mut edits = self.remove(parent, idx, n);
        match (key, parent.ctx) {
            (Some(k), TCtx::Dotted) | (Some(k), TCtx::Root | TCtx::Header | TCtx::Implicit)
                if !(toml_tabular(v) && n.ctx == TCtx::Header) =>
            {
                edits.extend(self.add(parent, k, v, path)?);
            }
            (Some(_), _) if toml_tabular(v) => {
                // in place of the first block removed
                let text = toml_blocks(&n.names, v, path)?;
                edits = self.in_first(edits, text);
            }
            (None, _) => {
                // an element of an array of tables
                let NewValue::Map(es) = v else {
                    return Err(toml_err("an array of tables holds only tables", path));
                };
                let text = toml_block(&n.names, es, true, path)?;
                edits = self.in_first(edits, text);
            }
            _ => return Err(toml_err("cannot write this value here", path)),
        }
        Ok(edits)
    }
}

fn toml_set(src: &str, path: &[PathSeg], v: &NewValue) -> Result<Vec<Edit>> {
    if matches!(path.first(), Some(PathSeg::Key(k)) if k == toml::SOPS_TABLE) {
        return Err(toml_err("the top-level key `sops` is reserved", path));
    }
    let d = toml_doc(src)?;
    let mut cur = &d.root;
    for (i, seg) in path.iter().enumerate() {
        let rest = &path[i + 1..];
        match (&cur.kind, seg) {
            (TK::Table(es) | TK::Inline(es, _), PathSeg::Key(k)) => {
                match es.iter().position(|(n, _)| n == k) {
                    Some(j) => {
                        let x = &es[j].1;
                        if rest.is_empty() || matches!(x.kind, TK::Scalar) {
                            return d.replace(cur, Some(k), j, x, &nest(rest, v), path);
                        }
                        cur = x;
                    }
                    None => return d.add(cur, k, &nest(rest, v), path),
                }
            }
            (TK::Array(xs), PathSeg::Index(j)) => {
                let nv = nest(rest, v);
                match xs.get(*j) {
                    Some(x) if rest.is_empty() || matches!(x.kind, TK::Scalar) => {
                        return d.replace(cur, None, *j, x, &nv, path);
                    }
                    Some(x) => cur = x,
                    None => {
                        let text = toml_inline(&nv, path)?;
                        return Ok(vec![toml_append(src, cur, xs, text)]);
                    }
                }
            }
            (TK::Aot(xs), PathSeg::Index(j)) => {
                let nv = nest(rest, v);
                match xs.get(*j) {
                    Some(x) if rest.is_empty() => return d.replace(cur, None, *j, x, &nv, path),
                    Some(x) => cur = x,
                    None => {
                        let NewValue::Map(es) = &nv else {
                            return Err(toml_err("an array of tables holds only tables", path));
                        };
                        let at = d.tables_end(cur);
                        return Ok(vec![
                            d.blocks_at(at, &toml_block(&cur.names, es, true, path)?),
                        ]);
                    }
                }
            }
            (TK::Array(_) | TK::Aot(_), PathSeg::Key(_)) => {
                return Err(toml_err("a key into an array", path));
            }
            _ => return Err(toml_err("an index into a table", path)),
        }
    }
    Err(Error::Internal("an empty path"))
}

/// An item appended to an inline array `a`.
fn toml_append(src: &str, a: &TN, xs: &[TN], text: String) -> Edit {
    let Some(last) = xs.last() else {
        return Edit::insert(a.span.end - 1, text);
    };
    // a multi-line array with a trailing comma: a new line like the last item's
    let tail = &src[last.span.end..a.span.end - 1];
    let ls = line_start(src, last.entry_start);
    let indent = &src[ls..last.entry_start];
    if tail.trim_start().starts_with(',') && tail.contains('\n') && indent.trim().is_empty() {
        let comma = last.span.end + tail.find(',').unwrap_or(0) + 1;
        return Edit::insert(comma, format!("\n{indent}{text},"));
    }
    Edit::insert(last.span.end, format!(", {text}"))
}

fn toml_unset(src: &str, path: &[PathSeg]) -> Result<Option<Vec<Edit>>> {
    let d = toml_doc(src)?;
    let mut cur = &d.root;
    for (i, seg) in path.iter().enumerate() {
        let last = i + 1 == path.len();
        let (j, x) = match (&cur.kind, seg) {
            (TK::Table(es) | TK::Inline(es, _), PathSeg::Key(k)) => {
                match es.iter().position(|(n, _)| n == k) {
                    Some(j) => (j, &es[j].1),
                    None => return Ok(None),
                }
            }
            (TK::Array(xs) | TK::Aot(xs), PathSeg::Index(j)) => match xs.get(*j) {
                Some(x) => (*j, x),
                None => return Ok(None),
            },
            (TK::Scalar, _) => return Err(toml_err("a path through a single value", path)),
            (TK::Array(_) | TK::Aot(_), PathSeg::Key(_)) => {
                return Err(toml_err("a key into an array", path));
            }
            _ => return Err(toml_err("an index into a table", path)),
        };
        if last {
            if let TK::Inline(_, true) = cur.kind {
                return Err(toml_err(
                    "dotted keys inside an inline table: edit by hand",
                    path,
                ));
            }
            return Ok(Some(d.remove(cur, j, x)));
        }
        cur = x;
    }
    Err(Error::Internal("an empty path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> PathSeg {
        PathSeg::Key(s.into())
    }

    fn set_s(src: &str, f: Format, path: &str, v: &str) -> String {
        let p = crate::document::parse_tree_path(path).unwrap();
        String::from_utf8(set(src.as_bytes(), f, &p, v).unwrap().expect("a change")).unwrap()
    }

    fn unset_s(src: &str, f: Format, path: &str) -> String {
        let p = crate::document::parse_tree_path(path).unwrap();
        String::from_utf8(unset(src.as_bytes(), f, &p).unwrap().expect("a change")).unwrap()
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_value("5").unwrap(),
            NewValue::Scalar(Some(Value::Float(5.0)))
        );
        assert_eq!(
            parse_value("{\"b\": 1, \"a\": [null, 1.5]}").unwrap(),
            NewValue::Map(vec![
                ("b".into(), NewValue::Scalar(Some(Value::Int(1)))),
                (
                    "a".into(),
                    NewValue::List(vec![
                        NewValue::Scalar(None),
                        NewValue::Scalar(Some(Value::Float(1.5)))
                    ])
                ),
            ])
        );
        assert!(matches!(parse_value("[1]"), Err(Error::BadSetValue(_))));
        assert!(matches!(parse_value("nope"), Err(Error::BadSetValue(_))));
        assert!(matches!(
            parse_value("{\"a\":1"),
            Err(Error::BadSetValue(_))
        ));
        assert_eq!(
            nest(&[k("a"), PathSeg::Index(3)], &NewValue::Scalar(None)),
            NewValue::Map(vec![(
                "a".into(),
                NewValue::List(vec![NewValue::Scalar(None)])
            )])
        );
    }

    #[test]
    fn yaml_scalars_keep_their_quotes() {
        let src = "a: 'x'  # c\nb: \"y\"\nc: z\n";
        assert_eq!(
            set_s(src, Format::Yaml, "[\"a\"]", "\"new\""),
            "a: 'new'  # c\nb: \"y\"\nc: z\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"b\"]", "\"new\""),
            "a: 'x'  # c\nb: \"new\"\nc: z\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"c\"]", "\"123\""),
            "a: 'x'  # c\nb: \"y\"\nc: \"123\"\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"b\"]", "true"),
            "a: 'x'  # c\nb: true\nc: z\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"c\"]", "2.5"),
            "a: 'x'  # c\nb: \"y\"\nc: 2.5\n"
        );
    }

    #[test]
    fn yaml_structure() {
        let src = "# top\na: 1\nm:\n  x: hi # note\n  l:\n    - one\n    - two\nz: end\n";
        assert_eq!(
            set_s(
                src,
                Format::Yaml,
                "[\"m\"][\"w\"]",
                "{\"p\": [1, {\"q\": null}], \"e\": {}}"
            ),
            "# top\na: 1\nm:\n  x: hi # note\n  l:\n    - one\n    - two\n  w:\n    p:\n      - 1\n      - q: null\n    e: {}\nz: end\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"m\"][\"l\"][7]", "\"three\""),
            "# top\na: 1\nm:\n  x: hi # note\n  l:\n    - one\n    - two\n    - three\nz: end\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"a\"][\"b\"]", "\"c\""),
            "# top\na:\n  b: c\nm:\n  x: hi # note\n  l:\n    - one\n    - two\nz: end\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"m\"]", "\"flat\""),
            "# top\na: 1\nm: flat\nz: end\n"
        );
        assert_eq!(
            unset_s(src, Format::Yaml, "[\"m\"][\"l\"][0]"),
            "# top\na: 1\nm:\n  x: hi # note\n  l:\n    - two\nz: end\n"
        );
        assert_eq!(
            unset_s(src, Format::Yaml, "[\"m\"]"),
            "# top\na: 1\nz: end\n"
        );
        assert_eq!(
            unset_s(src, Format::Yaml, "[\"m\"][\"x\"]"),
            "# top\na: 1\nm:\n  l:\n    - one\n    - two\nz: end\n"
        );
        assert_eq!(
            unset_s("a:\n  b: 1\nc: 2\n", Format::Yaml, "[\"a\"][\"b\"]"),
            "a:\n  {}\nc: 2\n"
        );
        assert_eq!(
            unset_s(
                "l:\n  - a: 1\n    b: 2\n",
                Format::Yaml,
                "[\"l\"][0][\"a\"]"
            ),
            "l:\n  - b: 2\n"
        );
        assert_eq!(set_s("a: 1", Format::Yaml, "[\"b\"]", "2"), "a: 1\nb: 2");
    }

    #[test]
    fn yaml_regressions() {
        // removing the line between a `|+` scalar and a blank line must not grow the scalar
        assert_eq!(
            unset_s("a: |+\n  x\nb: []\n\nc: 1\n", Format::Yaml, "[\"b\"]"),
            "a: |+\n  x\nc: 1\n"
        );
        assert_eq!(
            unset_s("a: |+\n  x\n\nb: []\n\nc: 1\n", Format::Yaml, "[\"b\"]"),
            "a: |+\n  x\n\nc: 1\n"
        );
        // a line after a clip or keep block scalar that ends the file without a line break
        // would add one to it
        let p = [k("b")];
        for src in ["a: |\n  x", "a: |+\n  x", "l:\n  - >\n    x"] {
            assert!(matches!(
                set(src.as_bytes(), Format::Yaml, &p, "1"),
                Err(Error::Unsupported(_))
            ));
        }
        assert_eq!(
            set_s("a: |-\n  x", Format::Yaml, "[\"b\"]", "1"),
            "a: |-\n  x\nb: 1"
        );
        // empty values
        assert_eq!(
            set_s("a:\nb: 1\n", Format::Yaml, "[\"a\"]", "\"x\""),
            "a: x\nb: 1\n"
        );
        assert_eq!(
            set_s("a: # c\nb: 1\n", Format::Yaml, "[\"a\"]", "{\"k\": 1}"),
            "a:\n    k: 1 # c\nb: 1\n"
        );
        // a block literal would swallow the comment after the old value
        assert_eq!(
            set_s("a: 1 # c\nb: 2\n", Format::Yaml, "[\"a\"]", "\"x\\ny\""),
            "a: \"x\\ny\" # c\nb: 2\n"
        );
    }

    #[test]
    fn yaml_flow() {
        let src = "f: {a: 1, b: [x, y]}\n";
        assert_eq!(
            set_s(src, Format::Yaml, "[\"f\"][\"c\"]", "\"p, q\""),
            "f: {a: 1, b: [x, y], c: \"p, q\"}\n"
        );
        assert_eq!(
            set_s(src, Format::Yaml, "[\"f\"][\"b\"][5]", "{\"k\": 1}"),
            "f: {a: 1, b: [x, y, {k: 1}]}\n"
        );
        assert_eq!(
            unset_s(src, Format::Yaml, "[\"f\"][\"a\"]"),
            "f: {b: [x, y]}\n"
        );
        assert_eq!(
            unset_s(src, Format::Yaml, "[\"f\"][\"b\"][1]"),
            "f: {a: 1, b: [x]}\n"
        );
        assert_eq!(
            unset_s("f: {a: 1}\n", Format::Yaml, "[\"f\"][\"a\"]"),
            "f: {}\n"
        );
    }

    #[test]
    fn errors_and_none() {
        let src = b"a: 1\nl: [1]\nm: {x: 1}\n";
        let p = |s: &str| crate::document::parse_tree_path(s).unwrap();
        assert!(set(src, Format::Yaml, &[], "1").is_err());
        assert!(matches!(
            set(src, Format::Yaml, &p("[\"l\"][\"k\"]"), "1"),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            set(src, Format::Yaml, &p("[\"m\"][0]"), "1"),
            Err(Error::Unsupported(_))
        ));
        // `1` is a float for sops, but the data read back is the same integer
        assert_eq!(set(src, Format::Yaml, &p("[\"a\"]"), "1").unwrap(), None);
        assert_eq!(
            set(src, Format::Yaml, &p("[\"m\"]"), "{\"x\": 1}").unwrap(),
            None
        );
        assert_eq!(unset(src, Format::Yaml, &p("[\"zz\"]")).unwrap(), None);
        assert_eq!(unset(src, Format::Yaml, &p("[\"l\"][3]")).unwrap(), None);
        assert_eq!(unset(src, Format::Yaml, &p("[\"m\"][0]")).unwrap(), None);
        assert!(matches!(
            unset(src, Format::Yaml, &p("[\"a\"][\"b\"]")),
            Err(Error::Unsupported(_))
        ));
        assert!(matches!(
            unset(src, Format::Yaml, &p("[\"l\"][\"b\"]")),
            Err(Error::Unsupported(_))
        ));
        assert!(unset(src, Format::Yaml, &[]).is_err());
    }

    #[test]
    fn json() {
        let src = "{\n  \"a\": 1,\n  \"m\": {\"x\": [1, 2]}\n}\n";
        assert_eq!(
            set_s(src, Format::Json, "[\"a\"]", "\"s\""),
            "{\n  \"a\": \"s\",\n  \"m\": {\"x\": [1, 2]}\n}\n"
        );
        assert_eq!(
            set_s(src, Format::Json, "[\"b\"]", "{\"c\": [true]}"),
            "{\n  \"a\": 1,\n  \"m\": {\"x\": [1, 2]},\n  \"b\": {\n    \"c\": [\n      true\n    ]\n  }\n}\n"
        );
        assert_eq!(
            set_s(src, Format::Json, "[\"m\"][\"x\"][9]", "3"),
            "{\n  \"a\": 1,\n  \"m\": {\"x\": [1, 2, 3]}\n}\n"
        );
        assert_eq!(
            set_s(src, Format::Json, "[\"m\"][\"y\"]", "null"),
            "{\n  \"a\": 1,\n  \"m\": {\"x\": [1, 2], \"y\": null}\n}\n"
        );
        assert_eq!(
            unset_s(src, Format::Json, "[\"a\"]"),
            "{\n  \"m\": {\"x\": [1, 2]}\n}\n"
        );
        assert_eq!(unset_s(src, Format::Json, "[\"m\"]"), "{\n  \"a\": 1\n}\n");
        assert_eq!(
            unset_s(src, Format::Json, "[\"m\"][\"x\"][0]"),
            "{\n  \"a\": 1,\n  \"m\": {\"x\": [2]}\n}\n"
        );
        assert_eq!(set_s("{}\n", Format::Json, "[\"a\"]", "1"), "{\"a\": 1}\n");
        assert_eq!(
            set_s("{\n}\n", Format::Json, "[\"a\"]", "1"),
            "{\n\t\"a\": 1\n}\n"
        );
    }

    #[test]
    fn dotenv() {
        let src = "A=1\n# c\nB=two\n";
        assert_eq!(
            set_s(src, Format::Dotenv, "[\"B\"]", "\"x\\ny\""),
            "A=1\n# c\nB=x\\ny\n"
        );
        assert_eq!(
            set_s(src, Format::Dotenv, "[\"C\"]", "true"),
            "A=1\n# c\nB=two\nC=true\n"
        );
        assert_eq!(set_s("A=1", Format::Dotenv, "[\"C\"]", "\"v\""), "A=1\nC=v");
        assert_eq!(unset_s(src, Format::Dotenv, "[\"A\"]"), "# c\nB=two\n");
        let p = |s: &str| crate::document::parse_tree_path(s).unwrap();
        assert!(set(src.as_bytes(), Format::Dotenv, &p("[\"A\"][\"b\"]"), "1").is_err());
        assert!(set(src.as_bytes(), Format::Dotenv, &p("[\"A\"]"), "{\"b\": 1}").is_err());
        assert!(set(src.as_bytes(), Format::Dotenv, &p("[\"A\"]"), "null").is_err());
        assert_eq!(
            unset(src.as_bytes(), Format::Dotenv, &p("[\"Z\"]")).unwrap(),
            None
        );
    }

    #[test]
    fn ini() {
        let src = "; c\n[s1]\na = 1\nb=x y\n\n[s2]\nc = 3\n";
        assert_eq!(
            set_s(src, Format::Ini, "[\"s1\"][\"a\"]", "\"v\""),
            "; c\n[s1]\na = v\nb=x y\n\n[s2]\nc = 3\n"
        );
        assert_eq!(
            set_s(src, Format::Ini, "[\"s1\"][\"z\"]", "true"),
            "; c\n[s1]\na = 1\nb=x y\nz=true\n\n[s2]\nc = 3\n"
        );
        assert_eq!(
            set_s(src, Format::Ini, "[\"s3\"][\"k\"]", "5"),
            "; c\n[s1]\na = 1\nb=x y\n\n[s2]\nc = 3\n\n[s3]\nk = 5.0\n"
        );
        assert_eq!(
            set_s(src, Format::Ini, "[\"DEFAULT\"][\"k\"]", "\"v\""),
            "k = v\n\n; c\n[s1]\na = 1\nb=x y\n\n[s2]\nc = 3\n"
        );
        assert_eq!(
            set_s(src, Format::Ini, "[\"s1\"]", "{\"q\": \"r\"}"),
            "; c\n[s1]\nq = r\n\n[s2]\nc = 3\n"
        );
        assert_eq!(
            unset_s(src, Format::Ini, "[\"s1\"][\"a\"]"),
            "; c\n[s1]\nb=x y\n\n[s2]\nc = 3\n"
        );
        assert_eq!(
            unset_s(src, Format::Ini, "[\"s2\"]"),
            "; c\n[s1]\na = 1\nb=x y\n\n"
        );
        let p = |s: &str| crate::document::parse_tree_path(s).unwrap();
        assert!(set(src.as_bytes(), Format::Ini, &p("[\"k\"]"), "\"v\"").is_err());
        assert!(
            set(
                src.as_bytes(),
                Format::Ini,
                &p("[\"s1\"][\"a\"][\"x\"]"),
                "\"v\""
            )
            .is_err()
        );
        assert_eq!(
            unset(src.as_bytes(), Format::Ini, &p("[\"s9\"]")).unwrap(),
            None
        );
    }

    #[test]
    fn toml() {
        let src = "a = 1\n[t]\nb = \"x\" # c\n";
        assert_eq!(
            set_s(src, Format::Toml, "[\"t\"][\"b\"]", "\"y\""),
            "a = 1\n[t]\nb = \"y\" # c\n"
        );
        assert_eq!(
            unset_s(src, Format::Toml, "[\"a\"]"),
            "[t]\nb = \"x\" # c\n"
        );
    }

    const TOML: &str = "# top\na = 1\nd.x = 2\n\n[t]\nb = \"x\" # c\nl = [1, 2]\nm = [\n  1,\n  2,\n]\ni = { p = 1, q = 2 }\n\n[t.s]\nz = 1\n\n[[arr]]\nn = 1\n[arr.sub]\nk = 1\n\n[[arr]]\nn = 2\n\n# about u\n[u.v]\nw = 1\n";

    fn ts(path: &str, v: &str) -> String {
        set_s(TOML, Format::Toml, path, v)
    }

    fn tu(path: &str) -> String {
        unset_s(TOML, Format::Toml, path)
    }

    fn rep(from: &str, to: &str) -> String {
        assert_eq!(TOML.matches(from).count(), 1, "{from}");
        TOML.replace(from, to)
    }

    #[test]
    fn toml_new_keys() {
        // after the last key of its table, dotted keys included, before the sub-tables
        assert_eq!(
            ts("[\"new\"]", "1"),
            rep("d.x = 2\n", "d.x = 2\nnew = 1.0\n")
        );
        assert_eq!(
            ts("[\"t\"][\"new\"]", "true"),
            rep("q = 2 }\n", "q = 2 }\nnew = true\n")
        );
        assert_eq!(
            ts("[\"d\"][\"y\"]", "3"),
            rep("d.x = 2\n", "d.x = 2\nd.y = 3.0\n")
        );
        assert_eq!(
            ts("[\"t\"][\"i\"][\"r\"]", "{\"s\": 1}"),
            rep("q = 2 }", "q = 2, r = { s = 1 } }")
        );
        // an element of an array of tables: in its own block
        assert_eq!(
            ts("[\"arr\"][0][\"new\"]", "\"s\""),
            rep("n = 1\n", "n = 1\nnew = \"s\"\n")
        );
        // an implicit table gets its header, above the comment of its first sub-table
        assert_eq!(
            ts("[\"u\"][\"new\"]", "1"),
            rep("# about u\n", "[u]\nnew = 1.0\n\n# about u\n")
        );
        // quoted keys, an empty root, no final newline, CRLF
        assert_eq!(
            set_s("", Format::Toml, "[\"a b\"]", "\"v\""),
            "\"a b\" = \"v\"\n"
        );
        assert_eq!(
            set_s("a = 1", Format::Toml, "[\"b\"]", "2"),
            "a = 1\nb = 2.0\n"
        );
        assert_eq!(
            set_s("[t]\n", Format::Toml, "[\"a\"]", "\"x\""),
            "a = \"x\"\n\n[t]\n"
        );
        assert_eq!(
            set_s(
                "[t]\r\na = 1\r\n",
                Format::Toml,
                "[\"t\"][\"b\"]",
                "{\"c\": 1}"
            ),
            "[t]\r\na = 1\r\n\r\n[t.b]\r\nc = 1\r\n"
        );
    }

    #[test]
    fn toml_new_tables_and_items() {
        assert_eq!(
            ts(
                "[\"t\"][\"obj\"]",
                "{\"a\": 1, \"b\": {\"c\": [1]}, \"l\": [{\"x\": 1}], \"e\": []}"
            ),
            rep(
                "z = 1\n\n",
                "z = 1\n\n[t.obj]\na = 1\ne = []\n\n[t.obj.b]\nc = [1]\n\n[[t.obj.l]]\nx = 1\n\n"
            )
        );
        // a sub-table of an element of an array of tables stays in that element
        assert_eq!(
            ts("[\"arr\"][0][\"tab\"]", "{\"q\": 1}"),
            rep("k = 1\n\n", "k = 1\n\n[arr.tab]\nq = 1\n\n")
        );
        // a path of new tables: no empty headers
        assert_eq!(
            ts("[\"n\"][\"o\"][\"p\"]", "1"),
            format!("{TOML}\n[n.o]\np = 1.0\n")
        );
        assert_eq!(
            ts("[\"n\"][0][\"p\"]", "\"x\""),
            format!("{TOML}\n[[n]]\np = \"x\"\n")
        );
        // lists: appended, multi-line ones on a line of their own
        assert_eq!(ts("[\"t\"][\"l\"][5]", "3"), rep("[1, 2]", "[1, 2, 3.0]"));
        assert_eq!(
            ts("[\"t\"][\"m\"][9]", "3"),
            rep("  2,\n", "  2,\n  3.0,\n")
        );
        assert_eq!(
            set_s("a = []\n", Format::Toml, "[\"a\"][0]", "{\"k\": \"v\"}"),
            "a = [{ k = \"v\" }]\n"
        );
        assert_eq!(
            ts("[\"arr\"][5]", "{\"n\": 3}"),
            rep("n = 2\n\n", "n = 2\n\n[[arr]]\nn = 3\n\n")
        );
    }

    #[test]
    fn toml_replace() {
        assert_eq!(
            ts("[\"t\"][\"l\"][0]", "\"s\""),
            rep("[1, 2]", "[\"s\", 2]")
        );
        assert_eq!(
            ts("[\"t\"][\"l\"]", "{\"a\": 1}"),
            rep("[1, 2]", "{ a = 1 }")
        );
        // a value that becomes a table
        assert_eq!(
            ts("[\"t\"][\"b\"]", "{\"q\": 1}"),
            rep("b = \"x\" # c\n", "").replace("z = 1\n\n", "z = 1\n\n[t.b]\nq = 1\n\n")
        );
        assert_eq!(
            set_s("a = 1\n", Format::Toml, "[\"a\"][\"b\"]", "2"),
            "\n[a]\nb = 2.0\n"
        );
        // a table that becomes a value, and one replaced in place
        assert_eq!(
            ts("[\"t\"]", "5"),
            TOML.replace("d.x = 2\n", "d.x = 2\nt = 5.0\n")
                .replace("[t]\nb = \"x\" # c\nl = [1, 2]\nm = [\n  1,\n  2,\n]\ni = { p = 1, q = 2 }\n\n[t.s]\nz = 1\n\n", "")
        );
        assert_eq!(ts("[\"t\"][\"s\"]", "{\"y\": 1}"), rep("z = 1", "y = 1"));
        assert_eq!(ts("[\"arr\"][1]", "{\"y\": 1}"), rep("n = 2", "y = 1"));
        // null, and other values TOML cannot hold
        for (p, v) in [
            ("[\"a\"]", "null"),
            ("[\"new\"]", "{\"x\": null}"),
            ("[\"t\"]", "null"),
            ("[\"arr\"][7]", "1"),
            ("[\"t\"][0]", "1"),
            ("[\"t\"][\"l\"][\"k\"]", "1"),
            ("[\"sops\"]", "1"),
        ] {
            let r = set(
                TOML.as_bytes(),
                Format::Toml,
                &crate::document::parse_tree_path(p).unwrap(),
                v,
            );
            assert!(matches!(r, Err(Error::Unsupported(_))), "{p} {v}: {r:?}");
        }
        // the same value: nothing to write
        let p = crate::document::parse_tree_path("[\"t\"][\"b\"]").unwrap();
        assert_eq!(
            set(TOML.as_bytes(), Format::Toml, &p, "\"x\"").unwrap(),
            None
        );
    }

    #[test]
    fn toml_unset() {
        let t_table =
            "[t]\nb = \"x\" # c\nl = [1, 2]\nm = [\n  1,\n  2,\n]\ni = { p = 1, q = 2 }\n\n";
        assert_eq!(
            tu("[\"t\"]"),
            rep(&format!("{t_table}[t.s]\nz = 1\n\n"), "")
        );
        assert_eq!(tu("[\"t\"][\"s\"]"), rep("[t.s]\nz = 1\n\n", ""));
        assert_eq!(tu("[\"t\"][\"m\"]"), rep("m = [\n  1,\n  2,\n]\n", ""));
        assert_eq!(tu("[\"t\"][\"m\"][1]"), rep("1,\n  2,", "1,"));
        assert_eq!(tu("[\"t\"][\"m\"][0]"), rep("1,\n  2,", "2,"));
        assert_eq!(tu("[\"t\"][\"i\"][\"p\"]"), rep("p = 1, q", "q"));
        assert_eq!(tu("[\"t\"][\"i\"][\"q\"]"), rep("p = 1, q = 2", "p = 1"));
        assert_eq!(
            unset_s("a = { b = 1 }\nc = [1]\n", Format::Toml, "[\"a\"][\"b\"]"),
            "a = {}\nc = [1]\n"
        );
        assert_eq!(
            unset_s("a = \"\"\"\nx\ny\"\"\"\nc = [1]\n", Format::Toml, "[\"a\"]"),
            "c = [1]\n"
        );
        assert_eq!(
            tu("[\"arr\"][0]"),
            rep("[[arr]]\nn = 1\n[arr.sub]\nk = 1\n\n", "")
        );
        assert_eq!(tu("[\"arr\"][1]"), rep("[[arr]]\nn = 2\n\n", ""));
        assert_eq!(
            tu("[\"arr\"]"),
            rep("[[arr]]\nn = 1\n[arr.sub]\nk = 1\n\n[[arr]]\nn = 2\n\n", "")
        );
        assert_eq!(tu("[\"d\"]"), rep("d.x = 2\n", ""));
        assert_eq!(tu("[\"u\"]"), rep("[u.v]\nw = 1\n", ""));
        let crlf = "[a]\r\nx = [\r\n  1,\r\n]\r\n\r\n# b\r\n[b]\r\ny = 2\r\n";
        assert_eq!(
            unset_s(crlf, Format::Toml, "[\"a\"]"),
            "# b\r\n[b]\r\ny = 2\r\n"
        );
        assert_eq!(
            set_s(crlf, Format::Toml, "[\"a\"][\"x\"][1]", "2"),
            "[a]\r\nx = [\r\n  1,\r\n  2.0,\r\n]\r\n\r\n# b\r\n[b]\r\ny = 2\r\n"
        );
        // inline tables with dotted keys: values can change, entries are not added or removed
        let dotted = "a = { x.y = 1, z = [] }\n";
        assert_eq!(
            set_s(dotted, Format::Toml, "[\"a\"][\"z\"][0]", "1"),
            "a = { x.y = 1, z = [1.0] }\n"
        );
        assert_eq!(
            set_s(dotted, Format::Toml, "[\"a\"][\"x\"][\"y\"]", "2"),
            "a = { x.y = 2.0, z = [] }\n"
        );
        for p in ["[\"a\"][\"x\"][\"y\"]", "[\"a\"][\"z\"]"] {
            let p = crate::document::parse_tree_path(p).unwrap();
            assert!(matches!(
                unset(dotted.as_bytes(), Format::Toml, &p),
                Err(Error::Unsupported(_))
            ));
        }
        let p = crate::document::parse_tree_path("[\"a\"][\"x\"][\"w\"]").unwrap();
        assert!(matches!(
            set(dotted.as_bytes(), Format::Toml, &p, "1"),
            Err(Error::Unsupported(_))
        ));
        let none = |p: &str| {
            unset(
                TOML.as_bytes(),
                Format::Toml,
                &crate::document::parse_tree_path(p).unwrap(),
            )
        };
        assert_eq!(none("[\"nope\"]").unwrap(), None);
        assert_eq!(none("[\"arr\"][2]").unwrap(), None);
        assert_eq!(none("[\"t\"][\"l\"][2]").unwrap(), None);
        assert!(matches!(none("[\"a\"][\"x\"]"), Err(Error::Unsupported(_))));
        assert!(matches!(
            none("[\"t\"][\"l\"][\"x\"]"),
            Err(Error::Unsupported(_))
        ));
    }
}
