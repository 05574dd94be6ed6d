//! Round-trip property tests for JSON and dotenv (YAML, INI and TOML have theirs beside their
//! modules and in tests/roundtrip.rs): generated documents with every value kind, nesting,
//! escapes, comments, quoting variants, CRLF and odd whitespace decrypt to the same bytes.

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

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

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
