//! sops' own functional tests (getsops/sops `functional-tests/`), reproduced for sops-rs on
//! their PGP-encrypted fixtures: testdata/sops-functional (see its README). The fixtures'
//! public test key is imported into a throw-away GnuPG home; the real sops is the oracle.

mod common;
#[path = "common/gpg.rs"]
mod gpg;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use common::*;
use gpg::GpgHome;
use sops_rs::keys::{Backends, KeySpec, pgp};
use sops_rs::{EncryptOptions, Format};

/// The primary key the fixtures are encrypted to (secret key in the test key file).
const FP1: &str = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4";
/// Key 2 of the test key file (secret key included).
const FP2: &str = "D7229043384BCC60326C6FB9D8720D957C3D3074";
/// Key 3: only its public key is in the file (sops' "missing decryption key" case).
const FP3: &str = "B611A2F9F11D0FF82568805119F9B5DAEA91FF86";

fn fixtures() -> PathBuf {
    root().join("testdata/sops-functional")
}

fn home() -> GpgHome {
    let h = GpgHome::new();
    h.import_file(&fixtures().join("sops_functional_tests_key.asc"));
    h
}

/// A scratch dir holding a copy of the fixture `name`.
fn copy_fixture(name: &str, tag: &str) -> PathBuf {
    let dir = isolated_scratch(tag);
    std::fs::copy(fixtures().join(name), dir.join(name)).unwrap();
    dir
}

fn rs(h: &GpgHome, dir: &Path, args: &[&str]) -> Output {
    let gh = h.path_str();
    run(&bin(), args, dir, &[("GNUPGHOME", gh.as_str())], None)
}

fn real(h: &GpgHome, dir: &Path, args: &[&str]) -> Output {
    let gh = h.path_str();
    let mut a = vec!["--disable-version-check"];
    a.extend_from_slice(args);
    run(&sops(), &a, dir, &[("GNUPGHOME", gh.as_str())], None)
}

fn ok(o: Output, what: &str) -> Vec<u8> {
    assert!(
        o.status.success(),
        "{what} exited {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

/// sops' `decrypt_format`: each fixture format decrypts to exactly what sops prints.
#[test]
fn decrypt_each_format_like_sops() {
    let h = home();
    let want: [(&str, &[u8]); 4] = [
        ("format.enc.yaml", b"foo: bar\n"),
        ("format.enc.json", b"{\n\t\"foo\": \"bar\"\n}\n"),
        ("format.enc.env", b""),
        ("format.enc.ini", b"[foo]\nbar = baz\n"),
    ];
    for (name, literal) in want {
        let dir = copy_fixture(name, "functional-format");
        let oracle = ok(real(&h, &dir, &["decrypt", name]), "sops decrypt");
        if !literal.is_empty() {
            assert_eq!(oracle, literal, "the oracle's output for {name}");
        }
        let got = ok(rs(&h, &dir, &["decrypt", name]), name);
        assert_eq!(got, oracle, "{name}: {}", first_difference(&got, &oracle));
    }
}

/// sops' `decrypt_file_no_mac`: refused without --ignore-mac, decrypted with it.
#[test]
fn a_file_without_mac_needs_ignore_mac() {
    let h = home();
    let dir = copy_fixture("no_mac.yaml", "functional-nomac");
    let out = rs(&h, &dir, &["decrypt", "no_mac.yaml"]);
    assert!(!out.status.success(), "decrypted a file without a MAC");
    assert!(out.stdout.is_empty());
    let got = ok(
        rs(&h, &dir, &["decrypt", "--ignore-mac", "no_mac.yaml"]),
        "--ignore-mac",
    );
    let oracle = ok(
        real(&h, &dir, &["decrypt", "--ignore-mac", "no_mac.yaml"]),
        "sops --ignore-mac",
    );
    assert_eq!(got, oracle);
}

/// sops' `decrypt_comments`: encrypted comments come back.
#[test]
fn encrypted_comments_decrypt() {
    let h = home();
    let dir = copy_fixture("comments.enc.yaml", "functional-comments");
    let got = ok(rs(&h, &dir, &["decrypt", "comments.enc.yaml"]), "decrypt");
    let text = String::from_utf8(got.clone()).unwrap();
    assert!(text.contains("first comment in file"), "{text}");
    assert!(text.contains("this-is-a-comment"), "{text}");
    let oracle = ok(real(&h, &dir, &["decrypt", "comments.enc.yaml"]), "sops");
    assert_eq!(got, oracle, "{}", first_difference(&got, &oracle));
}

/// sops' `extract_string`, on a fixture.
#[test]
fn extract_a_value() {
    let h = home();
    let dir = copy_fixture("format.enc.yaml", "functional-extract");
    let got = ok(
        rs(
            &h,
            &dir,
            &["decrypt", "--extract", "[\"foo\"]", "format.enc.yaml"],
        ),
        "extract",
    );
    assert_eq!(got, b"bar");
}

/// sops' `set_*`: set keeps the data key (no gpg call needed to re-wrap) and sops reads it.
#[test]
fn set_a_value_then_sops_decrypts_it() {
    let h = home();
    for name in ["format.enc.yaml", "format.enc.json"] {
        let dir = copy_fixture(name, "functional-set");
        ok(rs(&h, &dir, &["set", name, "[\"foo\"]", "\"baz\""]), "set");
        let text = String::from_utf8(std::fs::read(dir.join(name)).unwrap()).unwrap();
        assert!(
            !text.contains("baz"),
            "set wrote the value in clear: {text}"
        );
        let oracle = String::from_utf8(ok(real(&h, &dir, &["decrypt", name]), "sops")).unwrap();
        assert!(oracle.contains("baz"), "{oracle}");
        assert!(!oracle.contains("bar"), "{oracle}");
    }
}

/// rotate re-wraps a new data key for the fixture's PGP key through gpg; sops reads it.
#[test]
fn rotate_rewraps_with_gpg_and_sops_decrypts() {
    let h = home();
    let dir = copy_fixture("format.enc.yaml", "functional-rotate");
    let before = std::fs::read_to_string(dir.join("format.enc.yaml")).unwrap();
    ok(rs(&h, &dir, &["rotate", "-i", "format.enc.yaml"]), "rotate");
    let after = std::fs::read_to_string(dir.join("format.enc.yaml")).unwrap();
    assert_ne!(before, after);
    assert!(after.contains(&format!("fp: {FP1}")), "{after}");
    assert_eq!(
        ok(real(&h, &dir, &["decrypt", "format.enc.yaml"]), "sops"),
        b"foo: bar\n"
    );
    assert_eq!(
        ok(rs(&h, &dir, &["decrypt", "format.enc.yaml"]), "decrypt"),
        b"foo: bar\n"
    );
}

fn encrypt_with(h: &GpgHome, groups: &[&[&str]], plain: &str) -> Vec<u8> {
    let o = EncryptOptions {
        groups: groups
            .iter()
            .map(|g| {
                g.iter()
                    .map(|fp| KeySpec::Pgp(pgp::Key::parse(fp).unwrap()))
                    .collect()
            })
            .collect(),
        shamir_threshold: None,
        selector: Default::default(),
        mac_only_encrypted: false,
        now: "2026-01-01T00:00:00Z".into(),
        backends: Backends {
            pgp: h.settings(),
            timeout: Duration::from_secs(30),
            ..Backends::default()
        },
    };
    sops_rs::encrypt(plain.as_bytes(), Format::Yaml, &o)
        .unwrap()
        .bytes
}

/// sops' `roundtrip_shamir`: two key groups of one PGP key each.
#[test]
fn roundtrip_shamir() {
    let h = home();
    let dir = isolated_scratch("functional-shamir");
    std::fs::write(
        dir.join("s.yaml"),
        encrypt_with(&h, &[&[FP1], &[FP2]], "a: secret\n"),
    )
    .unwrap();
    let got = ok(rs(&h, &dir, &["decrypt", "s.yaml"]), "decrypt");
    assert_eq!(got, b"a: secret\n");
    let oracle = ok(real(&h, &dir, &["decrypt", "s.yaml"]), "sops");
    assert_eq!(oracle, b"a: secret\n");
}

/// sops' `roundtrip_shamir_missing_decryption_key`: the second group's secret key is absent.
#[test]
fn roundtrip_shamir_missing_decryption_key() {
    let h = home();
    let dir = isolated_scratch("functional-shamir-missing");
    std::fs::write(
        dir.join("s.yaml"),
        encrypt_with(&h, &[&[FP1], &[FP3]], "a: secret\n"),
    )
    .unwrap();
    let out = rs(&h, &dir, &["decrypt", "s.yaml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{stderr}");
    assert!(stderr.contains("Group 0: SUCCESS"), "{stderr}");
    assert!(stderr.contains("Group 1: FAILED"), "{stderr}");
    assert!(stderr.contains(&format!("pgp {FP3}")), "{stderr}");
    assert!(out.stdout.is_empty());
    // and sops agrees
    assert!(!real(&h, &dir, &["decrypt", "s.yaml"]).status.success());
}
