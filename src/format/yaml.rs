//! YAML: find every leaf and comment with its exact byte span (granit-parser events), and the
//! `sops:` block of each document.
//!
//! sops' walk order is followed: documents in order, mapping entries and sequence items in
//! order, aliases walked as copies of their anchor (sops expands them), comments as leaves
//! whose AAD is the path of the collection that holds them.

use std::collections::HashMap;
use std::ops::Range;

use granit_parser::{Event, Options, Parser, Placement, ScalarStyle, StructureStyle};

use crate::error::{Error, Result};
use crate::format::scalar::{Resolved, yaml_resolve_plain};
use crate::format::{Leaf, LeafCtx, PathSeg};
use crate::metadata::Meta;
use crate::value::Value;

/// Deeper nesting than this is refused (every recursive walk has a cap).
const MAX_DEPTH: usize = 512;

#[derive(Debug)]
enum Kind {
    Scalar {
        text: String,
        style: ScalarStyle,
        tag: Option<String>,
        region: Range<usize>,
    },
    Map(Vec<Item>),
    Seq(Vec<Item>),
    Alias(usize),
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    start: usize,
    /// End of the node's content as far as the parser reported it.
    end: usize,
    col: usize,
    flow: bool,
}

#[derive(Debug)]
enum Item {
    Entry(usize, usize),
    Node(usize),
    Comment {
        text: String,
        span: Range<usize>,
        right: bool,
    },
}

/// A YAML document within the stream.
#[derive(Debug, Default)]
pub struct Doc {
    /// Where the `sops:` block goes when encrypting (a line start, or the end of the file).
    pub insert_at: usize,
    /// Bytes to delete to remove this document's `sops:` block.
    pub sops_removal: Option<Range<usize>>,
    /// The document has a top-level mapping (an empty document has none).
    pub has_root: bool,
    /// The root is a flow mapping (`{a: 1}`), where a block `sops:` entry cannot be added.
    pub flow_root: bool,
    /// The document has no content at all (`---` alone, or only comments).
    pub empty: bool,
    /// The document's mapping holds nothing but the `sops` entry (sops prints `{}` for it).
    pub only_sops: bool,
}

/// An alias whose copy contains leaves (sops walks it as a copy of the anchored node).
#[derive(Debug)]
pub struct AliasUse {
    /// The `*name` token.
    pub span: Range<usize>,
    /// Indices into `Parsed::leaves` of the leaves walked through this alias.
    pub leaves: Range<usize>,
    /// The anchored node rendered as a flow skeleton: `{}` / `[]` / `%` placeholders for leaves.
    pub skeleton: Vec<Skel>,
    /// The key path where the alias stands.
    pub path: Vec<String>,
    /// The leaves of the anchored node at its own site.
    pub target_leaves: Range<usize>,
}

/// A piece of an alias expansion: literal text, or the n-th leaf of the alias.
#[derive(Debug, Clone)]
pub enum Skel {
    Text(String),
    Leaf,
}

#[derive(Debug, Default)]
pub struct Parsed {
    pub docs: Vec<Doc>,
    pub leaves: Vec<Leaf>,
    pub aliases: Vec<AliasUse>,
    /// The metadata tree of the first document's `sops:` entry.
    pub metadata: Option<Meta>,
    /// The document's indentation unit (spaces), 4 when nothing is nested.
    pub indent: usize,
}

struct Builder<'a> {
    src: &'a str,
    nodes: Vec<Node>,
    anchors: HashMap<usize, usize>,
}

struct Frame {
    node: usize,
    pending_key: Option<usize>,
}

fn line_start(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map_or(0, |i| i + 1)
}

fn col_of(src: &str, pos: usize) -> usize {
    src[line_start(src, pos)..pos].chars().count()
}

/// Find a block scalar's header (`|`, `>` and indicators) on the line before its content.
fn block_header_start(src: &str, content_start: usize, after: usize) -> Option<usize> {
    let mut ls = line_start(src, content_start);
    // the header is on the nearest preceding line that is not blank
    loop {
        if ls == 0 {
            break;
        }
        let prev = line_start(src, ls - 1);
        let line = &src[prev..ls - 1];
        ls = prev;
        if !line.trim().is_empty() {
            break;
        }
    }
    let line_end = src[ls..].find('\n').map_or(src.len(), |i| ls + i);
    let from = after.max(ls).min(line_end);
    let line = &src[from..line_end];
    let bytes = line.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'|' || b == b'>' {
            let rest = &line[i + 1..];
            let rest =
                rest.trim_start_matches(|c: char| c.is_ascii_digit() || c == '+' || c == '-');
            let rest = rest.trim_start_matches([' ', '\t', '\r']);
            if rest.is_empty() || rest.starts_with('#') {
                return Some(from + i);
            }
        }
    }
    None
}

fn syntax(src: &str, pos: usize, msg: impl Into<String>) -> Error {
    let line = src[..pos.min(src.len())].matches('\n').count() + 1;
    Error::Syntax {
        what: "invalid YAML",
        line,
        col: col_of(src, pos.min(src.len())) + 1,
        msg: msg.into(),
    }
}

/// Parse a YAML stream into documents and leaves.
///
/// # Errors
/// A syntax error with line and column; non-mapping documents; non-string keys; integers
/// beyond 64 bits; nesting deeper than the cap.
pub fn parse(src: &str) -> Result<Parsed> {
    let (b, roots) = build(src)?;
    finish(src, b, roots)
}

type Roots = Vec<(Option<usize>, Doc)>;

/// Read the event stream into nodes, and each document's root.
fn build(src: &str) -> Result<(Builder<'_>, Roots)> {
    let mut opts = Options::default();
    opts.emit_anchor_events = true;
    // `k: |\n  x` at the end of the input is "x", as libyaml (and so sops' yaml.v3) reads it
    opts.block_scalar_eof_without_line_feed = true;
    let mut parser = Parser::new_from_str_with_options(src, opts);
    let mut b = Builder {
        src,
        nodes: Vec::new(),
        anchors: HashMap::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut roots: Vec<(Option<usize>, Doc)> = Vec::new();
    let mut cur_root: Option<usize> = None;
    let mut last_end = 0usize;
    // Own-line comments wait for the next structural event to learn their owner, as yaml.v3
    // attaches them: the collection that receives the next node (a head comment), or the
    // collection that ends next if they are indented at least as deep (a foot comment).
    let mut pending: Vec<(Item, usize)> = Vec::new();
    // the flow collection that ended last, and its line (for `k: [a, b] # c`)
    let mut last_closed: Option<(usize, usize)> = None;
    let line_of = |pos: usize| {
        src.as_bytes()[..pos.min(src.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    };

    while let Some(next) = parser.next_event() {
        let (ev, span) = next.map_err(|e| {
            let m = e.marker();
            syntax(
                src,
                m.byte_offset().unwrap_or(0).min(src.len()),
                e.to_string(),
            )
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        match ev {
            Event::StreamStart | Event::StreamEnd => {}
            Event::DocumentStart(..) => {
                // comments before the root arrive first; they stay deferred for it
                cur_root = None;
            }
            Event::DocumentEnd => {
                // the metadata goes on a line of its own: after `---` for an empty document
                let mut insert_at = range.start;
                if insert_at > 0 && src.as_bytes()[insert_at - 1] != b'\n' {
                    if let Some(nl) = src[insert_at..].find('\n') {
                        insert_at += nl + 1;
                    } else {
                        insert_at = src.len();
                    }
                }
                if let Some(r) = cur_root
                    && matches!(b.nodes[r].kind, Kind::Map(_) | Kind::Seq(_))
                {
                    for (c, _) in pending.drain(..) {
                        b.items_mut(r).push(c);
                    }
                }
                let doc = Doc {
                    insert_at,
                    ..Doc::default()
                };
                roots.push((cur_root, doc));
            }
            Event::Comment(text, placement) => {
                let right = placement == Placement::Right;
                let item = Item::Comment {
                    text: text.into_owned(),
                    span: range.clone(),
                    right,
                };
                if right {
                    // a comment after a flow collection belongs to it (yaml.v3 gives it to the
                    // value node); after a scalar, to the mapping or sequence holding it
                    let owner = match last_closed {
                        Some((n, line)) if line == line_of(range.start) => Some(n),
                        _ => stack.last().map(|f| f.node),
                    };
                    match owner {
                        Some(o) => b.items_mut(o).push(item),
                        None => pending.push((item, 0)),
                    }
                } else {
                    pending.push((item, col_of(src, range.start)));
                }
            }
            Event::Anchor(id, _) => {
                if let Some(n) = b.nodes.len().checked_sub(1) {
                    b.anchors.insert(id, n);
                }
            }
            Event::Alias(id) => {
                last_closed = None;
                b.flush_pending(&stack, &mut pending);
                let n = b.push(Kind::Alias(id), range.clone(), false);
                b.attach(&mut stack, &mut cur_root, n)?;
            }
            Event::Scalar(text, style, anchor, tag) => {
                last_closed = None;
                b.flush_pending(&stack, &mut pending);
                let mut region = range.clone();
                if matches!(style, ScalarStyle::Literal | ScalarStyle::Folded) {
                    let after = stack
                        .last()
                        .and_then(|f| f.pending_key)
                        .map_or(last_end.min(range.start), |k| {
                            b.nodes[k].end.min(range.start)
                        });
                    let h = block_header_start(src, range.start, after).ok_or_else(|| {
                        syntax(src, range.start, "cannot find the block scalar header")
                    })?;
                    // the reported span can run into the next line's indentation: stop at
                    // the content's last line break, which stays outside the region
                    let mut end = range.end;
                    while end > range.start
                        && matches!(src.as_bytes()[end - 1], b' ' | b'\t')
                        && src[range.start..end].contains('\n')
                    {
                        end -= 1;
                    }
                    if src[..end].ends_with('\n') {
                        end -= 1;
                    }
                    region = h..end.max(h);
                }
                // sops drops tags: the token must replace the tag too, or sops would read
                // `!!int ENC[...]` as an int (the original text is kept in the record)
                if tag.is_some()
                    && let Some(ts) = span.tag_start().and_then(|m| m.byte_offset())
                    && ts < region.start
                {
                    region.start = ts;
                }
                let tag = tag.map(|t| t.suffix().to_string());
                let n = b.push(
                    Kind::Scalar {
                        text: text.into_owned(),
                        style,
                        tag,
                        region: region.clone(),
                    },
                    region,
                    false,
                );
                if anchor != 0 {
                    b.anchors.insert(anchor, n);
                }
                b.attach(&mut stack, &mut cur_root, n)?;
                last_end = range.end;
            }
            Event::MappingStart(style, anchor, _) | Event::SequenceStart(style, anchor, _) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(syntax(src, range.start, "nesting is too deep"));
                }
                last_closed = None;
                // comments between a key and its block collection value belong inside it
                let into_new = stack
                    .last()
                    .is_some_and(|f| f.pending_key.is_some() && !b.nodes[f.node].flow)
                    || stack.is_empty();
                if !into_new {
                    b.flush_pending(&stack, &mut pending);
                }
                let is_map = matches!(ev, Event::MappingStart(..));
                let kind = if is_map {
                    Kind::Map(Vec::new())
                } else {
                    Kind::Seq(Vec::new())
                };
                let n = b.push(kind, range.clone(), style == StructureStyle::Flow);
                if anchor != 0 {
                    b.anchors.insert(anchor, n);
                }
                b.attach(&mut stack, &mut cur_root, n)?;
                stack.push(Frame {
                    node: n,
                    pending_key: None,
                });
                if into_new {
                    for (c, _) in pending.drain(..) {
                        b.items_mut(n).push(c);
                    }
                }
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let f = stack
                    .pop()
                    .ok_or_else(|| syntax(src, range.start, "unbalanced collection"))?;
                let end = if b.nodes[f.node].flow {
                    range.end
                } else {
                    range.start
                };
                b.nodes[f.node].end = end.max(b.nodes[f.node].start);
                let flow = b.nodes[f.node].flow;
                // own-line comments indented at least as deep as this collection's items are
                // its foot comments; shallower ones wait for an outer collection
                let c = b.collection_col(f.node);
                let take = pending
                    .iter()
                    .take_while(|(_, col)| flow || *col >= c)
                    .count();
                for (item, _) in pending.drain(..take) {
                    b.items_mut(f.node).push(item);
                }
                last_closed = flow.then(|| (f.node, line_of(end.saturating_sub(1))));
            }
            _ => {}
        }
        last_end = last_end.max(range.end.min(src.len()));
    }
    Ok((b, roots))
}

/// A node of the first document with its byte positions, for editing in place
/// (`crate::pathedit`). Comments are not nodes: they lie between the positions.
#[derive(Debug)]
pub struct Outline {
    pub kind: OutlineKind,
    /// A scalar's first byte (its tag, quote or block header), a block collection's first
    /// key or dash, a flow collection's bracket.
    pub start: usize,
    /// Just after the node's last byte, nested items and their comments included.
    pub end: usize,
    pub flow: bool,
}

#[derive(Debug)]
pub enum OutlineKind {
    /// `style`: 0 plain, `'`, `"`, `|` or `>`.
    Scalar {
        style: u8,
        text: String,
    },
    Map(Vec<(Outline, Outline)>),
    Seq(Vec<Outline>),
    Alias,
}

/// The first document's root (sops edits the first document of a stream), `None` for an
/// empty document. Parse [`parse`] first for its checks (keys, nesting, document kinds).
///
/// # Errors
/// Syntax errors.
pub fn outline(src: &str) -> Result<Option<Outline>> {
    let (b, roots) = build(src)?;
    Ok(roots.first().and_then(|(r, _)| *r).map(|r| b.outline(r)))
}

impl Builder<'_> {
    fn outline(&self, n: usize) -> Outline {
        let node = &self.nodes[n];
        let kind = match &node.kind {
            Kind::Scalar { text, style, .. } => OutlineKind::Scalar {
                style: match style {
                    ScalarStyle::SingleQuoted => b'\'',
                    ScalarStyle::DoubleQuoted => b'"',
                    ScalarStyle::Literal => b'|',
                    ScalarStyle::Folded => b'>',
                    _ => 0,
                },
                text: text.clone(),
            },
            Kind::Map(items) => OutlineKind::Map(
                items
                    .iter()
                    .filter_map(|it| match it {
                        Item::Entry(k, v) => Some((self.outline(*k), self.outline(*v))),
                        _ => None,
                    })
                    .collect(),
            ),
            Kind::Seq(items) => OutlineKind::Seq(
                items
                    .iter()
                    .filter_map(|it| match it {
                        Item::Node(x) => Some(self.outline(*x)),
                        _ => None,
                    })
                    .collect(),
            ),
            Kind::Alias(_) => OutlineKind::Alias,
        };
        Outline {
            kind,
            start: node.start,
            end: self.subtree_end(n),
            flow: node.flow,
        }
    }
}

fn finish(src: &str, b: Builder<'_>, roots: Roots) -> Result<Parsed> {
    let mut out = Parsed {
        indent: b.detect_indent(),
        ..Parsed::default()
    };
    for (i, (root, mut doc)) in roots.into_iter().enumerate() {
        // an empty document reads as a null scalar with an empty span
        doc.empty = root.is_none_or(
            |r| matches!(&b.nodes[r].kind, Kind::Scalar { region, .. } if region.is_empty()),
        );
        if let Some(r) = root {
            match &b.nodes[r].kind {
                Kind::Map(_) => {}
                Kind::Scalar {
                    text, style, tag, ..
                } if *style == ScalarStyle::Plain
                    && tag.is_none()
                    && matches!(yaml_resolve_plain(text), Resolved::Null) => {}
                _ => {
                    return Err(syntax(
                        src,
                        b.nodes[r].start,
                        "a YAML document must be a mapping (sops does not support top-level sequences or scalars)",
                    ));
                }
            }
            if matches!(b.nodes[r].kind, Kind::Map(_)) {
                doc.has_root = true;
                doc.flow_root = b.nodes[r].flow;
                if let Some((removal, meta)) = b.sops_entry(r)? {
                    doc.sops_removal = Some(removal);
                    if let Kind::Map(items) = &b.nodes[r].kind {
                        doc.only_sops = items
                            .iter()
                            .filter(|it| matches!(it, Item::Entry(..)))
                            .count()
                            == 1;
                    }
                    if i == 0 {
                        out.metadata = Some(meta);
                    }
                }
                let mut w = Walk {
                    b: &b,
                    out: &mut out,
                    depth: 0,
                    ipath: Vec::new(),
                    anchored: b.anchors.values().copied().collect(),
                    sites: HashMap::new(),
                    alias_budget: std::cell::Cell::new(100_000usize.max(b.nodes.len() * 4)),
                };
                w.node(
                    r,
                    &mut Vec::new(),
                    &LeafCtx::default(),
                    &mut Vec::new(),
                    true,
                )?;
            }
        }
        out.docs.push(doc);
    }
    Ok(out)
}

impl Builder<'_> {
    fn push(&mut self, kind: Kind, range: Range<usize>, flow: bool) -> usize {
        let col = col_of(self.src, range.start.min(self.src.len()));
        self.nodes.push(Node {
            kind,
            start: range.start,
            end: range.end,
            col,
            flow,
        });
        self.nodes.len() - 1
    }

    fn items_mut(&mut self, n: usize) -> &mut Vec<Item> {
        match &mut self.nodes[n].kind {
            Kind::Map(items) | Kind::Seq(items) => items,
            _ => unreachable!("only collections hold items"),
        }
    }

    /// Give pending own-line comments to the collection that receives the next node.
    fn flush_pending(&mut self, stack: &[Frame], pending: &mut Vec<(Item, usize)>) {
        if let Some(top) = stack.last() {
            for (c, _) in pending.drain(..) {
                self.items_mut(top.node).push(c);
            }
        }
    }

    fn attach(&mut self, stack: &mut [Frame], root: &mut Option<usize>, n: usize) -> Result<()> {
        let Some(top) = stack.last_mut() else {
            *root = Some(n);
            return Ok(());
        };
        let parent = top.node;
        let is_map = matches!(self.nodes[parent].kind, Kind::Map(_));
        if is_map {
            match top.pending_key.take() {
                None => {
                    top.pending_key = Some(n);
                    return Ok(());
                }
                Some(k) => {
                    self.items_mut(parent).push(Item::Entry(k, n));
                }
            }
        } else {
            self.items_mut(parent).push(Item::Node(n));
        }
        Ok(())
    }

    /// The column of a block collection: its keys' column, or its dashes' column.
    fn collection_col(&self, n: usize) -> usize {
        match &self.nodes[n].kind {
            Kind::Seq(items) => {
                let first = items.iter().find_map(|i| match i {
                    Item::Node(x) => Some(*x),
                    _ => None,
                });
                match first {
                    Some(x) => self
                        .dash_pos(self.nodes[x].start)
                        .map_or(self.nodes[n].col, |p| col_of(self.src, p)),
                    None => self.nodes[n].col,
                }
            }
            _ => self.nodes[n].col,
        }
    }

    /// The `-` that introduces a block sequence item starting at `pos`.
    fn dash_pos(&self, pos: usize) -> Option<usize> {
        // scan back from just before the item: its own first character may be a `-`
        // (`- -7`, `- --flag`)
        let bytes = self.src.as_bytes();
        let mut i = pos.min(bytes.len());
        while i > 0 {
            i -= 1;
            match bytes[i] {
                b' ' | b'\t' => continue,
                b'-' => return Some(i),
                _ => return None,
            }
        }
        None
    }

    fn detect_indent(&self) -> usize {
        // the smallest positive column step from a mapping key to its nested collection
        let mut best = 0;
        for n in &self.nodes {
            if let Kind::Map(items) = &n.kind {
                if n.flow {
                    continue;
                }
                for it in items {
                    if let Item::Entry(k, v) = it {
                        let vn = &self.nodes[*v];
                        if !vn.flow && matches!(vn.kind, Kind::Map(_)) {
                            let step = vn.col.saturating_sub(self.nodes[*k].col);
                            if step > 0 && (best == 0 || step < best) {
                                best = step;
                            }
                        }
                    }
                }
            }
        }
        if best == 0 { 4 } else { best }
    }

    fn key_text(&self, k: usize) -> Option<&str> {
        match &self.nodes[k].kind {
            Kind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// The `sops:` entry of a root mapping: its removal range and metadata tree.
    fn sops_entry(&self, root: usize) -> Result<Option<(Range<usize>, Meta)>> {
        let Kind::Map(items) = &self.nodes[root].kind else {
            return Ok(None);
        };
        for it in items {
            if let Item::Entry(k, v) = it
                && self.key_text(*k) == Some("sops")
            {
                let start = line_start(self.src, self.nodes[*k].start);
                let mut end = self.subtree_end(*v).max(self.nodes[*k].end);
                // through the end of the last line of the block
                end = match self.src[end..].find('\n') {
                    Some(i) if !self.src[..end].ends_with('\n') => end + i + 1,
                    _ => end,
                };
                let mut start = start;
                // we wrote a file without a final newline as "...\nsops:...": take the newline back
                if end == self.src.len() && !self.src.ends_with('\n') && start > 0 {
                    start -= 1;
                }
                return Ok(Some((start..end, self.to_meta(*v, 0)?)));
            }
        }
        Ok(None)
    }

    fn subtree_end(&self, n: usize) -> usize {
        match &self.nodes[n].kind {
            Kind::Scalar { .. } | Kind::Alias(_) => self.nodes[n].end,
            Kind::Map(items) | Kind::Seq(items) => {
                let mut e = if self.nodes[n].flow {
                    self.nodes[n].end
                } else {
                    self.nodes[n].start
                };
                for it in items {
                    match it {
                        Item::Entry(k, v) => {
                            e = e.max(self.nodes[*k].end).max(self.subtree_end(*v))
                        }
                        Item::Node(x) => e = e.max(self.subtree_end(*x)),
                        Item::Comment { span, .. } => e = e.max(span.end),
                    }
                }
                e
            }
        }
    }

    fn to_meta(&self, n: usize, depth: usize) -> Result<Meta> {
        if depth > 32 {
            return Err(Error::BadMetadata(
                "the sops entry is nested too deeply".into(),
            ));
        }
        Ok(match &self.nodes[n].kind {
            Kind::Scalar { text, style, .. } => {
                let plain = *style == ScalarStyle::Plain;
                if plain && matches!(yaml_resolve_plain(text), Resolved::Null) {
                    Meta::Null
                } else {
                    Meta::Scalar {
                        text: text.clone(),
                        plain,
                    }
                }
            }
            Kind::Map(items) => {
                let mut es = Vec::new();
                for it in items {
                    if let Item::Entry(k, v) = it {
                        let key = self.key_text(*k).unwrap_or_default().to_string();
                        es.push((key, self.to_meta(*v, depth + 1)?));
                    }
                }
                Meta::Map(es)
            }
            Kind::Seq(items) => Meta::List(
                items
                    .iter()
                    .filter_map(|it| match it {
                        Item::Node(x) => Some(self.to_meta(*x, depth + 1)),
                        _ => None,
                    })
                    .collect::<Result<_>>()?,
            ),
            Kind::Alias(_) => {
                return Err(Error::BadMetadata(
                    "aliases are not allowed in the sops entry".into(),
                ));
            }
        })
    }
}

struct Walk<'b, 'o> {
    b: &'b Builder<'b>,
    out: &'o mut Parsed,
    depth: usize,
    ipath: Vec<PathSeg>,
    /// Anchored nodes and the leaves walked at their own site.
    anchored: std::collections::HashSet<usize>,
    sites: HashMap<usize, Range<usize>>,
    /// Nodes that may still be walked through aliases: a cap against alias bombs.
    alias_budget: std::cell::Cell<usize>,
}

impl Walk<'_, '_> {
    fn node(
        &mut self,
        n: usize,
        path: &mut Vec<String>,
        ctx: &LeafCtx,
        comments: &mut Vec<String>,
        is_root: bool,
    ) -> Result<()> {
        let site_start = self.out.leaves.len();
        if ctx.alias {
            self.spend_alias_budget(n)?;
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(syntax(
                self.b.src,
                self.b.nodes[n].start,
                "nesting is too deep",
            ));
        }
        let src = self.b.src;
        let node = &self.b.nodes[n];
        match &node.kind {
            Kind::Scalar {
                text,
                style,
                tag,
                region,
            } => {
                let value = scalar_value(text, *style, tag.as_deref())
                    .map_err(|()| Error::IntegerTooLarge(crate::format::display_path(path)))?;
                let mut c = ctx.clone();
                c.quote = match style {
                    ScalarStyle::SingleQuoted => b'\'',
                    ScalarStyle::DoubleQuoted => b'"',
                    ScalarStyle::Literal | ScalarStyle::Folded => b'|',
                    _ => 0,
                };
                c.line_start = line_start(src, region.start);
                self.out.leaves.push(Leaf {
                    span: region.clone(),
                    path: path.clone(),
                    value,
                    // most leaves have no comment above them at any level: keep no copy then
                    comments: comments.clone(),
                    alt_paths: Vec::new(),
                    ctx: c,
                    index_path: self.ipath.clone(),
                });
            }
            Kind::Alias(id) => {
                let target = *self
                    .b
                    .anchors
                    .get(id)
                    .ok_or_else(|| syntax(src, node.start, "unknown alias"))?;
                let first = self.out.leaves.len();
                let mut skeleton = Vec::new();
                self.skeleton(target, &mut skeleton, 0)?;
                let mut c = ctx.clone();
                c.in_flow = true;
                c.alias = true;
                // comments inside an aliased node are not copied
                self.node_no_comments(target, path, &c)?;
                let last = self.out.leaves.len();
                if last > first {
                    let target_leaves = self.sites.get(&target).cloned().unwrap_or(0..0);
                    self.out.aliases.push(AliasUse {
                        span: node.start..node.end,
                        leaves: first..last,
                        target_leaves,
                        skeleton,
                        path: path.clone(),
                    });
                }
            }
            Kind::Map(items) | Kind::Seq(items)
                if !ctx.alias
                    && !is_root
                    && !items
                        .iter()
                        .any(|it| matches!(it, Item::Entry(..) | Item::Node(_))) =>
            {
                // an empty collection holds no value, but a conversion must know it is there
                let quote = if matches!(node.kind, Kind::Map(_)) {
                    b'{'
                } else {
                    b'['
                };
                self.out.leaves.push(Leaf {
                    span: node.start..node.start,
                    path: path.clone(),
                    value: None,
                    comments: Vec::new(),
                    alt_paths: Vec::new(),
                    ctx: LeafCtx {
                        quote,
                        ..ctx.clone()
                    },
                    index_path: self.ipath.clone(),
                });
            }
            Kind::Map(items) => {
                let flow = node.flow;
                // sops' comment stack: the comments that precede the current item at each
                // level, flat; this level's part is cleared after each entry
                let base = comments.len();
                let mut seen = std::collections::HashSet::new();
                for (i, it) in items.iter().enumerate() {
                    match it {
                        Item::Comment { text, span, right } => {
                            comments.push(text.clone());
                            self.comment(
                                text,
                                span,
                                *right,
                                path,
                                false,
                                flow || ctx.in_flow,
                                0,
                                ctx.alias,
                                comments.clone(),
                            );
                            if *right {
                                // it was counted for the entry it follows
                                comments.truncate(base);
                            }
                        }
                        Item::Entry(k, v) => {
                            let kn = &self.b.nodes[*k];
                            let key = match &kn.kind {
                                Kind::Scalar {
                                    text, style, tag, ..
                                } => match scalar_value(text, *style, tag.as_deref()) {
                                    Ok(Some(Value::Str(_))) => text.clone(),
                                    _ => {
                                        return Err(Error::NonStringKey(
                                            crate::format::display_path(path),
                                        ));
                                    }
                                },
                                _ => {
                                    return Err(Error::NonStringKey(crate::format::display_path(
                                        path,
                                    )));
                                }
                            };
                            // sops refuses duplicate keys (3.10, #1203): one would be lost
                            if !seen.insert(key.clone()) {
                                return Err(syntax(
                                    src,
                                    kn.start,
                                    format!("duplicate key {key:?} in this mapping"),
                                ));
                            }
                            if is_root && key == "sops" {
                                continue;
                            }
                            // sops' YAML store puts an inline comment (`k: v # c`) before
                            // its entry, so it precedes the value too
                            if let Some(Item::Comment {
                                text, right: true, ..
                            }) = items.get(i + 1)
                            {
                                comments.push(text.clone());
                            }
                            self.ipath.push(PathSeg::Key(key.clone()));
                            path.push(key);
                            let c = LeafCtx {
                                col: kn.col,
                                in_seq: false,
                                in_flow: ctx.in_flow || flow,
                                alias: ctx.alias,
                                ..LeafCtx::default()
                            };
                            self.node(*v, path, &c, comments, false)?;
                            path.pop();
                            self.ipath.pop();
                            comments.truncate(base);
                        }
                        Item::Node(_) => {}
                    }
                }
            }
            Kind::Seq(items) => {
                let flow = node.flow;
                let mut index = 0;
                let base = comments.len();
                for it in items {
                    match it {
                        Item::Comment { text, span, right } => {
                            comments.push(text.clone());
                            let seq_col = self.b.collection_col(n);
                            self.comment(
                                text,
                                span,
                                *right,
                                path,
                                !flow,
                                flow || ctx.in_flow,
                                seq_col,
                                ctx.alias,
                                comments.clone(),
                            );
                        }
                        Item::Node(x) => {
                            let xn = &self.b.nodes[*x];
                            let dash = if flow {
                                None
                            } else {
                                self.b.dash_pos(xn.start)
                            };
                            let c = LeafCtx {
                                col: dash.map_or(xn.col, |d| col_of(src, d)),
                                in_seq: true,
                                in_flow: ctx.in_flow || flow,
                                alias: ctx.alias,
                                ..LeafCtx::default()
                            };
                            self.ipath.push(PathSeg::Index(index));
                            index += 1;
                            self.node(*x, path, &c, comments, false)?;
                            self.ipath.pop();
                            comments.truncate(base);
                        }
                        Item::Entry(..) => {}
                    }
                }
            }
        }
        if !ctx.alias && self.anchored.contains(&n) {
            self.sites.insert(n, site_start..self.out.leaves.len());
        }
        self.depth -= 1;
        Ok(())
    }

    /// Billion laughs: aliases of aliases multiply; sops' yaml.v3 caps them too.
    fn spend_alias_budget(&self, n: usize) -> Result<()> {
        let left = self.alias_budget.get().checked_sub(1).ok_or_else(|| {
            syntax(
                self.b.src,
                self.b.nodes[n].start,
                "too many alias expansions (an alias bomb?)",
            )
        })?;
        self.alias_budget.set(left);
        Ok(())
    }

    fn node_no_comments(&mut self, n: usize, path: &mut Vec<String>, ctx: &LeafCtx) -> Result<()> {
        let before = self.out.leaves.len();
        self.node(n, path, ctx, &mut Vec::new(), false)?;
        // drop comment leaves produced inside the copy
        let mut i = before;
        while i < self.out.leaves.len() {
            if matches!(self.out.leaves[i].value, Some(Value::Comment(_))) {
                self.out.leaves.remove(i);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// The anchored node as JSON-style flow text with a placeholder per leaf (null and
    /// empty strings are written literally and are not leaves' placeholders... they are,
    /// to keep the order simple).
    fn skeleton(&self, n: usize, out: &mut Vec<Skel>, depth: usize) -> Result<()> {
        self.spend_alias_budget(n)?;
        if depth > MAX_DEPTH {
            return Err(syntax(
                self.b.src,
                self.b.nodes[n].start,
                "nesting is too deep",
            ));
        }
        let t = |out: &mut Vec<Skel>, s: &str| out.push(Skel::Text(s.to_string()));
        match &self.b.nodes[n].kind {
            Kind::Scalar { .. } => out.push(Skel::Leaf),
            Kind::Alias(id) => {
                let target =
                    *self.b.anchors.get(id).ok_or_else(|| {
                        syntax(self.b.src, self.b.nodes[n].start, "unknown alias")
                    })?;
                self.skeleton(target, out, depth + 1)?;
            }
            Kind::Map(items) => {
                t(out, "{");
                let mut first = true;
                for it in items {
                    if let Item::Entry(k, v) = it {
                        if !first {
                            t(out, ", ");
                        }
                        first = false;
                        let key = self.b.key_text(*k).unwrap_or_default();
                        t(out, &format!("{}: ", crate::metadata::json_string(key)));
                        self.skeleton(*v, out, depth + 1)?;
                    }
                }
                t(out, "}");
            }
            Kind::Seq(items) => {
                t(out, "[");
                let mut first = true;
                for it in items {
                    if let Item::Node(x) = it {
                        if !first {
                            t(out, ", ");
                        }
                        first = false;
                        self.skeleton(*x, out, depth + 1)?;
                    }
                }
                t(out, "]");
            }
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn comment(
        &mut self,
        text: &str,
        span: &Range<usize>,
        right: bool,
        path: &[String],
        in_seq: bool,
        in_flow: bool,
        seq_col: usize,
        alias: bool,
        comments: Vec<String>,
    ) {
        let src = self.b.src;
        // a comment on a block scalar's header line lies inside the scalar's region, which
        // is replaced whole (the comment travels in the preservation record)
        if let Some(prev) = self
            .out
            .leaves
            .iter()
            .rev()
            .find(|l| !matches!(l.value, Some(Value::Comment(_))))
            && prev.ctx.quote == b'|'
            && prev.span.start <= span.start
            && span.start < prev.span.end
        {
            return;
        }
        let ls = line_start(src, span.start);
        let c = LeafCtx {
            col: col_of(src, span.start),
            in_seq,
            in_flow,
            quote: b'#',
            seq_comment: in_seq && !right,
            inline: right,
            line_start: ls,
            seq_col,
            alias,
        };
        // the ancestors' paths, innermost first, for tokens whose owner we placed differently
        let alt_paths = (0..path.len()).rev().map(|i| path[..i].to_vec()).collect();
        self.out.leaves.push(Leaf {
            span: span.clone(),
            path: path.to_vec(),
            value: Some(Value::Comment(text.to_string())),
            comments,
            alt_paths,
            ctx: c,
            index_path: self.ipath.clone(),
        });
    }
}

/// The value sops reads for a scalar. `Err(())` for integers beyond 64 bits.
fn scalar_value(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
) -> std::result::Result<Option<Value>, ()> {
    let plain = style == ScalarStyle::Plain;
    match tag {
        Some("str") => return Ok(Some(Value::Str(text.to_string()))),
        Some("binary") => {
            // yaml.v3 decodes !!binary; sops then handles the bytes as a string
            use base64::Engine;
            let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
            return match base64::engine::general_purpose::STANDARD.decode(compact) {
                Ok(b) => Ok(Some(Value::Str(String::from_utf8(b).map_err(|_| ())?))),
                Err(_) => Ok(Some(Value::Str(text.to_string()))),
            };
        }
        Some("null") => return Ok(None),
        Some("int" | "float" | "bool" | "timestamp") => {}
        Some(_) if !plain => return Ok(Some(Value::Str(text.to_string()))),
        _ if !plain => return Ok(Some(Value::Str(text.to_string()))),
        _ => {}
    }
    match yaml_resolve_plain(text) {
        Resolved::Null => Ok(None),
        Resolved::Value(v) => Ok(Some(v)),
        Resolved::Uint64 => Err(()),
    }
}

/// Parse a YAML file (a configuration) into a generic tree: the first document's root.
///
/// # Errors
/// Syntax errors with line and column.
pub fn parse_tree(src: &str) -> Result<Option<Meta>> {
    let mut opts = Options::default();
    opts.emit_anchor_events = true;
    let mut parser = Parser::new_from_str_with_options(src, opts);
    let mut b = Builder {
        src,
        nodes: Vec::new(),
        anchors: HashMap::new(),
    };
    let mut stack: Vec<Frame> = Vec::new();
    let mut root = None;
    while let Some(next) = parser.next_event() {
        let (ev, span) = next.map_err(|e| {
            syntax(
                src,
                e.marker().byte_offset().unwrap_or(0).min(src.len()),
                e.to_string(),
            )
        })?;
        let range = span.byte_range().unwrap_or(0..0);
        match ev {
            Event::DocumentEnd => break,
            Event::Scalar(text, style, _, tag) => {
                let tag = tag.map(|t| t.suffix().to_string());
                let n = b.push(
                    Kind::Scalar {
                        text: text.into_owned(),
                        style,
                        tag,
                        region: range.clone(),
                    },
                    range,
                    false,
                );
                b.attach(&mut stack, &mut root, n)?;
            }
            Event::Alias(id) => {
                let n = b.push(Kind::Alias(id), range, false);
                b.attach(&mut stack, &mut root, n)?;
            }
            Event::MappingStart(style, _, _) | Event::SequenceStart(style, _, _) => {
                if stack.len() >= 64 {
                    return Err(syntax(src, range.start, "nesting is too deep"));
                }
                let kind = if matches!(ev, Event::MappingStart(..)) {
                    Kind::Map(Vec::new())
                } else {
                    Kind::Seq(Vec::new())
                };
                let n = b.push(kind, range, style == StructureStyle::Flow);
                b.attach(&mut stack, &mut root, n)?;
                stack.push(Frame {
                    node: n,
                    pending_key: None,
                });
            }
            Event::MappingEnd | Event::SequenceEnd => {
                stack.pop();
            }
            _ => {}
        }
    }
    root.map(|r| b.to_meta(r, 0)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(src: &str) -> Vec<(String, String, String)> {
        let p = parse(src).unwrap();
        p.leaves
            .iter()
            .map(|l| {
                (
                    crate::format::aad(&l.path),
                    src[l.span.clone()].to_string(),
                    format!("{:?}", l.value),
                )
            })
            .collect()
    }

    #[test]
    fn spans_and_paths() {
        let src = "# head\na: 1 # inl\nb:\n  c: \"dq\"\n  d: |-\n    x\n    y\n  e: [p, 'q']\n";
        let l = leaves(src);
        let spans: Vec<_> = l.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
        assert_eq!(
            spans,
            vec![
                (":", "# head"),
                ("a:", "1"),
                (":", "# inl"),
                ("b:c:", "\"dq\""),
                ("b:d:", "|-\n    x\n    y"),
                ("b:e:", "p"),
                ("b:e:", "'q'"),
            ]
        );
    }

    #[test]
    fn sops_block_found_and_removable() {
        let src = "a: 1\nsops:\n    version: 3.11.0\n    mac: x\n";
        let p = parse(src).unwrap();
        assert_eq!(p.docs[0].sops_removal, Some(5..src.len()));
        assert_eq!(p.leaves.len(), 1);
        assert!(p.metadata.is_some());
    }

    #[test]
    fn refuses_sequences_at_the_top() {
        assert!(parse("- a\n- b\n").is_err());
        assert!(parse("1: a\n").is_err());
    }
}
