//! dotenv, in sops' dialect (`stores/dotenv/store.go`): leaves with exact byte spans, the
//! flattened `sops_…` metadata lines, and sops' rendering of decrypted values.
//!
//! The file is split on `\n` only (a `\r` from CRLF stays in the value). A line is empty,
//! a comment (`#` then the comment text), or `KEY=VALUE` split at the first `=`: the key is
//! the raw text before it, spaces included, and the value the raw rest of the line with
//! each literal `\n` (backslash, n) read as a newline. Values are always strings. There is
//! no quoting and no `export` handling: quotes and `export ` stay part of the value or key.
//!
//! Unlike sops, which drops empty lines, we keep every byte: the leaves' spans and the
//! metadata lines are all the writer needs to splice.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::format::flatten::{flatten, unflatten};
use crate::format::scalar::go_float_val_to_string;
use crate::format::{Leaf, LeafCtx, PathSeg};
use crate::metadata::Meta;
use crate::value::Value;

/// The prefix of every metadata key (`stores.SopsPrefix`).
pub const SOPS_PREFIX: &str = "sops_";

#[derive(Debug, Default)]
pub struct Parsed {
    /// Comments and `KEY=VALUE` entries in file order (never the `sops_` lines).
    ///
    /// A value's span is exactly the bytes after its `=` (up to, not including, the `\n`);
    /// a comment's span is exactly the bytes after its `#`. So encrypting replaces the span
    /// with the bare token (`KEY=` and `#` stay), decrypting with [`render`].
    pub leaves: Vec<Leaf>,
    /// The unflattened `sops_` lines (prefix stripped; maps sorted by key; scalars plain).
    pub metadata: Option<Meta>,
    /// Byte ranges to delete to remove the metadata when decrypting: every `sops_` line with
    /// its line break, adjacent lines merged into one range. When the file does not end
    /// with a newline and the metadata is last, the final range starts at the line break
    /// before the metadata instead, so deleting it takes back the `\n` that
    /// [`crate::format::metadata_tail`] added.
    pub sops_lines: Vec<Range<usize>>,
    /// Where the metadata lines go when encrypting: the end of the file.
    pub insert_at: usize,
    /// The file is not empty and does not end with a newline.
    pub no_final_newline: bool,
    /// Things sops reads differently from most dotenv tools (quotes, `export `, CRLF). They
    /// name keys and line numbers, never values.
    pub warnings: Vec<String>,
}

fn syntax(line: usize, col: usize, msg: &str) -> Error {
    Error::Syntax {
        what: "invalid dotenv",
        line,
        col,
        msg: msg.into(),
    }
}

/// Parse a dotenv file, plaintext or encrypted.
///
/// # Errors
/// A non-empty line that is neither a comment nor contains `=`, or whose key is empty
/// (with its line number; the line itself is not quoted, it may hold a secret). Malformed
/// `sops_` keys (`BadMetadata`, naming the key).
pub fn parse(src: &str) -> Result<Parsed> {
    let mut out = Parsed {
        insert_at: src.len(),
        no_final_newline: !src.is_empty() && !src.ends_with('\n'),
        ..Parsed::default()
    };
    let mut meta_pairs: Vec<(String, String)> = Vec::new();
    // comments since the last entry: sops' comment stack for the selectors
    let mut run: Vec<String> = Vec::new();
    let mut quoted: Vec<String> = Vec::new();
    let mut exported: Vec<String> = Vec::new();
    let mut first_cr: Option<usize> = None;
    let mut pos = 0;
    let mut line_no = 0;
    while pos < src.len() {
        line_no += 1;
        let end = src[pos..].find('\n').map_or(src.len(), |i| pos + i);
        let next = if end < src.len() { end + 1 } else { end };
        let line = &src[pos..end];
        let start = pos;
        pos = next;
        if line.is_empty() {
            continue;
        }
        if first_cr.is_none() && line.ends_with('\r') {
            first_cr = Some(line_no);
        }
        if let Some(text) = line.strip_prefix('#') {
            run.push(text.to_string());
            out.leaves.push(Leaf {
                span: start + 1..end,
                path: Vec::new(),
                value: Some(Value::Comment(text.to_string())),
                // sops puts a comment on the stack before walking it, so a comment that
                // matches `unencrypted_comment_regex` stays plain itself
                comments: run.clone(),
                alt_paths: Vec::new(),
                ctx: LeafCtx {
                    line_start: start,
                    ..LeafCtx::default()
                },
                index_path: Vec::new(),
            });
            continue;
        }
        let Some(eq) = line.find('=') else {
            return Err(syntax(
                line_no,
                1,
                "expected KEY=VALUE, a #comment or an empty line",
            ));
        };
        let key = &line[..eq];
        if key.is_empty() {
            return Err(syntax(line_no, 1, "empty key before '='"));
        }
        let raw = &line[eq + 1..];
        if let Some(mk) = key.strip_prefix(SOPS_PREFIX) {
            meta_pairs.push((mk.to_string(), raw.replace("\\n", "\n")));
            match out.sops_lines.last_mut() {
                Some(r) if r.end == start => r.end = next,
                _ => out.sops_lines.push(start..next),
            }
            continue;
        }
        if key.starts_with("export ") || key.starts_with("export\t") {
            exported.push(key.to_string());
        }
        let rb = raw.as_bytes();
        if rb.len() >= 2 && matches!(rb[0], b'"' | b'\'') && rb[rb.len() - 1] == rb[0] {
            quoted.push(key.to_string());
        }
        out.leaves.push(Leaf {
            span: start + eq + 1..end,
            path: vec![key.to_string()],
            value: Some(Value::Str(raw.replace("\\n", "\n"))),
            comments: std::mem::take(&mut run),
            alt_paths: Vec::new(),
            ctx: LeafCtx {
                line_start: start,
                ..LeafCtx::default()
            },
            index_path: vec![PathSeg::Key(key.to_string())],
        });
    }
    if out.no_final_newline
        && let Some(r) = out.sops_lines.last_mut()
        && r.end == src.len()
        && r.start > 0
        && src.as_bytes()[r.start - 1] == b'\n'
    {
        r.start -= 1;
    }
    if !meta_pairs.is_empty() {
        out.metadata = Some(unflatten(&meta_pairs).map_err(Error::BadMetadata)?);
    }
    if !quoted.is_empty() {
        out.warnings.push(format!(
            "dotenv: the value of {} is wrapped in quotes; sops has no dotenv quoting, so the quotes are part of the value (encrypted with it, and printed back by decrypt)",
            list(&quoted)
        ));
    }
    if !exported.is_empty() {
        out.warnings.push(format!(
            "dotenv: the key {} starts with \"export\"; sops takes it literally, so \"export\" is part of the key name",
            list(&exported)
        ));
    }
    if let Some(n) = first_cr {
        out.warnings.push(format!(
            "dotenv: line {n} ends with a carriage return (CRLF line endings); sops splits lines on \\n only, so the \\r is part of the value"
        ));
    }
    Ok(out)
}

/// `"A", "B" and 3 more` for warnings.
fn list(keys: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = keys
        .iter()
        .take(SHOWN)
        .map(|k| format!("{k:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if keys.len() > SHOWN {
        s.push_str(&format!(" and {} more", keys.len() - SHOWN));
    }
    s
}

/// The metadata as sops writes it into a dotenv file: one `sops_<flat key>=<value>\n` line
/// per scalar, in the tree's order, newlines in values written as the two characters `\n`.
pub fn write_metadata(m: &Meta) -> String {
    let mut out = String::new();
    for (k, v) in flatten(m, SOPS_PREFIX) {
        out.push_str(&k);
        out.push('=');
        out.push_str(&v.replace('\n', "\\n"));
        out.push('\n');
    }
    out
}

/// sops' rendering of a decrypted value in place of its token (`EmitPlainFile`): a string
/// with each newline as the two characters `\n` and every other byte raw; other types (only
/// reachable from files converted from YAML/JSON) through `ValToString`; a comment's text
/// as it is (the `#` before the span stays).
pub fn render(v: &Value) -> String {
    match v {
        Value::Str(s) => s.replace('\n', "\\n"),
        Value::Comment(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) => go_float_val_to_string(*f),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => rfc3339_without_fraction(t),
    }
}

/// Go `t.Format(time.RFC3339)` from the `MarshalText` form: the fractional seconds go.
fn rfc3339_without_fraction(t: &str) -> String {
    let b = t.as_bytes();
    // `YYYY-MM-DDTHH:MM:SS` is 19 bytes; a fraction follows as `.ddd`
    if b.len() > 20 && b[19] == b'.' && b[20].is_ascii_digit() {
        let n = b[20..].iter().take_while(|c| c.is_ascii_digit()).count();
        format!("{}{}", &t[..19], &t[20 + n..])
    } else {
        t.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Cipher, DataKey, Mac, Token};
    use crate::format::splice::{Edit, splice};
    use crate::keys::{self, KeySources, age::Identities};
    use crate::metadata::Metadata;
    use std::collections::BTreeSet;

    const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sops-interop");

    fn read(rel: &str) -> String {
        std::fs::read_to_string(format!("{DIR}/{rel}")).unwrap()
    }

    fn sources(key_file: &str) -> KeySources {
        let mut age = Identities::new();
        age.add_key_text(&read(key_file), "test").unwrap();
        KeySources {
            age,
            ..Default::default()
        }
    }

    fn keys_of(p: &Parsed) -> Vec<String> {
        p.leaves
            .iter()
            .map(|l| match &l.value {
                Some(Value::Comment(_)) => "#".to_string(),
                _ => l.path[0].clone(),
            })
            .collect()
    }

    fn delete(src: &str, ranges: &[Range<usize>]) -> String {
        let edits = ranges.iter().map(|r| Edit::new(r.clone(), "")).collect();
        String::from_utf8(splice(src.as_bytes(), edits).unwrap()).unwrap()
    }

    /// The data lines of a sops file: everything but the `sops_` lines.
    fn data_lines(src: &str) -> String {
        src.split_inclusive('\n')
            .filter(|l| !l.starts_with("sops_"))
            .collect()
    }

    #[test]
    fn basic_vector_leaves_spans_metadata() {
        let src = read("vectors/dotenv-basic.env");
        let p = parse(&src).unwrap();
        assert_eq!(
            keys_of(&p),
            [
                "#",
                "DB_HOST",
                "DB_PORT",
                "DB_PASSWORD",
                "SINGLE",
                "EMPTY",
                "#",
                "API_KEY",
                "URL",
                "EQUALS_IN_VALUE",
                "UNICODE",
                "LOG_LEVEL_unencrypted",
            ]
        );
        for l in &p.leaves {
            let cut = &src[l.span.clone()];
            let line = &src[l.ctx.line_start..];
            let line = &line[..line.find('\n').unwrap()];
            match &l.value {
                Some(Value::Comment(t)) => {
                    assert_eq!(cut, t);
                    assert_eq!(format!("#{cut}"), line);
                    assert!(l.path.is_empty());
                    assert_eq!(l.aad(), ":");
                    assert!(cut.starts_with("ENC[") && cut.ends_with("type:comment]"));
                }
                Some(Value::Str(v)) => {
                    assert_eq!(cut, v);
                    assert_eq!(format!("{}={cut}", l.path[0]), line);
                    assert_eq!(l.aad(), format!("{}:", l.path[0]));
                    assert_eq!(l.index_path, [PathSeg::Key(l.path[0].clone())]);
                    match l.path[0].as_str() {
                        "EMPTY" => assert_eq!(cut, ""),
                        "LOG_LEVEL_unencrypted" => assert_eq!(cut, "debug"),
                        _ => assert!(cut.starts_with("ENC[") && cut.ends_with("type:str]")),
                    }
                }
                _ => panic!("unexpected leaf"),
            }
        }
        // comments seen since the last entry, for the comment selectors
        assert_eq!(p.leaves[1].comments.len(), 1);
        assert!(p.leaves[2].comments.is_empty());
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        assert!(!p.no_final_newline);
        assert_eq!(p.insert_at, src.len());
        // one range: the metadata block at the end
        assert_eq!(p.sops_lines.len(), 1);
        assert_eq!(delete(&src, &p.sops_lines), data_lines(&src));

        let md = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(md.groups.len(), 1);
        let age = &md.groups[0].age[0];
        assert_eq!(
            age.recipient,
            "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66"
        );
        assert!(
            age.enc
                .starts_with("-----BEGIN AGE ENCRYPTED FILE-----\nYWdl")
        );
        assert!(age.enc.ends_with("\n-----END AGE ENCRYPTED FILE-----\n"));
        assert!(!age.enc.contains("\\n"));
        assert_eq!(md.lastmodified, "2026-11-25T20:38:56Z");
        assert!(md.mac.starts_with("ENC[AES256_GCM,data:+iFE6t") && md.mac.ends_with("type:str]"));
        assert_eq!(md.version, "3.11.0");
        assert_eq!(md.selector.key(), "unencrypted_suffix");
        assert_eq!(md.selector.value(), "_unencrypted");
        assert_eq!(md.shamir_threshold, None);
        assert!(!md.mac_only_encrypted);
        assert!(md.extra.is_empty());
    }

    #[test]
    fn write_metadata_reproduces_the_sops_lines() {
        let src = read("vectors/dotenv-basic.env");
        let p = parse(&src).unwrap();
        let md = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        let written = write_metadata(&md.to_meta());
        let ours: BTreeSet<&str> = written.lines().collect();
        let theirs: BTreeSet<&str> = src.lines().filter(|l| l.starts_with("sops_")).collect();
        assert_eq!(ours, theirs);
        assert_eq!(ours.len(), 6);
        // and it reads back to the same metadata
        let again = parse(&format!("A=b\n{written}")).unwrap();
        assert_eq!(again.metadata, p.metadata);
    }

    #[test]
    fn two_groups_vector() {
        let src = read("vectors/two-groups-dotenv.env");
        let p = parse(&src).unwrap();
        assert_eq!(p.leaves.len(), 12);
        let md = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(md.groups.len(), 2);
        assert_eq!(
            md.groups[1].age[0].recipient,
            "age1u3mzl5vfsdlxsf2s0xqqvqueq3y40r2kcldf752yf263z7ezqqjswu80dw"
        );
        assert_eq!(md.shamir_threshold, Some(2));
        assert_eq!(md.lastmodified, "2026-11-25T20:38:57Z");
        let written = write_metadata(&md.to_meta());
        let ours: BTreeSet<&str> = written.lines().collect();
        let theirs: BTreeSet<&str> = src.lines().filter(|l| l.starts_with("sops_")).collect();
        assert_eq!(ours, theirs);
        assert_eq!(delete(&src, &p.sops_lines), data_lines(&src));
    }

    #[test]
    fn export_vector() {
        let src = read("vectors/dotenv-export.env");
        let p = parse(&src).unwrap();
        assert_eq!(keys_of(&p), ["#", "export FOO", "BAZ"]);
        assert_eq!(p.leaves[1].aad(), "export FOO:");
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("\"export FOO\""));
        Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
    }

    #[test]
    fn tampered_vector_parses() {
        let p = parse(&read("vectors/dotenv-tampered-tag.env")).unwrap();
        assert_eq!(p.leaves.len(), 12);
        assert!(p.metadata.is_some());
    }

    /// Decrypt as document.rs will: every encrypted leaf's span replaced by `render`, the
    /// `sops_lines` deleted, the MAC checked. Gives real sops' output byte for byte.
    fn decrypt(src: &str, key_file: &str) -> Result<String> {
        let p = parse(src)?;
        let meta = Metadata::from_meta(p.metadata.as_ref().ok_or(Error::MetadataNotFound)?)?;
        let mut cipher = Cipher::new(keys::unwrap(&meta, &sources(key_file))?);
        let mut mac = Mac::new(meta.mac_only_encrypted);
        let mut edits = Vec::new();
        for l in &p.leaves {
            let v = l.value.as_ref().unwrap();
            let path: Vec<&str> = l.path.iter().map(String::as_str).collect();
            let comments: Vec<&str> = l.comments.iter().map(String::as_str).collect();
            let encrypted = meta.selector.should_encrypt(&path, &comments);
            if !encrypted || v.is_empty() {
                mac.add(v, false);
                continue;
            }
            let (Value::Str(t) | Value::Comment(t)) = v else {
                panic!()
            };
            let tok = Token::parse(t).unwrap().unwrap();
            let value = cipher.decrypt(&tok, &l.aad())?;
            mac.add(&value, true);
            edits.push(Edit::new(l.span.clone(), render(&value)));
        }
        let computed = mac.finish();
        let stored = cipher.decrypt_bytes(
            &Token::parse(&meta.mac).unwrap().unwrap(),
            &meta.lastmodified,
        )?;
        assert_eq!(stored.as_slice(), computed.as_bytes(), "MAC");
        for r in &p.sops_lines {
            edits.push(Edit::new(r.clone(), ""));
        }
        Ok(String::from_utf8(splice(src.as_bytes(), edits).unwrap()).unwrap())
    }

    #[test]
    fn decrypting_real_vectors_gives_sops_output() {
        for (vector, key, expected) in [
            ("dotenv-basic.env", "keys/key1.txt", "dotenv-basic.out"),
            ("dotenv-export.env", "keys/key1.txt", "dotenv-export.out"),
            (
                "two-groups-dotenv.env",
                "keys/key1+key2.txt",
                "two-groups-dotenv-k1k2.out",
            ),
        ] {
            let got = decrypt(&read(&format!("vectors/{vector}")), key).unwrap();
            assert_eq!(got, read(&format!("expected/{expected}")), "{vector}");
        }
        let err = decrypt(&read("vectors/dotenv-tampered-tag.env"), "keys/key1.txt").unwrap_err();
        assert!(err.to_string().contains("authentication failed"), "{err}");
    }

    /// Encrypt as document.rs will (span → token, metadata inserted at `insert_at`), then
    /// decrypt: the original bytes come back, blank lines and missing final newline included.
    #[test]
    fn encrypt_then_decrypt_is_the_identity() {
        let app = read("plaintext/app.env");
        for plain in [
            app.as_str(),
            app.trim_end_matches('\n'),
            "A=1",
            "A=1\n\n",
            "#only a comment",
            "K =  spaced \\n value \r\nM=\"q\"\r\n",
            "MULTI=a\\nb\\\\nc\n#\n# c\nE=\n",
        ] {
            let p = parse(plain).unwrap();
            assert!(p.metadata.is_none());
            let cipher = Cipher::new(DataKey::generate());
            let mut edits = Vec::new();
            for l in &p.leaves {
                let v = l.value.as_ref().unwrap();
                if v.is_empty() || l.path.iter().any(|k| k.ends_with("_unencrypted")) {
                    continue;
                }
                edits.push(Edit::new(
                    l.span.clone(),
                    cipher.encrypt(v, &l.aad()).unwrap().to_text(),
                ));
            }
            let meta = Meta::Map(vec![
                ("lastmodified".into(), Meta::str("2026-01-01T00:00:00Z")),
                (
                    "mac".into(),
                    Meta::str("ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]"),
                ),
                ("version".into(), Meta::str("3.13.2")),
            ]);
            edits.push(Edit::insert(
                p.insert_at,
                crate::format::metadata_tail(plain, p.insert_at, write_metadata(&meta)),
            ));
            let enc = String::from_utf8(splice(plain.as_bytes(), edits).unwrap()).unwrap();
            assert_eq!(enc.ends_with('\n'), plain.ends_with('\n'), "{enc}");

            let q = parse(&enc).unwrap();
            assert!(q.metadata.is_some());
            let mut cipher = cipher;
            let mut edits = Vec::new();
            for l in &q.leaves {
                let (Some(Value::Str(t)) | Some(Value::Comment(t))) = &l.value else {
                    panic!()
                };
                if let Some(Ok(tok)) = Token::parse(t) {
                    let v = cipher.decrypt(&tok, &l.aad()).unwrap();
                    edits.push(Edit::new(l.span.clone(), render(&v)));
                }
            }
            for r in &q.sops_lines {
                edits.push(Edit::new(r.clone(), ""));
            }
            let dec = String::from_utf8(splice(enc.as_bytes(), edits).unwrap()).unwrap();
            assert_eq!(dec, plain);
        }
    }

    #[test]
    fn plaintext_identity_splice() {
        for f in ["plaintext/app.env", "plaintext/export.env"] {
            let src = read(f);
            let p = parse(&src).unwrap();
            let edits = p
                .leaves
                .iter()
                .map(|l| Edit::new(l.span.clone(), src[l.span.clone()].to_string()))
                .collect();
            assert_eq!(splice(src.as_bytes(), edits).unwrap(), src.as_bytes());
            assert!(p.metadata.is_none() && p.sops_lines.is_empty());
        }
    }

    #[test]
    fn plaintext_app_env() {
        let src = read("plaintext/app.env");
        let p = parse(&src).unwrap();
        assert_eq!(
            keys_of(&p),
            [
                "#",
                "DB_HOST",
                "DB_PORT",
                "DB_PASSWORD",
                "SINGLE",
                "EMPTY",
                "#",
                "API_KEY",
                "URL",
                "EQUALS_IN_VALUE",
                "UNICODE",
                "LOG_LEVEL_unencrypted",
            ]
        );
        let v = |i: usize| &src[p.leaves[i].span.clone()];
        assert_eq!(v(0), " Database settings");
        assert_eq!(v(3), "\"p@ss word with spaces\"");
        assert_eq!(v(4), "'single quoted'");
        assert_eq!(v(5), "");
        assert_eq!(v(6), " comment between entries");
        assert_eq!(v(8), "https://example.com/path?a=1&b=2#frag");
        assert_eq!(v(9), "a=b=c");
        assert_eq!(v(10), "grüße ✓");
        assert_eq!(p.insert_at, src.len());
        // the quoted values are reported by key, without their values
        assert_eq!(p.warnings.len(), 1);
        assert!(p.warnings[0].contains("\"DB_PASSWORD\", \"SINGLE\""));
        assert!(!p.warnings[0].contains("p@ss"));
    }

    #[test]
    fn sops_dialect_details() {
        // key keeps its spaces, value its spaces, `\r` and quotes; `\n` becomes a newline
        let p = parse("foo = bar\r\nX=a\\nb\n").unwrap();
        assert_eq!(p.leaves[0].path, ["foo "]);
        assert_eq!(p.leaves[0].aad(), "foo :");
        assert_eq!(p.leaves[0].value, Some(Value::Str(" bar\r".into())));
        assert_eq!(p.leaves[1].value, Some(Value::Str("a\nb".into())));
        assert!(
            p.warnings
                .iter()
                .any(|w| w.contains("line 1 ends with a carriage return"))
        );
        // ENC[ in a plaintext value is just a string; `#` inside a value is not a comment
        let p = parse("A=ENC[x]\nB=v # c\n").unwrap();
        assert_eq!(p.leaves[0].value, Some(Value::Str("ENC[x]".into())));
        assert_eq!(p.leaves[1].value, Some(Value::Str("v # c".into())));
        // an empty comment is a comment with empty text
        let p = parse("#\n").unwrap();
        assert_eq!(p.leaves[0].value, Some(Value::Comment(String::new())));
        assert_eq!(p.leaves[0].span, 1..1);
        // a key named `sops` (no underscore) is data
        let p = parse("sops=1\n").unwrap();
        assert!(p.metadata.is_none() && p.leaves.len() == 1);
        // an indented comment is not a comment in sops: it is a line without `=`
        assert!(parse("  # x\n").is_err());
        // a `#` line containing `=` is still a comment
        let p = parse("#A=1\n").unwrap();
        assert!(p.leaves[0].value.as_ref().unwrap().is_comment());
    }

    #[test]
    fn syntax_errors_name_the_line_not_the_text() {
        let e = parse("A=1\nSECRET_WITHOUT_EQUALS\n").unwrap_err();
        let m = e.to_string();
        assert!(m.contains("line 2"), "{m}");
        assert!(!m.contains("SECRET"), "{m}");
        let e = parse("A=1\n\n=SECRET\n").unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("empty key") && !e.contains("SECRET"),
            "{e}"
        );
        // a CR-only line is not empty for sops either
        assert!(parse("A=1\n\r\nB=2\n").is_err());
        let e = parse("A=1\nsops_a=x\nsops_a__map_b=SECRET\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"a\"") && !e.contains("SECRET"), "{e}");
    }

    #[test]
    fn sops_lines_anywhere_are_metadata() {
        let src = "sops_version=3.13.2\nA=1\n# c\nsops_mac=m\nsops_lastmodified=t\nB=2\n";
        let p = parse(src).unwrap();
        assert_eq!(keys_of(&p), ["A", "#", "B"]);
        assert_eq!(p.sops_lines, [0..20, 28..59]);
        assert_eq!(delete(src, &p.sops_lines), "A=1\n# c\nB=2\n");
        // the comment run is not broken by metadata lines
        assert_eq!(p.leaves[2].comments, [" c"]);
        let Some(Meta::Map(es)) = &p.metadata else {
            panic!()
        };
        let keys: Vec<&str> = es.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["lastmodified", "mac", "version"]);
    }

    #[test]
    fn no_final_newline() {
        let src = "A=1\nsops_mac=m\nsops_version=v";
        let p = parse(src).unwrap();
        assert!(p.no_final_newline);
        assert_eq!(p.sops_lines, vec![3..src.len()]);
        assert_eq!(delete(src, &p.sops_lines), "A=1");
        // a sops-written file ends with a newline: its data keeps its own
        let p = parse("A=1\nsops_version=v\n").unwrap();
        assert_eq!(p.sops_lines, vec![4..19]);
        // only metadata
        let p = parse("sops_version=v").unwrap();
        assert_eq!(p.sops_lines, vec![0..14]);
        let p = parse("A=1").unwrap();
        assert!(p.no_final_newline && p.insert_at == 3);
        let m = Meta::Map(vec![("version".into(), Meta::str("3.13.2"))]);
        let tail =
            |src, p: &Parsed| crate::format::metadata_tail(src, p.insert_at, write_metadata(&m));
        assert_eq!(tail("A=1", &p), "\nsops_version=3.13.2");
        let p = parse("A=1\n").unwrap();
        assert_eq!(tail("A=1\n", &p), "sops_version=3.13.2\n");
        assert!(!parse("").unwrap().no_final_newline);
    }

    #[test]
    fn comment_runs_for_selectors() {
        let p = parse("# a\n# b\nK=v\n# c\nL=w\nM=x\n").unwrap();
        let c: Vec<Vec<String>> = p.leaves.iter().map(|l| l.comments.clone()).collect();
        assert_eq!(
            c,
            [
                vec![" a".to_string()],
                vec![" a".into(), " b".into()],
                vec![" a".into(), " b".into()],
                vec![" c".into()],
                vec![" c".into()],
                vec![],
            ]
        );
    }

    #[test]
    fn write_metadata_escapes_newlines() {
        let m = Meta::Map(vec![
            (
                "age".into(),
                Meta::List(vec![Meta::Map(vec![
                    (
                        "enc".into(),
                        Meta::str("-----BEGIN-----\nAA\n-----END-----\n"),
                    ),
                    ("recipient".into(), Meta::str("age1x")),
                ])]),
            ),
            (
                "shamir_threshold".into(),
                Meta::Scalar {
                    text: "2".into(),
                    plain: true,
                },
            ),
        ]);
        assert_eq!(
            write_metadata(&m),
            "sops_age__list_0__map_enc=-----BEGIN-----\\nAA\\n-----END-----\\n\nsops_age__list_0__map_recipient=age1x\nsops_shamir_threshold=2\n"
        );
    }

    #[test]
    fn render_table_section_3() {
        let s = |x: &str| render(&Value::Str(x.into()));
        assert_eq!(s("with spaces"), "with spaces");
        assert_eq!(s("\"double quoted\""), "\"double quoted\"");
        assert_eq!(s("value # not a comment"), "value # not a comment");
        assert_eq!(s("  lead and trail  "), "  lead and trail  ");
        assert_eq!(s("line1\nline2"), "line1\\nline2");
        assert_eq!(s("tab\there"), "tab\there");
        assert_eq!(s("back\\\\slash"), "back\\\\slash");
        assert_eq!(s("$VAR ${X}"), "$VAR ${X}");
        assert_eq!(s("a\nb\n"), "a\\nb\\n");
        assert_eq!(s("cr\rx"), "cr\rx");
        let f = |x: f64| render(&Value::Float(x));
        assert_eq!(f(1.0), "1.0");
        assert_eq!(f(1e21), "1E+21");
        assert_eq!(f(1e-7), "1E-07");
        assert_eq!(f(1234567.0), "1.234567E+06");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NAN), "NaN");
        assert_eq!(f(-0.0), "-0.0");
        assert_eq!(render(&Value::Int(-5)), "-5");
        assert_eq!(render(&Value::Bool(true)), "true");
        assert_eq!(render(&Value::Bool(false)), "false");
        assert_eq!(
            render(&Value::Time("2024-01-01T00:00:00Z".into())),
            "2024-01-01T00:00:00Z"
        );
        assert_eq!(
            render(&Value::Time("2024-01-01T10:00:00.5+02:00".into())),
            "2024-01-01T10:00:00+02:00"
        );
        assert_eq!(
            render(&Value::Time("2024-01-01T10:00:00.123456789Z".into())),
            "2024-01-01T10:00:00Z"
        );
        assert_eq!(render(&Value::Comment(" text".into())), " text");
    }
}
