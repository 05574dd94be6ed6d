//! Every fixture of `testdata/formats/<format>/` (each format's corner cases; the README there
//! says what each exercises): decrypt(encrypt(x)) == x byte for byte, no `canary-` secret left
//! in clear, and every byte outside the leaf spans kept: between two leaves the encrypted
//! file holds exactly the plaintext's bytes, save for one inserted metadata block.

mod common;

use std::ops::Range;

use common::*;
use sops_rs::Format;

fn fixtures() -> Vec<(String, Format, Vec<u8>)> {
    let base = root().join("testdata/formats");
    let mut out = Vec::new();
    for (dir, format) in [
        ("yaml", Format::Yaml),
        ("json", Format::Json),
        ("dotenv", Format::Dotenv),
        ("ini", Format::Ini),
        ("toml", Format::Toml),
    ] {
        let mut names: Vec<_> = std::fs::read_dir(base.join(dir))
            .unwrap_or_else(|e| panic!("testdata/formats/{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        assert!(names.len() >= 4, "too few {dir} fixtures");
        for p in names {
            let name = format!("{dir}/{}", p.file_name().unwrap().to_string_lossy());
            out.push((name, format, std::fs::read(&p).unwrap()));
        }
    }
    out
}

/// The byte spans of the leaves a format reports (values and comments), in file order;
/// leaves reached through a YAML alias have no bytes of their own and are left out.
pub fn leaf_spans(src: &str, format: Format) -> Vec<Range<usize>> {
    use sops_rs::format::{dotenv, ini, json, toml, yaml};
    let leaves = match format {
        Format::Yaml => yaml::parse(src).unwrap().leaves,
        Format::Json => json::parse(src).unwrap().leaves,
        Format::Dotenv => dotenv::parse(src).unwrap().leaves,
        Format::Ini => ini::parse(src).unwrap().leaves,
        Format::Toml => toml::parse(src).unwrap().leaves,
        Format::Binary => unreachable!(),
    };
    let mut spans: Vec<Range<usize>> = leaves
        .into_iter()
        .filter(|l| !l.ctx.alias)
        .map(|l| l.span)
        .collect();
    spans.sort_by_key(|r| (r.start, r.end));
    spans.dedup();
    spans
}

/// The bytes between leaf spans (before the first, between each two, after the last).
fn gaps<'a>(src: &'a str, spans: &[Range<usize>]) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut at = 0;
    for s in spans {
        out.push(&src[at..s.start.max(at)]);
        at = at.max(s.end);
    }
    out.push(&src[at..]);
    out
}

/// `enc` is `plain` with at most one block inserted that holds the sops metadata.
fn same_but_metadata(plain: &str, enc: &str) -> bool {
    if plain == enc {
        return true;
    }
    let pre = plain
        .bytes()
        .zip(enc.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let suf = plain[pre..]
        .bytes()
        .rev()
        .zip(enc[pre..].bytes().rev())
        .take_while(|(a, b)| a == b)
        .count();
    pre + suf == plain.len() && enc[pre..enc.len() - suf].contains("sops")
}

/// A YAML comment alone on its line inside a sequence is written as an item (`- ENC[…]`),
/// as sops writes it: the indentation before it becomes the item's dash.
fn seq_comment_item(plain: &str, enc: &str) -> bool {
    let (Some(p), Some(e)) = (plain.rfind('\n'), enc.rfind('\n')) else {
        return false;
    };
    plain[..p] == enc[..e]
        && plain[p + 1..].bytes().all(|b| b == b' ')
        && enc[e + 1..].trim_start_matches(' ') == "- "
        && enc.len() - e <= plain.len() - p
}

#[test]
fn every_fixture_round_trips_and_keeps_its_bytes() {
    let sources = key1_sources();
    let opts = key1_encrypt_options();
    let mut failures = Vec::new();
    let all = fixtures();
    for (name, format, plain) in &all {
        let enc = match sops_rs::encrypt(plain, *format, &opts) {
            Ok(o) => o.bytes,
            Err(e) => {
                failures.push(format!("{name}: encrypt failed: {e}"));
                continue;
            }
        };
        let enc_text = String::from_utf8(enc.clone()).unwrap();
        if enc_text.contains("canary-") {
            failures.push(format!("{name}: a secret is left in clear"));
        }
        match sops_rs::decrypt(&enc, *format, &sources, &Default::default()) {
            Ok(o) if o.bytes == *plain => {}
            Ok(o) => {
                failures.push(format!("{name}: {}", first_difference(&o.bytes, plain)));
                continue;
            }
            Err(e) => {
                failures.push(format!("{name}: decrypt failed: {e}"));
                continue;
            }
        }
        // the bytes around the leaves are the plaintext's
        let plain_text = std::str::from_utf8(plain).unwrap();
        if name == "yaml/anchors.yaml" {
            // an alias to an encrypted value is written as an expanded copy (README,
            // Limitations): the encrypted file has more leaves; the round trip above holds
            continue;
        }
        let ps = leaf_spans(plain_text, *format);
        let es = leaf_spans(&enc_text, *format);
        if ps.len() != es.len() {
            failures.push(format!(
                "{name}: {} leaves in the plaintext, {} in the encrypted file",
                ps.len(),
                es.len()
            ));
            continue;
        }
        let mut inserted = 0;
        for (i, (p, e)) in gaps(plain_text, &ps)
            .into_iter()
            .zip(gaps(&enc_text, &es))
            .enumerate()
        {
            if p == e || seq_comment_item(p, e) {
                continue;
            }
            inserted += 1;
            // YAML writes the metadata into every document; other formats once, at the end
            let allowed = *format == Format::Yaml || i == ps.len();
            if !allowed || !same_but_metadata(p, e) {
                failures.push(format!(
                    "{name}: the bytes before leaf {i} changed: {p:?} became {:?}",
                    e.chars().take(200).collect::<String>()
                ));
            }
        }
        if inserted == 0 {
            failures.push(format!("{name}: no metadata block found"));
        }
    }
    assert!(all.len() >= 20, "only {} fixtures", all.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The README of `testdata/formats` has one line per fixture.
#[test]
fn every_fixture_is_described() {
    let readme = std::fs::read_to_string(root().join("testdata/formats/README.md")).unwrap();
    let missing: Vec<String> = fixtures()
        .into_iter()
        .map(|(n, _, _)| n)
        .filter(|n| !readme.contains(&format!("`{n}`")))
        .collect();
    assert!(missing.is_empty(), "not in the README: {missing:?}");
}
