//! Fuzz target bodies, shared by the cargo-fuzz targets in `fuzz/` (nightly) and the stable
//! corpus and proptest runner in `tests/fuzz_corpus.rs`, so that CI runs the same code over the
//! same inputs without a nightly toolchain.
//!
//! Every function takes arbitrary bytes, ignores errors and must never panic: a panic (or an
//! abort, a stack overflow, a hang) is the bug the fuzzer reports. Where an invariant is cheap
//! to state (a parsed token writes back to text that parses to the same token), it is asserted,
//! so that a violation is a crash too. No key material lives here: the decrypt target takes its
//! keys from the caller.

use crate::document::{self, DecryptOptions};
use crate::format::{self, Format, PathSeg};
use crate::keys::KeySources;
use crate::pathedit;

/// The text formats with a parser of their own.
const TEXT_FORMATS: [Format; 5] = [
    Format::Yaml,
    Format::Json,
    Format::Dotenv,
    Format::Ini,
    Format::Toml,
];

/// Values `set` writes in the `pathedit` target: a string, a number, null, a subtree.
const SET_VALUES: [&str; 5] = [
    "\"v\"",
    "-1.5e3",
    "null",
    "{\"k\": [1, true, \"s\"], \"m\": {}}",
    "\"line\\none\"",
];

/// Lossy text: invalid UTF-8 becomes U+FFFD, so that the parsers still see the rest.
fn text(data: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// A small, stable hash of the input, to pick among choices without spending input bytes.
fn pick(data: &[u8]) -> usize {
    data.iter().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(*b))
    })
}

/// The YAML parser.
pub fn yaml(data: &[u8]) {
    let s = text(data);
    let _ = format::yaml::parse(&s);
    let _ = format::yaml::outline(&s);
}

/// The JSON parser.
pub fn json(data: &[u8]) {
    let _ = format::json::parse(&text(data));
}

/// The dotenv parser.
pub fn dotenv(data: &[u8]) {
    let _ = format::dotenv::parse(&text(data));
}

/// The INI parser.
pub fn ini(data: &[u8]) {
    let _ = format::ini::parse(&text(data));
}

/// The TOML parser.
pub fn toml(data: &[u8]) {
    let _ = format::toml::parse(&text(data));
}

/// The `ENC[...]` token parser; a parsed token must write back to text that parses to it.
pub fn enc_token(data: &[u8]) {
    let s = text(data);
    if let Some(Ok(token)) = crate::crypto::leaf::Token::parse(&s) {
        let again = token.to_text();
        assert_eq!(
            crate::crypto::leaf::Token::parse(&again),
            Some(Ok(token)),
            "a parsed token does not read back from its own text"
        );
    }
}

/// The metadata parser (`sops:` tree to [`crate::metadata::Metadata`]) in every format, and
/// the content sniffing that picks a format for an encrypted file.
pub fn metadata(data: &[u8]) {
    for f in TEXT_FORMATS.into_iter().chain([Format::Binary]) {
        let _ = document::read_metadata(data, f);
    }
    let _ = Format::detect_encrypted(data);
    let _ = Format::detect_plain(data);
}

/// `set` and `unset` on an arbitrary document, in every format, at a path taken from the
/// document's own leaves (so that edits reach real entries), below it, and beside it.
pub fn pathedit(data: &[u8]) {
    let h = pick(data);
    let value = SET_VALUES[h % SET_VALUES.len()];
    for f in TEXT_FORMATS {
        let mut paths = vec![vec![PathSeg::Key("a".into())], vec![PathSeg::Index(0)]];
        if let Some(p) = leaf_path(data, f, h) {
            let mut below = p.clone();
            below.push(PathSeg::Key("new".into()));
            let mut beside = p.clone();
            if let Some(last) = beside.last_mut() {
                *last = match last {
                    PathSeg::Key(k) => PathSeg::Key(format!("{k}_")),
                    PathSeg::Index(i) => PathSeg::Index(*i + 1),
                };
            }
            paths.extend([p, below, beside]);
        }
        for p in &paths {
            if let Ok(Some(out)) = pathedit::set(data, f, p, value) {
                // what set wrote must read back in its own format
                let _ = pathedit::unset(&out, f, p);
            }
            let _ = pathedit::unset(data, f, p);
        }
    }
}

fn leaf_path(data: &[u8], f: Format, h: usize) -> Option<Vec<PathSeg>> {
    let s = std::str::from_utf8(data).ok()?;
    let leaves = match f {
        Format::Yaml => format::yaml::parse(s).ok()?.leaves,
        Format::Json => format::json::parse(s).ok()?.leaves,
        Format::Dotenv => format::dotenv::parse(s).ok()?.leaves,
        Format::Ini => format::ini::parse(s).ok()?.leaves,
        Format::Toml => format::toml::parse(s).ok()?.leaves,
        Format::Binary => return None,
    };
    let n = leaves.len();
    (n > 0).then(|| leaves[(h / 7) % n].index_path.clone())
}

/// The whole decrypt path with the caller's keys, in every format (a mutated file may no longer
/// sniff as what it was): metadata, data key unwrap, every value, the MAC (checked, or ignored
/// when the input's last byte is odd, so that both paths are reached).
pub fn decrypt(sources: &KeySources, data: &[u8]) {
    let opts = DecryptOptions {
        ignore_mac: data.last().is_some_and(|b| b & 1 == 1),
        extract: None,
    };
    let _ = Format::detect_encrypted(data);
    for f in TEXT_FORMATS.into_iter().chain([Format::Binary]) {
        let _ = document::decrypt(data, f, sources, &opts);
    }
}
