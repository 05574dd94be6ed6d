//! Each of the six selectors, set by a creation rule, picks the same values to encrypt in
//! sops-rs as in the real sops, and both tools read each other's files.

mod common;

use common::*;

/// Count the encrypted values and comments before the metadata.
fn tokens(enc: &str) -> usize {
    enc.split("\nsops:")
        .next()
        .unwrap_or("")
        .matches("ENC[AES256_GCM")
        .count()
}

#[test]
fn selectors_match_sops() {
    let src = std::fs::read(root().join("testdata/selectors/app.yaml")).unwrap();
    let k = key1_file();
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    let mut failures = Vec::new();
    for (key, value) in [
        ("unencrypted_suffix", "_unencrypted"),
        ("encrypted_suffix", "_secret"),
        ("unencrypted_regex", "^(public|metadata)$"),
        ("encrypted_regex", "^(data|secret)$"),
        ("unencrypted_comment_regex", "sops:nocrypt"),
        ("encrypted_comment_regex", "sops:nocrypt"),
    ] {
        let d = scratch(&format!("sel-{key}"));
        std::fs::write(d.join("app.yaml"), &src).unwrap();
        std::fs::write(
            d.join(".sops.yaml"),
            format!("creation_rules:\n  - age: {KEY1_PUB}\n    {key}: '{value}'\n"),
        )
        .unwrap();
        let ours = run(&bin(), &["encrypt", "app.yaml"], &d, &[], None);
        let theirs = run_sops(&["encrypt", "app.yaml"], &d, &[]);
        assert!(
            ours.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&ours.stderr)
        );
        assert!(
            theirs.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&theirs.stderr)
        );
        let (o, t) = (
            String::from_utf8_lossy(&ours.stdout),
            String::from_utf8_lossy(&theirs.stdout),
        );
        if tokens(&o) != tokens(&t) {
            failures.push(format!(
                "{key}: sops-rs encrypted {} values, sops {}",
                tokens(&o),
                tokens(&t)
            ));
        }
        if !o.contains(&format!("{key}: ")) {
            failures.push(format!("{key}: not written to the metadata"));
        }
        std::fs::write(d.join("ours.yaml"), &ours.stdout).unwrap();
        std::fs::write(d.join("theirs.yaml"), &theirs.stdout).unwrap();
        let a = run_sops(&["decrypt", "ours.yaml"], &d, &env);
        let b = run_sops(&["decrypt", "theirs.yaml"], &d, &env);
        if !a.status.success() || a.stdout != b.stdout {
            failures.push(format!(
                "{key}: sops reads other data from ours: {}",
                String::from_utf8_lossy(&a.stderr)
            ));
        }
        let back = run(&bin(), &["decrypt", "ours.yaml"], &d, &env, None);
        if back.stdout != src {
            failures.push(format!("{key}: our round trip is not exact"));
        }
        let mine = run(&bin(), &["decrypt", "theirs.yaml"], &d, &env, None);
        if mine.stdout != b.stdout {
            failures.push(format!("{key}: we print sops' file differently from sops"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
