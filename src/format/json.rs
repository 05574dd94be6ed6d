//! JSON: leaves with exact byte spans (jsonc-parser with every extension off), the `"sops"`
//! member, and the indentation unit.

use std::ops::Range;

use jsonc_parser::ast::{Object, ObjectPropName, Value as J};
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, CommentCollectionStrategy, ParseOptions, parse_to_ast};

use crate::error::{Error, Result};
use crate::format::scalar::json_number;
use crate::format::{Leaf, LeafCtx, PathSeg};
use crate::metadata::Meta;
use crate::value::Value;

const MAX_DEPTH: usize = 512;

#[derive(Debug, Default)]
pub struct Parsed {
    pub leaves: Vec<Leaf>,
    pub metadata: Option<Meta>,
    /// Bytes to delete to remove the `"sops"` member.
    pub sops_removal: Option<Range<usize>>,
    /// Where to insert `,\n<indent>"sops": …` (after the last member's value), and whether the
    /// object has members at all.
    pub insert_at: usize,
    pub empty_object: bool,
    /// The indentation unit: a tab, or N spaces.
    pub indent: String,
    /// The `data` member of a binary-store file, when present and a string.
    pub data_member: Option<usize>,
}

fn syntax(src: &str, pos: usize, msg: impl Into<String>) -> Error {
    let pos = pos.min(src.len());
    let line = src[..pos].matches('\n').count() + 1;
    let col = src[src[..pos].rfind('\n').map_or(0, |i| i + 1)..pos]
        .chars()
        .count()
        + 1;
    Error::Syntax {
        what: "invalid JSON",
        line,
        col,
        msg: msg.into(),
    }
}

/// Parse strict JSON whose top level is an object.
///
/// # Errors
/// Syntax errors with line and column (raw control characters in strings included), a
/// top level that is not an object, nesting beyond the cap.
pub fn parse(src: &str) -> Result<Parsed> {
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
    check_depth(src)?;
    let ast = parse_to_ast(
        src,
        &CollectOptions {
            comments: CommentCollectionStrategy::Off,
            tokens: false,
        },
        &opts,
    )
    .map_err(|e| syntax(src, e.range().start, e.kind().to_string()))?;
    let Some(J::Object(obj)) = ast.value else {
        return Err(syntax(src, 0, "the top level must be an object"));
    };
    let mut out = Parsed {
        indent: detect_indent(src),
        ..Parsed::default()
    };
    out.empty_object = obj.properties.is_empty();
    out.insert_at = obj
        .properties
        .last()
        .map_or(obj.range.start + 1, |p| p.value.range().end);
    for (i, p) in obj.properties.iter().enumerate() {
        let name = prop_name(&p.name);
        if name == "sops" {
            out.metadata = Some(to_meta(&p.value, 0)?);
            out.sops_removal = Some(if i > 0 {
                obj.properties[i - 1].value.range().end..p.range.end
            } else if let Some(next) = obj.properties.get(1) {
                p.range.start..next.range.start
            } else {
                obj.range.start + 1..obj.range.end - 1
            });
            continue;
        }
        if name == "data" {
            out.data_member = Some(out.leaves.len());
        }
        let mut path = vec![name.clone()];
        let mut ipath = vec![PathSeg::Key(name)];
        walk(
            src,
            &p.value,
            &mut path,
            &mut ipath,
            false,
            &mut out.leaves,
            1,
        )?;
    }
    Ok(out)
}

fn prop_name(n: &ObjectPropName) -> String {
    match n {
        ObjectPropName::String(s) => s.value.to_string(),
        ObjectPropName::Word(w) => w.value.to_string(),
    }
}

/// Bound nesting before the recursive parser sees the text.
fn check_depth(src: &str) -> Result<()> {
    let (mut depth, mut in_str, mut esc) = (0usize, false, false);
    for (i, b) in src.bytes().enumerate() {
        if in_str {
            if esc {
                esc = false;
            } else if b == b'\\' {
                esc = true;
            } else if b == b'"' {
                in_str = false;
            } else if b < 0x20 {
                return Err(syntax(src, i, "raw control character in a string"));
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(syntax(src, i, "nesting is too deep"));
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

fn detect_indent(src: &str) -> String {
    for line in src.lines().skip(1) {
        let ws: String = line
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect();
        if !ws.is_empty() {
            return if ws.starts_with('\t') {
                "\t".into()
            } else {
                ws
            };
        }
    }
    "\t".into()
}

fn walk(
    src: &str,
    v: &J,
    path: &mut Vec<String>,
    ipath: &mut Vec<PathSeg>,
    in_seq: bool,
    out: &mut Vec<Leaf>,
    depth: usize,
) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(syntax(src, v.range().start, "nesting is too deep"));
    }
    let leaf = |span: Range<usize>, value: Option<Value>| Leaf {
        span,
        path: path.clone(),
        value,
        comments: Vec::new(),
        alt_paths: Vec::new(),
        ctx: LeafCtx {
            in_seq,
            quote: b'"',
            ..LeafCtx::default()
        },
        index_path: ipath.clone(),
    };
    match v {
        J::StringLit(s) => out.push(leaf(
            s.range.start..s.range.end,
            Some(Value::Str(s.value.to_string())),
        )),
        J::NumberLit(n)
            if !n.value.contains(['.', 'e', 'E']) && n.value.parse::<i64>().is_err() =>
        {
            // an integer beyond 64 bits would silently lose precision (sops reads a float)
            return Err(Error::IntegerTooLarge(crate::format::display_path(path)));
        }
        J::NumberLit(n) => out.push(leaf(n.range.start..n.range.end, Some(json_number(n.value)))),
        J::BooleanLit(b) => out.push(leaf(b.range.start..b.range.end, Some(Value::Bool(b.value)))),
        J::NullKeyword(n) => out.push(leaf(n.range.start..n.range.end, None)),
        // an empty collection holds no value, but a conversion must know it is there
        J::Object(Object { properties, range }) if properties.is_empty() => out.push(Leaf {
            ctx: LeafCtx {
                in_seq,
                quote: b'{',
                ..LeafCtx::default()
            },
            ..leaf(range.start..range.start, None)
        }),
        J::Array(a) if a.elements.is_empty() => out.push(Leaf {
            ctx: LeafCtx {
                in_seq,
                quote: b'[',
                ..LeafCtx::default()
            },
            ..leaf(a.range.start..a.range.start, None)
        }),
        J::Object(Object { properties, .. }) => {
            for p in properties {
                path.push(prop_name(&p.name));
                ipath.push(PathSeg::Key(prop_name(&p.name)));
                walk(src, &p.value, path, ipath, false, out, depth + 1)?;
                ipath.pop();
                path.pop();
            }
        }
        J::Array(a) => {
            for (i, e) in a.elements.iter().enumerate() {
                ipath.push(PathSeg::Index(i));
                walk(src, e, path, ipath, true, out, depth + 1)?;
                ipath.pop();
            }
        }
    }
    Ok(())
}

fn to_meta(v: &J, depth: usize) -> Result<Meta> {
    if depth > 32 {
        return Err(Error::BadMetadata(
            "the sops entry is nested too deeply".into(),
        ));
    }
    Ok(match v {
        J::StringLit(s) => Meta::Scalar {
            text: s.value.to_string(),
            plain: false,
        },
        J::NumberLit(n) => Meta::Scalar {
            text: n.value.to_string(),
            plain: true,
        },
        J::BooleanLit(b) => Meta::Scalar {
            text: b.value.to_string(),
            plain: true,
        },
        J::NullKeyword(_) => Meta::Null,
        J::Object(o) => Meta::Map(
            o.properties
                .iter()
                .map(|p| Ok((prop_name(&p.name), to_meta(&p.value, depth + 1)?)))
                .collect::<Result<_>>()?,
        ),
        J::Array(a) => Meta::List(
            a.elements
                .iter()
                .map(|e| to_meta(e, depth + 1))
                .collect::<Result<_>>()?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaves_and_sops_member() {
        let src = "{\n  \"a\": \"x\",\n  \"b\": [1, {\"c\": true}],\n  \"sops\": {\"version\": \"3.11.0\"}\n}\n";
        let p = parse(src).unwrap();
        let got: Vec<_> = p
            .leaves
            .iter()
            .map(|l| (crate::format::aad(&l.path), &src[l.span.clone()]))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a:".to_string(), "\"x\""),
                ("b:".into(), "1"),
                ("b:c:".into(), "true")
            ]
        );
        let r = p.sops_removal.unwrap();
        assert_eq!(
            format!("{}{}", &src[..r.start], &src[r.end..]),
            "{\n  \"a\": \"x\",\n  \"b\": [1, {\"c\": true}]\n}\n"
        );
        assert_eq!(p.indent, "  ");
    }

    #[test]
    fn strict() {
        for bad in [
            "[1]",
            "{\"a\": 1,}",
            "{'a': 1}",
            "{\"a\": \"t\tb\"}",
            "{\"a\": 01}",
            "{a: 1}",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
