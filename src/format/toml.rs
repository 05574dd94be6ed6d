//! TOML: leaves with exact byte spans, the `[sops]` metadata table, and the rendering of
//! decrypted values. sops has no TOML store (getsops/sops#369), so this dialect is ours; it
//! follows the YAML/JSON stores wherever they have a rule.
//!
//! # Reading
//!
//! The file is parsed with `toml_edit::Document::parse` (TOML 1.1; immutable, keeps spans)
//! and never re-serialised: every output byte is spliced into the original.
//!
//! * **Values** are the leaves of the tree, in document order (the order of their spans,
//!   which is also the MAC order): values of tables, inline tables, arrays and arrays of
//!   tables. A leaf's `span` is the value exactly as written (quotes and `"""` included).
//! * **Paths** (the AAD) are the key names from the root: `[a.b]` headers and dotted keys
//!   (`a.b = 1`) expand to their components, quoted keys are their parsed names, and array
//!   indices are not part of the path (as in sops: every item of `a = [1, 2]` has AAD `a:`;
//!   `[[t]]` tables too). `index_path` has the indices, for `--extract`.
//! * **Types**: strings (basic, literal, multi-line) → `str` (the parsed string); integers
//!   (decimal, hex, octal, binary, with `_`) → `int`; floats (`inf`/`nan` included) →
//!   `float`; booleans → `bool`; **date-times → `time`**, holding the text as written.
//!   Offset date-times are typed `time` like sops' YAML timestamps; local date-times, local
//!   dates and local times are typed `time` too (sops has no other type for them). A `time`
//!   value is never reformatted: it decrypts to its original text.
//! * **Comments** (`# …`, on their own line or after a value or header, inside multi-line
//!   arrays too) are `comment` leaves, found by a small lexer that skips strings. A
//!   comment's span is its text after `#` (up to the line break, a CRLF's `\r` excluded);
//!   its AAD is the path of the enclosing table (the last header before it; `:` at the top
//!   level) or, inside a multi-line array or inline table, of that value's key, as in YAML.
//!   In the encrypted file a comment is `#ENC[…]`.
//! * **Comment stacks** (for `encrypted_comment_regex`/`unencrypted_comment_regex`): a
//!   value's stack is the comments above (and on the line of) its table header, the
//!   own-line comments since the previous value, and a comment that follows it on its line;
//!   a comment's stack ends with its own text.
//!
//! # Writing
//!
//! * An encrypted value is the TOML basic string `"ENC[AES256_GCM,…]"` in place of the value
//!   (the token never needs escaping), whatever its type was: TOML arrays may mix types.
//! * A decrypted value is rendered as TOML ([`render`]): strings as basic strings with TOML
//!   escapes, integers in decimal, floats so that they read back as floats (`1.0`, `1e300`,
//!   `inf`, `-inf`, `nan`), booleans, date-times as their text. Any other spelling of the
//!   original (literal and multi-line strings, hex integers, `1_000`, `+inf`…) is kept by
//!   document.rs in its encrypted preservation record.
//! * The metadata is a `[sops]` table appended at the end of the file after a blank line,
//!   with the fields of the YAML/JSON stores: scalars first (`lastmodified`, `mac`, …, as
//!   TOML strings; booleans and integers bare), then nested maps as `[sops.x]` tables and
//!   lists of maps as arrays of tables (`[[sops.age]]` with `enc` and `recipient`). Strings
//!   with a line break (the armored `enc`) are multi-line basic strings (`"""` then a line
//!   break, so they read back exactly). TOML has no null: a null map entry is left out, a
//!   null list item is written `""`.
//! * [`Parsed::sops_removal`] is the `[sops]` table and its sub-tables with the blank line
//!   before it (and the line break before that when the file has no final newline): deleting
//!   it undoes [`crate::format::metadata_tail`] byte for byte. A data table written after the metadata by
//!   hand is kept (the removal stops before it and the comments above it).
//! * A top-level `sops` entry that is not a `[sops]` table (`sops = …`, `sops.x = …`,
//!   `[[sops]]`) is an error; a `[sops]` table is reported as metadata (so a plaintext file
//!   with one is refused by encrypt).

use std::ops::Range;

use toml_edit::{Document, InlineTable, Item, Table, Value as T};

use crate::error::{Error, Result};
use crate::format::{Leaf, LeafCtx, PathSeg};
use crate::metadata::Meta;
use crate::value::Value;

/// The top-level table that holds sops' metadata.
pub const SOPS_TABLE: &str = "sops";

/// Nesting bound for the walks (toml_edit bounds inline nesting, not dotted headers).
const MAX_DEPTH: usize = 512;

#[derive(Debug, Default)]
pub struct Parsed {
    /// Values and comments in document order (never those of the `[sops]` table).
    pub leaves: Vec<Leaf>,
    /// The `[sops]` table as a generic tree.
    pub metadata: Option<Meta>,
    /// Bytes to delete when decrypting: the `[sops]` table, its sub-tables and the blank line
    /// before it (see [`crate::format::metadata_tail`]).
    pub sops_removal: Option<Range<usize>>,
    /// Where the metadata goes when encrypting: the end of the file.
    pub insert_at: usize,
    /// The file does not end with a newline (the metadata is then written without one, so
    /// that decrypting gives the file back without one).
    pub no_final_newline: bool,
    /// Things to tell the user (no values in them).
    pub warnings: Vec<String>,
}

fn syntax(src: &str, pos: usize, msg: impl Into<String>) -> Error {
    let mut pos = pos.min(src.len());
    while !src.is_char_boundary(pos) {
        pos -= 1;
    }
    let ls = src[..pos].rfind('\n').map_or(0, |i| i + 1);
    Error::Syntax {
        what: "invalid TOML",
        line: src[..pos].matches('\n').count() + 1,
        col: src[ls..pos].chars().count() + 1,
        msg: msg.into(),
    }
}

fn line_start(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map_or(0, |i| i + 1)
}

/// End of the line `pos` is on (the offset of its `\n`, or the end of the file).
fn line_end(src: &str, pos: usize) -> usize {
    src[pos..].find('\n').map_or(src.len(), |i| pos + i)
}

fn col_at(src: &str, pos: usize) -> usize {
    src[line_start(src, pos)..pos].chars().count()
}

fn too_deep(src: &str, pos: usize) -> Error {
    syntax(src, pos, "nesting is too deep")
}

/// A table header (`[a.b]` or one `[[a]]`): its offset, its key path and index path.
#[derive(Debug)]
struct Header {
    pos: usize,
    path: Vec<String>,
    ipath: Vec<PathSeg>,
}

/// A multi-line-capable value (array or inline table): comments inside it take its path.
struct Container {
    span: Range<usize>,
    path: Vec<String>,
    ipath: Vec<PathSeg>,
}

struct Walker<'a> {
    src: &'a str,
    leaves: Vec<Leaf>,
    headers: Vec<Header>,
    containers: Vec<Container>,
}

impl Walker<'_> {
    fn table(
        &mut self,
        t: &Table,
        path: &mut Vec<String>,
        ipath: &mut Vec<PathSeg>,
        depth: usize,
    ) -> Result<()> {
        let at = t.span().map_or(0, |s| s.start);
        if depth > MAX_DEPTH {
            return Err(too_deep(self.src, at));
        }
        if depth > 0
            && !t.is_implicit()
            && let Some(s) = t.span()
        {
            self.headers.push(Header {
                pos: s.start,
                path: path.clone(),
                ipath: ipath.clone(),
            });
        }
        if depth > 0 && t.is_empty() {
            // an empty table holds no value, but a conversion must know it is there
            self.empty_collection(at, b'{', path, ipath, false);
        }
        for (k, item) in t.iter() {
            if depth == 0 && k == SOPS_TABLE {
                continue;
            }
            path.push(k.to_string());
            ipath.push(PathSeg::Key(k.to_string()));
            match item {
                Item::None => {}
                Item::Value(v) => self.value(v, path, ipath, false, false, depth + 1)?,
                Item::Table(t) => self.table(t, path, ipath, depth + 1)?,
                Item::ArrayOfTables(a) => {
                    for (i, t) in a.iter().enumerate() {
                        ipath.push(PathSeg::Index(i));
                        self.table(t, path, ipath, depth + 1)?;
                        ipath.pop();
                    }
                }
            }
            ipath.pop();
            path.pop();
        }
        Ok(())
    }

    fn inline_table(
        &mut self,
        t: &InlineTable,
        path: &mut Vec<String>,
        ipath: &mut Vec<PathSeg>,
        depth: usize,
    ) -> Result<()> {
        for (k, v) in t.iter() {
            path.push(k.to_string());
            ipath.push(PathSeg::Key(k.to_string()));
            self.value(v, path, ipath, false, true, depth + 1)?;
            ipath.pop();
            path.pop();
        }
        Ok(())
    }

    /// A value-less leaf marking an empty table or array (`quote` `{` or `[`), as the
    /// YAML and JSON readers give, so that conversions keep it (and its index).
    fn empty_collection(
        &mut self,
        at: usize,
        quote: u8,
        path: &[String],
        ipath: &[PathSeg],
        in_seq: bool,
    ) {
        self.leaves.push(Leaf {
            path: path.to_vec(),
            value: None,
            comments: Vec::new(),
            alt_paths: Vec::new(),
            ctx: LeafCtx {
                in_seq,
                quote,
                line_start: line_start(self.src, at),
                ..LeafCtx::default()
            },
            index_path: ipath.to_vec(),
            span: at..at,
        });
    }

    fn value(
        &mut self,
        v: &T,
        path: &mut Vec<String>,
        ipath: &mut Vec<PathSeg>,
        in_seq: bool,
        in_flow: bool,
        depth: usize,
    ) -> Result<()> {
        let span = v
            .span()
            .ok_or(Error::Internal("a TOML value without a span"))?;
        if depth > MAX_DEPTH {
            return Err(too_deep(self.src, span.start));
        }
        let value = match v {
            T::String(s) => Value::Str(s.value().clone()),
            T::Integer(i) => Value::Int(*i.value()),
            T::Float(f) => Value::Float(*f.value()),
            T::Boolean(b) => Value::Bool(*b.value()),
            T::Datetime(_) => Value::Time(self.src[span.clone()].to_string()),
            T::Array(a) => {
                if a.is_empty() {
                    self.empty_collection(span.start, b'[', path, ipath, in_seq);
                }
                self.containers.push(Container {
                    span: span.clone(),
                    path: path.clone(),
                    ipath: ipath.clone(),
                });
                for (i, x) in a.iter().enumerate() {
                    ipath.push(PathSeg::Index(i));
                    self.value(x, path, ipath, true, true, depth + 1)?;
                    ipath.pop();
                }
                return Ok(());
            }
            T::InlineTable(t) => {
                if t.is_empty() {
                    self.empty_collection(span.start, b'{', path, ipath, in_seq);
                }
                self.containers.push(Container {
                    span: span.clone(),
                    path: path.clone(),
                    ipath: ipath.clone(),
                });
                return self.inline_table(t, path, ipath, depth);
            }
        };
        let text = &self.src[span.clone()];
        let quote = if text.starts_with("\"\"\"") || text.starts_with("'''") {
            b'|'
        } else if text.starts_with(['"', '\'']) {
            text.as_bytes()[0]
        } else {
            0
        };
        self.leaves.push(Leaf {
            path: path.clone(),
            value: Some(value),
            comments: Vec::new(),
            alt_paths: Vec::new(),
            ctx: LeafCtx {
                col: col_at(self.src, span.start),
                in_seq,
                in_flow,
                quote,
                line_start: line_start(self.src, span.start),
                ..LeafCtx::default()
            },
            index_path: ipath.clone(),
            span,
        });
        Ok(())
    }
}

/// The comments of a (valid) TOML text: for each, the span of its text after `#`, up to the
/// line break (a `\r` before the `\n` excluded).
fn lex_comments(src: &str) -> Vec<Range<usize>> {
    let b = src.as_bytes();
    let n = b.len();
    let at = |i: usize, s: &[u8]| b[i..].starts_with(s);
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        match b[i] {
            b'#' => {
                let end = line_end(src, i);
                let text_end = if end < n && end > i + 1 && b[end - 1] == b'\r' {
                    end - 1
                } else {
                    end
                };
                out.push(i + 1..text_end);
                i = end;
            }
            q @ (b'"' | b'\'') => {
                let escapes = q == b'"';
                let delim: &[u8] = if q == b'"' { b"\"\"\"" } else { b"'''" };
                if at(i, delim) {
                    i += 3;
                    while i < n {
                        if escapes && b[i] == b'\\' {
                            i += 2;
                        } else if at(i, delim) {
                            i += 3;
                            // up to two quotes right before the delimiter belong to the string
                            let mut extra = 0;
                            while extra < 2 && i < n && b[i] == q {
                                i += 1;
                                extra += 1;
                            }
                            break;
                        } else {
                            i += 1;
                        }
                    }
                } else {
                    i += 1;
                    while i < n {
                        if escapes && b[i] == b'\\' {
                            i += 2;
                        } else if b[i] == q {
                            i += 1;
                            break;
                        } else {
                            i += 1;
                        }
                    }
                }
            }
            _ => i += 1,
        }
    }
    out
}

/// The offsets of the explicit headers in the `sops` subtree.
fn sops_headers(t: &Table, depth: usize, out: &mut Vec<usize>) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::BadMetadata(
            "the sops table is nested too deeply".into(),
        ));
    }
    if !t.is_implicit()
        && let Some(s) = t.span()
    {
        out.push(s.start);
    }
    for (_, item) in t.iter() {
        match item {
            Item::Table(t) => sops_headers(t, depth + 1, out)?,
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    sops_headers(t, depth + 1, out)?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

fn table_meta(t: &Table, depth: usize) -> Result<Meta> {
    if depth > 32 {
        return Err(Error::BadMetadata(
            "the sops table is nested too deeply".into(),
        ));
    }
    let mut es = Vec::new();
    for (k, item) in t.iter() {
        let m = match item {
            Item::None => continue,
            Item::Value(v) => value_meta(v, depth + 1)?,
            Item::Table(t) => table_meta(t, depth + 1)?,
            Item::ArrayOfTables(a) => Meta::List(
                a.iter()
                    .map(|t| table_meta(t, depth + 1))
                    .collect::<Result<_>>()?,
            ),
        };
        es.push((k.to_string(), m));
    }
    Ok(Meta::Map(es))
}

fn value_meta(v: &T, depth: usize) -> Result<Meta> {
    if depth > 32 {
        return Err(Error::BadMetadata(
            "the sops table is nested too deeply".into(),
        ));
    }
    let plain = |text: String| Meta::Scalar { text, plain: true };
    Ok(match v {
        T::String(s) => Meta::str(s.value().clone()),
        T::Integer(i) => plain(i.value().to_string()),
        T::Float(f) => plain(render(&Value::Float(*f.value()))),
        T::Boolean(b) => plain(b.value().to_string()),
        T::Datetime(d) => plain(d.value().to_string()),
        T::Array(a) => Meta::List(
            a.iter()
                .map(|x| value_meta(x, depth + 1))
                .collect::<Result<_>>()?,
        ),
        T::InlineTable(t) => Meta::Map(
            t.iter()
                .map(|(k, x)| Ok((k.to_string(), value_meta(x, depth + 1)?)))
                .collect::<Result<_>>()?,
        ),
    })
}

/// Parse a TOML file, plaintext or encrypted.
///
/// # Errors
/// Syntax errors with line and column (toml_edit's message, never the source text), a
/// top-level `sops` entry that is not a `[sops]` table, a `[sops]` table split by data
/// tables, nesting beyond the cap.
pub fn parse(src: &str) -> Result<Parsed> {
    let doc = Document::parse(src).map_err(|e| {
        let pos = e.span().map_or(0, |s| s.start);
        let msg = e.message().lines().collect::<Vec<_>>().join("; ");
        syntax(src, pos, msg)
    })?;
    let root = doc.as_table();
    let no_final_newline = !src.trim_start_matches('\u{feff}').is_empty() && !src.ends_with('\n');

    // the metadata and the range it takes
    let mut metadata = None;
    let mut sops_pos: Vec<usize> = Vec::new();
    if let Some(item) = root.get(SOPS_TABLE) {
        match item {
            Item::Table(t) if !t.is_dotted() => {
                metadata = Some(table_meta(t, 0)?);
                sops_headers(t, 0, &mut sops_pos)?;
            }
            _ => {
                let at = root
                    .key(SOPS_TABLE)
                    .and_then(|k| k.span())
                    .map_or(0, |s| s.start);
                return Err(syntax(
                    src,
                    at,
                    "the top-level key `sops` is reserved for sops' metadata, which is a [sops] table",
                ));
            }
        }
    }

    let mut w = Walker {
        src,
        leaves: Vec::new(),
        headers: Vec::new(),
        containers: Vec::new(),
    };
    w.table(root, &mut Vec::new(), &mut Vec::new(), 0)?;
    let Walker {
        mut leaves,
        mut headers,
        mut containers,
        ..
    } = w;
    headers.sort_by_key(|h| h.pos);
    containers.sort_by_key(|k| k.span.start);

    let sops_removal = match (sops_pos.iter().min(), sops_pos.iter().max()) {
        (Some(&first), Some(&last)) => {
            if let Some(h) = headers.iter().find(|h| h.pos > first && h.pos < last) {
                return Err(syntax(
                    src,
                    h.pos,
                    "a data table between the [sops] table and its sub-tables: keep the metadata together",
                ));
            }
            let mut start = line_start(src, first);
            if start > 0 {
                let prev = line_start(src, start - 1);
                if src[prev..start].trim().is_empty() {
                    start = prev;
                }
            }
            let end = match headers.iter().find(|h| h.pos > last) {
                Some(h) => data_resume(src, line_start(src, h.pos), first),
                None => {
                    // our encrypt wrote "\n" + the table without its final newline
                    if no_final_newline && start > 0 && src.as_bytes()[start - 1] == b'\n' {
                        start -= 1;
                    }
                    src.len()
                }
            };
            Some(start..end)
        }
        _ => None,
    };

    // comments outside the metadata
    for c in lex_comments(src) {
        if sops_removal
            .as_ref()
            .is_some_and(|r| r.start < c.start && c.start < r.end)
        {
            continue;
        }
        // the innermost array or inline table around it (they nest or are disjoint, so the
        // first one found backwards from the last that starts before it), else its table
        let before = containers.partition_point(|k| k.span.start < c.start);
        let inner = containers[..before]
            .iter()
            .rev()
            .find(|k| c.start < k.span.end);
        let (path, ipath) = match inner {
            Some(k) => (k.path.clone(), k.ipath.clone()),
            None => match headers.partition_point(|h| h.pos < c.start) {
                0 => (Vec::new(), Vec::new()),
                n => (headers[n - 1].path.clone(), headers[n - 1].ipath.clone()),
            },
        };
        let text = src[c.clone()].to_string();
        leaves.push(Leaf {
            path,
            value: Some(Value::Comment(text)),
            comments: Vec::new(),
            alt_paths: Vec::new(),
            ctx: LeafCtx {
                col: col_at(src, c.start - 1),
                quote: b'#',
                line_start: line_start(src, c.start),
                ..LeafCtx::default()
            },
            index_path: ipath,
            span: c,
        });
    }
    leaves.sort_by_key(|l| l.span.start);
    comment_stacks(src, &mut leaves, &headers);

    Ok(Parsed {
        leaves,
        metadata,
        sops_removal,
        insert_at: src.len(),
        no_final_newline,
        warnings: Vec::new(),
    })
}

/// Where data resumes after the metadata when a data table follows it: the start of the
/// header's line, moved up over the comment lines right above it (they belong to it), but
/// never into the metadata's first line.
fn data_resume(src: &str, header_line: usize, sops_first: usize) -> usize {
    let floor = line_end(src, sops_first);
    let mut at = header_line;
    while at > floor {
        let prev = line_start(src, at - 1);
        if prev > floor && src[prev..at].trim_start().starts_with('#') {
            at = prev;
        } else {
            break;
        }
    }
    at
}

fn is_comment(l: &Leaf) -> bool {
    matches!(l.value, Some(Value::Comment(_)))
}

/// Fill each leaf's comment stack (see the module docs).
fn comment_stacks(src: &str, leaves: &mut [Leaf], headers: &[Header]) {
    let mut hi = 0;
    let mut header_c: Vec<String> = Vec::new();
    let mut header_line_end = 0;
    let mut run: Vec<String> = Vec::new();
    let mut value_line_end = 0;
    // the index of the first comment leaf at or after each index
    let mut next_comment = vec![leaves.len(); leaves.len() + 1];
    for i in (0..leaves.len()).rev() {
        next_comment[i] = if is_comment(&leaves[i]) {
            i
        } else {
            next_comment[i + 1]
        };
    }
    for i in 0..leaves.len() {
        let start = leaves[i].span.start;
        while hi < headers.len() && headers[hi].pos < start {
            header_c = std::mem::take(&mut run);
            header_line_end = line_end(src, headers[hi].pos);
            value_line_end = 0;
            hi += 1;
        }
        let text = match &leaves[i].value {
            Some(Value::Comment(t)) => Some(t.clone()),
            _ => None,
        };
        if let Some(text) = text {
            if start < header_line_end && run.is_empty() && value_line_end <= header_line_end {
                // on the header's line
                header_c.push(text);
                leaves[i].comments = header_c.clone();
                leaves[i].ctx.inline = true;
            } else if start < value_line_end {
                // after a value on its line: counted for that value already
                let mut c = header_c.clone();
                c.push(text);
                leaves[i].comments = c;
                leaves[i].ctx.inline = true;
            } else {
                run.push(text);
                let mut c = header_c.clone();
                c.extend(run.iter().cloned());
                leaves[i].comments = c;
            }
            continue;
        }
        let end = leaves[i].span.end;
        let le = line_end(src, end);
        let mut c = header_c.clone();
        c.append(&mut run);
        if let Some(Leaf {
            value: Some(Value::Comment(t)),
            span,
            ..
        }) = leaves.get(next_comment[i + 1])
            && span.start < le
        {
            c.push(t.clone());
        }
        leaves[i].comments = c;
        value_line_end = le;
    }
}

/// A TOML basic string (`"…"`) holding `s`.
pub fn basic_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    escape_into(s, false, &mut out);
    out.push('"');
    out
}

/// TOML escapes; with `multiline`, line breaks stay literal.
fn escape_into(s: &str, multiline: bool, out: &mut String) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' if multiline => out.push('\n'),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04X}", c as u32));
            }
            c => out.push(c),
        }
    }
}

/// A float as TOML reads it back as the same float.
fn float_text(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf".into() } else { "-inf".into() }
    } else {
        // Debug is the shortest round-trip form and always has a `.` or an exponent
        format!("{f:?}")
    }
}

/// The TOML rendering of a decrypted value.
pub fn render(v: &Value) -> String {
    match v {
        Value::Str(s) | Value::Comment(s) => basic_string(s),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => float_text(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => t.clone(),
    }
}

/// The text that replaces `leaf.span` when encrypting: `"token"` for a value, the bare token
/// for a comment (whose span is the text after `#`).
pub fn encrypted_text(_src: &str, leaf: &Leaf, token: &str) -> String {
    if is_comment(leaf) {
        token.to_string()
    } else {
        format!("\"{token}\"")
    }
}

/// The text that replaces `leaf.span` when decrypting: [`render`] for a value, the text for
/// a comment (a line break in it continues the comment on a `#` line). On a plaintext leaf,
/// `decrypted_text(src, leaf, v) != src[leaf.span]` says a preservation record is needed.
pub fn decrypted_text(_src: &str, leaf: &Leaf, value: &Value) -> String {
    if !is_comment(leaf) {
        return render(value);
    }
    let text = match value {
        Value::Str(s) | Value::Comment(s) | Value::Time(s) => s.clone(),
        other => String::from_utf8_lossy(&other.to_bytes()).into_owned(),
    };
    text.replace('\r', "").replace('\n', "\n#")
}

/// A key, bare when TOML allows it.
pub fn key_text(k: &str) -> String {
    if !k.is_empty()
        && k.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        k.to_string()
    } else {
        basic_string(k)
    }
}

/// A metadata scalar: booleans and decimal integers that were plain stay bare, the rest
/// are strings.
fn scalar_text(text: &str, plain: bool) -> String {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let int = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text.parse::<i64>().is_ok();
    if plain && (text == "true" || text == "false" || int) {
        text.to_string()
    } else {
        basic_string(text)
    }
}

/// An inline value (arrays and inline tables on one line).
fn inline_value(m: &Meta, out: &mut String) {
    match m {
        Meta::Scalar { text, plain } => out.push_str(&scalar_text(text, *plain)),
        Meta::Null => out.push_str("\"\""),
        Meta::List(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                inline_value(x, out);
            }
            out.push(']');
        }
        Meta::Map(es) => {
            out.push('{');
            let mut first = true;
            for (k, v) in es {
                if matches!(v, Meta::Null) {
                    continue;
                }
                out.push_str(if first { " " } else { ", " });
                first = false;
                out.push_str(&key_text(k));
                out.push_str(" = ");
                inline_value(v, out);
            }
            out.push_str(if first { "}" } else { " }" });
        }
    }
}

/// Whether an entry is written as a sub-table (a map) or an array of tables (a non-empty
/// list of maps) rather than as `key = value`.
fn is_sub(m: &Meta) -> bool {
    match m {
        Meta::Map(_) => true,
        Meta::List(items) => !items.is_empty() && items.iter().all(|x| matches!(x, Meta::Map(_))),
        _ => false,
    }
}

fn write_table(path: &[String], es: &[(String, Meta)], array: bool, out: &mut String) {
    let name: Vec<String> = path.iter().map(|k| key_text(k)).collect();
    let (open, close) = if array { ("[[", "]]") } else { ("[", "]") };
    out.push_str(&format!("{open}{}{close}\n", name.join(".")));
    for (k, v) in es.iter().filter(|(_, v)| !is_sub(v)) {
        match v {
            Meta::Null => continue,
            Meta::Scalar { text, plain: false } if text.contains('\n') => {
                out.push_str(&key_text(k));
                out.push_str(" = \"\"\"\n");
                escape_into(text, true, out);
                out.push_str("\"\"\"");
            }
            other => {
                out.push_str(&key_text(k));
                out.push_str(" = ");
                inline_value(other, out);
            }
        }
        out.push('\n');
    }
    for (k, v) in es.iter().filter(|(_, v)| is_sub(v)) {
        let mut sub = path.to_vec();
        sub.push(k.clone());
        match v {
            Meta::Map(inner) => {
                out.push('\n');
                write_table(&sub, inner, false, out);
            }
            Meta::List(items) => {
                for item in items {
                    if let Meta::Map(inner) = item {
                        out.push('\n');
                        write_table(&sub, inner, true, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The `[sops]` table: a blank line, then the table and its sub-tables, each line ending in
/// `\n`.
pub fn write_metadata(m: &Meta) -> String {
    let mut out = String::from("\n");
    let empty = Vec::new();
    let es = match m {
        Meta::Map(es) => es,
        _ => &empty,
    };
    write_table(&[SOPS_TABLE.to_string()], es, false, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crypto::{Cipher, DataKey, Mac, Token};
    use crate::format::splice::{Edit, splice};
    use crate::format::{aad, should_encrypt};
    use crate::keys::{self, KeySources, KeySpec};
    use crate::metadata::{AgeKey, KeyGroup, Metadata};
    use crate::select::Selector;

    const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sops-interop");

    /// Dotted keys interleaved with tables, inline tables, arrays (multi-line, nested, with
    /// comments), arrays of tables with sub-tables, every value type and spelling.
    const RICH: &str = r#"# top comment
title = "TOML \"example\"" # trailing
a.b = 1
a.c.d = 'literal'
hex = 0xDEAD_beef
floats = [1.0, -0.0, 1e300, inf, -inf, nan, +1.5, 3.1415]
when = 1979-05-27T07:32:00-08:00
local = 1979-05-27 07:32:00.999
day = 1979-05-27
time = 07:32:00
empty = ""
point = { x = 1, y.z = "two", nested = { ok = true } }

[server]   # header note
# above host
host = """
multi
line"""
ports = [
  8000, # first
  # between
  8001,
]
"quoted key" = '''raw\n'''

[[products]]
name = "Hammer"
sku = 738594937

[products.meta]
color = "red"

[[products]] # second
name = "Nail"

[a.e]
f = false
"#;

    fn read(rel: &str) -> String {
        std::fs::read_to_string(format!("{INTEROP}/{rel}")).unwrap()
    }

    fn key_sources() -> KeySources {
        let mut s = KeySources::default();
        s.age
            .add_key_text(&read("keys/key1.txt"), "key1.txt")
            .unwrap();
        s
    }

    fn leaf_text<'a>(src: &'a str, l: &Leaf) -> &'a str {
        &src[l.span.clone()]
    }

    fn text_of(l: &Leaf) -> &str {
        match &l.value {
            Some(Value::Str(s) | Value::Comment(s)) => s,
            // the marker leaf of an empty table or array
            None => "",
            _ => panic!("no text"),
        }
    }

    fn sample_metadata() -> Metadata {
        Metadata {
            groups: vec![KeyGroup {
                age: vec![AgeKey {
                    recipient: "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66"
                        .into(),
                    enc: "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\"\"\"\\\n-----END AGE ENCRYPTED FILE-----\n"
                        .into(),
                    extra: Vec::new(),
                }],
                others: Vec::new(),
            }],
            shamir_threshold: None,
            lastmodified: "2026-05-22T20:16:23Z".into(),
            mac: "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]".into(),
            selector: Selector::default(),
            mac_only_encrypted: true,
            version: "3.13.2".into(),
            preserved: Some("ENC[AES256_GCM,data:AQ==,iv:AA==,tag:AA==,type:str]".into()),
            extra: vec![
                ("x:odd".into(), Meta::str("a;b\tc")),
                (
                    "nested".into(),
                    Meta::Map(vec![
                        ("list".into(), Meta::List(vec![Meta::str("1"), Meta::Null])),
                        ("empty".into(), Meta::List(Vec::new())),
                        ("m".into(), Meta::Map(Vec::new())),
                        ("n".into(), Meta::Null),
                    ]),
                ),
            ],
        }
    }

    /// A map with its entries (and those of its maps) sorted, nulls in maps dropped and
    /// nulls in lists as `""` (what TOML can hold).
    fn normal(m: &Meta) -> Meta {
        match m {
            Meta::Map(es) => {
                let mut es: Vec<(String, Meta)> = es
                    .iter()
                    .filter(|(_, v)| !matches!(v, Meta::Null))
                    .map(|(k, v)| (k.clone(), normal(v)))
                    .collect();
                es.sort_by(|a, b| a.0.cmp(&b.0));
                Meta::Map(es)
            }
            Meta::List(items) => Meta::List(
                items
                    .iter()
                    .map(|x| match x {
                        Meta::Null => Meta::str(""),
                        x => normal(x),
                    })
                    .collect(),
            ),
            Meta::Scalar { text, .. } => Meta::str(text.clone()),
            Meta::Null => Meta::Null,
        }
    }

    #[test]
    fn leaves_paths_types_and_spans() {
        let p = parse(RICH).unwrap();
        assert!(p.metadata.is_none() && p.sops_removal.is_none());
        let got: Vec<(String, &str, &str)> = p
            .leaves
            .iter()
            .map(|l| {
                (
                    aad(&l.path),
                    l.value.as_ref().unwrap().type_name(),
                    leaf_text(RICH, l),
                )
            })
            .collect();
        let want: Vec<(&str, &str, &str)> = vec![
            (":", "comment", " top comment"),
            ("title:", "str", r#""TOML \"example\"""#),
            (":", "comment", " trailing"),
            ("a:b:", "int", "1"),
            ("a:c:d:", "str", "'literal'"),
            ("hex:", "int", "0xDEAD_beef"),
            ("floats:", "float", "1.0"),
            ("floats:", "float", "-0.0"),
            ("floats:", "float", "1e300"),
            ("floats:", "float", "inf"),
            ("floats:", "float", "-inf"),
            ("floats:", "float", "nan"),
            ("floats:", "float", "+1.5"),
            ("floats:", "float", "3.1415"),
            ("when:", "time", "1979-05-27T07:32:00-08:00"),
            ("local:", "time", "1979-05-27 07:32:00.999"),
            ("day:", "time", "1979-05-27"),
            ("time:", "time", "07:32:00"),
            ("empty:", "str", "\"\""),
            ("point:x:", "int", "1"),
            ("point:y:z:", "str", "\"two\""),
            ("point:nested:ok:", "bool", "true"),
            ("server:", "comment", " header note"),
            ("server:", "comment", " above host"),
            ("server:host:", "str", "\"\"\"\nmulti\nline\"\"\""),
            ("server:ports:", "int", "8000"),
            ("server:ports:", "comment", " first"),
            ("server:ports:", "comment", " between"),
            ("server:ports:", "int", "8001"),
            ("server:quoted key:", "str", "'''raw\\n'''"),
            ("products:name:", "str", "\"Hammer\""),
            ("products:sku:", "int", "738594937"),
            ("products:meta:color:", "str", "\"red\""),
            ("products:", "comment", " second"),
            ("products:name:", "str", "\"Nail\""),
            ("a:e:f:", "bool", "false"),
        ];
        let want: Vec<(String, &str, &str)> = want
            .into_iter()
            .map(|(a, b, c)| (a.to_string(), b, c))
            .collect();
        assert_eq!(got, want);
        let by = |t: &str| p.leaves.iter().find(|l| leaf_text(RICH, l) == t).unwrap();
        assert_eq!(text_of(by("'literal'")), "literal");
        assert_eq!(text_of(by("'''raw\\n'''")), "raw\\n");
        assert_eq!(text_of(by("\"\"\"\nmulti\nline\"\"\"")), "multi\nline");
        assert_eq!(by("0xDEAD_beef").value, Some(Value::Int(0xDEAD_BEEF)));
        assert_eq!(
            by("1979-05-27 07:32:00.999").value,
            Some(Value::Time("1979-05-27 07:32:00.999".into()))
        );
        assert_eq!(
            by("\"Nail\"").index_path,
            vec![
                PathSeg::Key("products".into()),
                PathSeg::Index(1),
                PathSeg::Key("name".into())
            ]
        );
        assert_eq!(
            by("8001").index_path,
            vec![
                PathSeg::Key("server".into()),
                PathSeg::Key("ports".into()),
                PathSeg::Index(1)
            ]
        );
        assert!(by("8001").ctx.in_seq);
        assert!(by(" trailing").ctx.inline && !by(" above host").ctx.inline);
        assert!(!p.no_final_newline);
        assert_eq!(p.insert_at, RICH.len());
    }

    #[test]
    fn comment_stacks() {
        let src = "# a\n# b\nx = 1 # c\ny = 2\n# d\n[t] # e\n# f\nz = 3\nw = 4\n";
        let p = parse(src).unwrap();
        let got: Vec<(&str, Vec<&str>)> = p
            .leaves
            .iter()
            .map(|l| {
                (
                    leaf_text(src, l),
                    l.comments.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        let want: Vec<(&str, Vec<&str>)> = vec![
            (" a", vec![" a"]),
            (" b", vec![" a", " b"]),
            ("1", vec![" a", " b", " c"]),
            (" c", vec![" c"]),
            ("2", vec![]),
            (" d", vec![" d"]),
            (" e", vec![" d", " e"]),
            (" f", vec![" d", " e", " f"]),
            ("3", vec![" d", " e", " f"]),
            ("4", vec![" d", " e"]),
        ];
        assert_eq!(got, want);
        // the selector follows the stacks
        let sel = Selector::from_key_value("encrypted_comment_regex", "^ e$").unwrap();
        let enc: Vec<&str> = p
            .leaves
            .iter()
            .filter(|l| should_encrypt(&sel, l))
            .map(|l| leaf_text(src, l))
            .collect();
        assert_eq!(enc, [" f", "3", "4"]);
    }

    #[test]
    fn rendering() {
        assert_eq!(
            render(&Value::Str("a\"b\\c\n\t\u{1}\u{7f}é".into())),
            r#""a\"b\\c\n\t\u0001\u007Fé""#
        );
        assert_eq!(render(&Value::Int(-42)), "-42");
        assert_eq!(render(&Value::Float(1.0)), "1.0");
        assert_eq!(render(&Value::Float(-0.0)), "-0.0");
        assert_eq!(render(&Value::Float(1e300)), "1e300");
        assert_eq!(render(&Value::Float(1.5e-7)), "1.5e-7");
        assert_eq!(render(&Value::Float(f64::NEG_INFINITY)), "-inf");
        assert_eq!(render(&Value::Float(f64::NAN)), "nan");
        assert_eq!(render(&Value::Bool(true)), "true");
        assert_eq!(render(&Value::Time("1979-05-27".into())), "1979-05-27");
        // each reads back as the same value
        for v in [
            Value::Str("x\u{0}y\"\"\"z\r\n".into()),
            Value::Float(0.1),
            Value::Float(1e21),
            Value::Float(f64::MAX),
            Value::Float(f64::MIN_POSITIVE),
            Value::Float(f64::INFINITY),
            Value::Int(i64::MIN),
        ] {
            let src = format!("k = {}\n", render(&v));
            let p = parse(&src).unwrap();
            assert_eq!(p.leaves[0].value.as_ref(), Some(&v), "{src}");
        }
        let p = parse("k = nan\n").unwrap();
        assert!(matches!(p.leaves[0].value, Some(Value::Float(f)) if f.is_nan()));
        // comments
        let src = "k = 1 # c\n";
        let p = parse(src).unwrap();
        let c = &p.leaves[1];
        assert_eq!(encrypted_text(src, c, "ENC[x]"), "ENC[x]");
        assert_eq!(decrypted_text(src, c, &Value::Comment(" c".into())), " c");
        assert_eq!(
            decrypted_text(src, c, &Value::Comment("a\nb".into())),
            "a\n#b"
        );
        assert_eq!(encrypted_text(src, &p.leaves[0], "ENC[x]"), "\"ENC[x]\"");
    }

    #[test]
    fn metadata_round_trip() {
        let m = sample_metadata();
        let text = write_metadata(&m.to_meta());
        assert!(text.starts_with("\n[sops]\n"), "{text}");
        assert!(text.contains("\n[[sops.age]]\nenc = \"\"\"\n-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\\\"\\\"\\\"\\\\\n-----END AGE ENCRYPTED FILE-----\n\"\"\"\nrecipient = \"age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66\"\n"), "{text}");
        assert!(
            text.contains("\nlastmodified = \"2026-05-22T20:16:23Z\"\n"),
            "{text}"
        );
        assert!(text.contains("\nmac_only_encrypted = true\n"), "{text}");
        assert!(text.contains("\n\"x:odd\" = \"a;b\\tc\"\n"), "{text}");
        for src in [
            format!("k = \"v\"\n{text}"),
            text.clone(),
            format!("k = \"v\"\r\n\r\n{text}"),
        ] {
            let p = parse(&src).unwrap();
            assert_eq!(p.leaves.len(), usize::from(src.starts_with('k')));
            let back = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
            assert_eq!(back.groups, m.groups);
            assert_eq!(back.lastmodified, m.lastmodified);
            assert_eq!(back.mac, m.mac);
            assert!(back.mac_only_encrypted);
            assert_eq!(back.preserved, m.preserved);
            assert_eq!(normal(&back.to_meta()), normal(&m.to_meta()));
            assert_eq!(&src[p.sops_removal.unwrap()], text);
        }
        // key groups and a shamir threshold: nested arrays of tables
        let mut kg = m.clone();
        kg.groups.push(KeyGroup::default());
        kg.shamir_threshold = Some(2);
        let text = write_metadata(&kg.to_meta());
        assert!(text.contains("[[sops.key_groups]]\n"), "{text}");
        assert!(text.contains("[[sops.key_groups.age]]\n"), "{text}");
        assert!(text.contains("\nshamir_threshold = 2\n"), "{text}");
        let p = parse(&text).unwrap();
        let back = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(back.groups, kg.groups);
        assert_eq!(back.shamir_threshold, Some(2));
        // without a final newline
        let src = format!(
            "k = 1{}",
            crate::format::metadata_tail("k = 1", 5, write_metadata(&m.to_meta()))
        );
        assert!(!src.ends_with('\n'));
        let p = parse(&src).unwrap();
        assert!(p.no_final_newline);
        assert_eq!(&src[..p.sops_removal.unwrap().start], "k = 1");
        let src = format!(
            "k = 1 # c{}",
            crate::format::metadata_tail("k = 1 # c", 9, write_metadata(&m.to_meta()))
        );
        let p = parse(&src).unwrap();
        assert_eq!(p.leaves.len(), 2);
        assert_eq!(&src[..p.sops_removal.unwrap().start], "k = 1 # c");
    }

    #[test]
    fn sops_entry_rules() {
        for bad in [
            "sops = 1\n",
            "sops = { version = \"1\" }\n",
            "sops.version = \"1\"\n",
            "[[sops]]\nversion = \"1\"\n",
            "[sops]\nversion = \"1\"\n[a]\nb = 1\n[sops.x]\ny = 1\n",
            "a = [\n",
            "a = 1\na = 2\n",
        ] {
            assert!(
                matches!(parse(bad), Err(Error::Syntax { .. })),
                "{bad}: {:?}",
                parse(bad).map(|p| p.leaves.len())
            );
        }
        // a syntax error names its line, never the text
        match parse("a = 1\nb = \"secret\n") {
            Err(e @ Error::Syntax { line: 2, .. }) => assert!(!e.to_string().contains("secret")),
            other => panic!("{:?}", other.map(|p| p.leaves.len())),
        }
        // `sops` below the top level is data; `[sops.x]` alone is metadata
        let p = parse("[a]\nsops = 1\n").unwrap();
        assert_eq!(p.leaves.len(), 1);
        assert!(p.metadata.is_none());
        let p = parse("a = 1\n[sops.x]\ny = 1\n").unwrap();
        assert!(p.metadata.is_some());
        assert_eq!(p.sops_removal, Some(6..21));
        // data after the metadata (added by hand) stays, with its comment
        let src = "a = 1\n\n[sops]\nversion = \"1\"\n# about b\n[b]\nc = 2\n";
        let p = parse(src).unwrap();
        let r = p.sops_removal.clone().unwrap();
        assert_eq!(
            format!("{}{}", &src[..r.start], &src[r.end..]),
            "a = 1\n# about b\n[b]\nc = 2\n"
        );
        let paths: Vec<String> = p.leaves.iter().map(|l| aad(&l.path)).collect();
        assert_eq!(paths, ["a:", ":", "b:c:"]);
        // comments inside the metadata are not leaves
        let p = parse("a = 1\n\n[sops]\n# note\nversion = \"1\" # v\n").unwrap();
        assert_eq!(p.leaves.len(), 1);
    }

    /// What document.rs does to encrypt (every leaf encrypted): the encrypted file and the
    /// preservation records it would seal into the metadata.
    fn encrypt(src: &str) -> (String, BTreeMap<String, String>) {
        let p = parse(src).unwrap();
        assert!(p.metadata.is_none());
        let key = DataKey::generate();
        let recipient = read("keys/key1.pub").trim().to_string();
        let (groups, shamir_threshold) = keys::wrap(
            &[vec![KeySpec::Age(recipient)]],
            None,
            &key,
            &Default::default(),
        )
        .unwrap();
        let cipher = Cipher::new(key);
        let mut mac = Mac::new(false);
        let mut records = BTreeMap::new();
        let mut edits = Vec::new();
        for leaf in &p.leaves {
            let Some(v) = &leaf.value else { continue };
            mac.add(v, true);
            if v.is_empty() {
                continue;
            }
            let tok = cipher.encrypt(v, &leaf.aad()).unwrap();
            let original = leaf_text(src, leaf);
            if decrypted_text(src, leaf, v) != original {
                records.insert(tok.id(), original.to_string());
            }
            edits.push(Edit::new(
                leaf.span.clone(),
                encrypted_text(src, leaf, &tok.to_text()),
            ));
        }
        let lastmodified = "2026-01-01T00:00:00Z".to_string();
        let mac = cipher
            .encrypt_bytes(mac.finish().as_bytes(), "str", &lastmodified)
            .unwrap()
            .to_text();
        let meta = Metadata {
            groups,
            shamir_threshold,
            lastmodified,
            mac,
            selector: Selector::default(),
            mac_only_encrypted: false,
            version: "3.13.2".into(),
            preserved: None,
            extra: Vec::new(),
        };
        edits.push(Edit::insert(
            p.insert_at,
            crate::format::metadata_tail(src, p.insert_at, write_metadata(&meta.to_meta())),
        ));
        let out = String::from_utf8(splice(src.as_bytes(), edits).unwrap()).unwrap();
        (out, records)
    }

    /// What document.rs does to decrypt: every token decrypted with its leaf's AAD and replaced
    /// by `decrypted_text` (or by its preservation record), the MAC checked, `[sops]` removed.
    fn decrypt(src: &str, keys: &KeySources, records: &BTreeMap<String, String>) -> String {
        let p = parse(src).unwrap();
        let meta = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        let mut cipher = Cipher::new(keys::unwrap(&meta, keys).unwrap());
        let mut mac = Mac::new(meta.mac_only_encrypted);
        let mut edits = Vec::new();
        for leaf in &p.leaves {
            let Some(v) = &leaf.value else { continue };
            let tok = match v {
                Value::Str(s) | Value::Comment(s) => Token::parse(s),
                _ => None,
            };
            let Some(tok) = tok else {
                mac.add(v, false);
                continue;
            };
            let tok = tok.unwrap();
            let value = cipher.decrypt(&tok, &leaf.aad()).unwrap();
            mac.add(&value, true);
            let text = records
                .get(&tok.id())
                .cloned()
                .unwrap_or_else(|| decrypted_text(src, leaf, &value));
            edits.push(Edit::new(leaf.span.clone(), text));
        }
        let stored = Token::parse(&meta.mac).unwrap().unwrap();
        let stored = cipher.decrypt_bytes(&stored, &meta.lastmodified).unwrap();
        assert_eq!(stored.as_slice(), mac.finish().as_bytes(), "MAC");
        edits.push(Edit::new(p.sops_removal.clone().unwrap(), ""));
        String::from_utf8(splice(src.as_bytes(), edits).unwrap()).unwrap()
    }

    #[test]
    fn round_trip_with_the_crate_cipher() {
        let crlf = RICH.replace('\n', "\r\n");
        let no_nl = RICH.trim_end().to_string();
        let cases = [
            RICH,
            crlf.as_str(),
            no_nl.as_str(),
            "x = 1",
            "# only a comment\n",
            "[t]\n",
            "a = { b = [ { c = 'd' } ] }\n",
        ];
        for src in cases {
            let (enc, records) = encrypt(src);
            let pe = parse(&enc).unwrap();
            let p = parse(src).unwrap();
            let paths = |p: &Parsed| p.leaves.iter().map(|l| l.path.clone()).collect::<Vec<_>>();
            assert_eq!(paths(&pe), paths(&p), "{enc}");
            // empty tables and arrays have value-less marker leaves
            for l in pe.leaves.iter().filter(|l| l.value.is_some()) {
                let t = leaf_text(&enc, l);
                if !text_of(l).is_empty() {
                    assert!(
                        t.starts_with("\"ENC[AES256_GCM,") || t.starts_with("ENC[AES256_GCM,"),
                        "{t}"
                    );
                }
            }
            assert_eq!(decrypt(&enc, &key_sources(), &records), src, "{enc}");
        }
        // the encrypted RICH file, as our decrypt without records renders it
        let (enc, _) = encrypt(RICH);
        assert!(enc.contains("\nfloats = [\"ENC[AES256_GCM,"));
        assert!(enc.contains("\n[server]   #ENC[AES256_GCM,"));
        assert!(enc.contains("\n\n[sops]\n"));
        let canonical = decrypt(&enc, &key_sources(), &BTreeMap::new());
        assert!(
            canonical.contains("a.c.d = \"literal\"\nhex = 3735928559\n"),
            "{canonical}"
        );
        assert!(canonical.contains("floats = [1.0, -0.0, 1e300, inf, -inf, nan, 1.5, 3.1415]"));
        assert!(canonical.contains("host = \"multi\\nline\"\n"));
        // and it still parses with the same values
        let a = parse(RICH).unwrap();
        let b = parse(&canonical).unwrap();
        assert_eq!(a.leaves.len(), b.leaves.len());
        for (x, y) in a.leaves.iter().zip(&b.leaves) {
            assert_eq!(x.path, y.path);
            match (&x.value, &y.value) {
                (Some(Value::Float(f)), Some(Value::Float(g))) if f.is_nan() => {
                    assert!(g.is_nan())
                }
                (v, w) => assert_eq!(v, w),
            }
        }
    }

    /// A record-keeping encrypt with fake tokens (no cipher): the file structure is what is
    /// under test.
    fn fake_encrypt(src: &str, p: &Parsed) -> (String, Vec<(String, Value, Option<String>)>) {
        let mut edits = Vec::new();
        let mut tokens = Vec::new();
        for (i, leaf) in p.leaves.iter().enumerate() {
            let Some(v) = &leaf.value else { continue };
            if v.is_empty() {
                continue;
            }
            let tok = format!(
                "ENC[AES256_GCM,data:{i},iv:AA==,tag:AA==,type:{}]",
                v.type_name()
            );
            let original = leaf_text(src, leaf);
            let record = (decrypted_text(src, leaf, v) != original).then(|| original.to_string());
            tokens.push((tok.clone(), v.clone(), record));
            edits.push(Edit::new(
                leaf.span.clone(),
                encrypted_text(src, leaf, &tok),
            ));
        }
        edits.push(Edit::insert(
            p.insert_at,
            crate::format::metadata_tail(
                src,
                p.insert_at,
                write_metadata(&sample_metadata().to_meta()),
            ),
        ));
        let out = splice(src.as_bytes(), edits).unwrap();
        (String::from_utf8(out).unwrap(), tokens)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
        /// Any TOML file toml_edit reads: spans are sound, the encrypted file reads back with
        /// the same leaves, and decrypting (records where needed) gives the file back.
        #[test]
        fn encrypted_structure_is_stable(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "b", "c", "sops", " = ", ".", "1", "0x1f", "1.5", "-inf", "true",
                "1979-05-27", "T07:32:00Z", "\"s\"", "'l'", "\"\"\"m\nl\"\"\"", "'''x'''",
                "\"#\"", "[", "]", "[[", "]]", "{", "}", ",", " ", "\t", "#", "# c", "\n",
                "\n", "\n", "\r\n", "é", "\"\"",
            ]), 0..40)
        ) {
            let src: String = parts.concat();
            let Ok(p) = parse(&src) else { return Ok(()) };
            let mut last = 0;
            for l in &p.leaves {
                let r = &l.span;
                proptest::prop_assert!(r.start >= last && r.end <= src.len(), "{src:?}");
                proptest::prop_assert!(src.is_char_boundary(r.start) && src.is_char_boundary(r.end));
                last = r.end.max(r.start);
            }
            if p.metadata.is_some() {
                return Ok(());
            }
            let (enc, tokens) = fake_encrypt(&src, &p);
            let pe = parse(&enc);
            proptest::prop_assert!(pe.is_ok(), "{src:?} -> {enc:?}: {:?}", pe.map(|_| ()));
            let pe = pe.unwrap();
            let paths = |p: &Parsed| p.leaves.iter().map(|l| (l.path.clone(), l.index_path.clone())).collect::<Vec<_>>();
            proptest::prop_assert_eq!(paths(&pe), paths(&p), "{:?} -> {:?}", src, enc);
            proptest::prop_assert!(pe.metadata.is_some());
            let mut edits = Vec::new();
            for leaf in pe.leaves.iter().filter(|l| l.value.is_some()) {
                if let Some((_, v, record)) = tokens.iter().find(|(tok, ..)| tok == text_of(leaf)) {
                    let text = record.clone().unwrap_or_else(|| decrypted_text(&enc, leaf, v));
                    edits.push(Edit::new(leaf.span.clone(), text));
                }
            }
            proptest::prop_assert_eq!(edits.len(), tokens.len(), "{:?} -> {:?}", src, enc);
            edits.push(Edit::new(pe.sops_removal.clone().unwrap(), ""));
            let back = String::from_utf8(splice(enc.as_bytes(), edits).unwrap()).unwrap();
            proptest::prop_assert_eq!(back, src, "{:?}", enc);
        }

        /// Line-structured documents (most of them valid): the same property.
        #[test]
        fn structured_documents_round_trip(
            lines in proptest::collection::vec((0usize..8, 0usize..14, 0usize..4), 0..25),
            crlf in proptest::bool::ANY,
            final_nl in proptest::bool::ANY,
        ) {
            let values = [
                "1", "-0x1F", "1_000", "1.0", "-nan", "+inf", "6.02e23", "true",
                "\"str\\n\"", "'lit'", "\"\"\"\nml \\\n  cont\"\"\"", "1979-05-27T00:32:00.999999-07:00",
                "[ 1, [\"a\", { b = 2 }], ]", "{ x.y = 1, z = [] }",
            ];
            let nl = if crlf { "\r\n" } else { "\n" };
            let mut src = String::new();
            for (i, (kind, v, c)) in lines.iter().enumerate() {
                let comment = ["", " # c", "#", "\t#  é "][*c];
                let line = match kind {
                    0..=2 => format!("k{i} = {}{comment}", values[*v]),
                    3 => format!("d{i}.\"q k\".x = {}{comment}", values[*v]),
                    4 => format!("[t{i}]{comment}"),
                    5 => format!("[[arr]]{comment}"),
                    6 => format!("[arr.s{i}]{comment}"),
                    _ => comment.to_string(),
                };
                src.push_str(&line);
                src.push_str(nl);
                if *kind == 7 && *v == 0 {
                    src.push_str(&format!("m{i} = [{nl}  1, # one{nl}  # own{nl}  2{nl}]{nl}"));
                }
            }
            if !final_nl {
                while src.ends_with(['\r', '\n']) {
                    src.pop();
                }
            }
            let Ok(p) = parse(&src) else { return Ok(()) };
            let (enc, tokens) = fake_encrypt(&src, &p);
            let pe = parse(&enc).unwrap();
            let paths = |p: &Parsed| p.leaves.iter().map(|l| (l.path.clone(), l.index_path.clone(), l.comments.len())).collect::<Vec<_>>();
            proptest::prop_assert_eq!(paths(&pe), paths(&p), "{:?} -> {:?}", src, enc);
            let mut edits = Vec::new();
            for leaf in pe.leaves.iter().filter(|l| l.value.is_some()) {
                if let Some((_, v, record)) = tokens.iter().find(|(tok, ..)| tok == text_of(leaf)) {
                    let text = record.clone().unwrap_or_else(|| decrypted_text(&enc, leaf, v));
                    edits.push(Edit::new(leaf.span.clone(), text));
                }
            }
            proptest::prop_assert_eq!(edits.len(), tokens.len());
            edits.push(Edit::new(pe.sops_removal.clone().unwrap(), ""));
            let back = String::from_utf8(splice(enc.as_bytes(), edits.clone()).unwrap()).unwrap();
            proptest::prop_assert_eq!(&back, &src, "{:?}", enc);
            // without records: still TOML, with the same values
            let mut plain = Vec::new();
            for leaf in &pe.leaves {
                if let Some((_, v, _)) = tokens.iter().find(|(tok, ..)| tok == text_of(leaf)) {
                    plain.push(Edit::new(leaf.span.clone(), decrypted_text(&enc, leaf, v)));
                }
            }
            plain.push(Edit::new(pe.sops_removal.clone().unwrap(), ""));
            let canon = String::from_utf8(splice(enc.as_bytes(), plain).unwrap()).unwrap();
            let pc = parse(&canon);
            proptest::prop_assert!(pc.is_ok(), "{:?}", canon);
            let pc = pc.unwrap();
            proptest::prop_assert_eq!(pc.leaves.len(), p.leaves.len());
            for (x, y) in p.leaves.iter().zip(&pc.leaves) {
                proptest::prop_assert_eq!(&x.path, &y.path);
                let same = match (&x.value, &y.value) {
                    (Some(Value::Float(f)), Some(Value::Float(g))) => f.to_bits() == g.to_bits() || (f.is_nan() && g.is_nan()),
                    (v, w) => v == w,
                };
                proptest::prop_assert!(same, "{:?}", canon);
            }
        }
    }
}
