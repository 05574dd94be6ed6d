//! Round-trip property tests for JSON, dotenv, INI, TOML and multi-document YAML (single YAML
//! documents have theirs in tests/roundtrip.rs): generated documents with every value kind,
//! nesting, escapes, comments, quoting variants, CRLF and odd whitespace decrypt to the same
//! bytes; and for INI, TOML and multi-document YAML, re-encrypting with one value changed
//! (`reencrypt`) changes only that value's bytes and the `mac`/`lastmodified` lines (and the
//! preservation record, whose AAD is bound to `lastmodified`).

mod common;

use common::*;
use proptest::prelude::*;
use sops_rs::keys::KeySources;
use sops_rs::{DecryptOptions, EncryptOptions, Format};

fn sources() -> KeySources {
    key1_sources()
}

fn opts() -> EncryptOptions {
    key1_encrypt_options()
}

fn round_trip(text: &str, format: Format) -> Result<(), String> {
    let enc = sops_rs::encrypt(text.as_bytes(), format, &opts()).map_err(|e| e.to_string())?;
    let dec = sops_rs::decrypt(&enc.bytes, format, &sources(), &DecryptOptions::default())
        .map_err(|e| e.to_string())?;
    if dec.bytes != text.as_bytes() {
        return Err(format!(
            "decrypted:\n{}",
            String::from_utf8_lossy(&dec.bytes)
        ));
    }
    Ok(())
}

/// A JSON value as text, up to `depth` levels, with random spacing inside.
fn json_value(depth: u32) -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        "[a-zA-Z0-9 ]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("\"\\u00e9\\n\\t\\\"q\\\" <&>\"".to_string()),
        Just("\"é日本😀\"".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        prop_oneof![
            Just("1.0"),
            Just("-0.5"),
            Just("1e21"),
            Just("2.5E-3"),
            Just("0")
        ]
        .prop_map(String::from),
        prop_oneof![Just("true"), Just("false"), Just("null")].prop_map(String::from),
    ];
    leaf.prop_recursive(depth, 24, 4, |inner| {
        let ws = prop_oneof![Just(""), Just(" "), Just("\n  "), Just("\r\n\t")];
        prop_oneof![
            (prop::collection::vec(inner.clone(), 0..4), ws.clone())
                .prop_map(|(items, w)| format!("[{w}{}{w}]", items.join(&format!(",{w}")))),
            (prop::collection::vec(("[a-z]{1,6}", inner), 0..4), ws).prop_map(|(entries, w)| {
                let body: Vec<String> = entries
                    .iter()
                    .enumerate()
                    .map(|(i, (k, v))| format!("\"{k}{i}\":{w}{v}"))
                    .collect();
                format!("{{{w}{}{w}}}", body.join(&format!(",{w}")))
            }),
        ]
    })
}

fn json_doc() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(("[a-z]{1,6}", json_value(3)), 1..5),
        prop_oneof![Just("\n"), Just("\r\n"), Just("")],
        prop_oneof![Just("  "), Just("\t"), Just("    ")],
    )
        .prop_map(|(entries, nl, ind)| {
            let body: Vec<String> = entries
                .iter()
                .enumerate()
                .map(|(i, (k, v))| format!("{ind}\"{k}{i}\": {v}"))
                .collect();
            format!("{{{nl}{}{nl}}}{nl}", body.join(&format!(",{nl}")))
        })
}

/// dotenv in sops' dialect: KEY=value lines (the value is everything after the first `=`),
/// `#` comments, blank lines; values with quotes, spaces, `=`, `#`, `$` and `\n` escapes.
fn dotenv_doc() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[a-zA-Z0-9 _.:/-]{0,16}",
        Just("\"double quoted\"".to_string()),
        Just("'single'".to_string()),
        Just("a=b#c $HOME ${X}".to_string()),
        Just("line1\\nline2".to_string()),
        Just("  lead and trail  ".to_string()),
        Just("é日本😀".to_string()),
    ];
    let line = prop_oneof![
        4 => ("[A-Z][A-Z0-9_]{0,8}", value).prop_map(|(k, v)| format!("{k}={v}")),
        1 => "[a-zA-Z0-9 ]{0,20}".prop_map(|c| format!("#{c}")),
        1 => Just(String::new()),
        1 => Just("export TOKEN=abc".to_string()),
    ];
    (prop::collection::vec(line, 1..10), any::<bool>()).prop_map(|(lines, final_nl)| {
        // keys made unique by position (sops keeps duplicates, but they read confusingly)
        let lines: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, l)| match l.split_once('=') {
                Some((k, v)) if !l.starts_with('#') => format!("{k}_{i}={v}"),
                _ => l.clone(),
            })
            .collect();
        let mut s = lines.join("\n");
        if final_nl {
            s.push('\n');
        }
        s
    })
}

/// INI as go-ini reads it: keys before any section, `[section]` headers (some spaced), `;`/`#`
/// comment lines, separators `=`/`:` with any spacing, indented keys, and plain, quoted,
/// backquoted, `"""` multi-line, empty and non-ASCII values.
fn ini_doc() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[a-zA-Z0-9_.:/-][a-zA-Z0-9 _.:/-]{0,14}[a-zA-Z0-9]",
        Just("\"quoted value \"".to_string()),
        Just("'single'".to_string()),
        Just("`back;quoted#`".to_string()),
        Just("\"\"\"first\nsecond\"\"\"".to_string()),
        Just(String::new()),
        Just("é日本😀".to_string()),
        Just("a=b".to_string()),
    ];
    let sep = prop_oneof![
        Just("="),
        Just(" = "),
        Just(": "),
        Just("  =  "),
        Just("\t=\t"),
        Just(" =")
    ];
    let line = prop_oneof![
        5 => ("[a-z][a-z0-9_]{0,6}", sep, value, prop_oneof![Just(""), Just("  ")])
            .prop_map(|(k, s, v, ind)| format!("{ind}{k}{s}{v}")),
        1 => ("[;#]", "[a-zA-Z0-9 ]{0,16}").prop_map(|(m, c)| format!("{m}{c}")),
        1 => Just(String::new()),
    ];
    let section = (
        "[a-z][a-z0-9]{0,5}",
        any::<bool>(),
        prop::collection::vec(line.clone(), 0..6),
    );
    (
        prop::collection::vec(line, 0..3),
        prop::collection::vec(section, 1..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(pre, sections, crlf, final_nl)| {
            let mut lines = Vec::new();
            // keys unique in the file (sops keeps duplicates, but they read confusingly)
            let mut m = 0;
            let mut key = |l: &String| -> String {
                if l.is_empty() || l.starts_with([';', '#']) {
                    return l.clone();
                }
                let at = l.find(['=', ':', ' ', '\t']).unwrap();
                m += 1;
                format!("{}{m}{}", &l[..at], &l[at..])
            };
            lines.extend(pre.iter().map(&mut key));
            for (i, (name, spaced, body)) in sections.iter().enumerate() {
                lines.push(if *spaced {
                    format!("[ {name}{i} ]")
                } else {
                    format!("[{name}{i}]")
                });
                lines.extend(body.iter().map(&mut key));
            }
            let mut s = lines.join("\n");
            if final_nl {
                s.push('\n');
            }
            if crlf { s.replace('\n', "\r\n") } else { s }
        })
}

/// TOML: top-level keys, tables (some with a spaced header and a comment), arrays of tables;
/// basic, literal and multi-line strings, integers in every base, floats, booleans, datetimes,
/// arrays (also spread over lines) and inline tables; comments and odd spacing.
fn toml_doc() -> impl Strategy<Value = String> {
    let value = prop_oneof![
        "[a-zA-Z0-9 _.:/-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        Just("\"esc \\t \\u00E9 \\\"q\\\" \\\\\"".to_string()),
        Just("'C:\\literal'".to_string()),
        Just("\"\"\"\nmulti\nline \\\n  joined\"\"\"".to_string()),
        Just("'''\nraw\n'''".to_string()),
        any::<i64>().prop_map(|i| i.to_string()),
        prop_oneof![
            Just("0xDEAD_beef"),
            Just("0o17"),
            Just("0b101"),
            Just("1_000"),
            Just("+3")
        ]
        .prop_map(String::from),
        prop_oneof![
            Just("1.0"),
            Just("-0.5e3"),
            Just("inf"),
            Just("nan"),
            Just("6.02E23")
        ]
        .prop_map(String::from),
        prop_oneof![Just("true"), Just("false")].prop_map(String::from),
        prop_oneof![
            Just("1979-05-27T07:32:00Z"),
            Just("1979-05-27T00:32:00.999-07:00"),
            Just("1979-05-27 07:32:00"),
            Just("1979-05-27"),
            Just("07:32:00")
        ]
        .prop_map(String::from),
        Just("[1, \"two\", [3]]".to_string()),
        Just("[\n  \"a\",  # c\n  \"b\",\n]".to_string()),
        Just("{ user = \"u\", pass = \"p\" }".to_string()),
        Just("\"é日本😀\"".to_string()),
    ];
    let eq = prop_oneof![Just(" = "), Just("="), Just("   =\t")];
    let tail =
        prop_oneof![3 => Just(String::new()), 1 => "[a-z ]{0,8}".prop_map(|c| format!(" # {c}"))];
    let line = prop_oneof![
        5 => ("[a-z][a-z0-9_-]{0,6}", eq, value, tail).prop_map(|(k, e, v, t)| format!("{k}{e}{v}{t}")),
        1 => "[a-zA-Z0-9 ]{0,16}".prop_map(|c| format!("#{c}")),
        1 => Just(String::new()),
    ];
    let table = (
        0..3u8,
        "[a-z][a-z0-9]{0,5}",
        prop::collection::vec(line.clone(), 0..5),
    );
    (
        prop::collection::vec(line, 0..5),
        prop::collection::vec(table, 0..4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(top, tables, crlf, final_nl)| {
            let mut n = 0;
            let mut key = |l: &String| -> String {
                if l.is_empty() || l.starts_with('#') {
                    return l.clone();
                }
                let at = l.find([' ', '=']).unwrap();
                n += 1;
                format!("{}{n}{}", &l[..at], &l[at..])
            };
            let mut lines: Vec<String> = top.iter().map(&mut key).collect();
            for (i, (kind, name, body)) in tables.iter().enumerate() {
                lines.push(match kind {
                    0 => format!("[{name}{i}]"),
                    1 => format!("[ {name}{i} . sub ]  # header comment"),
                    _ => format!("[[{name}{i}]]"),
                });
                lines.extend(body.iter().map(&mut key));
            }
            let mut s = lines.join("\n");
            if final_nl {
                s.push('\n');
            }
            if crlf { s.replace('\n', "\r\n") } else { s }
        })
}

/// 2–4 YAML documents from `common::random_yaml`, with `---` (bare, with a comment, after a
/// `...`) and comment lines between them, and an optional `%YAML` directive; one line-end style.
fn multidoc_yaml() -> impl Strategy<Value = String> {
    multidoc_yaml_of(|d| d)
}

/// [`multidoc_yaml`] with each document adjusted by `adjust` first.
fn multidoc_yaml_of(
    adjust: fn(common::random_yaml::Doc) -> common::random_yaml::Doc,
) -> impl Strategy<Value = String> {
    use common::random_yaml::{doc, render};
    let sep = prop_oneof![
        Just("---\n"),
        Just("--- # next\n"),
        Just("...\n---\n"),
        Just("# between\n---\n"),
        Just("...\n# after the end marker\n---\n")
    ];
    (
        prop::collection::vec((doc().prop_map(adjust), sep), 2..4),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(docs, directive, crlf, final_nl)| {
            let mut s = String::new();
            if directive {
                // 1.1: the only version sops' YAML reader (yaml.v3) accepts
                s.push_str("%YAML 1.1\n---\n");
            }
            let last = docs.len() - 1;
            for (i, (mut d, sep)) in docs.into_iter().enumerate() {
                // keys differ between documents (see below)
                for e in &mut d.entries {
                    e.key = format!("{}_d{i}", e.key);
                }
                d.crlf = false;
                d.final_newline = true;
                if i > 0 {
                    // comments differ too, so that each document's are its own
                    s.push_str(
                        &sep.replace("next", &format!("next {i}"))
                            .replace("between", &format!("between {i}"))
                            .replace("marker", &format!("marker {i}")),
                    );
                }
                s.push_str(&render(&d));
                if i == last && !final_nl {
                    s.pop();
                }
            }
            if crlf { s.replace('\n', "\r\n") } else { s }
        })
}

/// Leaves of a parsed document: (span, is a comment), in file order.
fn leaves(src: &str, format: Format) -> Vec<(std::ops::Range<usize>, bool)> {
    leaves_with_ids(src, format)
        .into_iter()
        .map(|(r, c, _)| (r, c))
        .collect()
}

/// Leaves with what the cipher sees of each: AAD, type and plaintext.
fn leaves_with_ids(src: &str, format: Format) -> Vec<(std::ops::Range<usize>, bool, String)> {
    use sops_rs::format::{ini, toml, yaml};
    let ls = match format {
        Format::Yaml => yaml::parse(src).unwrap().leaves,
        Format::Ini => ini::parse(src).unwrap().leaves,
        Format::Toml => toml::parse(src).unwrap().leaves,
        _ => unreachable!(),
    };
    let mut v: Vec<_> = ls
        .into_iter()
        .filter(|l| !l.ctx.alias)
        .map(|l| {
            let id = match &l.value {
                Some(v) => format!(
                    "{}|{}|{}",
                    l.aad(),
                    v.type_name(),
                    String::from_utf8_lossy(&v.to_bytes())
                ),
                None => String::new(),
            };
            (l.span, l.value.as_ref().is_some_and(|v| v.is_comment()), id)
        })
        .collect();
    v.sort_by_key(|(r, _, _)| (r.start, r.end));
    v.dedup_by_key(|(r, _, _)| r.clone());
    v
}

/// Metadata lines that change on every re-encryption (the preservation record may also come
/// or go: the changed value may need one where the old did not, or the reverse).
fn changes_each_time(line: &str) -> bool {
    let l = line.trim_start();
    [
        "mac",
        "lastmodified",
        "sops_mac",
        "sops_lastmodified",
        "sops_rs_preserved",
        "sops_sops_rs_preserved",
    ]
    .iter()
    .any(|k| {
        l.strip_prefix(k)
            .is_some_and(|r| r.starts_with([':', ' ', '=']))
    })
}

/// `a` and `b` are the same text but for lines [`changes_each_time`].
fn same_but_volatile(a: &str, b: &str) -> bool {
    let keep = |s: &str| -> Vec<String> {
        s.lines()
            .filter(|l| !changes_each_time(l))
            .map(String::from)
            .collect()
    };
    keep(a) == keep(b)
}

/// Encrypt `text`, change the `pick`-th value to another, `reencrypt`: every other leaf keeps
/// its exact ciphertext, the bytes between leaves stay, and in the metadata only the lines
/// [`changes_each_time`] differ.
fn reencrypt_changes_one_value(text: &str, format: Format, pick: usize) -> Result<(), String> {
    let enc1 = sops_rs::encrypt(text.as_bytes(), format, &opts())
        .map_err(|e| e.to_string())?
        .bytes;
    let values: Vec<_> = leaves(text, format)
        .into_iter()
        .enumerate()
        .filter(|(_, (r, c))| {
            let t = &text[r.clone()];
            !c && !r.is_empty() && !t.starts_with(['|', '>']) && !t.contains(['\n', '\r'])
        })
        .collect();
    if values.is_empty() {
        return Ok(());
    }
    let (k, (span, _)) = values[pick % values.len()].clone();
    let old = &text[span.clone()];
    let new = match (format, old.as_bytes()[0]) {
        (Format::Toml, _) => "\"changed\"",
        (Format::Yaml, b'"') => "\"changed\"",
        (Format::Yaml, b'\'') => "'changed'",
        _ => "changed",
    };
    if old == new {
        return Ok(());
    }
    let text2 = format!("{}{new}{}", &text[..span.start], &text[span.end..]);
    let enc2 = sops_rs::reencrypt(
        &enc1,
        text2.as_bytes(),
        format,
        &sources(),
        &DecryptOptions::default(),
        "2030-01-01T00:00:00Z",
    )
    .map_err(|e| format!("reencrypt: {e}"))?
    .bytes;
    let (e1, e2) = (
        String::from_utf8(enc1).unwrap(),
        String::from_utf8(enc2.clone()).unwrap(),
    );
    let (l1, l2) = (leaves(&e1, format), leaves(&e2, format));
    if l1.len() != l2.len() {
        return Err(format!("{} leaves before, {} after", l1.len(), l2.len()));
    }
    let ids: Vec<String> = leaves_with_ids(text, format)
        .into_iter()
        .map(|(_, _, id)| id)
        .collect();
    if ids.len() != l1.len() {
        return Err(format!(
            "{} leaves in the plaintext, {} encrypted",
            ids.len(),
            l1.len()
        ));
    }
    let mut at1 = 0;
    let mut at2 = 0;
    for (i, ((r1, _), (r2, _))) in l1.iter().zip(&l2).enumerate() {
        let (g1, g2) = (&e1[at1..r1.start], &e2[at2..r2.start]);
        let (t1, t2) = (&e1[r1.clone()], &e2[r2.clone()]);
        if g1 != g2 && !same_but_volatile(g1, g2) {
            return Err(format!(
                "the bytes before leaf {i} changed: {g1:?} -> {g2:?}"
            ));
        }
        // equal values at one AAD get their remembered IVs back in document order: when the
        // edited leaf was one of them, a later one may take its old IV (and ciphertext)
        let shared = !ids[i].is_empty() && ids[i] == ids[k];
        if i != k && t1 != t2 && !shared {
            return Err(format!(
                "leaf {i} changed (only {k} was edited): {t1} -> {t2}"
            ));
        }
        at1 = r1.end;
        at2 = r2.end;
    }
    if !same_but_volatile(&e1[at1..], &e2[at2..]) {
        return Err(format!(
            "the metadata changed beyond mac/lastmodified:\n{e1}\n----\n{e2}"
        ));
    }
    let dec = sops_rs::decrypt(&enc2, format, &sources(), &DecryptOptions::default())
        .map_err(|e| format!("decrypt after reencrypt: {e}"))?;
    if dec.bytes != text2.as_bytes() {
        return Err(format!(
            "after reencrypt: {}",
            first_difference(&dec.bytes, text2.as_bytes())
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

}

proptest! {
    #![proptest_config(common::random_yaml::config(40))]

    #[test]
    fn ini_round_trips(doc in ini_doc(), pick in any::<usize>()) {
        let r = round_trip(&doc, Format::Ini);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
        let r = reencrypt_changes_one_value(&doc, Format::Ini, pick);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }

    #[test]
    fn toml_round_trips(doc in toml_doc(), pick in any::<usize>()) {
        prop_assume!(!doc.trim().is_empty());
        let r = round_trip(&doc, Format::Toml);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
        let r = reencrypt_changes_one_value(&doc, Format::Toml, pick);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }

    #[test]
    fn multidoc_yaml_round_trips(doc in multidoc_yaml(), pick in any::<usize>()) {
        let r = round_trip(&doc, Format::Yaml);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
        let r = reencrypt_changes_one_value(&doc, Format::Yaml, pick);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }

    #[test]
    fn json_round_trips(doc in json_doc()) {
        let r = round_trip(&doc, Format::Json);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }

    #[test]
    fn dotenv_round_trips(doc in dotenv_doc()) {
        // an empty file is refused, as sops refuses it
        prop_assume!(!doc.is_empty());
        let r = round_trip(&doc, Format::Dotenv);
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }
}

/// After a `---` line, comment lines then a blank line.
fn head_comment_then_blank(doc: &str) -> bool {
    let lines: Vec<&str> = doc.lines().collect();
    lines.iter().enumerate().any(|(i, l)| {
        l.starts_with("---")
            && lines[i + 1..]
                .iter()
                .find(|l| !l.trim_start().starts_with('#'))
                .is_some_and(|l| l.trim().is_empty())
            && lines
                .get(i + 1)
                .is_some_and(|l| l.trim_start().starts_with('#'))
    })
}

/// Differential against the real sops on generated documents: sops reads from our encryption
/// what it reads from its own, and we decrypt sops' encryption to what `sops decrypt` prints.
/// Five tool runs per case, so few cases.
fn same_as_sops(text: &str, ext: &str) -> Result<(), String> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = isolated_scratch(&format!("proptest-sops-{ext}"));
    let n = N.fetch_add(1, Ordering::SeqCst);
    let plain = format!("p{n}.{ext}");
    let (ours, theirs) = (format!("o{n}.{ext}"), format!("s{n}.{ext}"));
    std::fs::write(d.join(&plain), text).unwrap();
    let s = run_sops_ok(&["encrypt", "--age", KEY1_PUB, &plain], &d)?;
    std::fs::write(d.join(&theirs), &s.stdout).unwrap();
    let want = run_sops_ok(&["decrypt", &theirs], &d)?.stdout;
    let o = run_ok(&bin(), &["encrypt", "--age", KEY1_PUB, &plain], &d)?;
    std::fs::write(d.join(&ours), &o.stdout).unwrap();
    let got = run_sops_ok(&["decrypt", &ours], &d)?.stdout;
    if got != want {
        return Err(format!(
            "(a) sops reads other data from ours: {}",
            first_difference(&got, &want)
        ));
    }
    let got = run_ok(&bin(), &["decrypt", &theirs], &d)?.stdout;
    if got != want {
        return Err(format!(
            "(b) we print other bytes than sops: {}",
            first_difference(&got, &want)
        ));
    }
    Ok(())
}

fn last_line_comment_without_newline(doc: &str) -> bool {
    !doc.ends_with('\n')
        && doc
            .lines()
            .last()
            .is_some_and(|l| l.trim_start().starts_with('#'))
}

proptest! {
    #![proptest_config(common::random_yaml::config(12))]

    #[test]
    fn ini_same_as_sops(doc in ini_doc()) {
        let r = same_as_sops(&doc, "ini");
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }

    #[test]
    fn dotenv_same_as_sops(doc in dotenv_doc()) {
        prop_assume!(!doc.is_empty());
        let r = same_as_sops(&doc, "env");
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }

    #[test]
    fn multidoc_yaml_same_as_sops(doc in multidoc_yaml_of(|d| {
        // where sops 3.11 is at fault or sops-rs documents a difference (tests/differential.rs)
        d.without_block_header_comments()
            .without_tab_newline_strings()
            .without_comments_before_null_items()
    })) {
        // yaml.v3 quirk, not compared (as in tests/differential.rs): with CRLF line ends it
        // attaches a comment at column 0 inside a sequence after the next item
        prop_assume!(!doc.contains("\r\n# "));
        // yaml.v3 quirk, not compared: comments after a `---` followed by a blank line are
        // moved into the document before (replacing its last comment); sops-rs keeps them
        prop_assume!(!head_comment_then_blank(&doc));
        // yaml.v3 quirk, not compared (README, Limitations): a comment that is the file's last
        // line, without a final newline, after a nested mapping, is read into that mapping
        prop_assume!(!last_line_comment_without_newline(&doc));
        let r = same_as_sops(&doc, "yaml");
        prop_assert!(r.is_ok(), "{}\ninput: {:?}", r.unwrap_err(), doc);
    }
}
