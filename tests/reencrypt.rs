//! Re-encryption keeps ciphertext: after changing one value, only that value's line and the
//! MAC lines (`lastmodified`, `mac`) differ from the previous encrypted file.

mod common;

use common::*;
use sops_rs::keys::KeySources;
use sops_rs::{DecryptOptions, EncryptOptions, Format};

fn sources() -> KeySources {
    key1_sources()
}

fn opts() -> EncryptOptions {
    key1_encrypt_options()
}

fn changed_lines(a: &[u8], b: &[u8]) -> Vec<String> {
    let a = String::from_utf8_lossy(a);
    let b = String::from_utf8_lossy(b);
    let (al, bl): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    assert_eq!(al.len(), bl.len(), "line count changed:\n{a}\n---\n{b}");
    al.iter()
        .zip(bl.iter())
        .filter(|(x, y)| x != y)
        .map(|(x, _)| x.split(':').next().unwrap_or("").trim().to_string())
        .collect()
}

#[test]
fn quiet_diff_yaml_and_json() {
    let cases: [(Format, &str, &str, &str); 2] = [
        (
            Format::Yaml,
            "# c\na: 0x1F # hex\nb:\n  c: \"x\"\n  d: [1, 2]\nlist:\n  - one\n  - two\n",
            "c: \"x\"",
            "c: \"y\"",
        ),
        (
            Format::Json,
            "{\n  \"a\": 1.0,\n  \"b\": {\"c\": \"x\", \"d\": [1, 2]}\n}\n",
            "\"c\": \"x\"",
            "\"c\": \"y\"",
        ),
    ];
    for (fmt, plain, from, to) in cases {
        let enc1 = sops_rs::encrypt(plain.as_bytes(), fmt, &opts())
            .unwrap()
            .bytes;
        let edited = plain.replace(from, to);
        let enc2 = sops_rs::reencrypt(
            &enc1,
            edited.as_bytes(),
            fmt,
            &sources(),
            &DecryptOptions::default(),
            "2026-02-02T00:00:00Z",
        )
        .unwrap()
        .bytes;
        let dec = sops_rs::decrypt(&enc2, fmt, &sources(), &DecryptOptions::default())
            .unwrap()
            .bytes;
        assert_eq!(String::from_utf8(dec).unwrap(), edited);
        let mut changed = changed_lines(&enc1, &enc2);
        changed.sort();
        let expect_key = if fmt == Format::Yaml { "c" } else { "\"b\"" };
        let lm = if fmt == Format::Yaml {
            "lastmodified"
        } else {
            "\"lastmodified\""
        };
        let mac = if fmt == Format::Yaml {
            "mac"
        } else {
            "\"mac\""
        };
        let mut want = vec![expect_key.to_string(), lm.to_string(), mac.to_string()];
        want.sort();
        assert_eq!(changed, want, "{}", String::from_utf8_lossy(&enc2));
        // unchanged plaintext re-encrypts to the identical file but for lastmodified/mac
        let enc3 = sops_rs::reencrypt(
            &enc2,
            edited.as_bytes(),
            fmt,
            &sources(),
            &DecryptOptions::default(),
            "2026-03-03T00:00:00Z",
        )
        .unwrap()
        .bytes;
        assert_eq!(changed_lines(&enc2, &enc3).len(), 2);
    }
}

#[test]
fn reencrypt_checks_the_old_mac() {
    let enc = sops_rs::encrypt(b"a: 1\nb: 2\n", Format::Yaml, &opts())
        .unwrap()
        .bytes;
    let tampered = String::from_utf8(enc)
        .unwrap()
        .replacen("b: ENC", "c: ENC", 1);
    let r = sops_rs::reencrypt(
        tampered.as_bytes(),
        b"a: 1\n",
        Format::Yaml,
        &sources(),
        &DecryptOptions::default(),
        "2026-01-02T00:00:00Z",
    );
    assert!(r.is_err());
}

/// Regression: equal values at one path (list items spelled `True` and `true`) each keep
/// their own IV, so each keeps its own spelling and its own ciphertext after a re-encryption.
#[test]
fn equal_values_at_one_path_keep_their_own_iv() {
    let plain = "l:\n  - True\n  - true\n  - True\nx: 1\n";
    let opts = common::key1_encrypt_options();
    let enc = sops_rs::encrypt(plain.as_bytes(), sops_rs::Format::Yaml, &opts).unwrap();
    let sources = common::key1_sources();
    let edited = plain.replace("x: 1", "x: 2");
    let now = sops_rs::document::now_rfc3339();
    let re = sops_rs::document::reencrypt(
        &enc.bytes,
        edited.as_bytes(),
        sops_rs::Format::Yaml,
        &sources,
        &Default::default(),
        &now,
    )
    .unwrap();
    let out = sops_rs::decrypt(
        &re.bytes,
        sops_rs::Format::Yaml,
        &sources,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(String::from_utf8(out.bytes).unwrap(), edited);
    let a = String::from_utf8(enc.bytes).unwrap();
    let b = String::from_utf8(re.bytes).unwrap();
    let items = |t: &str| {
        t.lines()
            .filter(|l| l.starts_with("  - "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    assert_eq!(items(&a), items(&b));
}
