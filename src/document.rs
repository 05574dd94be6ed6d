//! Encrypt and decrypt whole documents: parse → select → cipher → splice.
//!
//! Decrypting a file sops wrote gives the bytes `sops decrypt` prints (each token replaced by
//! sops' rendering of its value). Decrypting a file we wrote gives back the original bytes:
//! where sops' rendering of a value would differ from how the user wrote it (`0x1F`, `1.0`,
//! a folded block, a plain `yes`), the original text is kept in an encrypted record in the
//! metadata (`sops_rs_preserved`), keyed by the token's IV. sops ignores that field.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::crypto::leaf::Token;
use crate::crypto::{Cipher, DataKey, Mac};
use crate::error::{Error, Result};
use crate::format::scalar::{json_render, yaml_double_quoted, yaml_render, yaml_single_quoted};
use crate::format::splice::{Edit, splice};
use crate::format::{
    Format, Leaf, PathSeg, aad, binary, display_path, dotenv, ini, json, toml, yaml,
};
use crate::keys::{self, KeySources, KeySpec};
use crate::metadata::{self, Meta, Metadata, SOPS_VERSION};
use crate::select::Selector;
use crate::value::Value;

/// The indent sops' YAML emitter uses by default (`stores.yaml.indent`).
const SOPS_YAML_INDENT: usize = 4;

/// How to encrypt a new file.
#[derive(Debug, Clone)]
pub struct EncryptOptions {
    pub groups: Vec<Vec<KeySpec>>,
    pub shamir_threshold: Option<usize>,
    pub selector: Selector,
    pub mac_only_encrypted: bool,
    /// The time to record as `lastmodified` (RFC 3339, UTC, whole seconds).
    pub now: String,
    /// How to reach the key services of non-age keys.
    pub backends: keys::Backends,
}

#[derive(Debug, Clone, Default)]
pub struct DecryptOptions {
    pub ignore_mac: bool,
    /// Print only this value (`--extract`): a string raw, other scalars as text.
    pub extract: Option<Vec<PathSeg>>,
}

/// The result of an operation: the bytes, and warnings for the user (no values in them).
#[derive(Debug)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub warnings: Vec<String>,
}

fn utf8(input: &[u8]) -> Result<&str> {
    std::str::from_utf8(input).map_err(|e| {
        let pos = e.valid_up_to();
        let line = input[..pos].iter().filter(|b| **b == b'\n').count() + 1;
        Error::Syntax {
            what: "invalid text",
            line,
            col: 1,
            msg: "the file is not valid UTF-8".into(),
        }
    })
}

/// Encrypt a plaintext document.
///
/// # Errors
/// Parse errors, a file that already has `sops` metadata, an empty file, key errors.
pub fn encrypt(input: &[u8], format: Format, opts: &EncryptOptions) -> Result<Output> {
    if input.is_empty() && format != Format::Binary {
        return Err(Error::Empty);
    }
    Opened::create(format, opts)?.reseal(input, &opts.now)
}

/// Re-encrypt a new plaintext for an existing encrypted file: the same data key, key groups
/// and selector; a value whose plaintext and path did not change keeps its exact ciphertext,
/// so a diff shows only what changed (and the MAC lines).
///
/// # Errors
/// As [`decrypt`] for the old file (its MAC is checked unless `opts.ignore_mac`), and as
/// [`encrypt`] for the new plaintext.
pub fn reencrypt(
    encrypted: &[u8],
    plaintext: &[u8],
    format: Format,
    sources: &KeySources,
    opts: &DecryptOptions,
    now: &str,
) -> Result<Output> {
    Opened::open(encrypted, format, sources, opts)?.reseal(plaintext, now)
}

/// An encrypted document opened with its data key: the plaintext, and what is needed to
/// write a new version of it (`edit`, `set`, `rotate`, `updatekeys`, `groups`).
pub struct Opened {
    plaintext: zeroize::Zeroizing<Vec<u8>>,
    format: Format,
    cipher: Cipher,
    meta: Metadata,
    /// For wrapping the key again (`rekey`, `rotate`).
    backends: keys::Backends,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("format", &self.format)
            .field("plaintext", &"[REDACTED]")
            .finish_non_exhaustive()
    }
}

impl Opened {
    /// Decrypt `encrypted` (its MAC checked unless `opts.ignore_mac`) and keep the data key.
    ///
    /// # Errors
    /// As [`decrypt`].
    pub fn open(
        encrypted: &[u8],
        format: Format,
        sources: &KeySources,
        opts: &DecryptOptions,
    ) -> Result<Opened> {
        let opts = DecryptOptions {
            extract: None,
            ..opts.clone()
        };
        let (out, cipher, meta) = open(encrypted, format, sources, &opts, true)?;
        Ok(Opened {
            plaintext: zeroize::Zeroizing::new(out.bytes),
            format,
            cipher,
            meta,
            backends: sources.backends.clone(),
        })
    }

    /// A new, empty document: a fresh data key, wrapped now for `opts.groups`, so that
    /// whatever goes wrong with the keys goes wrong before anything is typed (`edit`).
    ///
    /// # Errors
    /// Key errors (no recipients, a bad recipient, an impossible threshold).
    pub fn create(format: Format, opts: &EncryptOptions) -> Result<Opened> {
        let key = DataKey::generate();
        let (groups, threshold) =
            keys::wrap(&opts.groups, opts.shamir_threshold, &key, &opts.backends)?;
        let meta = Metadata {
            groups,
            shamir_threshold: threshold,
            lastmodified: opts.now.clone(),
            mac: String::new(),
            selector: if format == Format::Binary {
                Selector::default()
            } else {
                opts.selector.clone()
            },
            mac_only_encrypted: opts.mac_only_encrypted,
            version: SOPS_VERSION.into(),
            preserved: None,
            extra: Vec::new(),
        };
        Ok(Opened {
            plaintext: zeroize::Zeroizing::new(Vec::new()),
            format,
            cipher: Cipher::new(key),
            meta,
            backends: opts.backends.clone(),
        })
    }

    /// `text` as a binary sops document with this file's data key and key groups: a
    /// recovery copy of an edit that could not be saved (any text, valid or not).
    ///
    /// # Errors
    /// Only cipher failures.
    pub fn seal_recovery(&self, text: &[u8], now: &str) -> Result<Vec<u8>> {
        let mut meta = self.meta.clone();
        meta.selector = Selector::default();
        meta.mac_only_encrypted = false;
        meta.lastmodified = now.to_string();
        meta.mac = String::new();
        meta.preserved = None;
        meta.version = SOPS_VERSION.into();
        seal(text, Format::Binary, &self.cipher, meta).map(|o| o.bytes)
    }

    /// The decrypted document (what `decrypt` prints).
    pub fn plaintext(&self) -> &[u8] {
        &self.plaintext
    }

    pub fn metadata(&self) -> &Metadata {
        &self.meta
    }

    /// The file's key groups as key specs, to re-wrap a data key for the same recipients.
    ///
    /// # Errors
    /// `Unsupported` when a group holds a key type sops-rs cannot wrap for yet.
    pub fn key_groups(&self) -> Result<Vec<Vec<KeySpec>>> {
        key_specs(&self.meta)
    }

    /// Encrypt a new plaintext with the same data key, key groups and selector; values whose
    /// plaintext and path did not change keep their exact ciphertext.
    ///
    /// # Errors
    /// As [`encrypt`] for the new plaintext.
    pub fn reseal(&self, plaintext: &[u8], now: &str) -> Result<Output> {
        let mut meta = self.meta.clone();
        meta.lastmodified = now.to_string();
        meta.mac = String::new();
        meta.preserved = None;
        meta.version = SOPS_VERSION.into();
        seal(plaintext, self.format, &self.cipher, meta)
    }

    /// Wrap the same data key for new key groups (`updatekeys`, `groups add|delete`): values,
    /// `mac` and `lastmodified` stay byte for byte. With one group before and after, entries
    /// for recipients that stay keep their `enc` (the whole key is wrapped either way).
    ///
    /// # Errors
    /// Key errors (an empty group, a bad recipient, an impossible threshold).
    pub fn rekey(&self, groups: &[Vec<KeySpec>], threshold: Option<usize>) -> Result<Output> {
        let (mut new_groups, threshold) =
            keys::wrap(groups, threshold, self.cipher.data_key(), &self.backends)?;
        if self.meta.groups.len() == 1 && new_groups.len() == 1 {
            let old_group = &self.meta.groups[0];
            for k in &mut new_groups[0].age {
                if let Some(old) = old_group.age.iter().find(|o| o.recipient == k.recipient) {
                    *k = old.clone();
                }
            }
            let spec = |(t, m): &(String, crate::metadata::Meta)| {
                KeySpec::from_entry(t, m).and_then(|r| r.ok())
            };
            for k in &mut new_groups[0].others {
                let new = spec(k);
                if let Some(old) = old_group
                    .others
                    .iter()
                    .find(|o| new.is_some() && spec(o) == new)
                {
                    *k = old.clone();
                }
            }
        }
        let mut meta = self.meta.clone();
        meta.groups = new_groups;
        meta.shamir_threshold = threshold;
        meta.preserved = None;
        // the MAC and the record are re-encrypted with the IVs they were read with, so
        // they come out unchanged
        seal(&self.plaintext, self.format, &self.cipher, meta)
    }

    /// A new data key for the same plaintext (`rotate`), wrapped for `groups`: every value
    /// gets new ciphertext.
    ///
    /// # Errors
    /// Key errors.
    pub fn rotate(
        &self,
        groups: &[Vec<KeySpec>],
        threshold: Option<usize>,
        now: &str,
    ) -> Result<Output> {
        let key = DataKey::generate();
        let (new_groups, threshold) = keys::wrap(groups, threshold, &key, &self.backends)?;
        let cipher = Cipher::new(key);
        let mut meta = self.meta.clone();
        meta.groups = new_groups;
        meta.shamir_threshold = threshold;
        meta.lastmodified = now.to_string();
        meta.mac = String::new();
        meta.preserved = None;
        meta.version = SOPS_VERSION.into();
        seal(&self.plaintext, self.format, &cipher, meta)
    }
}

/// The key groups of `meta` as key specs.
///
/// # Errors
/// `Unsupported` naming the key type when a group holds one sops-rs cannot wrap for yet.
pub fn key_specs(meta: &Metadata) -> Result<Vec<Vec<KeySpec>>> {
    meta.groups
        .iter()
        .map(|g| {
            let mut specs: Vec<KeySpec> = g
                .age
                .iter()
                .map(|a| KeySpec::Age(a.recipient.clone()))
                .collect();
            for (ty, m) in &g.others {
                match KeySpec::from_entry(ty, m) {
                    Some(Ok(s)) => specs.push(s),
                    Some(Err(e)) => {
                        return Err(Error::BadMetadata(format!("a {ty} entry: {e}")));
                    }
                    None => {
                        return Err(Error::Unsupported(format!(
                            "the file has a {ty} key, which sops-rs cannot wrap a data key for"
                        )));
                    }
                }
            }
            Ok(specs)
        })
        .collect()
}

/// Encrypt `input` with `cipher`'s data key and write `meta` (its key groups, selector and
/// MAC mode) into the result.
fn seal(input: &[u8], format: Format, cipher: &Cipher, mut meta: Metadata) -> Result<Output> {
    if input.is_empty() && format != Format::Binary {
        return Err(Error::Empty);
    }
    // an earlier attempt (an edit that did not parse) must not use up the remembered IVs
    cipher.rewind();
    let mut warnings = Vec::new();
    let mac_only = meta.mac_only_encrypted;
    let bytes = match format {
        Format::Binary => {
            let mut mac = Mac::new(mac_only);
            mac.add_bytes(input);
            let data = if input.is_empty() {
                String::new()
            } else {
                cipher.encrypt_bytes(input, "str", "data:")?.to_text()
            };
            finish_mac(cipher, &mut meta, mac)?;
            binary::write(&data, &meta.to_meta()).into_bytes()
        }
        _ => {
            let src = utf8(input)?;
            let mut p = parse_parts(src, format)?;
            if p.metadata.is_some() || !p.removals.is_empty() {
                return Err(Error::AlreadyEncrypted);
            }
            warnings.append(&mut p.warnings);
            if let Rest::Yaml(y) = &p.rest {
                if !y.docs.iter().any(|d| d.has_root) {
                    return Err(Error::Empty);
                }
                if y.docs.iter().any(|d| d.flow_root) {
                    return Err(Error::Unsupported(
                        "a document whose top-level mapping is in flow style ({...}) cannot hold the sops metadata; write it in block style".into(),
                    ));
                }
            }
            let mut enc = Encrypter::new(cipher, mac_only);
            let mut edits = enc.leaves(src, &p.leaves, &meta.selector, format, p.indent)?;
            if let Rest::Yaml(y) = &p.rest {
                edits.extend(enc.aliases(src, &y.aliases, &p.leaves, &mut warnings)?);
                // sops writes the metadata into every document, empty ones included; we
                // note which were empty so that our decrypt leaves them empty (sops prints `{}`)
                for (i, d) in y.docs.iter().enumerate() {
                    if !d.has_root && !d.empty {
                        return Err(Error::Unsupported(format!(
                            "document {} is a bare null; sops-rs cannot add the metadata to it (remove the `~`/`null`)",
                            i + 1
                        )));
                    }
                    if d.empty {
                        enc.preserved.insert(format!("d:{i}"), String::new());
                    }
                }
            }
            finish_mac(cipher, &mut meta, enc.mac)?;
            meta.preserved = seal_preserved(cipher, &enc.preserved)?;
            let m = meta.to_meta();
            let tail = |block: String, at: usize| crate::format::metadata_tail(src, at, block);
            match &p.rest {
                Rest::Yaml(y) => {
                    let block = metadata::write_yaml(&m, p.indent);
                    for d in &y.docs {
                        edits.push(Edit::insert(d.insert_at, tail(block.clone(), d.insert_at)));
                    }
                }
                Rest::Json {
                    insert_at,
                    empty_object,
                    indent,
                } => {
                    let body = metadata::write_json(&m, indent, 1);
                    let text = if *empty_object {
                        format!("\n{indent}\"sops\": {body}\n")
                    } else {
                        format!(",\n{indent}\"sops\": {body}")
                    };
                    edits.push(Edit::insert(*insert_at, text));
                }
                Rest::Flat { insert_at } => {
                    let block = match format {
                        Format::Ini => ini::write_metadata(&m),
                        Format::Toml => toml::write_metadata(&m),
                        _ => dotenv::write_metadata(&m),
                    };
                    edits.push(Edit::insert(*insert_at, tail(block, *insert_at)));
                }
            }
            splice(input, edits).map_err(Error::Internal)?
        }
    };
    Ok(Output { bytes, warnings })
}

fn finish_mac(cipher: &Cipher, meta: &mut Metadata, mac: Mac) -> Result<()> {
    let hex = zeroize::Zeroizing::new(mac.finish());
    meta.mac = cipher
        .encrypt_bytes(hex.as_bytes(), "str", &meta.lastmodified)?
        .to_text();
    Ok(())
}

/// The record's AAD. It is not bound to `lastmodified`, so an edit that leaves the record
/// unchanged leaves its ciphertext unchanged too (quiet diffs); replaying an older record
/// could only change how unchanged values are spelled, never what they are.
const PRESERVED_AAD: &str = "sops-rs:preserved:";

fn seal_preserved(cipher: &Cipher, map: &BTreeMap<String, String>) -> Result<Option<String>> {
    if map.is_empty() {
        return Ok(None);
    }
    let mut s = String::from("{");
    for (i, (k, v)) in map.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&metadata::json_string(k));
        s.push(':');
        s.push_str(&metadata::json_string(v));
    }
    s.push('}');
    let s = zeroize::Zeroizing::new(s);
    Ok(Some(
        cipher
            .encrypt_bytes(s.as_bytes(), "str", PRESERVED_AAD)?
            .to_text(),
    ))
}

fn open_preserved(cipher: &mut Cipher, meta: &Metadata) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(tok) = meta
        .preserved
        .as_deref()
        .and_then(Token::parse)
        .and_then(|r| r.ok())
    else {
        return out;
    };
    // A record that does not authenticate is ignored: values then render as sops renders
    // them, which changes formatting only, never data.
    let Ok(plain) = cipher.decrypt_bytes(&tok, PRESERVED_AAD) else {
        return out;
    };
    let Ok(text) = std::str::from_utf8(&plain) else {
        return out;
    };
    if let Ok(Some(jsonc_parser::JsonValue::Object(o))) =
        jsonc_parser::parse_to_value(text, &Default::default())
    {
        for (k, v) in o.into_iter() {
            if let jsonc_parser::JsonValue::String(s) = v {
                out.insert(k.to_string(), s.to_string());
            }
        }
    }
    out
}

struct Encrypter<'c> {
    cipher: &'c Cipher,
    mac: Mac,
    preserved: BTreeMap<String, String>,
    /// Tokens of leaves reached through aliases, by leaf index (for alias expansion).
    tokens: Vec<Option<String>>,
    /// Whether each leaf was encrypted, by leaf index.
    encrypted: Vec<bool>,
}

impl<'c> Encrypter<'c> {
    fn new(cipher: &'c Cipher, mac_only: bool) -> Self {
        Encrypter {
            cipher,
            mac: Mac::new(mac_only),
            preserved: BTreeMap::new(),
            tokens: Vec::new(),
            encrypted: Vec::new(),
        }
    }

    fn leaves(
        &mut self,
        src: &str,
        leaves: &[Leaf],
        sel: &Selector,
        fmt: Format,
        indent: usize,
    ) -> Result<Vec<Edit>> {
        let mut edits = Vec::new();
        for leaf in leaves {
            self.tokens.push(None);
            self.encrypted.push(false);
            let Some(v) = &leaf.value else { continue };
            let encrypted = crate::format::should_encrypt(sel, leaf);
            self.mac.add(v, encrypted);
            if !encrypted || v.is_empty() {
                continue;
            }
            if let Value::Float(f) = v
                && fmt == Format::Json
                && !f.is_finite()
            {
                return Err(Error::Unsupported(format!(
                    "non-finite number at {}",
                    display_path(&leaf.path)
                )));
            }
            *self.encrypted.last_mut().expect("pushed above") = true;
            let token = self.cipher.encrypt(v, &leaf.aad())?;
            let ttext = token.to_text();
            if leaf.ctx.alias {
                // written by the alias expansion, which needs the token text
                *self.tokens.last_mut().expect("pushed above") = Some(ttext);
                continue;
            }
            let original = &src[leaf.span.clone()];
            let (range, text, canonical, orig) = match fmt {
                Format::Json => (
                    leaf.span.clone(),
                    format!("\"{ttext}\""),
                    json_render(v).ok(),
                    original.to_string(),
                ),
                Format::Toml => (
                    leaf.span.clone(),
                    toml::encrypted_text(src, leaf, &ttext),
                    Some(toml::decrypted_text(src, leaf, v)),
                    original.to_string(),
                ),
                Format::Ini => (
                    leaf.span.clone(),
                    ini::encrypted_text(src, leaf, &ttext),
                    Some(ini::decrypted_text(src, leaf, v)),
                    original.to_string(),
                ),
                // a dotenv leaf's span is the raw value (or comment text): the token replaces it
                Format::Dotenv => (
                    leaf.span.clone(),
                    ttext.clone(),
                    Some(dotenv::render(v)),
                    original.to_string(),
                ),
                _ => yaml_edit(src, leaf, v, &ttext, indent),
            };
            if canonical.as_deref() != Some(orig.as_str()) {
                self.preserved.insert(token.id(), orig);
            }
            edits.push(Edit::new(range, text));
        }
        Ok(edits)
    }

    /// Expand aliases whose copies hold encrypted values: sops reads an alias as a copy,
    /// whose values it decrypts with the copy's own path.
    fn aliases(
        &mut self,
        src: &str,
        aliases: &[yaml::AliasUse],
        leaves: &[Leaf],
        warnings: &mut Vec<String>,
    ) -> Result<Vec<Edit>> {
        let mut edits = Vec::new();
        for a in aliases {
            // the alias can stay only if neither its copy nor the anchored node's own values
            // are encrypted: otherwise sops would read the copy differently
            let encrypted =
                |r: &Range<usize>| r.clone().any(|i| self.encrypted.get(i) == Some(&true));
            if !encrypted(&a.leaves) && !encrypted(&a.target_leaves) {
                continue;
            }
            let mut out = String::new();
            let mut first_token: Option<(usize, String)> = None;
            let mut next = a.leaves.start;
            for s in &a.skeleton {
                match s {
                    yaml::Skel::Text(t) => out.push_str(t),
                    yaml::Skel::Leaf => {
                        // skip comment leaves (never in a copy) to find this scalar's leaf
                        let i = next;
                        next += 1;
                        let leaf = &leaves[i];
                        match (&self.tokens[i], &leaf.value) {
                            (Some(t), _) => {
                                if first_token.is_none() {
                                    first_token = Some((out.len(), t.clone()));
                                }
                                out.push_str(&format!("\"{t}\""));
                            }
                            (None, None) => out.push_str("null"),
                            (None, Some(v)) => out.push_str(&flow_plain(v)),
                        }
                    }
                }
            }
            warnings.push(format!(
                "the alias at {} was expanded into a copy: sops reads aliases as copies, and the copy's values are encrypted under their own path",
                display_path(&a.path)
            ));
            // remember the alias, so our decrypt can put it back: keyed by the expansion's
            // first token, with the token's offset in the expansion and the expansion's length
            if let Some((off, t)) = first_token
                && let Some(Ok(tok)) = Token::parse(&t)
            {
                let raw = &src[a.span.clone()];
                self.preserved.insert(
                    format!("a:{}", tok.id()),
                    format!("{off}:{}:{raw}", out.len()),
                );
            }
            edits.push(Edit::new(a.span.clone(), out));
        }
        Ok(edits)
    }
}

/// A plaintext value inside a JSON-style flow expansion, readable as the same typed value.
fn flow_plain(v: &Value) -> String {
    match v {
        Value::Str(s) | Value::Comment(s) => metadata::json_string(s),
        Value::Time(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Float(f) if f.is_nan() => ".nan".into(),
        Value::Float(f) if f.is_infinite() => {
            if *f > 0.0 {
                ".inf".into()
            } else {
                "-.inf".into()
            }
        }
        Value::Float(f) => format!("{f:?}"),
    }
}

/// The YAML edit for one encrypted leaf: (range, new text, sops' rendering as our decrypt
/// would produce it without a preservation record, the original text of that range).
fn yaml_edit(
    src: &str,
    leaf: &Leaf,
    v: &Value,
    token: &str,
    indent: usize,
) -> (Range<usize>, String, Option<String>, String) {
    let c = &leaf.ctx;
    if let Value::Comment(text) = v {
        if c.seq_comment {
            // sops keeps comments inside sequences as `- ENC[...]` items
            let dash_col = c.seq_col;
            let range = c.line_start..leaf.span.end;
            let canonical = format!("{}#{text}", " ".repeat(dash_col));
            return (
                range.clone(),
                format!("{}- {token}", " ".repeat(dash_col)),
                Some(canonical),
                src[range].to_string(),
            );
        }
        // An inline comment is recorded so that our decrypt keeps it inline; without the
        // record (a file from sops 3.13) it moves above its key, as sops prints it.
        let canonical = (!c.inline).then(|| format!("#{text}"));
        return (
            leaf.span.clone(),
            format!("#{token}"),
            canonical,
            src[leaf.span.clone()].to_string(),
        );
    }
    let wrapper = match (c.quote, c.in_flow) {
        (b'"', _) => b'"',
        (b'\'', _) | (_, true) => b'\'',
        _ => 0,
    };
    let text = match wrapper {
        b'"' => format!("\"{token}\""),
        b'\'' => format!("'{token}'"),
        _ => token.to_string(),
    };
    let canonical = yaml_value_rendering(v, wrapper, c, indent);
    (
        leaf.span.clone(),
        text,
        Some(canonical),
        src[leaf.span.clone()].to_string(),
    )
}

/// How a decrypted value is rendered in place of a YAML token written with `wrapper` quotes.
/// `indent` is the document's indentation unit (sops writes 4, its default).
fn yaml_value_rendering(
    v: &Value,
    wrapper: u8,
    c: &crate::format::LeafCtx,
    indent: usize,
) -> String {
    let i = indent.clamp(2, 9);
    let n = if c.in_seq {
        c.col + 2
    } else {
        i * ((c.col + i) / i)
    };
    match (wrapper, v) {
        (b'"', Value::Str(s)) => yaml_double_quoted(s),
        (b'\'', Value::Str(s)) if c.in_flow => {
            // inside flow collections a plain scalar may not hold flow indicators
            let plain = yaml_render(v, i, n);
            let safe = !plain.starts_with(['\'', '"', '|', '>'])
                && !plain.contains([',', '[', ']', '{', '}', '\n']);
            if safe {
                plain
            } else {
                yaml_single_quoted(s).unwrap_or_else(|| yaml_double_quoted(s))
            }
        }
        (b'\'', Value::Str(s)) => yaml_single_quoted(s).unwrap_or_else(|| yaml_double_quoted(s)),
        _ => yaml_render(v, i, n),
    }
}

/// Decrypt a document.
///
/// # Errors
/// Missing metadata, no usable key, a value that fails authentication (its path is named),
/// a MAC mismatch.
pub fn decrypt(
    input: &[u8],
    format: Format,
    sources: &KeySources,
    opts: &DecryptOptions,
) -> Result<Output> {
    open(input, format, sources, opts, false).map(|(out, _, _)| out)
}

fn new_cipher(key: DataKey, remember: bool) -> Cipher {
    if remember {
        Cipher::remembering(key)
    } else {
        Cipher::new(key)
    }
}

/// Decrypt, and also hand back the cipher (holding the data key and the IVs of every value,
/// for re-encryption) and the metadata.
fn open(
    input: &[u8],
    format: Format,
    sources: &KeySources,
    opts: &DecryptOptions,
    remember: bool,
) -> Result<(Output, Cipher, Metadata)> {
    let warnings = Vec::new();
    match format {
        Format::Binary => {
            let src = utf8(input).map_err(|_| Error::MetadataNotFound)?;
            let p = json::parse(src).map_err(|_| Error::MetadataNotFound)?;
            let meta = Metadata::from_meta(p.metadata.as_ref().ok_or(Error::MetadataNotFound)?)?;
            check_lastmodified(&meta)?;
            let mut cipher = new_cipher(keys::unwrap(&meta, sources)?, remember);
            let data = p
                .data_member
                .map(|i| &p.leaves[i])
                .ok_or_else(|| Error::BadMetadata("binary file has no data entry".into()))?;
            let Some(Value::Str(s)) = &data.value else {
                return Err(Error::NotAString("[\"data\"]".into()));
            };
            let plain = if s.is_empty() {
                zeroize::Zeroizing::new(Vec::new())
            } else {
                let tok = Token::parse(s)
                    .ok_or(Error::Token(crate::crypto::leaf::TokenError::Format))??;
                // the whole file is a string: another type is a tampered token (sops fails
                // parsing it as that type)
                if tok.ty != "str" {
                    return Err(Error::Value {
                        path: "[\"data\"]".into(),
                        source: Box::new(Error::BadPlaintext(tok.ty.clone())),
                    });
                }
                cipher
                    .decrypt_bytes(&tok, "data:")
                    .map_err(|e| Error::Value {
                        path: "[\"data\"]".into(),
                        source: Box::new(e),
                    })?
            };
            let mut mac = Mac::new(meta.mac_only_encrypted);
            mac.add_bytes(&plain);
            check_mac(&mut cipher, &meta, mac, opts)?;
            Ok((
                Output {
                    bytes: plain.to_vec(),
                    warnings,
                },
                cipher,
                meta,
            ))
        }
        _ => {
            let src = utf8(input)?;
            let p = parse_parts(src, format)?;
            let meta = Metadata::from_meta(p.metadata.as_ref().ok_or(Error::MetadataNotFound)?)?;
            check_lastmodified(&meta)?;
            let mut cipher = new_cipher(keys::unwrap(&meta, sources)?, remember);
            let preserved = open_preserved(&mut cipher, &meta);
            let (mut edits, mac, values) = decrypt_leaves(
                src,
                p.indent,
                &p.leaves,
                &meta,
                &mut cipher,
                &preserved,
                format,
                opts.extract.is_some(),
            )?;
            check_mac(&mut cipher, &meta, mac, opts)?;
            if let Some(path) = &opts.extract {
                let bytes = extract(&p.leaves, &values, path)?;
                return Ok((Output { bytes, warnings }, cipher, meta));
            }
            for (r, doc) in &p.removals {
                // a YAML mapping left empty prints as `{}` in sops, unless we wrote the
                // document empty ourselves
                let text = match doc {
                    Some(i) if !preserved.contains_key(&format!("d:{i}")) => "{}\n",
                    _ => "",
                };
                edits.push(Edit::new(r.clone(), text));
            }
            let bytes = splice(input, edits).map_err(Error::Internal)?;
            Ok((Output { bytes, warnings }, cipher, meta))
        }
    }
}

/// A text document as this layer sees it, whatever its format.
struct Parts {
    leaves: Vec<Leaf>,
    metadata: Option<Meta>,
    /// The metadata's bytes, to delete when decrypting; with the YAML document's index when
    /// deleting them leaves that document's mapping empty.
    removals: Vec<(Range<usize>, Option<usize>)>,
    /// YAML's indentation unit (for rendering values); 0 elsewhere.
    indent: usize,
    warnings: Vec<String>,
    rest: Rest,
}

/// What each format needs to place the metadata when encrypting.
enum Rest {
    Yaml(yaml::Parsed),
    Json {
        insert_at: usize,
        empty_object: bool,
        indent: String,
    },
    /// dotenv and INI: lines at the end.
    Flat {
        insert_at: usize,
    },
}

fn parse_parts(src: &str, format: Format) -> Result<Parts> {
    // a NUL byte in a line format is never text a user meant (sops' own parsers pass it on)
    if matches!(format, Format::Dotenv | Format::Ini)
        && let Some(pos) = src.find('\0')
    {
        return Err(Error::Syntax {
            what: if format == Format::Ini {
                "invalid INI"
            } else {
                "invalid dotenv"
            },
            line: src[..pos].matches('\n').count() + 1,
            col: 1,
            msg: "a NUL byte".into(),
        });
    }
    Ok(match format {
        Format::Yaml => {
            let mut p = yaml::parse(src)?;
            let removals = p
                .docs
                .iter()
                .enumerate()
                .filter_map(|(i, d)| {
                    d.sops_removal
                        .clone()
                        .map(|r| (r, d.only_sops.then_some(i)))
                })
                .collect();
            Parts {
                leaves: std::mem::take(&mut p.leaves),
                metadata: p.metadata.take(),
                removals,
                indent: p.indent,
                warnings: Vec::new(),
                rest: Rest::Yaml(p),
            }
        }
        Format::Json | Format::Binary => {
            let p = json::parse(src)?;
            Parts {
                removals: p
                    .sops_removal
                    .clone()
                    .map(|r| (r, None))
                    .into_iter()
                    .collect(),
                rest: Rest::Json {
                    insert_at: p.insert_at,
                    empty_object: p.empty_object,
                    indent: p.indent,
                },
                leaves: p.leaves,
                metadata: p.metadata,
                indent: 0,
                warnings: Vec::new(),
            }
        }
        Format::Dotenv => {
            let p = dotenv::parse(src)?;
            Parts {
                removals: p.sops_lines.iter().map(|r| (r.clone(), None)).collect(),
                rest: Rest::Flat {
                    insert_at: p.insert_at,
                },
                leaves: p.leaves,
                metadata: p.metadata,
                indent: 0,
                warnings: p.warnings,
            }
        }
        Format::Toml => {
            let p = toml::parse(src)?;
            Parts {
                removals: p
                    .sops_removal
                    .clone()
                    .map(|r| (r, None))
                    .into_iter()
                    .collect(),
                rest: Rest::Flat {
                    insert_at: p.insert_at,
                },
                leaves: p.leaves,
                metadata: p.metadata,
                indent: 0,
                warnings: p.warnings,
            }
        }
        Format::Ini => {
            let p = ini::parse(src)?;
            Parts {
                removals: p
                    .sops_removal
                    .clone()
                    .map(|r| (r, None))
                    .into_iter()
                    .collect(),
                rest: Rest::Flat {
                    insert_at: p.insert_at,
                },
                leaves: p.leaves,
                metadata: p.metadata,
                indent: 0,
                warnings: p.warnings,
            }
        }
    })
}

fn check_mac(cipher: &mut Cipher, meta: &Metadata, mac: Mac, opts: &DecryptOptions) -> Result<()> {
    if opts.ignore_mac {
        return Ok(());
    }
    let computed = zeroize::Zeroizing::new(mac.finish());
    if meta.mac.is_empty() {
        return Err(Error::MacMissing);
    }
    let tok = match Token::parse(&meta.mac) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Err(Error::MacDecrypt(Box::new(Error::Token(e)))),
        None => {
            return Err(Error::MacDecrypt(Box::new(Error::Token(
                crate::crypto::leaf::TokenError::Format,
            ))));
        }
    };
    let stored = cipher
        .decrypt_bytes(&tok, &go_rfc3339(&meta.lastmodified))
        .map_err(|e| Error::MacDecrypt(Box::new(e)))?;
    // compare without early exit
    let a = stored.as_slice();
    let b = computed.as_bytes();
    let mut diff = a.len() ^ b.len();
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= usize::from(x ^ y);
    }
    if diff != 0 {
        return Err(Error::MacMismatch);
    }
    Ok(())
}

/// sops parses `lastmodified` (RFC 3339) and `version` (semver: "Version string empty") when
/// it loads the metadata, before it looks for a key: a missing or garbled one is invalid
/// metadata (exit 1), whatever else is wrong, `--ignore-mac` or not.
fn check_lastmodified(meta: &Metadata) -> Result<()> {
    if !crate::crypto::leaf::is_rfc3339(&meta.lastmodified) {
        return Err(Error::BadMetadata(
            "lastmodified is missing or not an RFC 3339 time".into(),
        ));
    }
    if meta.version.is_empty() {
        return Err(Error::BadMetadata("version is missing".into()));
    }
    Ok(())
}

/// sops re-formats `lastmodified` with Go's RFC 3339 layout before using it as the MAC's AAD:
/// fractional seconds are dropped.
fn go_rfc3339(s: &str) -> String {
    match (s.find('.'), s.rfind(['Z', '+', '-'])) {
        (Some(dot), Some(zone)) if dot < zone && s.len() > 19 && dot == 19 => {
            format!("{}{}", &s[..dot], &s[zone..])
        }
        _ => s.to_string(),
    }
}

/// The edits, the MAC, and each leaf's value (by leaf index).
type DecryptedLeaves = (Vec<Edit>, Mac, Vec<(usize, Value)>);

#[allow(clippy::too_many_arguments)]
fn decrypt_leaves(
    src: &str,
    indent: usize,
    leaves: &[Leaf],
    meta: &Metadata,
    cipher: &mut Cipher,
    preserved: &BTreeMap<String, String>,
    fmt: Format,
    extracting: bool,
) -> Result<DecryptedLeaves> {
    let mut mac = Mac::new(meta.mac_only_encrypted);
    let mut edits = Vec::with_capacity(leaves.len());
    let mut values = Vec::new();
    let want_values = extracting;
    let restored = restore_aliases(src, leaves, preserved);
    for (range, raw) in &restored {
        edits.push(Edit::new(range.clone(), raw.clone()));
    }
    for (li, leaf) in leaves.iter().enumerate() {
        let Some(v) = &leaf.value else { continue };
        let encrypted = crate::format::should_encrypt(&meta.selector, leaf);
        let is_comment_leaf = matches!(v, Value::Comment(_));
        let text = match v {
            Value::Str(s) | Value::Comment(s) => Some(s.as_str()),
            _ => None,
        };
        if !encrypted || v.is_empty() {
            mac.add(v, false);
            if want_values {
                values.push((li, v.clone()));
            }
            continue;
        }
        let tok = match text.map(Token::parse) {
            Some(Some(Ok(t))) => t,
            Some(Some(Err(e))) => {
                return Err(Error::Value {
                    path: display_path(&leaf.path),
                    source: Box::new(Error::Token(e)),
                });
            }
            // a plaintext comment in an encrypted file (added by hand) stays as it is
            Some(None) if is_comment_leaf => continue,
            Some(None) => {
                return Err(Error::Value {
                    path: display_path(&leaf.path),
                    source: Box::new(Error::Token(crate::crypto::leaf::TokenError::Format)),
                });
            }
            None => return Err(Error::NotAString(display_path(&leaf.path))),
        };
        let mut value = cipher.decrypt(&tok, &leaf.aad());
        if value.is_err() && tok.ty == "comment" {
            for alt in &leaf.alt_paths {
                if let Ok(v) = cipher.decrypt(&tok, &aad(alt)) {
                    value = Ok(v);
                    break;
                }
            }
        }
        let value = value.map_err(|e| Error::Value {
            path: display_path(&leaf.path),
            source: Box::new(e),
        })?;
        mac.add(&value, true);
        if want_values {
            values.push((li, value.clone()));
        }
        if leaf.ctx.alias
            || restored
                .iter()
                .any(|(r, _)| r.start <= leaf.span.start && leaf.span.end <= r.end)
        {
            continue;
        }
        let id = tok.id();
        if let Some(raw) = preserved.get(&id) {
            let range = if matches!(value, Value::Comment(_)) && leaf.ctx.in_seq && !is_comment_leaf
            {
                leaf.ctx.line_start..leaf.span.end
            } else {
                leaf.span.clone()
            };
            edits.push(Edit::new(range, raw.clone()));
            continue;
        }
        match fmt {
            Format::Dotenv => edits.push(Edit::new(leaf.span.clone(), dotenv::render(&value))),
            Format::Toml => edits.push(Edit::new(
                leaf.span.clone(),
                toml::decrypted_text(src, leaf, &value),
            )),
            Format::Ini => edits.push(Edit::new(
                leaf.span.clone(),
                ini::decrypted_text(src, leaf, &value),
            )),
            Format::Json => {
                let r = json_render(&value).map_err(|e| {
                    Error::Unsupported(format!("{} at {}", e, display_path(&leaf.path)))
                })?;
                edits.push(Edit::new(leaf.span.clone(), r));
            }
            _ => {
                if let Value::Comment(text) = &value {
                    if !is_comment_leaf && leaf.ctx.in_seq {
                        // `- ENC[...,type:comment]` is a comment line at the dash's column
                        let start = leaf.ctx.line_start;
                        edits.push(Edit::new(
                            start..leaf.span.end,
                            format!("{}#{text}", " ".repeat(leaf.ctx.col)),
                        ));
                        continue;
                    }
                    if leaf.ctx.inline && is_comment_leaf {
                        // sops 3.13 writes `a: ENC[...] #ENC[...]`; its decrypt prints the
                        // comment on its own line above the key (the inline flag is lost)
                        let line = &src[leaf.ctx.line_start..leaf.span.start];
                        let indent_col = line.len() - line.trim_start_matches(' ').len();
                        let ws = line.trim_end_matches([' ', '\t']).len();
                        edits.push(Edit::insert(
                            leaf.ctx.line_start,
                            format!("{}#{text}\n", " ".repeat(indent_col)),
                        ));
                        edits.push(Edit::new(leaf.ctx.line_start + ws..leaf.span.end, ""));
                        continue;
                    }
                    edits.push(Edit::new(leaf.span.clone(), format!("#{text}")));
                    continue;
                }
                let wrapper = leaf.ctx.quote;
                let wrapper = if wrapper == b'"' || wrapper == b'\'' {
                    wrapper
                } else {
                    0
                };
                edits.push(Edit::new(
                    leaf.span.clone(),
                    yaml_value_rendering(&value, wrapper, &leaf.ctx, indent),
                ));
            }
        }
    }
    Ok((edits, mac, values))
}

/// Aliases that our encrypt expanded: (the expansion's byte range, the alias text).
fn restore_aliases(
    src: &str,
    leaves: &[Leaf],
    preserved: &BTreeMap<String, String>,
) -> Vec<(Range<usize>, String)> {
    let mut out: Vec<(Range<usize>, String)> = Vec::new();
    if !preserved.keys().any(|k| k.starts_with("a:")) {
        return out;
    }
    for leaf in leaves {
        let Some(Value::Str(s)) = &leaf.value else {
            continue;
        };
        let Some(Ok(tok)) = Token::parse(s) else {
            continue;
        };
        let Some(rec) = preserved.get(&format!("a:{}", tok.id())) else {
            continue;
        };
        let mut parts = rec.splitn(3, ':');
        let (Some(off), Some(len), Some(raw)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(off), Ok(len)) = (off.parse::<usize>(), len.parse::<usize>()) else {
            continue;
        };
        let Some(start) = leaf.span.start.checked_sub(off) else {
            continue;
        };
        let end = start + len;
        // the expansion must still be there as we wrote it: a collection or a quoted token
        let ok = end <= src.len()
            && src.is_char_boundary(start)
            && src.is_char_boundary(end)
            && leaf.span.end <= end
            && matches!(
                (src.as_bytes()[start], src.as_bytes()[end - 1]),
                (b'{', b'}') | (b'[', b']') | (b'"', b'"')
            )
            && !out.iter().any(|(r, _)| r.start < end && start < r.end);
        if ok {
            out.push((start..end, raw.to_string()));
        }
    }
    out
}

/// The value at `path`: a string as its raw bytes (no newline), other scalars as text.
fn extract(leaves: &[Leaf], values: &[(usize, Value)], path: &[PathSeg]) -> Result<Vec<u8>> {
    let shown = || {
        path.iter()
            .map(|p| match p {
                PathSeg::Key(k) => format!("[{k:?}]"),
                PathSeg::Index(i) => format!("[{i}]"),
            })
            .collect::<String>()
    };
    for (i, v) in values {
        if leaves[*i].index_path == path && !v.is_comment() {
            return Ok(match v {
                Value::Str(s) => s.as_bytes().to_vec(),
                other => format!("{}\n", yaml_render(other, SOPS_YAML_INDENT, 0)).into_bytes(),
            });
        }
    }
    if leaves
        .iter()
        .any(|l| l.index_path == path && l.value.is_none())
    {
        return Ok(b"null\n".to_vec());
    }
    if leaves
        .iter()
        .any(|l| l.index_path.len() > path.len() && l.index_path.starts_with(path))
    {
        return Err(Error::Unsupported(format!(
            "{} is a map or a list: only single values can be extracted yet",
            shown()
        )));
    }
    Err(Error::PathNotFound(shown()))
}

/// A tree path for `--extract`, as `["a"]["b"][0]`.
pub fn parse_tree_path(s: &str) -> Result<Vec<PathSeg>> {
    let bad = || Error::BadTreePath(s.to_string());
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        rest = rest.strip_prefix('[').ok_or_else(bad)?;
        if let Some(r) = rest.strip_prefix('"') {
            let end = r.find("\"]").ok_or_else(bad)?;
            out.push(PathSeg::Key(r[..end].to_string()));
            rest = &r[end + 2..];
        } else {
            let end = rest.find(']').ok_or_else(bad)?;
            out.push(PathSeg::Index(
                rest[..end].trim().parse().map_err(|_| bad())?,
            ));
            rest = &rest[end + 1..];
        }
    }
    Ok(out)
}

/// Current time as sops writes `lastmodified`: RFC 3339, UTC, whole seconds.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    rfc3339_from_unix(secs as i64)
}

/// Seconds since the Unix epoch of an RFC 3339 time (`lastmodified`): `Z` or a numeric
/// offset, fractional seconds ignored. `None` when it does not parse.
pub fn unix_from_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())
            .flatten()
    };
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        r if r.len() == 6 && (r.starts_with('+') || r.starts_with('-')) => {
            let h: i64 = r.get(1..3)?.parse().ok()?;
            let mi: i64 = r.get(4..6)?.parse().ok()?;
            let o = h * 3600 + mi * 60;
            if r.starts_with('-') { -o } else { o }
        }
        _ => return None,
    };
    // days-from-civil (Howard Hinnant)
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hh * 3600 + mm * 60 + ss - offset)
}

pub fn rfc3339_from_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Convert a plaintext document to another format: its data only (comments and layout do
/// not carry over; see [`crate::convert`]). sops does the same for `--output-type`.
///
/// # Errors
/// Parse errors; an input that is already encrypted; a target that cannot hold the data.
pub fn convert(plain: &[u8], from: Format, to: Format) -> Result<Vec<u8>> {
    if from == to {
        return Ok(plain.to_vec());
    }
    if from == Format::Binary || to == Format::Binary {
        return Err(Error::Unsupported(
            "binary data cannot be converted to or from a structured format".into(),
        ));
    }
    let src = utf8(plain)?;
    let p = parse_parts(src, from)?;
    if p.metadata.is_some() {
        return Err(Error::AlreadyEncrypted);
    }
    // sops converts the first document of a YAML stream only; refuse rather than drop data
    if let Rest::Yaml(y) = &p.rest
        && y.docs.iter().filter(|d| d.has_root).count() > 1
    {
        return Err(Error::Unsupported(
            "converting a multi-document YAML stream is not supported".into(),
        ));
    }
    use crate::convert::Shape;
    // sops' YAML reader puts a value's line comment (`k: v # c`) before the entry
    let mut order: Vec<&Leaf> = p.leaves.iter().collect();
    for i in 1..order.len() {
        let (prev, l) = (order[i - 1], order[i]);
        if from == Format::Yaml
            && l.ctx.inline
            && l.value.as_ref().is_some_and(Value::is_comment)
            && !prev.value.as_ref().is_some_and(Value::is_comment)
            && prev.index_path.len() == l.index_path.len() + 1
            && matches!(prev.index_path.last(), Some(PathSeg::Key(_)))
        {
            order.swap(i - 1, i);
        }
    }
    let tree = crate::convert::build(order.into_iter().map(|l| {
        let shape = match (l.ctx.quote, &l.value) {
            (b'{', None) => Shape::EmptyMap,
            (b'[', None) => Shape::EmptyList,
            (_, Some(Value::Comment(_))) if l.ctx.in_seq => Shape::SeqComment,
            _ => Shape::Value,
        };
        (l.index_path.as_slice(), l.value.clone(), shape)
    }))?;
    Ok(crate::convert::emit(&tree, to)?.into_bytes())
}

/// Metadata only (for `filestatus` and tools): `None` when the file has no sops metadata.
pub fn read_metadata(input: &[u8], format: Format) -> Result<Option<Metadata>> {
    let src = utf8(input)?;
    let m: Option<Meta> = parse_parts(src, format)?.metadata;
    m.map(|m| Metadata::from_meta(&m)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (tests/tamper.rs): sops parses `lastmodified` and `version` while loading
    /// the metadata, so a missing or garbled one is invalid metadata (exit 1) even when no key
    /// would decrypt the file (exit 128 came first here before; a missing version passed).
    #[test]
    fn missing_lastmodified_or_version_is_bad_metadata_before_any_key() {
        let id = ::age::x25519::Identity::generate();
        let opts = EncryptOptions {
            groups: vec![vec![KeySpec::Age(id.to_public().to_string())]],
            shamir_threshold: None,
            selector: Default::default(),
            mac_only_encrypted: false,
            now: "2026-01-01T00:00:00Z".into(),
            backends: Default::default(),
        };
        let enc = encrypt(b"a: b\n", Format::Yaml, &opts).unwrap().bytes;
        let enc = String::from_utf8(enc).unwrap();
        let no_keys = KeySources::default();
        let dopts = DecryptOptions::default();
        // intact: the failure is about keys
        let err = decrypt(enc.as_bytes(), Format::Yaml, &no_keys, &dopts).unwrap_err();
        assert!(!matches!(err, Error::BadMetadata(_)), "{err}");
        for broken in [
            enc.replace("    lastmodified: \"2026-01-01T00:00:00Z\"\n", ""),
            enc.replace("2026-01-01T00:00:00Z", "yesterday"),
            enc.lines()
                .filter(|l| !l.starts_with("    version:"))
                .map(|l| format!("{l}\n"))
                .collect(),
        ] {
            assert_ne!(broken, enc);
            let err = decrypt(broken.as_bytes(), Format::Yaml, &no_keys, &dopts).unwrap_err();
            assert!(matches!(err, Error::BadMetadata(_)), "{err}");
        }
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339_from_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_from_unix(1_764_115_200), "2025-11-26T00:00:00Z");
        assert_eq!(go_rfc3339("2026-05-22T20:16:23.5Z"), "2026-05-22T20:16:23Z");
        assert_eq!(go_rfc3339("2026-05-22T20:16:23Z"), "2026-05-22T20:16:23Z");
    }

    #[test]
    fn tree_paths() {
        assert_eq!(
            parse_tree_path("[\"a\"][0][\"b c\"]").unwrap(),
            vec![
                PathSeg::Key("a".into()),
                PathSeg::Index(0),
                PathSeg::Key("b c".into())
            ]
        );
        assert!(parse_tree_path("a.b").is_err());
    }
}

#[cfg(test)]
mod time_tests {
    use super::*;

    #[test]
    fn rfc3339_round_trips() {
        for secs in [0, 86_399, 951_782_400, 1_700_000_000, 4_102_444_800] {
            let t = rfc3339_from_unix(secs);
            assert_eq!(unix_from_rfc3339(&t), Some(secs), "{t}");
        }
        assert_eq!(
            unix_from_rfc3339("2024-01-01T01:00:00.123+01:00"),
            unix_from_rfc3339("2024-01-01T00:00:00Z")
        );
        for bad in [
            "",
            "2024-13-01T00:00:00Z",
            "2024-01-01T00:00:00",
            "yesterday",
        ] {
            assert_eq!(unix_from_rfc3339(bad), None, "{bad}");
        }
    }
}
