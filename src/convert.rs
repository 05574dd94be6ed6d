//! `--output-type`: converting a plaintext document between formats.
//!
//! Unlike everything else in sops-rs this re-serializes (a JSON file cannot keep YAML's
//! comments), so it works on the data only: the tree of keys, lists and typed values is
//! rebuilt from the leaves' key paths and written as sops writes that format (YAML with a
//! 4-space indent, JSON with tabs, dotenv lines). Comments are dropped, as sops drops them.
//!
//! # Limitations
//! Empty maps and lists hold no leaf, so they do not survive a conversion. TOML and INI are
//! not conversion targets yet.

use crate::error::{Error, Result};
use crate::format::scalar::{json_render, json_string, yaml_render};
use crate::format::{Format, PathSeg, dotenv};
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
/// A format that cannot hold the data (dotenv takes top-level scalars only; JSON has no
/// NaN), or one that is not a conversion target yet.
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
        _ => {
            return Err(Error::Unsupported(format!(
                "converting to {format:?} is not supported yet (YAML, JSON and dotenv are)"
            )));
        }
    }
    Ok(out)
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
