//! The command line as a user meets it: exit codes (sops' numbers), in-place and --output
//! writes, stdin, creation rules, filestatus, --extract, and that errors never show values.

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

fn key_env() -> Vec<(&'static str, String)> {
    vec![("SOPS_AGE_KEY_FILE", key1_file())]
}

fn sops_rs(args: &[&str], cwd: &std::path::Path) -> std::process::Output {
    let k = key1_file();
    run(
        &bin(),
        args,
        cwd,
        &[("SOPS_AGE_KEY_FILE", k.as_str())],
        None,
    )
}

const PLAIN: &str =
    "# config\ndb:\n  user: admin\n  password: canary-cli-7f3a # the secret\n  port: 5432\n";

#[test]
fn exit_codes_follow_sops() {
    let d = scratch("cli-codes");
    fs::write(d.join("a.yaml"), PLAIN).unwrap();
    let code = |args: &[&str]| sops_rs(args, &d).status.code();
    assert_eq!(code(&["decrypt", "missing.yaml"]), Some(100));
    assert_eq!(
        code(&[
            "encrypt", "-i", "--output", "x.yaml", "--age", KEY1_PUB, "a.yaml"
        ]),
        Some(8)
    );
    assert_eq!(
        code(&["decrypt", "a.yaml"]),
        Some(1),
        "plaintext has no metadata"
    );
    let enc = sops_rs(&["encrypt", "--age", KEY1_PUB, "a.yaml"], &d);
    assert!(enc.status.success());
    fs::write(d.join("e.yaml"), &enc.stdout).unwrap();
    assert_eq!(code(&["encrypt", "--age", KEY1_PUB, "e.yaml"]), Some(203));
    fs::write(d.join("empty.yaml"), "").unwrap();
    assert_eq!(
        code(&["encrypt", "--age", KEY1_PUB, "empty.yaml"]),
        Some(92)
    );
    fs::write(d.join("big.yaml"), "n: 18446744073709551615\n").unwrap();
    assert_eq!(code(&["encrypt", "--age", KEY1_PUB, "big.yaml"]), Some(23));
    // a wrong key: 128, and the report says which group failed
    let k2 = interop_dir().join("keys/key2.txt").display().to_string();
    let out = run(
        &bin(),
        &["decrypt", "e.yaml"],
        &d,
        &[("SOPS_AGE_KEY_FILE", &k2)],
        None,
    );
    assert_eq!(out.status.code(), Some(128));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Group 0: FAILED"));
    // a tampered value: 25, naming the path, never the value
    let text = String::from_utf8(enc.stdout.clone()).unwrap();
    let i = text.find("password: ENC[AES256_GCM,data:").unwrap()
        + "password: ENC[AES256_GCM,data:".len();
    let mut bytes = text.into_bytes();
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    fs::write(d.join("t.yaml"), &bytes).unwrap();
    let out = sops_rs(&["decrypt", "t.yaml"], &d);
    assert_eq!(out.status.code(), Some(25));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[\"db\"][\"password\"]"), "{err}");
    assert!(!err.contains("canary") && out.stdout.is_empty(), "{err}");
    // stdin encryption needs --filename-override
    let out = run(
        &bin(),
        &["encrypt", "--age", KEY1_PUB],
        &d,
        &[],
        Some(PLAIN.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(8));
}

#[test]
fn in_place_keeps_mode_and_round_trips() {
    let d = scratch("cli-inplace");
    let f = d.join("s.yaml");
    fs::write(&f, PLAIN).unwrap();
    fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
    assert!(
        sops_rs(&["encrypt", "-i", "--age", KEY1_PUB, "s.yaml"], &d)
            .status
            .success()
    );
    let enc = fs::read_to_string(&f).unwrap();
    assert!(!enc.contains("canary-cli-7f3a") && enc.contains("sops:"));
    assert_eq!(
        fs::metadata(&f).unwrap().permissions().mode() & 0o777,
        0o640
    );
    assert!(sops_rs(&["decrypt", "-i", "s.yaml"], &d).status.success());
    assert_eq!(fs::read_to_string(&f).unwrap(), PLAIN);
    // --output to a new file: plaintext is private
    assert!(
        sops_rs(&["encrypt", "-i", "--age", KEY1_PUB, "s.yaml"], &d)
            .status
            .success()
    );
    assert!(
        sops_rs(&["decrypt", "--output", "plain.yaml", "s.yaml"], &d)
            .status
            .success()
    );
    let p = d.join("plain.yaml");
    assert_eq!(fs::read_to_string(&p).unwrap(), PLAIN);
    assert_eq!(
        fs::metadata(&p).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // nothing left behind
    let names: Vec<_> = fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn stdin_extract_filestatus() {
    let d = scratch("cli-misc");
    fs::write(
        d.join("a.json"),
        "{\"a\": {\"b\": \"canary-json\", \"n\": [1, 2.5]}}\n",
    )
    .unwrap();
    let enc = sops_rs(&["encrypt", "--age", KEY1_PUB, "a.json"], &d);
    assert!(enc.status.success());
    fs::write(d.join("e.json"), &enc.stdout).unwrap();
    let st = sops_rs(&["filestatus", "e.json"], &d);
    assert_eq!(
        String::from_utf8_lossy(&st.stdout),
        "{\"encrypted\":true}\n"
    );
    let st = sops_rs(&["filestatus", "a.json"], &d);
    assert_eq!(
        String::from_utf8_lossy(&st.stdout),
        "{\"encrypted\":false}\n"
    );
    let x = sops_rs(&["decrypt", "--extract", "[\"a\"][\"b\"]", "e.json"], &d);
    assert_eq!(x.stdout, b"canary-json");
    let x = sops_rs(&["decrypt", "--extract", "[\"a\"][\"n\"][1]", "e.json"], &d);
    assert_eq!(x.stdout, b"2.5\n");
    assert_eq!(
        sops_rs(&["decrypt", "--extract", "a.b", "e.json"], &d)
            .status
            .code(),
        Some(91)
    );
    let k = key1_file();
    let out = run(
        &bin(),
        &["decrypt", "--input-type", "json"],
        &d,
        &[("SOPS_AGE_KEY_FILE", &k)],
        Some(&enc.stdout),
    );
    assert_eq!(out.stdout, fs::read(d.join("a.json")).unwrap());
    let out = run(
        &bin(),
        &[
            "encrypt",
            "--filename-override",
            "x.yaml",
            "--age",
            KEY1_PUB,
        ],
        &d,
        &[],
        Some(PLAIN.as_bytes()),
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("sops:\n"));
}

#[test]
fn creation_rules_pick_keys_and_selectors() {
    let d = scratch("cli-rules");
    fs::create_dir_all(d.join("secrets")).unwrap();
    fs::write(
        d.join(".sops.yaml"),
        format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {KEY1_PUB}\n    encrypted_regex: ^password$\n  - path_regex: .*\n    age: age1nomatchnomatchnomatch\n"),
    )
    .unwrap();
    fs::write(d.join("secrets/a.yaml"), PLAIN).unwrap();
    let out = sops_rs(&["encrypt", "secrets/a.yaml"], &d);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("user: admin") && text.contains("encrypted_regex: ^password$"),
        "{text}"
    );
    assert!(!text.contains("canary-cli-7f3a"));
    // .sops-rs.yaml wins over .sops.yaml, and is found from the file's directory upward
    fs::write(
        d.join("secrets/.sops-rs.yaml"),
        format!("creation_rules:\n  - age: {KEY1_PUB}\n"),
    )
    .unwrap();
    let out = run(
        &bin(),
        &["encrypt", d.join("secrets/a.yaml").to_str().unwrap()],
        &root(),
        &[],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unencrypted_suffix: _unencrypted"));
    let _ = key_env();
}

#[test]
fn version_and_help() {
    let out = run(&bin(), &["--version"], &root(), &[], None);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("sops-rs "));
    let out = run(&bin(), &["decrypt", "--help"], &root(), &[], None);
    assert!(String::from_utf8_lossy(&out.stdout).contains("--extract"));
}

#[test]
fn a_name_that_says_nothing_is_read_by_content() {
    let d = scratch("cli-detect");
    let k = key1_file();
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    for (vector, expected) in [
        ("yaml-basic.yaml", "yaml-basic.out"),
        ("json-basic.json", "json-basic.out"),
        ("dotenv-basic.env", "dotenv-basic.out"),
        ("ini-basic.ini", "ini-basic.out"),
        ("binary-basic.bin", "binary-basic.out"),
    ] {
        std::fs::copy(
            interop_dir().join("vectors").join(vector),
            d.join("secrets.enc"),
        )
        .unwrap();
        let out = run(
            &bin(),
            &["--verbose", "decrypt", "secrets.enc"],
            &d,
            &env,
            None,
        );
        assert!(
            out.status.success(),
            "{vector}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            out.stdout,
            std::fs::read(interop_dir().join("expected").join(expected)).unwrap(),
            "{vector}"
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("the content reads as"));
    }
}

#[test]
fn the_bundled_example_decrypts_to_its_plaintext() {
    let k = root().join("examples/key.txt").display().to_string();
    let out = run(
        &bin(),
        &["decrypt", "examples/secrets.enc.yaml"],
        &root(),
        &[("SOPS_AGE_KEY_FILE", k.as_str())],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        out.stdout,
        std::fs::read(root().join("examples/secrets.yaml")).unwrap()
    );
}
