//! INI, as sops reads and writes it (`stores/ini/store.go` on `gopkg.in/ini.v1` v1.67; every
//! rule below was checked against the sops 3.11 binary): leaves with exact byte spans, the
//! `[sops]` metadata section, and sops' rendering of decrypted values and comments.
//!
//! # The go-ini rules followed
//!
//! * Lines are split on `\n`; leading whitespace is ignored; blank lines are skipped.
//! * `;` or `#` first → a comment line. Consecutive comment lines are one comment, **blank lines
//!   included**; the comment belongs to the next key (a key comment) or the next `[section]`
//!   header (a section comment). Comments after the last key of the file are dropped by sops.
//! * `[name]` → a section; the name is the text up to the **last** `]`, untrimmed. Text after it
//!   that starts with `;`/`#` is appended to the section comment. `DEFAULT` is the section of
//!   the keys before any header. Sections are not merged: a name that comes back (`[DEFAULT]`
//!   included) starts another section, and sops prints them all in file order (checked with
//!   sops 3.11). A key given twice in one section keeps its first place and its last value.
//! * Anything else is a key: its name runs to the first `=` or `:` (or is quoted with `"`,
//!   `"""` or `` ` ``), trimmed; `-` is an auto-numbered key `#1`, `#2`… Values:
//!   `"""…"""` and `` `…` `` (both may span lines) are taken verbatim; otherwise a value ending in
//!   `\` continues on the next lines; otherwise the first `;` or `#` **anywhere** starts an
//!   inline comment (appended to the key's comment), and one pair of surrounding `"` or `'` is
//!   removed.
//!
//! # How sops' tree maps to leaves
//!
//! sops' tree is `{section: {key: value}}` (AAD `section:key:`), with each comment as one item
//! whose AAD is `section:`. Leaves come in that tree's order, which is the file's order (so the
//! MAC matches sops): per section, its comment, then each key's value followed by its comment
//! leaves.
//!
//! * **Value leaf**: `span` is the value as written: quotes, `"""` lines and `\` continuation
//!   lines included, the inline comment excluded. In a sops-written file that is exactly the
//!   `ENC[…]` token after `= `. `ctx.quote`: 0 plain, `"`/`'` surrounding quotes, `` ` ``,
//!   `|` for `"""`, `\` for a continued value.
//! * **Comment leaves** (`Value::Comment`, path `[section]`, `ctx.quote` = the marker `;`/`#`):
//!   - a *key comment*: the block of comment lines above a key (`span` from the first marker to
//!     the end of the last comment line, blank lines inside). Its text is sops' comment for that
//!     key: the block **and** the key's inline comment joined, as go-ini joins them;
//!   - an *inline comment* (`ctx.inline`): the `;…`/`#…` part of a key line (its own leaf, text
//!     = that part alone, so our decrypt can put it back where it was);
//!   - a *section comment* (`ctx.seq_comment`, reused here to mean "section comment"): its
//!     `span` runs from the block above a header **through the `[section]` line** (the header's
//!     own trailing comment is part of sops' comment and cannot stay on the header line once
//!     encrypted: go-ini would read the token's `]` as the end of the section name);
//!   - a *trailing comment* (after the last key; sops drops it): a key-comment-like leaf whose
//!     path is the section it is in. In our encrypted file it sits above `[sops]`, where sops
//!     ignores it.
//!
//!   In an encrypted file each comment is one `; ENC[…]` line, which is what sops writes and
//!   reads. [`encrypted_text`] and [`decrypted_text`] give the text for a leaf's span in both
//!   directions.

use std::collections::HashMap;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::format::flatten::{flatten, unflatten};
use crate::format::scalar::go_float_val_to_string;
use crate::format::{Leaf, LeafCtx, PathSeg};
use crate::metadata::Meta;
use crate::select::Selector;
use crate::value::Value;

/// The section of the keys that come before any `[section]` header.
pub const DEFAULT_SECTION: &str = "DEFAULT";
/// The section that holds sops' metadata.
pub const SOPS_SECTION: &str = "sops";

#[derive(Debug, Default)]
pub struct Parsed {
    /// Leaves in sops' tree order (the file's order; see the module docs).
    pub leaves: Vec<Leaf>,
    /// The `[sops]` section, unflattened (`\n` escapes decoded).
    pub metadata: Option<Meta>,
    /// Bytes to delete when decrypting: the `[sops]` section and the blank line before it (and
    /// the newline before that when the file does not end with a newline: see [`crate::format::metadata_tail`]).
    pub sops_removal: Option<Range<usize>>,
    /// Where the metadata goes when encrypting: the end of the file.
    pub insert_at: usize,
    /// The file does not end with a newline (our encrypt then writes the metadata without a
    /// final newline, so that our decrypt knows to give the file back without one).
    pub no_final_newline: bool,
    /// Things sops will print differently from the file (for the user; no values in them).
    pub warnings: Vec<String>,
}

fn syntax(src: &str, pos: usize, msg: impl Into<String>) -> Error {
    let pos = pos.min(src.len());
    let ls = src[..pos].rfind('\n').map_or(0, |i| i + 1);
    Error::Syntax {
        what: "invalid INI",
        line: src[..pos].matches('\n').count() + 1,
        col: src[ls..pos].chars().count() + 1,
        msg: msg.into(),
    }
}

fn line_no(src: &str, pos: usize) -> usize {
    src[..pos.min(src.len())].matches('\n').count() + 1
}

/// One physical line: `start..end` without its `\n`, `next` the start of the next line.
#[derive(Clone, Copy, Debug)]
struct Line {
    start: usize,
    end: usize,
    next: usize,
}

fn split_lines(src: &str, from: usize) -> Vec<Line> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos < src.len() {
        match src[pos..].find('\n') {
            Some(i) => {
                out.push(Line {
                    start: pos,
                    end: pos + i,
                    next: pos + i + 1,
                });
                pos += i + 1;
            }
            None => {
                out.push(Line {
                    start: pos,
                    end: src.len(),
                    next: src.len(),
                });
                pos = src.len();
            }
        }
    }
    out
}

/// End of a line's content with trailing whitespace (`\r` included) removed.
fn content_end(src: &str, l: Line) -> usize {
    l.start + src[l.start..l.end].trim_end().len()
}

/// go-ini's `hasSurroundedQuote`: first and last byte are `q` and `q` appears nowhere else.
fn has_surrounded_quote(s: &str, q: u8) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0] == q && b[b.len() - 1] == q && s[1..].find(q as char) == Some(b.len() - 2)
}

/// sops' `stripCommentChar`.
fn strip_comment_char(s: &str) -> &str {
    if s.starts_with(';') {
        s.trim_start_matches([';', ' '])
    } else if s.starts_with('#') {
        s.trim_start_matches(['#', ' '])
    } else {
        s
    }
}

/// sops' text for a comment whose go-ini buffer is `raw` (`stripCommentChar(TrimSpace(raw))`),
/// except that an empty first line is dropped: go-ini's writer indexes the first byte of every
/// line, so sops panics when it decrypts a comment whose first line is empty (`;` alone above
/// more comment lines). Ours stays readable by sops; our decrypt restores the original lines.
fn comment_text(raw: &str) -> String {
    let t = strip_comment_char(raw.trim());
    t.strip_prefix('\n').unwrap_or(t).to_string()
}

/// A comment line waiting for the key or section it belongs to.
#[derive(Debug)]
struct CommentLine {
    line_start: usize,
    /// The marker's offset.
    start: usize,
    /// End of the line's content (trailing whitespace excluded).
    end: usize,
    marker: u8,
}

/// An inline comment (after a value, or after a section header's `]`).
#[derive(Debug, Clone)]
struct Inline {
    span: Range<usize>,
    marker: u8,
}

/// A value as go-ini reads it.
struct ValueRead {
    value: String,
    span: Range<usize>,
    quote: u8,
    inline: Option<Inline>,
    /// Index of the first line after the value.
    next_line: usize,
}

fn unclosed(q: &str) -> String {
    format!("a value opened with {q} is not closed")
}

/// go-ini's `readValue` (with `readMultilines` and `readContinuationLines`) for the value that
/// starts at `from` on line `li`.
fn read_value(src: &str, lines: &[Line], li: usize, from: usize) -> Result<ValueRead> {
    let l = lines[li];
    let rest = &src[from..l.next];
    let line = rest.trim_start();
    let vstart = l.next - line.len();
    if line.is_empty() {
        let at = content_end(src, l).max(from);
        return Ok(ValueRead {
            value: String::new(),
            span: at..at,
            quote: 0,
            inline: None,
            next_line: li + 1,
        });
    }
    let q = if line.len() > 3 && line.starts_with("\"\"\"") {
        Some("\"\"\"")
    } else if line.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(q) = q {
        let quote = if q == "`" { b'`' } else { b'|' };
        let inner = &line[q.len()..];
        if let Some(pos) = inner.rfind(q) {
            // one line: anything after the closing quote is ignored (no inline comment either)
            return Ok(ValueRead {
                value: inner[..pos].to_string(),
                span: vstart..content_end(src, l),
                quote,
                inline: None,
                next_line: li + 1,
            });
        }
        let mut value = inner.to_string();
        let mut i = li + 1;
        loop {
            let Some(&nl) = lines.get(i) else {
                return Err(syntax(src, vstart, unclosed(q)));
            };
            let next = &src[nl.start..nl.next];
            if let Some(pos) = next.rfind(q) {
                value.push_str(&next[..pos]);
                let after_quote = nl.start + pos + q.len();
                let end = content_end(src, nl).max(after_quote);
                let tail = &src[after_quote..end];
                let (span_end, inline) = match tail.find(['#', ';']) {
                    Some(c) => {
                        let cstart = after_quote + c;
                        (
                            after_quote + tail[..c].trim_end().len(),
                            Some(Inline {
                                span: cstart..end,
                                marker: src.as_bytes()[cstart],
                            }),
                        )
                    }
                    None => (end, None),
                };
                return Ok(ValueRead {
                    value,
                    span: vstart..span_end,
                    quote,
                    inline,
                    next_line: i + 1,
                });
            }
            value.push_str(next);
            if nl.next == src.len() && !next.ends_with('\n') {
                return Err(syntax(src, vstart, unclosed(q)));
            }
            i += 1;
        }
    }
    let trimmed = line.trim();
    if let Some(first) = trimmed.strip_suffix('\\') {
        // continuation lines: trimmed and joined, ending at a line without `\` or a blank line
        let mut value = first.to_string();
        let mut span_end = vstart + trimmed.len();
        let mut i = li + 1;
        while let Some(&nl) = lines.get(i) {
            i += 1;
            let next = src[nl.start..nl.next].trim();
            if next.is_empty() {
                break;
            }
            value.push_str(next);
            span_end = content_end(src, nl);
            if !value.ends_with('\\') {
                break;
            }
            value.pop();
        }
        return Ok(ValueRead {
            value,
            span: vstart..span_end,
            quote: b'\\',
            inline: None,
            next_line: i,
        });
    }
    let (body, inline) = match trimmed.find(['#', ';']) {
        Some(c) => (
            trimmed[..c].trim(),
            Some(Inline {
                span: vstart + c..vstart + trimmed.len(),
                marker: trimmed.as_bytes()[c],
            }),
        ),
        None => (trimmed, None),
    };
    let span = vstart..vstart + body.len();
    let (value, quote) = if has_surrounded_quote(body, b'\'') {
        (&body[1..body.len() - 1], b'\'')
    } else if has_surrounded_quote(body, b'"') {
        (&body[1..body.len() - 1], b'"')
    } else {
        (body, 0)
    };
    Ok(ValueRead {
        value: value.to_string(),
        span,
        quote,
        inline,
        next_line: li + 1,
    })
}

/// go-ini's `readKeyName` on a line whose leading whitespace is gone (`line` keeps its `\n`):
/// the name and the offset just past the delimiter.
fn read_key_name(line: &str) -> std::result::Result<(String, usize), &'static str> {
    let quote = if line.starts_with('"') {
        if line.len() > 6 && line.starts_with("\"\"\"") {
            Some("\"\"\"")
        } else {
            Some("\"")
        }
    } else if line.starts_with('`') {
        Some("`")
    } else {
        None
    };
    if let Some(q) = quote {
        let n = q.len();
        let pos = line[n..]
            .find(q)
            .ok_or("a quoted key name has no closing quote")?
            + n;
        let i = line
            .get(pos + n..)
            .and_then(|r| r.find(['=', ':']))
            .ok_or(NO_DELIMITER)?;
        return Ok((line[n..pos].trim().to_string(), pos + i + n + 1));
    }
    let end = line.find(['=', ':']).ok_or(NO_DELIMITER)?;
    Ok((line[..end].trim().to_string(), end + 1))
}

const NO_DELIMITER: &str = "this line is not a key (no `=` or `:`), a `[section]` or a comment";

/// A key and its leaves, kept until its section is read (for the comment stacks).
struct KeyItem {
    /// The value leaf, then the key-comment and inline-comment leaves.
    leaves: Vec<Leaf>,
    /// sops' comment for this key (block and inline joined).
    comment: Option<String>,
}

/// One section as it appears in the file (sops keeps sections with the same name apart).
struct Section {
    name: String,
    comment_leaves: Vec<Leaf>,
    /// sops' comment of the section.
    comment: Option<String>,
    keys: Vec<KeyItem>,
    key_lines: HashMap<String, usize>,
    trailing: Vec<Leaf>,
    /// Next auto-increment number for `-` keys.
    count: usize,
}

impl Section {
    fn new(name: &str) -> Self {
        Section {
            name: name.to_string(),
            comment_leaves: Vec::new(),
            comment: None,
            keys: Vec::new(),
            key_lines: HashMap::new(),
            trailing: Vec::new(),
            count: 1,
        }
    }
}

fn col_at(src: &str, pos: usize) -> usize {
    let ls = src[..pos].rfind('\n').map_or(0, |i| i + 1);
    src[ls..pos].chars().count()
}

fn comment_leaf(
    src: &str,
    span: Range<usize>,
    text: String,
    section: &str,
    marker: u8,
    line_start: usize,
) -> Leaf {
    Leaf {
        path: vec![section.to_string()],
        // in sops' walk a comment's own text is on its comment stack (see `should_encrypt`)
        comments: vec![text.clone()],
        value: Some(Value::Comment(text)),
        alt_paths: Vec::new(),
        ctx: LeafCtx {
            col: col_at(src, span.start),
            quote: marker,
            line_start,
            ..LeafCtx::default()
        },
        index_path: vec![PathSeg::Key(section.to_string())],
        span,
    }
}

/// The go-ini buffer of a block of comment lines followed by an optional inline comment.
fn block_raw(src: &str, lines: &[CommentLine], inline: Option<&Inline>) -> String {
    let mut raw = String::new();
    for c in lines {
        let end = src[c.end..].find('\n').map_or(src.len(), |i| c.end + i + 1);
        raw.push_str(&src[c.start..end]);
    }
    if let Some(i) = inline {
        raw.push_str(&src[i.span.clone()]);
    }
    raw
}

/// Parse an INI file as sops (go-ini) reads it.
///
/// # Errors
/// Syntax errors naming the line (what go-ini rejects), a key given twice in a section (sops
/// would keep only the last value), a second `[sops]` section, metadata that does not
/// unflatten.
pub fn parse(src: &str) -> Result<Parsed> {
    let bom = if src.starts_with('\u{feff}') { 3 } else { 0 };
    let lines = split_lines(src, bom);
    let mut sections: Vec<Section> = vec![Section::new(DEFAULT_SECTION)];
    let mut cur = 0usize;
    let mut pending: Vec<CommentLine> = Vec::new();
    let mut warnings = Vec::new();
    // the [sops] section: its pairs, and where its removal starts / ends
    let mut in_sops = false;
    let mut sops_pairs: Vec<(String, String)> = Vec::new();
    let mut sops_start: Option<usize> = None;
    let mut sops_end: Option<usize> = None;
    let mut sops_count = 1usize;

    let mut li = 0;
    while li < lines.len() {
        let l = lines[li];
        let raw = &src[l.start..l.next];
        let t = raw.trim_start();
        if t.is_empty() {
            li += 1;
            continue;
        }
        let tpos = l.next - t.len();
        match t.as_bytes()[0] {
            m @ (b'#' | b';') => {
                pending.push(CommentLine {
                    line_start: l.start,
                    start: tpos,
                    end: content_end(src, l),
                    marker: m,
                });
                li += 1;
            }
            b'[' => {
                let close = t
                    .rfind(']')
                    .ok_or_else(|| syntax(src, tpos, "unclosed section header (no `]`)"))?;
                let name = &t[1..close];
                if name.is_empty() {
                    return Err(syntax(src, tpos, "empty section name"));
                }
                let end = content_end(src, l).max(tpos + close + 1);
                let after = tpos + close + 1;
                let inline = src[after..end].find(['#', ';']).map(|c| Inline {
                    span: after + c..end,
                    marker: src.as_bytes()[after + c],
                });
                if name == SOPS_SECTION {
                    if sops_start.is_some() {
                        return Err(syntax(src, tpos, "a second [sops] section"));
                    }
                    // comments before [sops] are the data's last comments (sops drops them)
                    flush_trailing(src, &mut pending, &mut sections[cur]);
                    in_sops = true;
                    sops_count = 1;
                    sops_start = Some(removal_start(src, &lines, li, bom));
                } else {
                    if in_sops {
                        in_sops = false;
                        sops_end = Some(pending.first().map_or(l.start, |c| c.line_start));
                    }
                    // every header starts a section of its own, even with a name seen before
                    // (sops reads and writes non-unique sections; `[DEFAULT]` included)
                    sections.push(Section::new(name));
                    cur = sections.len() - 1;
                    let sec = &mut sections[cur];
                    if !pending.is_empty() || inline.is_some() {
                        let text = comment_text(&block_raw(src, &pending, inline.as_ref()));
                        let start = pending.first().map_or(tpos, |c| c.start);
                        let marker = pending
                            .first()
                            .map(|c| c.marker)
                            .or(inline.as_ref().map(|i| i.marker))
                            .unwrap_or(b';');
                        let mut leaf =
                            comment_leaf(src, start..end, text.clone(), name, marker, l.start);
                        leaf.ctx.seq_comment = true;
                        sec.comment_leaves.push(leaf);
                        sec.comment = Some(text);
                    }
                }
                pending.clear();
                li += 1;
            }
            _ => {
                let (mut key, off) = read_key_name(t).map_err(|m| syntax(src, tpos, m))?;
                let counter = if in_sops {
                    &mut sops_count
                } else {
                    &mut sections[cur].count
                };
                if key == "-" {
                    key = format!("#{counter}");
                    *counter += 1;
                }
                if key.is_empty() {
                    return Err(syntax(src, tpos, "empty key name"));
                }
                // the line number (lines are counted from the start of the file)
                let line = li + 1;
                let v = read_value(src, &lines, li, tpos + off)?;
                li = v.next_line;
                if in_sops {
                    sops_pairs.retain(|(k, _)| *k != key);
                    sops_pairs.push((key, v.value.replace("\\n", "\n")));
                    pending.clear();
                    continue;
                }
                let sec = &mut sections[cur];
                if let Some(first) = sec.key_lines.get(&key) {
                    return Err(syntax(
                        src,
                        tpos,
                        format!(
                            "key {key:?} is also at line {first} of section [{}]: sops would keep only the last value",
                            sec.name
                        ),
                    ));
                }
                sec.key_lines.insert(key.clone(), line);
                let comment = (!pending.is_empty() || v.inline.is_some())
                    .then(|| comment_text(&block_raw(src, &pending, v.inline.as_ref())));
                let mut leaves = vec![Leaf {
                    span: v.span.clone(),
                    path: vec![sec.name.clone(), key.clone()],
                    value: Some(Value::Str(v.value)),
                    comments: Vec::new(),
                    alt_paths: Vec::new(),
                    ctx: LeafCtx {
                        col: col_at(src, tpos),
                        quote: v.quote,
                        line_start: l.start,
                        ..LeafCtx::default()
                    },
                    index_path: vec![PathSeg::Key(sec.name.clone()), PathSeg::Key(key)],
                }];
                if let (Some(first), Some(last)) = (pending.first(), pending.last()) {
                    leaves.push(comment_leaf(
                        src,
                        first.start..last.end,
                        comment.clone().unwrap_or_default(),
                        &sec.name,
                        first.marker,
                        first.line_start,
                    ));
                }
                if let Some(i) = &v.inline {
                    let text = comment_text(&src[i.span.clone()]);
                    let mut leaf =
                        comment_leaf(src, i.span.clone(), text, &sec.name, i.marker, l.start);
                    leaf.ctx.inline = true;
                    // the same sops comment as the block above, so the same selector result
                    leaf.comments = comment.iter().cloned().collect();
                    leaves.push(leaf);
                }
                sec.keys.push(KeyItem { leaves, comment });
                pending.clear();
            }
        }
    }
    if !in_sops {
        if let (None, Some(c)) = (sops_start, pending.first()) {
            warnings.push(format!(
                "line {}: sops drops comments that no key or section follows: `sops decrypt` will not print this one",
                line_no(src, c.start)
            ));
        }
        flush_trailing(src, &mut pending, &mut sections[cur]);
    }
    let no_final_newline = !src[bom..].is_empty() && !src.ends_with('\n');
    let sops_removal = sops_start.map(|start| match sops_end {
        Some(end) => start..end,
        None => {
            // our encrypt wrote "\n" + the section without its final newline: take that back
            let start = if no_final_newline && start > bom && src.as_bytes()[start - 1] == b'\n' {
                start - 1
            } else {
                start
            };
            start..src.len()
        }
    });
    let metadata = if sops_start.is_some() {
        Some(unflatten(&sops_pairs).map_err(Error::BadMetadata)?)
    } else {
        None
    };
    Ok(Parsed {
        leaves: tree_order(sections),
        metadata,
        sops_removal,
        insert_at: src.len(),
        no_final_newline,
        warnings,
    })
}

/// Comments after the last key of a section (before another `[sops]` or the end of the file).
fn flush_trailing(src: &str, pending: &mut Vec<CommentLine>, sec: &mut Section) {
    if let (Some(first), Some(last)) = (pending.first(), pending.last()) {
        let text = comment_text(&block_raw(src, pending, None));
        let leaf = comment_leaf(
            src,
            first.start..last.end,
            text,
            &sec.name,
            first.marker,
            first.line_start,
        );
        sec.trailing.push(leaf);
    }
    pending.clear();
}

/// Where the removal of the `[sops]` section that starts on line `li` begins: the blank line
/// before it when there is one.
fn removal_start(src: &str, lines: &[Line], li: usize, bom: usize) -> usize {
    let start = lines[li].start;
    if li > 0 {
        let prev = lines[li - 1];
        if src[prev.start..prev.end].trim().is_empty() {
            return prev.start.max(bom);
        }
    }
    start
}

/// Leaves in sops' tree order, with each key's comment stack as sops builds it: in sops' INI
/// tree a key's comment is the item *after* the key, so the comment that precedes a key in the
/// walk is the section comment (first key) or the previous key's comment.
fn tree_order(sections: Vec<Section>) -> Vec<Leaf> {
    let mut out = Vec::new();
    for sec in sections {
        out.extend(sec.comment_leaves);
        let mut before = sec.comment;
        for k in sec.keys {
            let mut leaves = k.leaves.into_iter();
            if let Some(mut v) = leaves.next() {
                v.comments = before.take().into_iter().collect();
                out.push(v);
            }
            out.extend(leaves);
            before = k.comment;
        }
        out.extend(sec.trailing);
    }
    out
}

/// sops' `shouldBeEncrypted` for an INI leaf: the selector applied to the leaf's path and
/// comment stack. A comment leaf's stack holds its own (sops) text, which
/// `unencrypted_comment_regex` tests and `encrypted_comment_regex` skips (so a comment that
/// matches the latter stays plaintext, as the rule's marker).
pub fn should_encrypt(sel: &Selector, leaf: &Leaf) -> bool {
    crate::format::should_encrypt(sel, leaf)
}

/// go-ini's value quoting (`File.writeToBuffer`): `"""v"""` for a newline or backquote, then
/// `` `v` `` for `#` or `;`, then `"v"` for surrounding whitespace; nothing is escaped.
fn quote_value(s: &str) -> String {
    if s.contains(['\n', '`']) {
        format!("\"\"\"{s}\"\"\"")
    } else if s.contains(['#', ';']) {
        format!("`{s}`")
    } else if s.trim().len() != s.len() {
        format!("\"{s}\"")
    } else {
        s.to_string()
    }
}

/// sops' `ValToString` for a time: RFC 3339 without the fractional seconds.
fn time_without_fraction(t: &str) -> String {
    match t.get(19..20) {
        Some(".") => {
            let rest = &t[20..];
            let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
            format!("{}{}", &t[..19], &rest[digits..])
        }
        _ => t.to_string(),
    }
}

/// sops' rendering of a decrypted value at a value leaf: the value as text (`ValToString` for
/// other types, which only conversions produce), quoted as go-ini writes it.
pub fn render(v: &Value) -> String {
    let s = match v {
        Value::Str(s) | Value::Comment(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float_val_to_string(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => time_without_fraction(t),
    };
    quote_value(&s)
}

/// sops' rendering of a decrypted comment (what replaces `; ENC[…]` from its `;` on): go-ini
/// writes each line of the comment as `; line` (the line trimmed for a key comment, as it is
/// for a section comment) or, when the line starts with `;` or `#`, as that marker, a space and
/// the trimmed rest. Lines are joined with `\n`.
pub fn render_comment(text: &str, section_comment: bool) -> String {
    let mut out = String::new();
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match line.as_bytes().first() {
            Some(&m @ (b'#' | b';')) => {
                out.push(m as char);
                out.push(' ');
                out.push_str(line[1..].trim());
            }
            // sops (go-ini) panics on an empty line; `; ` is what the rule gives
            None => out.push_str("; "),
            Some(_) => {
                out.push_str("; ");
                out.push_str(if section_comment { line } else { line.trim() });
            }
        }
    }
    out
}

/// For a section comment leaf: (end of its comment lines, start of its `[`, end of `[name]`).
/// With no comment line above the header the first two are the `[`'s offset.
fn header_parts(src: &str, leaf: &Leaf) -> (usize, usize, usize) {
    let header_ls = leaf.ctx.line_start.clamp(leaf.span.start, leaf.span.end);
    let line = &src[header_ls..leaf.span.end];
    let open = header_ls + (line.len() - line.trim_start().len());
    let close = src[open..leaf.span.end]
        .rfind(']')
        .map_or(open, |c| open + c + 1);
    let block_end = if open == leaf.span.start {
        open
    } else {
        leaf.span.start + src[leaf.span.start..header_ls].trim_end().len()
    };
    (block_end, open, close)
}

/// The text that replaces `leaf.span` when encrypting: the token for a value, `; token` for a
/// comment; for a section comment `; token`, then what separated the comment lines from the
/// header (a newline when the header's own comment was all there was), then `[name]`.
pub fn encrypted_text(src: &str, leaf: &Leaf, token: &str) -> String {
    if !matches!(leaf.value, Some(Value::Comment(_))) {
        return token.to_string();
    }
    if !leaf.ctx.seq_comment {
        return format!("; {token}");
    }
    let (block_end, open, close) = header_parts(src, leaf);
    let sep = if block_end == open {
        "\n"
    } else {
        &src[block_end..open]
    };
    format!("; {token}{sep}{}", &src[open..close])
}

/// The text that replaces `leaf.span` when decrypting: what `sops decrypt` prints there for
/// `value` (for a section comment: the comment lines, then the `[name]` header). On a
/// plaintext file's leaf this is also what our decrypt will print without a preservation
/// record, so `decrypted_text(src, leaf, v) != src[leaf.span]` says a record is needed.
pub fn decrypted_text(src: &str, leaf: &Leaf, value: &Value) -> String {
    if !matches!(leaf.value, Some(Value::Comment(_))) {
        return render(value);
    }
    let text = match value {
        Value::Str(s) | Value::Comment(s) | Value::Time(s) => s.clone(),
        other => String::from_utf8_lossy(&other.to_bytes()).into_owned(),
    };
    if !leaf.ctx.seq_comment {
        return render_comment(&text, false);
    }
    let (block_end, open, close) = header_parts(src, leaf);
    let sep = if block_end == open {
        "\n"
    } else {
        &src[block_end..open]
    };
    format!("{}{sep}{}", render_comment(&text, true), &src[open..close])
}

/// go-ini's key quoting when writing: `` `k` `` for `"`, `=` or `:`, `"""k"""` for a backquote.
pub fn quote_key(k: &str) -> String {
    if k.contains(['"', '=', ':']) {
        format!("`{k}`")
    } else if k.contains('`') {
        format!("\"\"\"{k}\"\"\"")
    } else {
        k.to_string()
    }
}

/// The `[sops]` section as sops writes it: a blank line, `[sops]`, then the flattened metadata
/// in alphabetical key order, `=` aligned on the longest key, newlines in values escaped as
/// `\n` (sops ≤ 3.12 and 3.13.2), each line ending in `\n`.
pub fn write_metadata(m: &Meta) -> String {
    let mut pairs = flatten(m, "");
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let keys: Vec<String> = pairs.iter().map(|(k, _)| quote_key(k)).collect();
    let width = keys.iter().map(String::len).max().unwrap_or(0);
    let mut out = format!("\n[{SOPS_SECTION}]\n");
    for (k, (_, v)) in keys.iter().zip(&pairs) {
        out.push_str(k);
        out.push_str(&" ".repeat(width - k.len()));
        out.push_str(" = ");
        out.push_str(&quote_value(&v.replace('\n', "\\n")));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::crypto::{Cipher, DataKey, Mac, Token};
    use crate::format::splice::{Edit, splice};
    use crate::keys::{self, KeySources, KeySpec};
    use crate::metadata::{AgeKey, KeyGroup, Metadata};
    use crate::select::Selector;

    const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sops-interop");

    /// A file sops 3.11 encrypted (`sops encrypt --age <key1.pub>`): DEFAULT keys and comments,
    /// inline comments, quoted, multi-line and continued values, a header comment.
    const RICH_PLAIN: &str = r##"# default comment
top = level
colon: v1 ; trailing note

; section intro
#  second line  
[main]
; above a
a = "  padded  "
b = 'single'
c = `has;semi`
d = """multi
line""" # after multi
e = x\
  y
f = tick`here
n = 1.50
; above g
g = val ; inline g

; after blank
[other] ; header note
k = v
"##;

    const RICH_ENC: &str = r##"; ENC[AES256_GCM,data:7dVoWMgeGfblwtUrlpuf,iv:zKO70MUProwBKwuqsD9yDcopd2uqK4odWrVZcR7GONs=,tag:EgRz0SS18d5uqvul8mG2zQ==,type:comment]
top   = ENC[AES256_GCM,data:nBtbj6k=,iv:ERGEOaWRQaY79Cmytj3mv8uHLVNx5vQlNdvrmJyOJJ8=,tag:3DmI/yeRMtx6pv+333bhww==,type:str]
; ENC[AES256_GCM,data:4hJxl+CaZuJINaJyDw==,iv:aE9A9zNe/j2MbI44w4tBO1MgyuoSDg/Ax4peMlZeuLg=,tag:zYt62/OZyDgxp6Kkj+BIwg==,type:comment]
colon = ENC[AES256_GCM,data:9h4=,iv:t+67eJ/b9KWojXoeaXc4PqwYGcrTS2m/7oa1BBeD5fc=,tag:qr/v7Hp6XEl5B7oD77mQQg==,type:str]

; ENC[AES256_GCM,data:nVPXoFPtPRJhHvw0Bw4lngliFg0920/r6N03LA==,iv:qbY6dpt/WQqEuC5UWIKrM6NP2RFMxsZnbsa3m7IP03s=,tag:niUNuf3a6/aK2fJAncdk5Q==,type:comment]
[main]
; ENC[AES256_GCM,data:k+9irEWX9A==,iv:b70zBOBhRAzAbzPZjWmVtUGoZG28lOwP78c2KjoXOaY=,tag:EODu7mEOsi5kkBHEzxyulg==,type:comment]
a = ENC[AES256_GCM,data:t0aJbfWeBO1oTw==,iv:73csereJF/jsjzYNNBxGqWpLUsGFXbto5zP3goKCcbk=,tag:7q67Qze27AVEelymU7kPXg==,type:str]
b = ENC[AES256_GCM,data:GjUVWaEK,iv:WSPO6UMTIqceAw6mAlEhKfAbnA2uMOXOBrxTIhoKCjo=,tag:Z3y5W0RxdiESgs2PCeIFMg==,type:str]
c = ENC[AES256_GCM,data:DAFaoG8c90g=,iv:ZB9fVarFRjpVAo56H/ke+UCNONq4WBzCD497vVMRyp8=,tag:E/3OTs0+r8z7oCzSgUJDsQ==,type:str]
; ENC[AES256_GCM,data:MEwNj4t9HWbcgd4=,iv:Y3R/Okq4jCs+vGhlIbnkyMzjZBlnG4UJfSa1PBjpwow=,tag:2hQCoXRmhHQVD2HTUmxMeQ==,type:comment]
d = ENC[AES256_GCM,data:f92XjzzEX1vb5g==,iv:HOvgin0RC8jjse7CY83g127OpeRYJV1ADjV1Mq6NVr8=,tag:0sSNj48rviGtA3W+e6VTfA==,type:str]
e = ENC[AES256_GCM,data:Qik=,iv:GWjYDVUqO7O/Dfq0Rt4q1TQw5hZiGXjB/hN/4Zj/FbE=,tag:vPtWugb69cDUL2E70Wl9GQ==,type:str]
f = ENC[AES256_GCM,data:q00hgCoCQwwG,iv:M+k25f1h8BOEi/jgmfHl0MjWtjyTRZJJBBi608sk060=,tag:Ln5Gvk57hy2mas3zKfsMJw==,type:str]
n = ENC[AES256_GCM,data:C8eJvA==,iv:u1kZ577GQpYPtTVaFBJNiO+2xiW3p17f6W6kubdJoEw=,tag:BXrKrpXVd1g1XRt5PAcSuQ==,type:str]
; ENC[AES256_GCM,data:zFDjdXL569OINeIQ3CuMb6jl,iv:6pHIbRewOR8fzcpGeYnYC/A/lm8vV8YAlDEgqmBorDw=,tag:RggAd+k3d2CT7q+U3j2h7g==,type:comment]
g = ENC[AES256_GCM,data:s1M8,iv:rCKGdOaq/SuAjZJTQUsiLCaFXNCOVt+xGjHFWB1qeHk=,tag:DF+i1yEbmthirdwt+UklRw==,type:str]

; ENC[AES256_GCM,data:myfqaSoLDGx2aZfnVi7R3LhHFjmJpD0GgQ==,iv:n2xRsNe90VEhr2YbBHVL/4z10E8GbA3n22LP5iU8aTs=,tag:uYLYWHzn7LOwPybY83zaTw==,type:comment]
[other]
k = ENC[AES256_GCM,data:hA==,iv:jADaewB/vBxyg7vFib+y/HMRiGDnjYMlUYq6FeQ8Ofc=,tag:dWNz/sTLFFo2vB8lQXU7vw==,type:str]

[sops]
mac                        = ENC[AES256_GCM,data:NpolRMdYS7fGP4gOLT1e7uAfzkJvKQPEv+S7IO6FCniP0KV8cfbymAHQft3C2z4FXGlLzKNsJYe8VKlwg0Q8AtnFf0/bmxSPFTf1kLwz59VWGB+MBBLUNQaKwTVAnV9DxORfOPib+EgWXXws4aF0JkVkybgv9BkV2140nFKxZrI=,iv:1lNmxm4HS5h8f75qFesgI8XR/HAicNSuvqIrLEbyHLA=,tag:2VDyPXIhXiOqoNZN1ZbMBg==,type:str]
unencrypted_suffix         = _unencrypted
version                    = 3.11.0
age__list_0__map_recipient = age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66
age__list_0__map_enc       = -----BEGIN AGE ENCRYPTED FILE-----\nYWdlLWVuY3J5cHRpb24ub3JnL3YxCi0+IFgyNTUxOSBaNzNMc2EreSsyWFV0MnZI\nYU1CZzJxL2lhM3I3dHhMd0dDRDcvVnFzVVdnClBqZUFQaDNyQ0ZpRW5qUlB4TlFp\nSXdWOHZLV1ZCWXJUc2tqeER6Q29reHMKLS0tIFRTZTdVd3EvTWprL3U2ZTYwUXg3\nUC9rS3pMYXJVVkJGa3BDcG8rcng3WVkKtWIp3BUJfTOIHQdwIm5YeGhdMAJKmmY0\nwJDOZjT8mD2I/2b9kgQS78L/2Fs1x5vUnyqhIpzsdPe3+96EV4ZtKQ==\n-----END AGE ENCRYPTED FILE-----\n
lastmodified               = 2026-11-26T02:13:35Z
"##;

    /// `sops decrypt` of `RICH_ENC`.
    const RICH_OUT: &str = r##"; default comment
top   = level
; trailing note
colon = v1

; section intro
# second line
[main]
; above a
a = "  padded  "
b = single
c = `has;semi`
; after multi
d = """multi
line"""
e = xy
f = """tick`here"""
n = 1.50
; above g
; inline g
g = val

; after blank
; header note
[other]
k = v
"##;

    fn read(rel: &str) -> String {
        std::fs::read_to_string(format!("{INTEROP}/{rel}")).unwrap()
    }

    fn key_sources(name: &str) -> KeySources {
        let mut s = KeySources::default();
        s.age
            .add_key_text(&read(&format!("keys/{name}")), name)
            .unwrap();
        s
    }

    fn leaf_text<'a>(src: &'a str, l: &Leaf) -> &'a str {
        &src[l.span.clone()]
    }

    fn is_comment(l: &Leaf) -> bool {
        matches!(l.value, Some(Value::Comment(_)))
    }

    fn text_of(l: &Leaf) -> &str {
        match &l.value {
            Some(Value::Str(s) | Value::Comment(s)) => s,
            _ => panic!("no text"),
        }
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
            let Some(tok) = Token::parse(text_of(leaf)) else {
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

    #[test]
    fn basic_vector_leaves() {
        let src = read("vectors/ini-basic.ini");
        let p = parse(&src).unwrap();
        let got: Vec<(Vec<&str>, bool)> = p
            .leaves
            .iter()
            .map(|l| (l.path.iter().map(String::as_str).collect(), is_comment(l)))
            .collect();
        let want: Vec<(Vec<&str>, bool)> = vec![
            (vec!["database"], true),
            (vec!["database", "host"], false),
            (vec!["database", "port"], false),
            (vec!["database", "password"], false),
            (vec!["api"], true),
            (vec!["api", "key"], false),
            (vec!["api", "url"], false),
            (vec!["api", "empty"], false),
            (vec!["api", "quoted"], false),
            (vec!["feature.flags", "enable_beta"], false),
            (vec!["feature.flags", "ratio"], false),
        ];
        assert_eq!(got, want);
        for l in &p.leaves {
            let t = leaf_text(&src, l);
            if is_comment(l) {
                // a section comment runs from `; ENC[…]` through the header line
                assert!(l.ctx.seq_comment && l.ctx.quote == b';');
                assert!(t.starts_with("; ENC[AES256_GCM,") && t.contains("type:comment]\n["));
                assert!(t.ends_with(&format!("[{}]", l.path[0])));
                assert!(text_of(l).starts_with("ENC[") && text_of(l).ends_with(",type:comment]"));
            } else if l.path[1] == "empty" {
                assert_eq!(text_of(l), "");
                assert!(l.span.is_empty());
            } else {
                assert_eq!(t, text_of(l));
                assert!(t.starts_with("ENC[AES256_GCM,") && t.ends_with(",type:str]"));
                assert_eq!(l.ctx.quote, 0);
                assert_eq!(
                    l.index_path,
                    vec![
                        PathSeg::Key(l.path[0].clone()),
                        PathSeg::Key(l.path[1].clone())
                    ]
                );
            }
        }
        let r = p.sops_removal.clone().unwrap();
        assert!(src[r.clone()].starts_with("\n[sops]\nlastmodified "));
        assert_eq!(r.end, src.len());
        assert!(src[..r.start].ends_with("type:str]\n"));
        assert!(!p.no_final_newline);
        assert!(p.warnings.is_empty());

        let m = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(m.lastmodified, "2026-11-25T20:38:56Z");
        assert_eq!(m.version, "3.11.0");
        assert!(m.mac.starts_with("ENC[AES256_GCM,data:lRoIXe1D") && m.mac.ends_with("type:str]"));
        assert_eq!(m.selector.key(), "unencrypted_suffix");
        assert_eq!(m.selector.value(), "_unencrypted");
        assert_eq!(m.groups.len(), 1);
        let age = &m.groups[0].age;
        assert_eq!(age.len(), 1);
        assert_eq!(
            age[0].recipient,
            "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66"
        );
        assert!(
            age[0]
                .enc
                .starts_with("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl")
        );
        assert!(
            age[0]
                .enc
                .ends_with("==\n-----END AGE ENCRYPTED FILE-----\n")
        );
        assert!(!age[0].enc.contains('\\'));
    }

    #[test]
    fn decrypts_sops_vectors_as_sops_prints_them() {
        let none = BTreeMap::new();
        let src = read("vectors/ini-basic.ini");
        assert_eq!(
            decrypt(&src, &key_sources("key1.txt"), &none),
            read("expected/ini-basic.out")
        );
        let src = read("vectors/two-recipients-ini.ini");
        assert_eq!(
            decrypt(&src, &key_sources("key2.txt"), &none),
            read("expected/two-recipients-ini-k2.out")
        );
        // DEFAULT keys and comments, inline comments, quoted/multi-line/continued values, a
        // key with a comment above and inline (one sops comment), a header's own comment
        assert_eq!(decrypt(RICH_ENC, &key_sources("key1.txt"), &none), RICH_OUT);
    }

    #[test]
    fn rich_vector_paths_and_texts() {
        let p = parse(RICH_ENC).unwrap();
        let paths: Vec<String> = p.leaves.iter().map(|l| l.path.join(":")).collect();
        assert_eq!(
            paths,
            [
                "DEFAULT:top",
                "DEFAULT",
                "DEFAULT:colon",
                "DEFAULT",
                "main",
                "main:a",
                "main",
                "main:b",
                "main:c",
                "main:d",
                "main",
                "main:e",
                "main:f",
                "main:n",
                "main:g",
                "main",
                "other",
                "other:k",
            ]
        );
        // the same file before encryption: the same paths, and sops' comment texts
        let p = parse(RICH_PLAIN).unwrap();
        let got: Vec<(String, &str)> = p
            .leaves
            .iter()
            .map(|l| (l.path.join(":"), text_of(l)))
            .collect();
        let want: Vec<(&str, &str)> = vec![
            ("main", "section intro\n#  second line"),
            ("main:a", "  padded  "),
            ("main", "above a"),
            ("main:b", "single"),
            ("main:c", "has;semi"),
            ("main:d", "multi\nline"),
            ("main", "after multi"),
            ("main:e", "xy"),
            ("main:f", "tick`here"),
            ("main:n", "1.50"),
            ("main:g", "val"),
            ("main", "above g\n; inline g"),
            ("main", "inline g"),
            ("other", "after blank\n; header note"),
            ("other:k", "v"),
        ];
        let want_default: Vec<(&str, &str)> = vec![
            ("DEFAULT:top", "level"),
            ("DEFAULT", "default comment"),
            ("DEFAULT:colon", "v1"),
            ("DEFAULT", "trailing note"),
        ];
        let want: Vec<(String, &str)> = want_default
            .into_iter()
            .chain(want)
            .map(|(a, b)| (a.to_string(), b))
            .collect();
        assert_eq!(got, want);
        let span_of = |path: &str, i: usize| {
            let l = p.leaves.iter().filter(|l| l.path.join(":") == path).nth(i);
            leaf_text(RICH_PLAIN, l.unwrap())
        };
        assert_eq!(span_of("main:a", 0), "\"  padded  \"");
        assert_eq!(span_of("main:d", 0), "\"\"\"multi\nline\"\"\"");
        assert_eq!(span_of("main:e", 0), "x\\\n  y");
        assert_eq!(
            span_of("main", 0),
            "; section intro\n#  second line  \n[main]"
        );
        assert_eq!(span_of("main", 1), "; above a");
        assert_eq!(span_of("main", 2), "# after multi");
        assert_eq!(span_of("main", 3), "; above g");
        assert_eq!(span_of("main", 4), "; inline g");
        assert_eq!(span_of("other", 0), "; after blank\n[other] ; header note");
        assert_eq!(span_of("DEFAULT:colon", 0), "v1");
        // sops' comment stack: a key sees the comment item just before it in sops' tree, which
        // for INI is the previous key's comment (go-ini hangs a comment on the key below it)
        let comments = |path: &str| {
            p.leaves
                .iter()
                .find(|l| l.path.join(":") == path)
                .unwrap()
                .comments
                .clone()
        };
        assert_eq!(comments("main:a"), ["section intro\n#  second line"]);
        assert_eq!(comments("main:b"), ["above a"]);
        assert!(comments("main:c").is_empty());
        assert_eq!(comments("DEFAULT:colon"), ["default comment"]);
        assert_eq!(comments("other:k"), ["after blank\n; header note"]);
    }

    #[test]
    fn plaintext_identity_splice() {
        let src = read("plaintext/app.ini");
        let p = parse(&src).unwrap();
        assert!(p.metadata.is_none() && p.sops_removal.is_none());
        assert_eq!(p.insert_at, src.len());
        let edits: Vec<Edit> = p
            .leaves
            .iter()
            .map(|l| Edit::new(l.span.clone(), leaf_text(&src, l)))
            .collect();
        assert_eq!(splice(src.as_bytes(), edits).unwrap(), src.as_bytes());
        let got: Vec<(String, &str, &str)> = p
            .leaves
            .iter()
            .map(|l| (l.path.join(":"), text_of(l), leaf_text(&src, l)))
            .collect();
        let want = [
            (
                "database",
                "top comment (semicolon)\n# top comment (hash)",
                "; top comment (semicolon)\n# top comment (hash)\n[database]",
            ),
            ("database:host", "db.internal", "db.internal"),
            ("database:port", "5432", "5432"),
            ("database:password", "s3cr3t-ini", "s3cr3t-ini"),
            (
                "api",
                "comment inside section",
                "; comment inside section\n\n[api]",
            ),
            ("api:key", "abcdef0123456789", "abcdef0123456789"),
            (
                "api:url",
                "https://api.example.com/v1",
                "https://api.example.com/v1",
            ),
            ("api:empty", "", ""),
            ("api:quoted", "quoted value", "\"quoted value\""),
            ("feature.flags:enable_beta", "true", "true"),
            ("feature.flags:ratio", "0.5", "0.5"),
        ];
        let want: Vec<(String, &str, &str)> = want
            .iter()
            .map(|(a, b, c)| (a.to_string(), *b, *c))
            .collect();
        assert_eq!(got, want);
        let quoted = p.leaves.iter().find(|l| l.path[..] == ["api", "quoted"]);
        assert_eq!(quoted.unwrap().ctx.quote, b'"');
    }

    #[test]
    fn our_encryption_round_trips_exactly() {
        let cases = [
            read("plaintext/app.ini"),
            RICH_PLAIN.to_string(),
            // no final newline; CRLF; a BOM; a comment at the end; `;` alone above a comment
            "a = 1\n; last".to_string(),
            "[s]\r\n; c\r\nk = v # x\r\nw = \"q\"\r\n".to_string(),
            "\u{feff}k = v\n".to_string(),
            ";\n; header\n;\n[s]\nk = v\n\n; tail\n\n".to_string(),
            "  ;  indented\n\n\t# tabbed  \n[ spaced ]  # note ; more\nx=1\ny:2;3\n".to_string(),
            "k = `a`  junk ; not a comment\nm = \"\"\"a\n  b\"\"\" tail # c\n".to_string(),
            "- = first\n- = second\n[s]\n- = third\n".to_string(),
            "[a]\nx = 1\n[b]\ny = 2\n[a]\nx = 3\n[DEFAULT]\nd = 4\n".to_string(),
            "k = v\n\n  ".to_string(),
            "k = v\n\n\n".to_string(),
            "k = \"\"\"a\nb\"\"\"".to_string(),
            "\n".to_string(),
        ];
        let keys = key_sources("key1.txt");
        for src in &cases {
            let (enc, records) = encrypt(src);
            assert_eq!(&decrypt(&enc, &keys, &records), src, "{enc}");
            // every comment is one `; ENC[…]` line, and the encrypted file reads back with the
            // same leaves in the same order
            let pe = parse(&enc).unwrap();
            let pp = parse(src).unwrap();
            let paths = |p: &Parsed| p.leaves.iter().map(|l| l.path.clone()).collect::<Vec<_>>();
            assert_eq!(paths(&pe), paths(&pp), "{enc}");
            for line in enc.lines() {
                let t = line.trim_start();
                if t.starts_with([';', '#']) {
                    assert!(
                        t.starts_with("; ENC[AES256_GCM,") && t.trim_end().ends_with(']'),
                        "{t}"
                    );
                }
            }
        }
    }

    #[test]
    fn render_rows() {
        let s = |x: &str| render(&Value::Str(x.into()));
        for raw in [
            "plain",
            "a = b",
            "[x]",
            "it's",
            "say \"hi\"",
            "\"dq\"",
            "'sq'",
            "\"\"\"",
        ] {
            assert_eq!(s(raw), raw);
        }
        assert_eq!(s("  quoted with spaces  "), "\"  quoted with spaces  \"");
        assert_eq!(s(" lead"), "\" lead\"");
        assert_eq!(s("trail "), "\"trail \"");
        assert_eq!(s("\ttab lead"), "\"\ttab lead\"");
        assert_eq!(s("has#hash"), "`has#hash`");
        assert_eq!(s("has;semi"), "`has;semi`");
        assert_eq!(s("#start"), "`#start`");
        assert_eq!(s("has`tick"), "\"\"\"has`tick\"\"\"");
        assert_eq!(s("tick`and#hash"), "\"\"\"tick`and#hash\"\"\"");
        assert_eq!(s("a\nb"), "\"\"\"a\nb\"\"\"");
        assert_eq!(s("a\nb\n"), "\"\"\"a\nb\n\"\"\"");
        for raw in ["cr\rx", "é😀", "x\\y", ""] {
            assert_eq!(s(raw), raw);
        }
        assert_eq!(s("\u{a0}nbsp"), "\"\u{a0}nbsp\"");
        assert_eq!(render(&Value::Int(42)), "42");
        assert_eq!(render(&Value::Float(1.0)), "1.0");
        assert_eq!(render(&Value::Float(1e21)), "1E+21");
        assert_eq!(render(&Value::Bool(false)), "false");
        assert_eq!(
            render(&Value::Time("2024-01-01T10:00:00.5Z".into())),
            "2024-01-01T10:00:00Z"
        );
        assert_eq!(
            render(&Value::Time("2024-01-01T10:00:00.123+02:00".into())),
            "2024-01-01T10:00:00+02:00"
        );
    }

    #[test]
    fn comment_rendering() {
        // `; a⏎;b⏎#  c  ` is read as one comment and printed as `; a⏎; b⏎# c`
        let p = parse("; a\n;b\n#  c  \nk = v\n").unwrap();
        let c = p.leaves.iter().find(|l| is_comment(l)).unwrap();
        assert_eq!(text_of(c), "a\n;b\n#  c");
        assert_eq!(render_comment(text_of(c), false), "; a\n; b\n# c");
        // key comments trim the first line; section comments keep it as it is
        assert_eq!(render_comment("x  \n# y", false), "; x\n# y");
        assert_eq!(render_comment("x  \n# y", true), "; x  \n# y");
        assert_eq!(render_comment("  x", true), ";   x");
        // a first line that starts with a marker is rewritten too (`#;x` → `; x`)
        assert_eq!(render_comment(";x", false), "; x");
        assert_eq!(render_comment("top comment", true), "; top comment");
        // a section comment leaf renders with its header
        let src = "; one\n\n  [s]  ; two\nk = v\n";
        let p = parse(src).unwrap();
        let c = &p.leaves[0];
        assert!(c.ctx.seq_comment);
        assert_eq!(leaf_text(src, c), "; one\n\n  [s]  ; two");
        assert_eq!(text_of(c), "one\n; two");
        let v = Value::Comment(text_of(c).to_string());
        assert_eq!(decrypted_text(src, c, &v), "; one\n; two\n\n  [s]");
        assert_eq!(encrypted_text(src, c, "ENC[x]"), "; ENC[x]\n\n  [s]");
        // only the header's comment: the token goes on a line of its own above the header
        let src = "[s] # two\n";
        let p = parse(src).unwrap();
        let c = &p.leaves[0];
        assert_eq!(leaf_text(src, c), "[s] # two");
        assert_eq!(encrypted_text(src, c, "ENC[x]"), "; ENC[x]\n[s]");
        assert_eq!(
            decrypted_text(src, c, &Value::Comment("two".into())),
            "; two\n[s]"
        );
        // key and inline comments
        let src = "# above\nk = v ;inline\n";
        let p = parse(src).unwrap();
        let above = &p.leaves[1];
        let inline = &p.leaves[2];
        assert!(!above.ctx.inline && above.ctx.quote == b'#');
        assert!(inline.ctx.inline && inline.ctx.quote == b';');
        assert_eq!(text_of(above), "above\n;inline");
        assert_eq!(text_of(inline), "inline");
        assert_eq!(leaf_text(src, inline), ";inline");
        assert_eq!(encrypted_text(src, inline, "ENC[x]"), "; ENC[x]");
        assert_eq!(
            decrypted_text(src, inline, &Value::Comment("inline".into())),
            "; inline"
        );
        // an empty first line is dropped (sops itself would panic printing it)
        let p = parse(";\n; header\n[s]\n").unwrap();
        assert_eq!(text_of(&p.leaves[0]), "; header");
    }

    fn sample_metadata() -> Metadata {
        Metadata {
            groups: vec![KeyGroup {
                age: vec![AgeKey {
                    recipient: "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66"
                        .into(),
                    enc: "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
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
            preserved: None,
            extra: vec![(
                "x:odd".into(),
                Meta::str("a;b"),
            )],
        }
    }

    #[test]
    fn writes_metadata_as_go_ini() {
        let m = sample_metadata();
        let text = write_metadata(&m.to_meta());
        assert_eq!(
            text,
            concat!(
                "\n[sops]\n",
                "age__list_0__map_enc       = -----BEGIN AGE ENCRYPTED FILE-----\\nYWdl\\n-----END AGE ENCRYPTED FILE-----\\n\n",
                "age__list_0__map_recipient = age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66\n",
                "lastmodified               = 2026-05-22T20:16:23Z\n",
                "mac                        = ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n",
                "mac_only_encrypted         = true\n",
                "unencrypted_suffix         = _unencrypted\n",
                "version                    = 3.13.2\n",
                "`x:odd`                    = `a;b`\n",
            )
        );
        // and it reads back to the same metadata, after data or after nothing
        for src in [format!("k = v\n{text}"), text.clone()] {
            let p = parse(&src).unwrap();
            assert!(p.leaves.iter().all(|l| l.path[0] != SOPS_SECTION));
            let back = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
            assert_eq!(flatten(&back.to_meta(), ""), flatten(&m.to_meta(), ""));
            assert_eq!(&src[p.sops_removal.unwrap()], text);
        }
        // without a final newline
        let src = format!(
            "k = v{}",
            crate::format::metadata_tail("k = v", 5, write_metadata(&m.to_meta()))
        );
        assert!(src.ends_with("= `a;b`"));
        let p = parse(&src).unwrap();
        assert!(p.no_final_newline);
        assert_eq!(&src[..p.sops_removal.unwrap().start], "k = v");
    }

    #[test]
    fn reads_multiline_metadata_of_sops_3_13_0() {
        let src = concat!(
            "k = ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n\n[sops]\n",
            "age__list_0__map_enc       = \"\"\"-----BEGIN AGE ENCRYPTED FILE-----\n",
            "YWdl\n",
            "-----END AGE ENCRYPTED FILE-----\n",
            "\"\"\"\n",
            "age__list_0__map_recipient = age1xyz\n",
            "lastmodified               = 2026-05-22T20:16:23Z\n",
            "mac                        = ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n",
            "shamir_threshold           = 2\n",
            "version                    = 3.13.1\n",
        );
        let p = parse(src).unwrap();
        assert_eq!(p.leaves.len(), 1);
        let m = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(
            m.groups[0].age[0].enc,
            "-----BEGIN AGE ENCRYPTED FILE-----\nYWdl\n-----END AGE ENCRYPTED FILE-----\n"
        );
        assert_eq!(m.groups[0].age[0].recipient, "age1xyz");
        assert_eq!(m.shamir_threshold, Some(2));
        assert_eq!(m.version, "3.13.1");
    }

    #[test]
    fn go_ini_values_and_keys() {
        let src = concat!(
            "a:b = c\n",
            "\"q k\" = \"v1\"\n",
            "`t=k` = `v;2`\n",
            "e =\n",
            "f = ; only a comment\n",
            "g = 'it's'\n",
            "h = url#frag\n",
            "i = a \\\n b \\\n\n",
            "j = \"\"\"x\"\"\" ; ignored\n",
            "l = \"\"\"\n",
            "two\n",
            "\"\"\"\n",
        );
        let p = parse(src).unwrap();
        let got: Vec<(String, &str)> = p
            .leaves
            .iter()
            .filter(|l| !is_comment(l))
            .map(|l| (l.path[1].clone(), text_of(l)))
            .collect();
        let want = [
            ("a", "b = c"),
            ("q k", "v1"),
            ("t=k", "v;2"),
            ("e", ""),
            ("f", ""),
            ("g", "'it's'"),
            ("h", "url"),
            ("i", "a b "),
            ("j", "x"),
            ("l", "\ntwo\n"),
        ];
        let want: Vec<(String, &str)> = want.iter().map(|(a, b)| (a.to_string(), *b)).collect();
        assert_eq!(got, want);
        let texts: Vec<&str> = p.leaves.iter().map(|l| leaf_text(src, l)).collect();
        assert!(texts.contains(&"\"\"\"x\"\"\" ; ignored"));
        assert!(texts.contains(&"a \\\n b \\"));
        assert!(texts.contains(&"#frag"));
        assert!(texts.contains(&"; only a comment"));
        assert!(p.leaves.iter().all(|l| l.path[0] == DEFAULT_SECTION));
    }

    #[test]
    fn errors_name_the_line() {
        let line_of = |src: &str| match parse(src) {
            Err(Error::Syntax { line, .. }) => line,
            other => panic!("{other:?}"),
        };
        assert_eq!(line_of("a = 1\n[open\n"), 2);
        assert_eq!(line_of("a = 1\n\n[]\n"), 3);
        assert_eq!(line_of("a = 1\njust words\n"), 2);
        assert_eq!(line_of("\"unclosed = 1\n"), 1);
        assert_eq!(line_of(" = 1\n"), 1);
        assert_eq!(line_of("a = \"\"\"open\nmore\n"), 1);
        assert_eq!(line_of("[s]\na = 1\nb = 2\na = 3\n"), 4);
        assert_eq!(line_of("[sops]\nversion = 1\n[x]\n[sops]\n"), 4);
    }

    #[test]
    fn sections_are_kept_apart_in_file_order() {
        // sops 3.11 prints this file back as it is: `[a]` twice, `[DEFAULT]` with its header
        let p = parse("k0 = 0\n[a]\nx = 1\n[b]\ny = 2\n[a]\nx = 3\n[DEFAULT]\nd = 4\n").unwrap();
        let paths: Vec<String> = p.leaves.iter().map(|l| l.path.join(":")).collect();
        assert_eq!(paths, ["DEFAULT:k0", "a:x", "b:y", "a:x", "DEFAULT:d"]);
        assert!(p.warnings.is_empty());
        // auto-numbered keys count per section
        let p = parse("- = a\n- = b\n[s]\n- = c\n").unwrap();
        let paths: Vec<String> = p.leaves.iter().map(|l| l.path.join(":")).collect();
        assert_eq!(paths, ["DEFAULT:#1", "DEFAULT:#2", "s:#1"]);
        // a comment that nothing follows is dropped by sops
        let p = parse("[s]\nk = v\n\n; the end\n").unwrap();
        assert_eq!(p.leaves[1].path, ["s"]);
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].starts_with("line 4: "));
    }

    #[test]
    fn comment_selectors_follow_sops() {
        // checked against sops 3.11 with each rule in a creation rule
        let src = "[s]\n; mark\na = 1\nb = 2 ; mark\nc = 3\n; other\nd = 4\n";
        let p = parse(src).unwrap();
        let decide = |rule: &str| -> Vec<(String, bool)> {
            let sel = Selector::from_key_value(rule, "mark").unwrap();
            p.leaves
                .iter()
                .map(|l| (leaf_text(src, l).to_string(), should_encrypt(&sel, l)))
                .collect()
        };
        let row = |v: &[(&str, bool)]| -> Vec<(String, bool)> {
            v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
        };
        // a key is selected by the comment of the key before it (sops' INI tree puts a key's
        // comment after the key); a comment by its own text
        assert_eq!(
            decide("encrypted_comment_regex"),
            row(&[
                ("1", false),
                ("; mark", false),
                ("2", true),
                ("; mark", false),
                ("3", true),
                ("4", false),
                ("; other", false),
            ])
        );
        assert_eq!(
            decide("unencrypted_comment_regex"),
            row(&[
                ("1", true),
                ("; mark", false),
                ("2", false),
                ("; mark", false),
                ("3", false),
                ("4", true),
                ("; other", true),
            ])
        );
    }

    /// A record-keeping encrypt with fake tokens (no cipher): the file structure is what is
    /// under test. Returns the file and, per token, the value and the record (the original
    /// text when our decrypt's rendering would differ from it).
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
        let out = splice(src.as_bytes(), edits).unwrap();
        (String::from_utf8(out).unwrap(), tokens)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Any file go-ini reads: spans are sound, the encrypted file reads back with the same
        /// leaves (same paths, each holding its token), and decrypting (records where needed,
        /// `decrypted_text` elsewhere) gives the file back.
        #[test]
        fn encrypted_structure_is_stable(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                "a", "b", "k", " = ", "=", ":", ";", "#", "[", "]", "[s]", "\"", "\"\"\"", "`",
                "'", " ", "\t", "\\", "\n", "\n", "\n", "\r\n", "-", "é", "sops",
            ]), 0..40)
        ) {
            let src: String = parts.concat();
            let Ok(p) = parse(&src) else { return Ok(()) };
            let mut last = 0;
            let mut spans: Vec<Range<usize>> = p.leaves.iter().map(|l| l.span.clone()).collect();
            spans.sort_by_key(|r| (r.start, r.end));
            for r in &spans {
                proptest::prop_assert!(r.start >= last && r.end <= src.len(), "{src:?}");
                proptest::prop_assert!(src.is_char_boundary(r.start) && src.is_char_boundary(r.end));
                last = r.end.max(r.start);
            }
            if p.metadata.is_some() {
                return Ok(());
            }
            let (enc, tokens) = fake_encrypt(&src, &p);
            let pe = parse(&enc);
            proptest::prop_assert!(pe.is_ok(), "{src:?} -> {enc:?}: {pe:?}");
            let pe = pe.unwrap();
            let paths = |p: &Parsed| p.leaves.iter().map(|l| l.path.clone()).collect::<Vec<_>>();
            proptest::prop_assert_eq!(paths(&pe), paths(&p), "{:?} -> {:?}", src, enc);
            let mut edits = Vec::new();
            for leaf in &pe.leaves {
                // a token is read from the first line of a comment, as `Token::parse` does
                let t = text_of(leaf).split('\n').next().unwrap_or("").trim_end();
                if let Some((_, v, record)) = tokens.iter().find(|(tok, ..)| tok == t) {
                    let text = record.clone().unwrap_or_else(|| decrypted_text(&enc, leaf, v));
                    edits.push(Edit::new(leaf.span.clone(), text));
                }
            }
            proptest::prop_assert_eq!(edits.len(), tokens.len(), "{:?} -> {:?}", src, enc);
            let back = String::from_utf8(splice(enc.as_bytes(), edits).unwrap()).unwrap();
            proptest::prop_assert_eq!(back, src, "{:?}", enc);
        }
    }
}
