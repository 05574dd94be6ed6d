//! `set` and `unset` through the CLI: a set changes exactly three lines of the encrypted file
//! (the value, `lastmodified`, `mac`) in every format, counted by `git diff` in a real
//! repository; the results read back with the real sops; sops' flags and exit codes.

mod common;

use std::path::Path;
use std::process::Output;

use common::{KEY1_PUB, bin, git, isolated_scratch, key1_file, run, run_sops};

fn ours(args: &[&str], dir: &Path, stdin: Option<&[u8]>) -> Output {
    run(
        &bin(),
        args,
        dir,
        &[("SOPS_AGE_KEY_FILE", &key1_file())],
        stdin,
    )
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "exit {:?}: {}", o.status.code(), err(o));
}

const FILES: &[(&str, &str, &str, &str)] = &[
    (
        "a.yaml",
        "# app\ndb:\n    user: admin\n    password: canary-set-1\nport: 5432\n",
        "[\"db\"][\"password\"]",
        "db:\n    user: admin\n    password: canary-set-2\n",
    ),
    (
        "a.json",
        "{\n  \"db\": {\n    \"user\": \"admin\",\n    \"password\": \"canary-set-1\"\n  },\n  \"port\": 5432\n}\n",
        "[\"db\"][\"password\"]",
        "\"password\": \"canary-set-2\"",
    ),
    (
        "a.env",
        "# app\nUSER=admin\nPASSWORD=canary-set-1\nPORT=5432\n",
        "[\"PASSWORD\"]",
        "PASSWORD=canary-set-2\n",
    ),
    (
        "a.ini",
        "[db]\nuser = admin\npassword = canary-set-1\n",
        "[\"db\"][\"password\"]",
        "password = canary-set-2\n",
    ),
    (
        "a.toml",
        "[db]\nuser = \"admin\"\npassword = \"canary-set-1\"\nport = 5432\n",
        "[\"db\"][\"password\"]",
        "password = \"canary-set-2\"\n",
    ),
];

#[test]
fn a_set_changes_three_lines_in_every_format() {
    let d = isolated_scratch("set-diff");
    git(&d, &["init", "-q"]);
    for (name, plain, _, _) in FILES {
        std::fs::write(d.join(name), plain).unwrap();
        ok(&ours(&["encrypt", "--age", KEY1_PUB, "-i", name], &d, None));
    }
    git(&d, &["add", "-A"]);
    git(&d, &["commit", "-qm", "encrypted"]);
    // a new second for lastmodified
    std::thread::sleep(std::time::Duration::from_millis(1100));
    for (name, _, path, want) in FILES {
        ok(&ours(&["set", name, path, "\"canary-set-2\""], &d, None));
        let numstat = git(&d, &["diff", "--numstat", "--", name]);
        assert_eq!(numstat.trim(), format!("3\t3\t{name}"), "{name}");
        let diff = git(&d, &["diff", "-U0", "--", name]);
        let changed: Vec<&str> = diff
            .lines()
            .filter(|l| l.starts_with('+') && !l.starts_with("+++"))
            .collect();
        assert!(changed.iter().any(|l| l.contains("lastmodified")), "{diff}");
        assert!(changed.iter().any(|l| l.contains("mac")), "{diff}");
        assert!(!diff.contains("canary"), "{diff}");
        let out = ours(&["decrypt", name], &d, None);
        ok(&out);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(want), "{name}: {text}");
        if !name.ends_with(".toml") {
            // the real sops reads the result
            let s = run_sops(
                &["decrypt", name],
                &d,
                &[("SOPS_AGE_KEY_FILE", &key1_file())],
            );
            assert!(s.status.success(), "{name}: {}", err(&s));
            assert!(
                String::from_utf8_lossy(&s.stdout).contains("canary-set-2"),
                "{name}"
            );
        }
    }
}

#[test]
fn set_and_unset_flags_as_sops() {
    let d = isolated_scratch("set-flags");
    std::fs::write(d.join("s.yaml"), "a: 1\nb: canary-set-3\n").unwrap();
    ok(&ours(
        &["encrypt", "--age", KEY1_PUB, "-i", "s.yaml"],
        &d,
        None,
    ));
    // creating a nested path with a subtree
    ok(&ours(
        &["set", "s.yaml", "[\"nest\"][\"m\"]", "{\"k\": [1, true]}"],
        &d,
        None,
    ));
    // the value from stdin, and from a file
    ok(&ours(
        &["set", "--value-stdin", "s.yaml", "[\"b\"]"],
        &d,
        Some(b"\"canary-set-4\""),
    ));
    std::fs::write(d.join("v.json"), "\"canary-set-5\"").unwrap();
    ok(&ours(
        &["set", "--value-file", "s.yaml", "[\"c\"]", "v.json"],
        &d,
        None,
    ));
    let out = ours(&["decrypt", "s.yaml"], &d, None);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "a: 1\nb: canary-set-4\nnest:\n    m:\n        k:\n            - 1\n            - true\nc: canary-set-5\n"
    );
    // --idempotent: the same value leaves the file byte for byte
    let before = std::fs::read(d.join("s.yaml")).unwrap();
    ok(&ours(
        &["set", "--idempotent", "s.yaml", "[\"a\"]", "1"],
        &d,
        None,
    ));
    assert_eq!(std::fs::read(d.join("s.yaml")).unwrap(), before);
    // a value that is not JSON: sops' exit 7, the value not echoed
    let out = ours(&["set", "s.yaml", "[\"a\"]", "canary-not-json"], &d, None);
    assert_eq!(out.status.code(), Some(7), "{}", err(&out));
    assert!(!err(&out).contains("canary"));
    // a bad path: sops' exit 91
    let out = ours(&["set", "s.yaml", "a.b", "1"], &d, None);
    assert_eq!(out.status.code(), Some(91), "{}", err(&out));
    // unset, then unset again: an error unless --idempotent
    ok(&ours(&["unset", "s.yaml", "[\"nest\"]"], &d, None));
    let out = ours(&["unset", "s.yaml", "[\"nest\"]"], &d, None);
    assert!(!out.status.success());
    let before = std::fs::read(d.join("s.yaml")).unwrap();
    ok(&ours(
        &["unset", "--idempotent", "s.yaml", "[\"nest\"]"],
        &d,
        None,
    ));
    assert_eq!(std::fs::read(d.join("s.yaml")).unwrap(), before);
    let out = ours(&["decrypt", "s.yaml"], &d, None);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "a: 1\nb: canary-set-4\nc: canary-set-5\n"
    );
    // the real sops' `set` on our file, read back by us
    let s = run_sops(
        &["set", "s.yaml", "[\"a\"]", "2"],
        &d,
        &[("SOPS_AGE_KEY_FILE", &key1_file())],
    );
    assert!(s.status.success(), "{}", err(&s));
    let out = ours(&["decrypt", "--extract", "[\"a\"]", "s.yaml"], &d, None);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "2\n");
    // no key: sops' exit 128, nothing written
    let before = std::fs::read(d.join("s.yaml")).unwrap();
    let out = run(&bin(), &["set", "s.yaml", "[\"a\"]", "3"], &d, &[], None);
    assert_eq!(out.status.code(), Some(128), "{}", err(&out));
    assert_eq!(std::fs::read(d.join("s.yaml")).unwrap(), before);
}
