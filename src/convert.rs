//! `--output-type`: converting a plaintext document between formats.
//!
//! Unlike everything else in sops-rs this re-serializes (a JSON file cannot keep YAML's
//! comments), so it works on the data only: the tree of keys, lists and typed values is
//! rebuilt from the leaves' key paths and written as sops writes that format (YAML with a
//! 4-space indent, JSON with tabs, dotenv lines, INI as go-ini writes it). Comments are
//! dropped where sops drops them (JSON, top-level INI comments).
//!
//! TOML is ours (sops has no TOML store): maps become tables, lists of maps arrays of tables,
//! other lists inline arrays; each table's plain keys come before its sub-tables (TOML
//! requires it), so a key written after a nested map moves up. A comment moves with the
//! entry it precedes.
//!
//! # Limitations
//! Empty maps and lists hold no leaf, so they do not survive a conversion. TOML and INI have
//! no null, INI no nesting below a section: such data is refused, not altered.

use crate::error::{Error, Result};
use crate::format::scalar::{json_render, json_string, yaml_render};
use crate::format::{Format, PathSeg, dotenv, ini, toml};
use crate::value::Value;

/// A document's data.
#[derive(Debug, Clone, PartialEq)]
pub enum Tree {
    /// Entries in order; a key of `None` is a comment line (its text in a `Tree::Comment`).
    Map(Vec<(Option<String>, Tree)>),
    List(Vec<Tree>),
    Value(Value),
    Comment(String),
    Null,
}

/// What a leaf is, for rebuilding the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A value, a null or a comment in a mapping.
    Value,
    /// A comment inside a sequence.
    SeqComment,
    EmptyMap,
    EmptyList,
}

/// Rebuild the tree from `(key path with list indices, value, shape)` in document order.
///
/// # Errors
/// A path that contradicts an earlier one (a key where a list was), which no parser produces.
pub fn build<'a>(
    leaves: impl IntoIterator<Item = (&'a [PathSeg], Option<Value>, Shape)>,
) -> Result<Tree> {
    let mut root = Tree::Map(Vec::new());
    for (path, value, shape) in leaves {
        // a comment's path is its collection's: it becomes an item there
        let is_comment = matches!(value, Some(Value::Comment(_)));
        let mut cur = &mut root;
        for (i, seg) in path.iter().enumerate() {
            let fresh = || match path.get(i + 1) {
                None if shape == Shape::SeqComment || shape == Shape::EmptyList => {
                    Tree::List(Vec::new())
                }
                None if is_comment || shape == Shape::EmptyMap => Tree::Map(Vec::new()),
                None => Tree::Null,
                Some(PathSeg::Index(_)) => Tree::List(Vec::new()),
                Some(_) => Tree::Map(Vec::new()),
            };
            cur = match (seg, cur) {
                (PathSeg::Key(k), Tree::Map(entries)) => {
                    let at = match entries
                        .iter()
                        .position(|(key, _)| key.as_deref() == Some(k))
                    {
                        Some(at) => at,
                        None => {
                            entries.push((Some(k.clone()), fresh()));
                            entries.len() - 1
                        }
                    };
                    &mut entries[at].1
                }
                (PathSeg::Index(n), Tree::List(items)) => {
                    let values = items
                        .iter()
                        .filter(|t| !matches!(t, Tree::Comment(_)))
                        .count();
                    if *n >= values {
                        items.push(fresh());
                        let l = items.len() - 1;
                        &mut items[l]
                    } else {
                        let at = items
                            .iter()
                            .enumerate()
                            .filter(|(_, t)| !matches!(t, Tree::Comment(_)))
                            .nth(*n)
                            .map_or(0, |(at, _)| at);
                        &mut items[at]
                    }
                }
                _ => return Err(Error::Internal("inconsistent key paths")),
            };
        }
        let comment = match &value {
            Some(Value::Comment(c)) => Some(c.clone()),
            _ => None,
        };
        match (comment, cur) {
            (Some(c), Tree::Map(entries)) => entries.push((None, Tree::Comment(c))),
            (Some(c), Tree::List(items)) => items.push(Tree::Comment(c)),
            (Some(_), _) => {}
            (None, slot) => match value {
                Some(v) => *slot = Tree::Value(v),
                // an empty collection stays what it is; a null is a null
                None if matches!(slot, Tree::Map(_) | Tree::List(_)) => {}
                None => *slot = Tree::Null,
            },
        }
    }
    Ok(root)
}

/// Write a tree in `format`, as sops writes that format.
///
/// # Errors
/// A format that cannot hold the data (dotenv takes top-level scalars only, INI sections of
/// scalars; JSON has no NaN, TOML and INI no null), or binary.
pub fn emit(tree: &Tree, format: Format) -> Result<String> {
    let mut out = String::new();
    match format {
        Format::Json => {
            json(tree, 0, &mut out)?;
            out.push('\n');
        }
        Format::Yaml => match tree {
            Tree::Map(es) if es.is_empty() => out.push_str("{}\n"),
            _ => yaml(tree, 0, &mut out),
        },
        Format::Dotenv => {
            let Tree::Map(es) = tree else {
                return Err(Error::Unsupported(
                    "dotenv holds only KEY=value lines".into(),
                ));
            };
            for (k, v) in es {
                match (k, v) {
                    (_, Tree::Comment(c)) => out.push_str(&format!("#{c}\n")),
                    (Some(k), Tree::Value(v)) => {
                        out.push_str(&format!("{k}={}\n", dotenv::render(v)));
                    }
                    (k, _) => {
                        return Err(Error::Unsupported(format!(
                            "the value of {:?} is not a single value: dotenv cannot hold it",
                            k.as_deref().unwrap_or_default()
                        )));
                    }
                }
            }
        }
        Format::Ini => ini_file(tree, &mut out)?,
        Format::Toml => {
            let Tree::Map(es) = tree else {
                return Err(Error::Unsupported("a TOML document is a table".into()));
            };
            toml_table(&mut Vec::new(), es, false, &mut out)?;
        }
        Format::Binary => {
            return Err(Error::Unsupported(
                "binary data cannot be converted to or from a structured format".into(),
            ));
        }
    }
    Ok(out)
}

/// What go-ini's `WriteTo` prints for the tree sops builds (`stores/ini/store.go`
/// `encodeTree`): each top-level key is a section (top-level comments are dropped); a
/// comment first in a section is the section's comment, written above its header; any other
/// comment becomes the comment of the key before it (the last one wins, and a comment with
/// no key before it is dropped) and is written above that key; `=` signs are aligned per
/// section; a first section named `DEFAULT` has no header; sections are separated by a
/// blank line.
fn ini_file(tree: &Tree, out: &mut String) -> Result<()> {
    let Tree::Map(sections) = tree else {
        return Err(Error::Unsupported("INI holds sections of keys".into()));
    };
    let mut blocks: Vec<String> = Vec::new();
    for (i, (name, body)) in sections.iter().filter(|(k, _)| k.is_some()).enumerate() {
        let name = name.as_deref().unwrap_or_default();
        let Tree::Map(items) = body else {
            return Err(Error::Unsupported(format!(
                "the top-level key {name:?} is not a section (a mapping): INI cannot hold it"
            )));
        };
        if name.contains(['\n', '\r', ']']) || name.is_empty() {
            return Err(Error::Unsupported(format!(
                "the section name {name:?} cannot be written in INI"
            )));
        }
        let mut block = String::new();
        let mut rest = items.as_slice();
        if let Some((None, Tree::Comment(c))) = rest.first() {
            block.push_str(&ini::render_comment(c, true));
            block.push('\n');
            rest = &rest[1..];
        }
        // (key, value text, comment)
        let mut keys: Vec<(String, String, Option<&str>)> = Vec::new();
        for (k, v) in rest {
            match (k, v) {
                (_, Tree::Comment(c)) => {
                    if let Some(last) = keys.last_mut() {
                        last.2 = Some(c);
                    }
                }
                (Some(k), Tree::Value(v)) => {
                    if k.contains(['\n', '\r']) || k.is_empty() {
                        return Err(Error::Unsupported(format!(
                            "the key {name:?}.{k:?} cannot be written in INI"
                        )));
                    }
                    keys.push((ini::quote_key(k), ini::render(v), None));
                }
                (k, v) => {
                    let what = if matches!(v, Tree::Null) {
                        "a null"
                    } else {
                        "nested data"
                    };
                    return Err(Error::Unsupported(format!(
                        "{name:?}.{:?} holds {what}: INI holds only single values in sections",
                        k.as_deref().unwrap_or_default()
                    )));
                }
            }
        }
        let default_first = i == 0 && name.to_uppercase() == "DEFAULT";
        if default_first {
            if keys.is_empty() {
                // go-ini writes the comment, then skips the empty section
                out.push_str(&block);
                continue;
            }
        } else {
            block.push_str(&format!("[{name}]\n"));
        }
        let align = keys.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        for (k, v, c) in keys {
            if let Some(c) = c {
                block.push_str(&ini::render_comment(c, false));
                block.push('\n');
            }
            block.push_str(&format!("{k:<align$} = {v}\n"));
        }
        blocks.push(block);
    }
    out.push_str(&blocks.join("\n"));
    Ok(())
}

/// A map's entry: a key (`None` for a comment) and its value.
type Entry = (Option<String>, Tree);

/// Whether a map entry is written as a header (`[a.b]`, or `[[a.b]]` for a non-empty list
/// of maps) rather than as `key = value`.
fn toml_is_table(t: &Tree) -> bool {
    match t {
        Tree::Map(es) => es.iter().any(|(k, _)| k.is_some()),
        Tree::List(items) => {
            let mut items = items.iter().filter(|t| !matches!(t, Tree::Comment(_)));
            let first = items.next();
            first.is_some_and(|f| matches!(f, Tree::Map(_)))
                && items.all(|t| matches!(t, Tree::Map(_)))
        }
        _ => false,
    }
}

fn toml_header(path: &[String], array: bool, out: &mut String) {
    let name: Vec<String> = path.iter().map(|k| toml::key_text(k)).collect();
    let (open, close) = if array { ("[[", "]]") } else { ("[", "]") };
    out.push_str(&format!("{open}{}{close}\n", name.join(".")));
}

/// One table's entries: comments and `key = value` lines first, then sub-tables and arrays
/// of tables (TOML reads a `key = value` after a header as part of that header's table).
/// A comment goes with the entry after it.
fn toml_table(path: &mut Vec<String>, es: &[Entry], header: bool, out: &mut String) -> Result<()> {
    if header {
        toml_header(path, false, out);
    }
    let mut plain = String::new();
    let mut tables: Vec<(&[Entry], &str, &Tree)> = Vec::new();
    let mut pending = 0;
    for (at, (k, v)) in es.iter().enumerate() {
        let Some(k) = k else { continue };
        let comments = &es[pending..at];
        pending = at + 1;
        if toml_is_table(v) {
            tables.push((comments, k, v));
            continue;
        }
        toml_comments(comments, &mut plain);
        plain.push_str(&toml::key_text(k));
        plain.push_str(" = ");
        toml_inline(v, path, k, &mut plain)?;
        plain.push('\n');
    }
    toml_comments(&es[pending..], &mut plain);
    out.push_str(&plain);
    for (comments, k, v) in tables {
        path.push(k.to_string());
        match v {
            Tree::Map(inner) => {
                if !out.is_empty() {
                    out.push('\n');
                }
                toml_comments(comments, out);
                toml_table(path, inner, true, out)?;
            }
            Tree::List(items) => {
                for (i, item) in items.iter().enumerate() {
                    if let Tree::Map(inner) = item {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        if i == 0 {
                            toml_comments(comments, out);
                        }
                        toml_header(path, true, out);
                        toml_table(path, inner, false, out)?;
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
    Ok(())
}

fn toml_comments(es: &[Entry], out: &mut String) {
    for (_, c) in es {
        if let Tree::Comment(c) = c {
            for line in c.split('\n') {
                out.push('#');
                out.push_str(line.trim_end_matches('\r'));
                out.push('\n');
            }
        }
    }
}

/// A value on one line: scalars, inline arrays and inline tables (comments inside them are
/// dropped: TOML has no place for them).
fn toml_inline(t: &Tree, path: &[String], key: &str, out: &mut String) -> Result<()> {
    match t {
        Tree::Value(v) => out.push_str(&toml::render(v)),
        Tree::Null => {
            let mut p = path.to_vec();
            p.push(key.to_string());
            return Err(Error::Unsupported(format!(
                "{} is null: TOML has no null",
                crate::format::display_path(&p)
            )));
        }
        Tree::Comment(_) => {}
        Tree::List(items) => {
            out.push('[');
            let items = items.iter().filter(|t| !matches!(t, Tree::Comment(_)));
            for (i, item) in items.enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                toml_inline(item, path, key, out)?;
            }
            out.push(']');
        }
        Tree::Map(es) => {
            out.push('{');
            let es = es.iter().filter_map(|(k, v)| k.as_ref().map(|k| (k, v)));
            let mut first = true;
            for (k, v) in es {
                out.push_str(if first { " " } else { ", " });
                first = false;
                out.push_str(&toml::key_text(k));
                out.push_str(" = ");
                toml_inline(v, path, key, out)?;
            }
            out.push_str(if first { "}" } else { " }" });
        }
    }
    Ok(())
}

fn json(t: &Tree, depth: usize, out: &mut String) -> Result<()> {
    let pad = |n: usize, out: &mut String| out.extend(std::iter::repeat_n('\t', n));
    match t {
        Tree::Null => out.push_str("null"),
        Tree::Value(v) => out.push_str(
            &json_render(v).map_err(|e| Error::Unsupported(format!("cannot write JSON: {e}")))?,
        ),
        Tree::Comment(_) => {}
        Tree::Map(es) if es.iter().all(|(k, _)| k.is_none()) => out.push_str("{}"),
        Tree::List(items) if items.iter().all(|t| matches!(t, Tree::Comment(_))) => {
            out.push_str("[]");
        }
        Tree::Map(es) => {
            out.push('{');
            // JSON holds no comments: sops drops them
            let es = es.iter().filter_map(|(k, v)| k.as_ref().map(|k| (k, v)));
            for (i, (k, v)) in es.enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                pad(depth + 1, out);
                out.push_str(&json_string(k));
                out.push_str(": ");
                json(v, depth + 1, out)?;
            }
            out.push('\n');
            pad(depth, out);
            out.push('}');
        }
        Tree::List(items) => {
            out.push('[');
            let items = items.iter().filter(|t| !matches!(t, Tree::Comment(_)));
            for (i, v) in items.enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                pad(depth + 1, out);
                json(v, depth + 1, out)?;
            }
            out.push('\n');
            pad(depth, out);
            out.push(']');
        }
    }
    Ok(())
}

const INDENT: usize = 4;

/// yaml.v3 block style with sops' 4-space indent; `col` is the column of the keys.
fn yaml(t: &Tree, col: usize, out: &mut String) {
    match t {
        Tree::Map(es) => {
            for (k, v) in es {
                out.push_str(&" ".repeat(col));
                match (k, v) {
                    (_, Tree::Comment(c)) => {
                        out.push('#');
                        out.push_str(c);
                        out.push('\n');
                    }
                    (Some(k), v) => yaml_entry(k, v, col, out),
                    (None, _) => out.push('\n'),
                }
            }
        }
        // only a document root can be a bare list here (sops refuses those anyway)
        _ => yaml_value(t, col, false, out),
    }
}

/// yaml.v3 indents a nested collection to the next multiple of the indent after the key.
fn nested(col: usize) -> usize {
    INDENT * ((col + INDENT) / INDENT)
}

fn yaml_entry(k: &str, v: &Tree, col: usize, out: &mut String) {
    out.push_str(&yaml_render(&Value::Str(k.to_string()), INDENT, 0));
    out.push(':');
    yaml_value(v, col, false, out);
}

/// The rest of a line after `key:` or `-` (a leading space included), then the nested lines.
/// `col` is the column of the key, or of the dash.
fn yaml_value(v: &Tree, col: usize, in_seq: bool, out: &mut String) {
    let only_comments = |items: &[Tree]| items.iter().all(|t| matches!(t, Tree::Comment(_)));
    match v {
        Tree::Null => out.push_str(" null\n"),
        Tree::Comment(_) => out.push('\n'),
        Tree::Value(val) => {
            let n = if in_seq { col + 2 } else { nested(col) };
            out.push(' ');
            out.push_str(&yaml_render(val, INDENT, n));
            out.push('\n');
        }
        Tree::Map(es) if es.iter().all(|(k, _)| k.is_none()) => out.push_str(" {}\n"),
        Tree::List(items) if only_comments(items) => out.push_str(" []\n"),
        Tree::Map(es) if in_seq => {
            // `- k: v` with the following keys aligned under the first
            let mut first = true;
            for (k, val) in es {
                if first && k.is_some() {
                    out.push(' ');
                } else {
                    out.push_str(&" ".repeat(col + 2));
                }
                match (k, val) {
                    (_, Tree::Comment(c)) => {
                        out.push('#');
                        out.push_str(c);
                        out.push('\n');
                        continue;
                    }
                    (Some(k), val) => yaml_entry(k, val, col + 2, out),
                    (None, _) => out.push('\n'),
                }
                first = false;
            }
        }
        Tree::Map(_) => {
            out.push('\n');
            yaml(v, nested(col), out);
        }
        Tree::List(items) => {
            let dash = if in_seq { col + 2 } else { nested(col) };
            if !in_seq {
                out.push('\n');
            }
            for (i, item) in items.iter().enumerate() {
                if in_seq && i == 0 {
                    out.push(' ');
                } else {
                    out.push_str(&" ".repeat(dash));
                }
                if let Tree::Comment(c) = item {
                    out.push('#');
                    out.push_str(c);
                    out.push('\n');
                    continue;
                }
                out.push('-');
                yaml_value(item, dash, true, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(s: &str) -> PathSeg {
        PathSeg::Key(s.into())
    }

    #[test]
    fn builds_and_writes_sops_layouts() {
        let leaves: Vec<(Vec<PathSeg>, Option<Value>)> = vec![
            (vec![k("a"), k("b")], Some(Value::Str("x".into()))),
            (vec![k("a"), k("n")], Some(Value::Int(5))),
            (vec![k("l"), PathSeg::Index(0)], Some(Value::Bool(true))),
            (
                vec![k("l"), PathSeg::Index(1), k("m")],
                Some(Value::Float(1.5)),
            ),
            (vec![k("l"), PathSeg::Index(1), k("o")], None),
            (vec![k("s")], Some(Value::Str("yes".into()))),
        ];
        let t = build(
            leaves
                .iter()
                .map(|(p, v)| (p.as_slice(), v.clone(), Shape::Value)),
        )
        .unwrap();
        assert_eq!(
            emit(&t, Format::Json).unwrap(),
            "{\n\t\"a\": {\n\t\t\"b\": \"x\",\n\t\t\"n\": 5\n\t},\n\t\"l\": [\n\t\ttrue,\n\t\t{\n\t\t\t\"m\": 1.5,\n\t\t\t\"o\": null\n\t\t}\n\t],\n\t\"s\": \"yes\"\n}\n"
        );
        assert_eq!(
            emit(&t, Format::Yaml).unwrap(),
            "a:\n    b: x\n    \"n\": 5\nl:\n    - true\n    - m: 1.5\n      o: null\ns: \"yes\"\n"
        );
        assert!(emit(&t, Format::Dotenv).is_err());
    }
}
