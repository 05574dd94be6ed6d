//! Key management: `rotate`, `updatekeys`, `groups add|delete`, and Shamir key groups made
//! by the real sops (2-of-3, 3-of-3) and by us, read by the other tool.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{bin, interop_dir, isolated_scratch, run, run_sops, sops};

const PLAIN: &str = "db:\n    user: admin\n    password: canary-keys-1\nport: 5432\n";

fn key(n: &str) -> String {
    interop_dir().join("keys").join(n).display().to_string()
}

fn pubkey(n: u8) -> String {
    std::fs::read_to_string(interop_dir().join(format!("keys/key{n}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

fn with_key(prog: &Path, args: &[&str], dir: &Path, keyfile: &str, stdin: Option<&[u8]>) -> Output {
    run(prog, args, dir, &[("SOPS_AGE_KEY_FILE", keyfile)], stdin)
}

fn ours(args: &[&str], dir: &Path, keyfile: &str) -> Output {
    with_key(&bin(), args, dir, keyfile, None)
}

fn decrypts_to(
    prog: &Path,
    file: &str,
    dir: &Path,
    keyfile: &str,
) -> Result<String, (i32, String)> {
    let mut args = vec![];
    if prog == sops() {
        args.push("--disable-version-check");
    }
    args.extend(["decrypt", file]);
    let out = with_key(prog, &args, dir, keyfile, None);
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err((
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ))
    }
}

fn ok(o: &Output) {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn setup(name: &str, recipients: &str) -> (PathBuf, String) {
    let dir = isolated_scratch(name);
    std::fs::write(dir.join("s.yaml"), PLAIN).unwrap();
    ok(&ours(
        &["encrypt", "--age", recipients, "-i", "s.yaml"],
        &dir,
        &key("key1.txt"),
    ));
    let before = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    (dir, before)
}

/// Lines outside the `sops:` block, and the block's `mac`/`lastmodified` lines.
fn values_and_mac(text: &str) -> (Vec<&str>, Vec<&str>) {
    let i = text.find("\nsops:").unwrap();
    let body = text[..i].lines().collect();
    let mac = text[i..]
        .lines()
        .filter(|l| {
            l.trim_start().starts_with("mac:") || l.trim_start().starts_with("lastmodified:")
        })
        .collect();
    (body, mac)
}

#[test]
fn rotate_changes_every_ciphertext_and_keeps_the_values() {
    let (dir, before) = setup("rotate", &pubkey(1));
    ok(&ours(&["rotate", "-i", "s.yaml"], &dir, &key("key1.txt")));
    let after = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    let (b, _) = values_and_mac(&before);
    let (a, _) = values_and_mac(&after);
    for (x, y) in b.iter().zip(&a) {
        if x.contains("ENC[") {
            assert_ne!(x, y, "a value kept its ciphertext");
        }
    }
    assert_eq!(
        decrypts_to(&bin(), "s.yaml", &dir, &key("key1.txt")).unwrap(),
        PLAIN
    );
    assert_eq!(
        decrypts_to(&sops(), "s.yaml", &dir, &key("key1.txt")).unwrap(),
        PLAIN
    );
    // without -i it prints and leaves the file alone
    let out = ours(&["rotate", "s.yaml"], &dir, &key("key1.txt"));
    ok(&out);
    assert_eq!(std::fs::read_to_string(dir.join("s.yaml")).unwrap(), after);
    assert!(String::from_utf8(out.stdout).unwrap().contains("sops:"));
}

#[test]
fn rotate_adds_and_removes_recipients() {
    let (dir, _) = setup("rotate-addrm", &pubkey(1));
    let k2 = pubkey(2);
    ok(&ours(
        &["rotate", "-i", "--add-age", &k2, "s.yaml"],
        &dir,
        &key("key1.txt"),
    ));
    assert_eq!(
        decrypts_to(&bin(), "s.yaml", &dir, &key("key2.txt")).unwrap(),
        PLAIN
    );
    assert_eq!(
        decrypts_to(&sops(), "s.yaml", &dir, &key("key2.txt")).unwrap(),
        PLAIN
    );
    ok(&ours(
        &["rotate", "-i", "--rm-age", &k2, "s.yaml"],
        &dir,
        &key("key1.txt"),
    ));
    // the removed recipient can no longer decrypt (sops' exit 128), the others can
    let (code, err) = decrypts_to(&bin(), "s.yaml", &dir, &key("key2.txt")).unwrap_err();
    assert_eq!(code, 128, "{err}");
    assert!(!err.contains("canary"));
    assert_eq!(
        decrypts_to(&bin(), "s.yaml", &dir, &key("key1.txt")).unwrap(),
        PLAIN
    );
    // removing the last key of a group is refused
    let out = ours(
        &["rotate", "-i", "--rm-age", &pubkey(1), "s.yaml"],
        &dir,
        &key("key1.txt"),
    );
    assert!(!out.status.success());
    assert_eq!(
        decrypts_to(&bin(), "s.yaml", &dir, &key("key1.txt")).unwrap(),
        PLAIN
    );
}

#[test]
fn updatekeys_syncs_with_the_rule_and_leaves_values_mac_and_lastmodified() {
    let (dir, before) = setup("updatekeys", &pubkey(1));
    std::fs::write(
        dir.join(".sops-rs.yaml"),
        format!(
            "creation_rules:\n  - path_regex: \\.yaml$\n    age: {},{}\n",
            pubkey(1),
            pubkey(2)
        ),
    )
    .unwrap();
    // asked, and answered no: unchanged
    let out = with_key(
        &bin(),
        &["updatekeys", "s.yaml"],
        &dir,
        &key("key1.txt"),
        Some(b"n\n"),
    );
    ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("+++ {}", pubkey(2))), "{err}");
    assert_eq!(std::fs::read_to_string(dir.join("s.yaml")).unwrap(), before);
    // no answer at all (a pipeline without -y) is an error, not a yes
    let out = ours(&["updatekeys", "s.yaml"], &dir, &key("key1.txt"));
    assert!(!out.status.success());
    assert_eq!(std::fs::read_to_string(dir.join("s.yaml")).unwrap(), before);

    ok(&ours(
        &["updatekeys", "-y", "s.yaml"],
        &dir,
        &key("key1.txt"),
    ));
    let after = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    assert_eq!(values_and_mac(&before), values_and_mac(&after));
    // key1's wrapped key is kept as it was: the diff is the new recipient only
    let first_enc = |t: &str| {
        t[t.find("enc: |").unwrap()..]
            .lines()
            .take(4)
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(first_enc(&before), first_enc(&after));
    assert_eq!(
        decrypts_to(&bin(), "s.yaml", &dir, &key("key2.txt")).unwrap(),
        PLAIN
    );
    assert_eq!(
        decrypts_to(&sops(), "s.yaml", &dir, &key("key2.txt")).unwrap(),
        PLAIN
    );
    // a second run has nothing to do
    let out = ours(&["updatekeys", "-y", "s.yaml"], &dir, &key("key1.txt"));
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already up to date"));
    assert_eq!(std::fs::read_to_string(dir.join("s.yaml")).unwrap(), after);
}

#[test]
fn updatekeys_walks_a_directory_and_names_failures() {
    let dir = isolated_scratch("updatekeys-dir");
    std::fs::create_dir_all(dir.join("secrets/sub")).unwrap();
    std::fs::write(
        dir.join(".sops-rs.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            pubkey(2)
        ),
    )
    .unwrap();
    for f in ["secrets/a.yaml", "secrets/sub/b.json", "secrets/plain.yaml"] {
        let text = if f.ends_with(".json") {
            "{\"k\": \"canary-keys-2\"}\n"
        } else {
            PLAIN
        };
        std::fs::write(dir.join(f), text).unwrap();
        if !f.contains("plain") {
            ok(&ours(
                &["encrypt", "--age", &pubkey(1), "-i", f],
                &dir,
                &key("key1.txt"),
            ));
        }
    }
    let out = ours(&["updatekeys", "-y", "secrets"], &dir, &key("key1.txt"));
    ok(&out);
    assert!(decrypts_to(&bin(), "secrets/a.yaml", &dir, &key("key2.txt")).is_ok());
    assert!(decrypts_to(&bin(), "secrets/sub/b.json", &dir, &key("key2.txt")).is_ok());
    // key1 was removed by the rule
    assert!(decrypts_to(&bin(), "secrets/a.yaml", &dir, &key("key1.txt")).is_err());
    // the plaintext file was not touched
    assert_eq!(
        std::fs::read_to_string(dir.join("secrets/plain.yaml")).unwrap(),
        PLAIN
    );
    // a file whose key is not available fails, by name, while the others complete
    std::fs::write(
        dir.join(".sops-rs.yaml"),
        format!(
            "creation_rules:\n  - path_regex: ^secrets/\n    age: {}\n",
            pubkey(3)
        ),
    )
    .unwrap();
    std::fs::write(dir.join("secrets/other.yaml"), PLAIN).unwrap();
    ok(&ours(
        &["encrypt", "--age", &pubkey(1), "-i", "secrets/other.yaml"],
        &dir,
        &key("key1.txt"),
    ));
    let out = ours(&["updatekeys", "-y", "secrets"], &dir, &key("key2.txt"));
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("secrets/other.yaml"), "{err}");
    assert!(decrypts_to(&bin(), "secrets/a.yaml", &dir, &key("key3.txt")).is_ok());
}

#[test]
fn groups_add_and_delete() {
    let (dir, before) = setup("groups", &pubkey(1));
    let k12 = key("key1+key2.txt");
    ok(&ours(
        &["groups", "add", "-f", "s.yaml", "-i", "--age", &pubkey(2)],
        &dir,
        &k12,
    ));
    let after = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    assert!(after.contains("shamir_threshold: 2"), "{after}");
    assert_eq!(values_and_mac(&before), values_and_mac(&after));
    assert_eq!(decrypts_to(&bin(), "s.yaml", &dir, &k12).unwrap(), PLAIN);
    assert_eq!(decrypts_to(&sops(), "s.yaml", &dir, &k12).unwrap(), PLAIN);
    // one share is not enough: exit 128 and the group report, no secret
    let (code, err) = decrypts_to(&bin(), "s.yaml", &dir, &key("key1.txt")).unwrap_err();
    assert_eq!(code, 128);
    assert!(
        err.contains("Group 0: SUCCESS") && err.contains("Group 1: FAILED"),
        "{err}"
    );
    // deleting a group would leave a threshold of 2 with one group: refused
    let out = ours(&["groups", "delete", "0", "-f", "s.yaml", "-i"], &dir, &k12);
    assert!(!out.status.success());
    ok(&ours(
        &[
            "groups",
            "delete",
            "0",
            "-f",
            "s.yaml",
            "-i",
            "--shamir-secret-sharing-threshold",
            "1",
        ],
        &dir,
        &k12,
    ));
    assert_eq!(
        decrypts_to(&bin(), "s.yaml", &dir, &key("key2.txt")).unwrap(),
        PLAIN
    );
    assert!(decrypts_to(&bin(), "s.yaml", &dir, &key("key1.txt")).is_err());
}

/// Shamir across three groups, written by the real sops and by us, read by both.
#[test]
fn shamir_groups_interoperate_with_sops() {
    let dir = isolated_scratch("shamir");
    for (t, name) in [(2, "two.yaml"), (3, "three.yaml")] {
        let cfg = format!(
            "creation_rules:\n  - shamir_threshold: {t}\n    key_groups:\n      - age: [{}]\n      - age: [{}]\n      - age: [{}]\n",
            pubkey(1),
            pubkey(2),
            pubkey(3)
        );
        std::fs::write(dir.join(".sops.yaml"), &cfg).unwrap();
        std::fs::write(dir.join(".sops-rs.yaml"), &cfg).unwrap();
        for who in ["sops", "ours"] {
            let file = format!("{who}-{name}");
            std::fs::write(dir.join(&file), PLAIN).unwrap();
            let out = if who == "sops" {
                run_sops(&["encrypt", "-i", &file], &dir, &[])
            } else {
                ours(&["encrypt", "-i", &file], &dir, "/nonexistent")
            };
            ok(&out);
            for reader in [bin(), sops()] {
                for (keys, enough) in [
                    ("key1+key2.txt", t <= 2),
                    ("key2+key3.txt", t <= 2),
                    ("key1.txt", false),
                ] {
                    let r = decrypts_to(&reader, &file, &dir, &key(keys));
                    assert_eq!(
                        r.is_ok(),
                        enough,
                        "{who} wrote {file} (threshold {t}), {} read with {keys}: {r:?}",
                        reader.display()
                    );
                    match r {
                        Ok(p) => assert_eq!(p, PLAIN),
                        Err((code, err)) => {
                            assert_eq!(code, 128, "{err}");
                            assert!(!err.contains("canary"));
                        }
                    }
                }
            }
            // all three shares always work (a file with all keys in one identity file)
            let all = dir.join("all.txt");
            let text: String = ["key1.txt", "key2.txt", "key3.txt"]
                .iter()
                .map(|k| std::fs::read_to_string(key(k)).unwrap())
                .collect();
            std::fs::write(&all, text).unwrap();
            assert_eq!(
                decrypts_to(&bin(), &file, &dir, &all.display().to_string()).unwrap(),
                PLAIN
            );
        }
    }
}

#[test]
fn rotate_takes_several_files_and_directories() {
    let dir = isolated_scratch("rotate-many");
    std::fs::create_dir_all(dir.join("d/sub")).unwrap();
    for f in ["a.yaml", "d/b.yaml", "d/sub/c.yaml"] {
        std::fs::write(dir.join(f), PLAIN).unwrap();
        ok(&ours(
            &["encrypt", "--age", &pubkey(1), "-i", f],
            &dir,
            &key("key1.txt"),
        ));
    }
    std::fs::write(dir.join("d/plain.yaml"), "k: v\n").unwrap();
    let before: Vec<String> = ["a.yaml", "d/b.yaml", "d/sub/c.yaml"]
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap())
        .collect();
    // several files need -i
    let out = ours(&["rotate", "a.yaml", "d"], &dir, &key("key1.txt"));
    assert_eq!(out.status.code(), Some(8));
    let out = ours(
        &["rotate", "-i", "--add-age", &pubkey(2), "a.yaml", "d"],
        &dir,
        &key("key1.txt"),
    );
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("rotated 3 of 3 files"));
    for (f, b) in ["a.yaml", "d/b.yaml", "d/sub/c.yaml"].iter().zip(&before) {
        assert_ne!(&std::fs::read_to_string(dir.join(f)).unwrap(), b, "{f}");
        assert_eq!(
            decrypts_to(&bin(), f, &dir, &key("key2.txt")).unwrap(),
            PLAIN
        );
    }
    // the plaintext file in the directory was left alone
    assert_eq!(
        std::fs::read_to_string(dir.join("d/plain.yaml")).unwrap(),
        "k: v\n"
    );
}
