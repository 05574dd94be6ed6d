//! A plaintext file whose name says nothing (`secrets.yaml.enc`, `config.sops`) is encrypted
//! in the format its content reads as (sops would encrypt it as binary), `--verbose` says
//! which and why and how sops can read it, and sops reads what we write with `--input-type`.

mod common;

use common::*;
use sops_rs::Format;

#[test]
fn the_content_picks_the_format_cautiously() {
    let cases: &[(&str, Format)] = &[
        // JSON: an object only
        ("{\"a\": 1}\n", Format::Json),
        ("  {\n  \"a\": [1, {\"b\": null}]\n}", Format::Json),
        ("[1, 2]\n", Format::Binary),
        ("{a: 1}\n", Format::Binary),
        ("{\"a\": 1\n", Format::Binary),
        // dotenv: identifier keys, `=` with nothing before it but the key
        ("A=1\nB_2=x y\n# c\n\nexport_x=3\n", Format::Dotenv),
        ("DB_URL=postgres://u:p@h/db\n", Format::Dotenv),
        ("a.b=1\r\n", Format::Dotenv),
        // INI: headers and `k = v` / `k: v` lines; `;` comments
        ("[db]\nhost = localhost\nport = 5432\n", Format::Ini),
        ("; c\n[db]\nhost: localhost\n", Format::Ini),
        ("[db]\nport = 5432\nok = true\n", Format::Ini),
        ("a = 1\nb = two words\n", Format::Ini),
        // TOML: parses, and uses what only TOML has
        ("[db]\nhost = \"localhost\"\nport = 5432\n", Format::Toml),
        ("title = 'x'\n[a.b]\nk = 1\n", Format::Toml),
        ("[[srv]]\nname = \"a\"\n", Format::Toml),
        ("ports = [1, 2]\n", Format::Toml),
        // YAML: a mapping
        ("a: 1\nb:\n  - x\n", Format::Yaml),
        (
            "# c\n---\napiVersion: v1\nkind: Secret\n---\nb: 2\n",
            Format::Yaml,
        ),
        ("k: [a, b]\n", Format::Yaml),
        // everything else is binary, as for sops
        ("just some words\n", Format::Binary),
        ("- a\n- b\n", Format::Binary),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n",
            Format::Binary,
        ),
        ("", Format::Binary),
        ("\n# only a comment\n", Format::Binary),
        ("[section]\nnot a key line\n", Format::Binary),
        ("KEY=1\nsome words\n", Format::Binary),
    ];
    let mut failures = Vec::new();
    for (text, want) in cases {
        let (got, why) = Format::detect_plain(text.as_bytes());
        if got != *want {
            failures.push(format!("{text:?}: {got:?} ({why}), want {want:?}"));
        }
    }
    assert_eq!(Format::detect_plain(b"a: \xff\n").0, Format::Binary);
    assert_eq!(Format::detect_plain(b"a: 1\0\n").0, Format::Binary);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Each format under a name that says nothing: encrypted in that format, `--verbose` names it
/// and hints at sops; we decrypt it byte for byte; sops decrypts it with `--input-type` to what
/// it prints for the same plaintext under its proper name.
#[test]
fn encrypting_a_name_that_says_nothing() {
    let d = isolated_scratch("detect");
    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "secrets.yaml.enc",
            "yaml",
            "Yaml",
            "# c\ndb:\n  password: hunter2 # pw\n",
        ),
        ("config.sops", "ini", "Ini", "[db]\npassword = hunter2\n"),
        ("env.sops", "dotenv", "Dotenv", "PASSWORD=hunter2\n# c\n"),
        (
            "data.enc",
            "json",
            "Json",
            "{\n  \"password\": \"hunter2\"\n}\n",
        ),
    ];
    let mut failures = Vec::new();
    for (name, ty, debug, plain) in cases {
        std::fs::write(d.join(name), plain).unwrap();
        let out = run(
            &bin(),
            &["--verbose", "encrypt", "--age", KEY1_PUB, name],
            &d,
            &[],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            failures.push(format!("{name}: {err}"));
            continue;
        }
        if !err.contains(&format!("as {debug}")) || !err.contains(&format!("--input-type {ty}")) {
            failures.push(format!("{name}: --verbose does not say {debug}: {err}"));
        }
        let enc = format!("{name}.out");
        std::fs::write(d.join(&enc), &out.stdout).unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        if text.contains("hunter2") || !text.contains("ENC[AES256_GCM") {
            failures.push(format!("{name}: not value-encrypted:\n{text}"));
        }
        // ours, by content again
        match run_ok(&bin(), &["decrypt", &enc], &d) {
            Ok(o) if o.stdout == plain.as_bytes() => {}
            Ok(o) => failures.push(format!(
                "{name}: {}",
                first_difference(&o.stdout, plain.as_bytes())
            )),
            Err(e) => failures.push(e),
        }
        // sops, told the type, prints what it prints for the file under its proper name
        let proper = format!("proper.{}", if *ty == "dotenv" { "env" } else { ty });
        std::fs::write(d.join(&proper), plain).unwrap();
        let sops_enc = run_sops_ok(&["encrypt", "--age", KEY1_PUB, &proper], &d).unwrap();
        std::fs::write(d.join(format!("s.{proper}")), &sops_enc.stdout).unwrap();
        let want = run_sops_ok(&["decrypt", &format!("s.{proper}")], &d)
            .unwrap()
            .stdout;
        match run_sops_ok(
            &["decrypt", "--input-type", ty, "--output-type", ty, &enc],
            &d,
        ) {
            Ok(o) if o.stdout == want => {}
            Ok(o) => failures.push(format!(
                "sops on our {name}: {}",
                first_difference(&o.stdout, &want)
            )),
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Text that reads as no format stays binary, so sops decrypts it without flags; an explicit
/// `--input-type` always wins over the content.
#[test]
fn other_content_stays_binary_and_flags_win() {
    let d = isolated_scratch("detect-binary");
    std::fs::write(d.join("notes.enc"), "just words\nmore words\n").unwrap();
    let out = run(
        &bin(),
        &["--verbose", "encrypt", "--age", KEY1_PUB, "notes.enc"],
        &d,
        &[],
        None,
    );
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("as Binary"));
    std::fs::write(d.join("notes.out"), &out.stdout).unwrap();
    let back = run_sops_ok(&["decrypt", "notes.out"], &d).unwrap();
    assert_eq!(back.stdout, b"just words\nmore words\n");

    // YAML content, but binary asked for: binary, as sops does
    std::fs::write(d.join("y.enc"), "a: 1\n").unwrap();
    let out = run_ok(
        &bin(),
        &[
            "encrypt",
            "--input-type",
            "binary",
            "--age",
            KEY1_PUB,
            "y.enc",
        ],
        &d,
    )
    .unwrap();
    std::fs::write(d.join("y.out"), &out.stdout).unwrap();
    let back = run_sops_ok(&["decrypt", "y.out"], &d).unwrap();
    assert_eq!(back.stdout, b"a: 1\n");
}
