//! Formats find leaves with exact byte spans and render values; they never write.
//! All output is built by [`splice`] from the original bytes plus edits.

pub mod binary;
pub mod dotenv;
pub mod flatten;
pub mod ini;
pub mod json;
pub mod scalar;
pub mod splice;
pub mod toml;
pub mod yaml;

use std::ops::Range;
use std::path::Path;

use crate::value::Value;

/// The file formats sops knows (TOML is ours to add, with the formats issue).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
    Dotenv,
    Ini,
    /// Ours: sops has no TOML store (it encrypts `.toml` files as binary).
    Toml,
    Binary,
}

impl Format {
    /// sops' choice by extension (a case-sensitive suffix test); anything else is binary.
    pub fn from_path(p: &Path) -> Format {
        let s = p.to_string_lossy();
        if s.ends_with(".yaml") || s.ends_with(".yml") {
            Format::Yaml
        } else if s.ends_with(".json") {
            Format::Json
        } else if s.ends_with(".env") {
            Format::Dotenv
        } else if s.ends_with(".ini") {
            Format::Ini
        } else if s.ends_with(".toml") {
            Format::Toml
        } else {
            Format::Binary
        }
    }

    /// Whether the path's extension names a format sops knows (anything else is binary for
    /// sops; `.toml` too, so an encrypted `.toml` file is read by its content).
    pub fn known_extension(p: &Path) -> bool {
        let s = p.to_string_lossy();
        [".yaml", ".yml", ".json", ".env", ".ini"]
            .iter()
            .any(|e| s.ends_with(e))
    }

    /// The format of an encrypted file, from its content: for files whose name says nothing
    /// (`secrets.yaml.enc`). sops' binary store is JSON with `data` and `sops` only.
    pub fn detect_encrypted(input: &[u8]) -> Format {
        let Ok(src) = std::str::from_utf8(input) else {
            return Format::Binary;
        };
        if let Ok(p) = json::parse(src)
            && p.metadata.is_some()
        {
            let only_data = p.leaves.len() == 1 && p.data_member == Some(0);
            return if only_data {
                Format::Binary
            } else {
                Format::Json
            };
        }
        if src
            .lines()
            .any(|l| l.starts_with("sops_version=") || l.starts_with("sops_mac="))
        {
            return Format::Dotenv;
        }
        // our TOML also has a `[sops]` table; sops' INI metadata is not valid TOML
        if let Ok(p) = toml::parse(src)
            && p.metadata.is_some()
        {
            return Format::Toml;
        }
        if src.lines().any(|l| l.trim() == "[sops]") {
            return Format::Ini;
        }
        if let Ok(p) = yaml::parse(src)
            && p.metadata.is_some()
        {
            return Format::Yaml;
        }
        Format::Binary
    }

    /// The format of a plaintext file whose name says nothing (`secrets.yaml.enc`, `config.sops`),
    /// from its content, with the reason in words (for `--verbose`; no content in it).
    ///
    /// Cautious: a format is chosen only when the whole file reads as it and its shape is
    /// typical of it; anything else is binary, as sops treats every such file. In order:
    /// a JSON object; dotenv (every line `KEY=value` with an identifier key, or a `#`
    /// comment); with a `[section]` line, TOML when it parses as TOML and uses what only TOML
    /// has (quoted or array values, inline tables, `[[…]]` or dotted headers), else INI; a YAML
    /// mapping; `key = value` lines, TOML or INI by the same rule.
    pub fn detect_plain(input: &[u8]) -> (Format, &'static str) {
        let Ok(src) = std::str::from_utf8(input) else {
            return (Format::Binary, "it is not UTF-8 text");
        };
        if src.contains('\0') {
            return (Format::Binary, "it holds NUL bytes");
        }
        let data: Vec<&str> = src
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        if data.is_empty() {
            return (Format::Binary, "it holds no data");
        }
        if src
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('{')
        {
            return match json::parse(src) {
                Ok(_) => (Format::Json, "it is a JSON object"),
                Err(_) => (Format::Binary, "it starts like JSON but is not valid JSON"),
            };
        }
        let ident = |k: &str| {
            let mut b = k.bytes();
            b.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == b'_')
                && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || c == b'.')
        };
        if data
            .iter()
            .all(|l| l.split_once('=').is_some_and(|(k, _)| ident(k)))
            && src.lines().all(|l| !l.starts_with([' ', '\t']))
            && dotenv::parse(src).is_ok()
        {
            return (Format::Dotenv, "every line is KEY=value (dotenv)");
        }
        let header = |l: &&str| l.starts_with('[') && l.ends_with(']');
        let toml_only = || {
            data.iter().any(|l| {
                l.starts_with("[[")
                    || (header(l) && l.contains('.'))
                    || l.split_once('=')
                        .is_some_and(|(_, v)| v.trim_start().starts_with(['"', '\'', '[', '{']))
            })
        };
        // every line that is no header or comment holds a separator, and there is one
        let key_lines = |sep: &[char]| {
            let mut keys = data
                .iter()
                .filter(|l| !header(l) && !l.starts_with(';'))
                .peekable();
            keys.peek().is_some() && keys.all(|l| l.contains(sep))
        };
        if data.iter().any(header) {
            if toml::parse(src).is_ok() && toml_only() {
                return (Format::Toml, "it has [table] headers and TOML values");
            }
            if key_lines(&['=', ':']) && ini::parse(src).is_ok() {
                return (
                    Format::Ini,
                    "it has [section] headers and key = value lines (INI)",
                );
            }
            return (
                Format::Binary,
                "it has [section] lines but reads as neither INI nor TOML",
            );
        }
        if let Ok(p) = yaml::parse(src)
            && !p.leaves.is_empty()
            && p.leaves.iter().all(|l| {
                matches!(l.index_path.first(), Some(PathSeg::Key(_)))
                    || l.value.as_ref().is_some_and(Value::is_comment)
            })
            && p.leaves.iter().any(|l| !l.path.is_empty())
        {
            return (Format::Yaml, "it is a YAML mapping");
        }
        if key_lines(&['=']) {
            if toml::parse(src).is_ok() && toml_only() {
                return (Format::Toml, "its key = value lines have TOML values");
            }
            if ini::parse(src).is_ok() {
                return (Format::Ini, "every line is key = value (INI)");
            }
        }
        (
            Format::Binary,
            "it reads as none of YAML, JSON, dotenv, INI or TOML",
        )
    }

    /// `--input-type`/`--output-type` values.
    pub fn from_name(s: &str) -> Option<Format> {
        match s {
            "yaml" => Some(Format::Yaml),
            "json" => Some(Format::Json),
            "dotenv" => Some(Format::Dotenv),
            "ini" => Some(Format::Ini),
            "toml" => Some(Format::Toml),
            "binary" => Some(Format::Binary),
            _ => None,
        }
    }
}

/// The metadata `block` as inserted at `at` in `src`: a file without a final newline keeps
/// none, so at its end the block goes after a newline of its own (which decrypting takes
/// back) and loses its last one.
pub fn metadata_tail(src: &str, at: usize, block: String) -> String {
    if at == src.len() && !src.is_empty() && !src.ends_with('\n') {
        format!("\n{}", block.trim_end_matches('\n'))
    } else {
        block
    }
}

/// One leaf of a parsed document, in sops' walk order.
#[derive(Debug)]
pub struct Leaf {
    /// The bytes that hold the value (the token, or the plaintext scalar with its quotes).
    pub span: Range<usize>,
    /// Map keys from the document root (the AAD is `join(path, ":") + ":"`).
    pub path: Vec<String>,
    /// The parsed value; `None` for null.
    pub value: Option<Value>,
    /// Comments that precede this leaf at each level (for the comment selectors).
    pub comments: Vec<String>,
    /// Further AADs to try for a comment token whose owner is ambiguous.
    pub alt_paths: Vec<Vec<String>>,
    /// Format-specific facts needed to write or render this leaf.
    pub ctx: LeafCtx,
    /// Keys and sequence indices from the root (for `--extract`).
    pub index_path: Vec<PathSeg>,
}

/// One step of a tree path: a map key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// How a leaf sits in its file.
#[derive(Debug, Clone, Default)]
pub struct LeafCtx {
    /// Column of the owning key (mapping value) or of the `-` (sequence item).
    pub col: usize,
    /// True when the leaf is a sequence item (rendering uses `col + 2`).
    pub in_seq: bool,
    /// Inside a flow collection (tokens must be quoted there).
    pub in_flow: bool,
    /// The quote style of the scalar in the file: 0 plain, b'\'' single, b'"' double, b'|' block.
    pub quote: u8,
    /// For comments: true when alone on their line inside a sequence (written as `- ENC[...]`).
    pub seq_comment: bool,
    /// For comments: the comment shares its line with a value (`a: 1 # c`).
    pub inline: bool,
    /// Start of the line the leaf is on.
    pub line_start: usize,
    /// For comments inside a block sequence: the column of the sequence's dashes.
    pub seq_col: usize,
    /// The leaf was reached through an alias: it has no bytes of its own.
    pub alias: bool,
}

impl Leaf {
    pub fn aad(&self) -> String {
        aad(&self.path)
    }
}

pub fn aad(path: &[String]) -> String {
    let mut s = path.join(":");
    s.push(':');
    s
}

/// A key path for messages: `["a"]["b"]`, the syntax of `--extract`.
pub fn display_path(path: &[String]) -> String {
    if path.is_empty() {
        return "the top level".into();
    }
    path.iter().map(|k| format!("[{k:?}]")).collect()
}

/// Whether sops encrypts this leaf: the selector over the key path and the comment stack.
/// A comment's own text is on its stack (so `unencrypted_comment_regex` keeps a matching
/// comment in clear), except for `encrypted_comment_regex`, under which the matching comment
/// itself stays in clear while the values after it are encrypted.
pub fn should_encrypt(sel: &crate::select::Selector, leaf: &Leaf) -> bool {
    let path: Vec<&str> = leaf.path.iter().map(String::as_str).collect();
    let mut comments: Vec<&str> = leaf.comments.iter().map(String::as_str).collect();
    if leaf.value.as_ref().is_some_and(Value::is_comment)
        && matches!(sel, crate::select::Selector::EncryptedCommentRegex(_))
    {
        comments.pop();
    }
    sel.should_encrypt(&path, &comments)
}
