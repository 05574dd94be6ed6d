//! `check` for pre-commit and CI: plaintext under a rule fails, encrypted files pass,
//! tampered files fail where a key is at hand, stale data keys are flagged, `--staged` reads
//! git's index.

mod common;

use std::path::Path;
use std::process::Output;

use common::{KEY1_PUB, bin, git, key1_file, run, scratch};

fn ours(args: &[&str], dir: &Path, key: bool) -> Output {
    let k = key1_file();
    let envs: Vec<(&str, &str)> = if key {
        vec![("SOPS_AGE_KEY_FILE", k.as_str())]
    } else {
        vec![]
    };
    run(&bin(), args, dir, &envs, None)
}

fn out(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn setup(name: &str, rule_extra: &str) -> std::path::PathBuf {
    let d = scratch(name);
    std::fs::write(
        d.join(".sops-rs.yaml"),
        format!("creation_rules:\n  - path_regex: ^secrets/\n    age: {KEY1_PUB}\n{rule_extra}"),
    )
    .unwrap();
    std::fs::create_dir_all(d.join("secrets")).unwrap();
    std::fs::write(d.join("secrets/a.yaml"), "password: canary-check-1\n").unwrap();
    std::fs::write(d.join("readme.md"), "not a secret\n").unwrap();
    assert!(
        ours(&["encrypt", "-i", "secrets/a.yaml"], &d, false)
            .status
            .success()
    );
    d
}

#[test]
fn plaintext_fails_encrypted_passes_tampered_fails_with_a_key() {
    let d = setup("check-basic", "");
    let o = ours(&["check"], &d, true);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("ok       "), "{}", out(&o));
    assert!(out(&o).contains("MAC verified"), "{}", out(&o));
    assert!(out(&o).contains("1 files checked, 0 failed"), "{}", out(&o));

    // a plaintext file a rule matches
    std::fs::write(d.join("secrets/b.env"), "TOKEN=canary-check-2\n").unwrap();
    let o = ours(&["check"], &d, false);
    assert!(!o.status.success());
    assert!(
        out(&o).contains("secrets/b.env: not encrypted"),
        "{}",
        out(&o)
    );
    assert!(!out(&o).contains("canary"));
    std::fs::remove_file(d.join("secrets/b.env")).unwrap();

    // tampered: without a key only the shape is checked; with one the MAC fails
    let a = d.join("secrets/a.yaml");
    let text = std::fs::read_to_string(&a).unwrap();
    let i = text.find("data:").unwrap() + 5;
    let c = if &text[i..=i] == "A" { "B" } else { "A" };
    std::fs::write(&a, format!("{}{c}{}", &text[..i], &text[i + 1..])).unwrap();
    let o = ours(&["check"], &d, false);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("not verified: no key"));
    let o = ours(&["check", "--verify"], &d, false);
    assert!(!o.status.success());
    let o = ours(&["check"], &d, true);
    assert!(!o.status.success());
    assert!(out(&o).contains("does not verify"), "{}", out(&o));
    assert!(!out(&o).contains("canary"));

    // pre-commit passes file names: unmatched ones are skipped
    let o = ours(&["check", "readme.md"], &d, true);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("0 files checked"), "{}", out(&o));
}

#[test]
fn stale_data_keys_are_flagged() {
    let d = setup("check-stale", "    rotate_after: 30d\n");
    let o = ours(&["check"], &d, true);
    assert!(o.status.success(), "{}", out(&o));
    // a file last written 40 days ago (sops binds the MAC to lastmodified, so re-date it
    // through a rotate at that time is impossible; check with --ignore-mac-free shape only)
    let a = d.join("secrets/a.yaml");
    let text = std::fs::read_to_string(&a).unwrap();
    let old = sops_rs::document::rfc3339_from_unix(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
            - 40 * 86_400,
    );
    let start = text.find("lastmodified: \"").unwrap() + "lastmodified: \"".len();
    let end = start + text[start..].find('"').unwrap();
    std::fs::write(&a, format!("{}{old}{}", &text[..start], &text[end..])).unwrap();
    // without a key the shape and the date are checked
    let o = ours(&["check"], &d, false);
    assert!(!o.status.success());
    assert!(out(&o).contains("rotate_after (30 days)"), "{}", out(&o));
    // a rotation makes it fresh again
    let o = ours(
        &["rotate", "-i", "--ignore-mac", "secrets/a.yaml"],
        &d,
        true,
    );
    assert!(o.status.success(), "{}", out(&o));
    let o = ours(&["check"], &d, true);
    assert!(o.status.success(), "{}", out(&o));
}

#[test]
fn staged_reads_the_index() {
    let d = setup("check-staged", "");
    git(&d, &["init", "-q"]);
    git(&d, &["add", "-A"]);
    let o = ours(&["check", "--staged"], &d, true);
    assert!(o.status.success(), "{}", out(&o));
    assert!(out(&o).contains("1 files checked"), "{}", out(&o));
    // a plaintext secret staged, then encrypted in the work tree but not re-staged: the
    // index is what would be committed
    std::fs::write(d.join("secrets/new.yaml"), "k: canary-check-3\n").unwrap();
    git(&d, &["add", "secrets/new.yaml"]);
    assert!(
        ours(&["encrypt", "-i", "secrets/new.yaml"], &d, false)
            .status
            .success()
    );
    let o = ours(&["check", "--staged"], &d, true);
    assert!(!o.status.success());
    assert!(out(&o).contains("new.yaml: not encrypted"), "{}", out(&o));
    assert!(!out(&o).contains("canary"));
    git(&d, &["add", "secrets/new.yaml"]);
    let o = ours(&["check", "--staged"], &d, true);
    assert!(o.status.success(), "{}", out(&o));
}
