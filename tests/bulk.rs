//! Many files at once: `encrypt`/`decrypt` with several files, `--recursive`, `--output-dir`
//! and `-i`; every file is attempted and each failure is named.

mod common;

use std::path::Path;
use std::process::Output;

use common::{KEY1_PUB, bin, isolated_scratch, key1_file, run};

fn ours(args: &[&str], dir: &Path) -> Output {
    run(
        &bin(),
        args,
        dir,
        &[("SOPS_AGE_KEY_FILE", &key1_file())],
        None,
    )
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn plain(i: usize) -> String {
    match i % 3 {
        0 => format!("# file {i}\nname: canary-bulk-{i}\nn: {i}\n"),
        1 => format!("{{\n  \"name\": \"canary-bulk-{i}\"\n}}\n"),
        _ => format!("NAME=canary-bulk-{i}\n"),
    }
}

fn ext(i: usize) -> &'static str {
    ["yaml", "json", "env"][i % 3]
}

#[test]
fn a_thousand_files_with_one_bad_one() {
    let d = isolated_scratch("bulk-1000");
    std::fs::write(
        d.join(".sops-rs.yaml"),
        format!("creation_rules:\n  - path_regex: ^in/\n    age: {KEY1_PUB}\n"),
    )
    .unwrap();
    let n = 1000;
    for i in 0..n {
        let sub = d.join(format!("in/d{}", i % 10));
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("f{i}.{}", ext(i))), plain(i)).unwrap();
    }
    // a file no rule matches stays plaintext, and is not decrypted either
    std::fs::write(d.join("in/../other.yaml"), "k: canary-bulk-other\n").unwrap();
    let out = ours(&["encrypt", "-r", "-i", "in"], &d);
    assert!(out.status.success(), "{}", err(&out));
    assert!(
        err(&out).contains(&format!("encrypted {n} of {n} files")),
        "{}",
        err(&out)
    );
    let sample = std::fs::read_to_string(d.join("in/d7/f7.json")).unwrap();
    assert!(sample.contains("ENC[") && !sample.contains("canary"));

    // one file in the middle is damaged: it fails by name, every other file completes
    let bad = d.join("in/d5/f505.json");
    let text = std::fs::read_to_string(&bad).unwrap();
    std::fs::write(
        &bad,
        text.replacen("ENC[AES256_GCM,data:", "ENC[AES256_GCM,data:AA", 1),
    )
    .unwrap();
    let out = ours(&["decrypt", "-r", "in", "--output-dir", "out"], &d);
    assert_eq!(out.status.code(), Some(25), "{}", err(&out));
    let e = err(&out);
    assert!(e.contains("in/d5/f505.json"), "{e}");
    assert!(
        e.contains(&format!("decrypted {} of {n} files", n - 1)),
        "{e}"
    );
    assert!(!e.contains("canary"), "{e}");
    for i in 0..n {
        let p = d.join(format!("out/d{}/f{i}.{}", i % 10, ext(i)));
        if i == 505 {
            assert!(!p.exists());
            continue;
        }
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            plain(i),
            "{}",
            p.display()
        );
        let mode =
            std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&p).unwrap().permissions());
        assert_eq!(mode & 0o777, 0o600, "plaintext output must be private");
    }
    assert!(!d.join("out/other.yaml").exists());
}

#[test]
fn several_files_in_place_and_argument_errors() {
    let d = isolated_scratch("bulk-args");
    for i in 0..3 {
        std::fs::write(d.join(format!("f{i}.{}", ext(i))), plain(i)).unwrap();
    }
    let out = ours(
        &[
            "encrypt", "--age", KEY1_PUB, "-i", "f0.yaml", "f1.json", "f2.env",
        ],
        &d,
    );
    assert!(out.status.success(), "{}", err(&out));
    let out = ours(&["decrypt", "-i", "f0.yaml", "f1.json", "f2.env"], &d);
    assert!(out.status.success(), "{}", err(&out));
    for i in 0..3 {
        assert_eq!(
            std::fs::read_to_string(d.join(format!("f{i}.{}", ext(i)))).unwrap(),
            plain(i)
        );
    }
    // several files to stdout, --output with several files, a directory without -r
    for args in [
        &["decrypt", "f0.yaml", "f1.json"][..],
        &["decrypt", "--output", "x", "-i", "f0.yaml", "f1.json"],
        &["decrypt", "--output-dir", "o", "-i", "f0.yaml"],
    ] {
        let out = ours(args, &d);
        assert_eq!(out.status.code(), Some(8), "{args:?}: {}", err(&out));
    }
    std::fs::create_dir(d.join("dir")).unwrap();
    let out = ours(&["decrypt", "--output-dir", "o", "dir"], &d);
    assert_eq!(out.status.code(), Some(100), "{}", err(&out));
    assert!(err(&out).contains("--recursive"));
    // two inputs that would land on one output
    std::fs::create_dir(d.join("a")).unwrap();
    std::fs::copy(d.join("f0.yaml"), d.join("a/f0.yaml")).unwrap();
    let abs = d.join("a/f0.yaml").display().to_string();
    let abs2 = d.join("f0.yaml").display().to_string();
    let out = ours(&["decrypt", "--output-dir", "o", &abs, &abs2], &d);
    assert_eq!(out.status.code(), Some(8), "{}", err(&out));
}
