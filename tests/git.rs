//! The git diff driver, in real temporary repositories (git run with a scratch HOME and no
//! system config): after `sops-rs git setup`, `git diff`, `git log -p` and `git show` print
//! encrypted files as plaintext, other files diff as before, a file that cannot be decrypted
//! shows one marker line and its stored text, and no plaintext ever reaches `.git`.

mod common;

use std::path::Path;

use common::git_repo::Repo;
use common::{KEY1_PUB, bin, run, scratch};

const RULES: &str =
    "creation_rules:\n  - path_regex: secrets/.*\\.enc\\.(yaml|json)$\n    age: KEY\n";

fn app_yaml(version: &str) -> String {
    format!("# the app\ndb:\n  user: admin\n  password: CANARY_{version}_pw # rotated\n")
}

fn db_json(version: &str) -> String {
    format!("{{\n  \"token\": \"CANARY_{version}_json\",\n  \"port\": 5432\n}}\n")
}

const CANARIES: &[&str] = &[
    "CANARY_V1_pw",
    "CANARY_V2_pw",
    "CANARY_V1_json",
    "CANARY_V2_json",
];

fn setup_repo(name: &str) -> Repo {
    let r = Repo::new(name);
    r.write(".sops-rs.yaml", &RULES.replace("KEY", KEY1_PUB));
    r.write_encrypted("secrets/app.enc.yaml", &app_yaml("V1"));
    r.write_encrypted("secrets/db.enc.json", &db_json("V1"));
    // under the rule but not encrypted: passed through as it is
    r.write("secrets/readme.enc.yaml", "note: plain v1\n");
    r.write("notes.txt", "hello v1\n");
    r.setup();
    r.commit("v1");
    r
}

fn lines_with<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

#[test]
fn setup_writes_config_and_attributes() {
    let r = setup_repo("git-setup");
    let attrs = std::fs::read_to_string(r.dir.join(".gitattributes")).unwrap();
    for p in [
        "/secrets/app.enc.yaml diff=sopsrs merge=sopsrs",
        "/secrets/db.enc.json diff=sopsrs merge=sopsrs",
        "/secrets/readme.enc.yaml diff=sopsrs merge=sopsrs",
    ] {
        assert!(attrs.lines().any(|l| l == p), "{p} in:\n{attrs}");
    }
    assert!(!attrs.contains("notes.txt"), "{attrs}");
    // not on PATH in the tests: the absolute path of the binary
    let textconv = r.git_ok(&["config", "--get", "diff.sopsrs.textconv"]);
    let exe = bin().canonicalize().unwrap();
    assert_eq!(textconv.trim(), format!("{} git textconv", exe.display()));
    assert_eq!(
        r.git_ok(&["config", "--get", "diff.sopsrs.cachetextconv"])
            .trim(),
        "false"
    );
    // again: nothing changes
    let o = r.sops_rs(&["git", "setup"]);
    assert!(o.status.success());
    assert_eq!(
        std::fs::read_to_string(r.dir.join(".gitattributes")).unwrap(),
        attrs
    );
    // what other lines the file had stay
    let mut with_user_lines = String::from("*.png binary\n");
    with_user_lines.push_str(&attrs);
    std::fs::write(r.dir.join(".gitattributes"), &with_user_lines).unwrap();
    r.write_encrypted("secrets/new.enc.yaml", "k: CANARY_new\n");
    assert!(r.sops_rs(&["git", "setup"]).status.success());
    let now = std::fs::read_to_string(r.dir.join(".gitattributes")).unwrap();
    assert!(now.starts_with("*.png binary\n# >>> sops-rs"), "{now}");
    assert!(
        now.contains("/secrets/new.enc.yaml diff=sopsrs merge=sopsrs\n"),
        "{now}"
    );
    assert_eq!(now.matches("/secrets/app.enc.yaml").count(), 1);
}

#[test]
fn setup_without_rules_uses_common_patterns_and_global_writes_no_attributes() {
    let r = Repo::new("git-setup-plain");
    let o = r.sops_rs(&["git", "setup"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let attrs = std::fs::read_to_string(r.dir.join(".gitattributes")).unwrap();
    for p in [
        "*.enc.yaml diff=sopsrs merge=sopsrs",
        "*.enc.json diff=sopsrs merge=sopsrs",
        "*.enc.env diff=sopsrs merge=sopsrs",
    ] {
        assert!(attrs.lines().any(|l| l == p), "{p} in:\n{attrs}");
    }
    let g = Repo::new("git-setup-global");
    let o = g.sops_rs(&["git", "setup", "--global"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(!g.dir.join(".gitattributes").exists());
    let global = std::fs::read_to_string(g.home.join(".gitconfig")).unwrap();
    assert!(global.contains("[diff \"sopsrs\"]"), "{global}");
    assert!(global.contains("git textconv"), "{global}");
    // outside a repository, plain setup says what to do
    let outside = scratch("git-setup-outside");
    let env = g.env(false);
    let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ceiling = outside.parent().unwrap().display().to_string();
    envs.push(("GIT_CEILING_DIRECTORIES", &ceiling));
    let o = run(&bin(), &["git", "setup"], &outside, &envs, None);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--global"));
}

#[test]
fn setup_refuses_a_cached_textconv() {
    let r = Repo::new("git-cachetextconv");
    r.git_ok(&["config", "diff.sopsrs.cachetextconv", "true"]);
    let o = r.sops_rs(&["git", "setup"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("cachetextconv") && err.contains("refs/notes/textconv/sopsrs"),
        "{err}"
    );
    assert!(!r.dir.join(".gitattributes").exists());
    assert!(
        r.run_in(
            Path::new("git"),
            &["config", "--get", "diff.sopsrs.textconv"],
            false
        )
        .stdout
        .is_empty(),
        "nothing configured"
    );
    // set at the user's level it counts too
    r.git_ok(&["config", "--unset", "diff.sopsrs.cachetextconv"]);
    r.git_ok(&["config", "--global", "diff.sopsrs.cachetextconv", "yes"]);
    assert_eq!(r.sops_rs(&["git", "setup"]).status.code(), Some(1));
    r.git_ok(&["config", "--global", "--unset", "diff.sopsrs.cachetextconv"]);
    assert!(r.sops_rs(&["git", "setup"]).status.success());
}

#[test]
fn diff_log_and_show_print_plaintext() {
    let r = setup_repo("git-diff");
    r.write_encrypted("secrets/app.enc.yaml", &app_yaml("V2"));
    r.write_encrypted("secrets/db.enc.json", &db_json("V2"));
    r.write("secrets/readme.enc.yaml", "note: plain v2\n");
    r.write("notes.txt", "hello v2\n");

    let diff = r.git_ok(&["diff"]);
    for want in [
        "-  password: CANARY_V1_pw # rotated",
        "+  password: CANARY_V2_pw # rotated",
        "-  \"token\": \"CANARY_V1_json\",",
        "+  \"token\": \"CANARY_V2_json\",",
        "-note: plain v1",
        "+note: plain v2",
        "-hello v1",
        "+hello v2",
    ] {
        assert!(diff.lines().any(|l| l == want), "{want:?} in:\n{diff}");
    }
    // only the changed values: the rest of the plaintext is context, no ciphertext at all
    assert!(!diff.contains("ENC["), "{diff}");
    assert!(!diff.contains("sops-rs: NOT DECRYPTED"), "{diff}");

    r.git_ok(&["commit", "-q", "-a", "-m", "v2"]);
    let log = r.git_ok(&["log", "-p"]);
    for want in [
        "+  password: CANARY_V1_pw # rotated",
        "-  password: CANARY_V1_pw # rotated",
        "+  password: CANARY_V2_pw # rotated",
        "+  \"token\": \"CANARY_V2_json\",",
    ] {
        assert!(log.lines().any(|l| l == want), "{want:?} in:\n{log}");
    }
    assert!(!log.contains("ENC["), "{log}");
    let show = r.git_ok(&["show", "HEAD"]);
    assert!(
        show.lines()
            .any(|l| l == "+  password: CANARY_V2_pw # rotated"),
        "{show}"
    );
    assert!(show.lines().any(|l| l == "+hello v2"), "{show}");
    assert!(!show.contains("ENC["), "{show}");

    // without a key: the marker line, the stored text, and not one plaintext value
    let nokey = r.git_key(&["show", "HEAD"], false);
    // (both sides carry it: it is a context line of each file's diff)
    let markers = nokey
        .lines()
        .filter(|l| l.contains("*** sops-rs: NOT DECRYPTED (no key"))
        .count();
    assert_eq!(markers, 2, "one per encrypted file:\n{nokey}");
    assert!(nokey.contains("ENC[AES256_GCM"), "{nokey}");
    for c in CANARIES {
        assert!(!nokey.contains(c), "{c} without a key:\n{nokey}");
    }
    // plain files are unaffected by the key
    assert!(nokey.lines().any(|l| l == "+hello v2"));

    assert_no_plaintext_in_git(&r);
}

#[test]
fn a_tampered_file_shows_the_marker_and_no_plaintext() {
    let r = setup_repo("git-tampered");
    let p = r.dir.join("secrets/app.enc.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    // flip one character of the password's ciphertext
    let at = text.find("password: ENC[AES256_GCM,data:").unwrap() + 31;
    let mut b = text.into_bytes();
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(&p, b).unwrap();
    let diff = r.git_ok(&["diff"]);
    let markers = lines_with(&diff, "+*** sops-rs: NOT DECRYPTED (tampered");
    assert_eq!(markers.len(), 1, "{diff}");
    // the committed side still decrypts; the tampered side shows no plaintext
    for l in lines_with(&diff, "+") {
        assert!(!l.contains("CANARY"), "{l}");
    }
    assert!(
        diff.lines()
            .any(|l| l == "-  password: CANARY_V1_pw # rotated")
    );
    // git itself did not fail
    assert_no_plaintext_in_git(&r);
}

#[test]
fn textconv_never_fails() {
    let r = setup_repo("git-textconv");
    let run_tc = |file: &str, key: bool| r.run_in(&bin(), &["git", "textconv", file], key);
    // plaintext of an encrypted file
    let o = run_tc("secrets/app.enc.yaml", true);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&o.stdout), app_yaml("V1"));
    // any other file, byte for byte, including non-UTF-8 and a name that says nothing
    let blob: Vec<u8> = (0..=255u8).chain(b"\nsops:\n".iter().copied()).collect();
    std::fs::write(r.dir.join("blob.bin"), &blob).unwrap();
    for (f, want) in [
        ("notes.txt", b"hello v1\n".to_vec()),
        ("secrets/readme.enc.yaml", b"note: plain v1\n".to_vec()),
        ("blob.bin", blob.clone()),
    ] {
        let o = run_tc(f, true);
        assert_eq!(o.status.code(), Some(0), "{f}");
        assert_eq!(o.stdout, want, "{f}");
    }
    // each reason: one marker line, then the file as stored; exit 0
    let stored = std::fs::read_to_string(r.dir.join("secrets/app.enc.yaml")).unwrap();
    // metadata without `lastmodified` (sops refuses it on load; an entry without its
    // recipient, by contrast, sops reads as an empty recipient and decrypts)
    let bad_meta: String = stored
        .lines()
        .filter(|l| !l.trim_start().starts_with("lastmodified:"))
        .map(|l| format!("{l}\n"))
        .collect();
    r.write("bad-meta.enc.yaml", &bad_meta);
    let at = stored.find("mac: ENC[AES256_GCM,data:").unwrap() + 25;
    let mut tampered = stored.clone().into_bytes();
    tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(r.dir.join("tampered.enc.yaml"), &tampered).unwrap();
    for (f, key, reason, body) in [
        ("secrets/app.enc.yaml", false, "no key", stored.as_bytes()),
        ("tampered.enc.yaml", true, "tampered", &tampered[..]),
        (
            "bad-meta.enc.yaml",
            true,
            "bad metadata",
            bad_meta.as_bytes(),
        ),
    ] {
        let o = run_tc(f, key);
        assert_eq!(o.status.code(), Some(0), "{f}");
        let out = o.stdout;
        let nl = out.iter().position(|b| *b == b'\n').unwrap();
        let first = String::from_utf8_lossy(&out[..nl]);
        assert!(
            first.starts_with("*** sops-rs: NOT DECRYPTED (") && first.contains(reason),
            "{f}: {first}"
        );
        assert_eq!(&out[nl + 1..], body, "{f}: the file as stored follows");
        assert!(!String::from_utf8_lossy(&out).contains("CANARY"));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("CANARY"));
    }
    // even a file that is not there
    let o = run_tc("no-such-file.yaml", true);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("*** sops-rs: NOT DECRYPTED"));
}

/// Every object (decompressed by git) and every other file under `.git` is free of canaries,
/// and no textconv cache exists.
fn assert_no_plaintext_in_git(r: &Repo) {
    let o = r.run_in(
        Path::new("git"),
        &["cat-file", "--batch-all-objects", "--batch"],
        false,
    );
    assert!(o.status.success());
    assert!(o.stdout.len() > 1000, "the object store was read");
    let objects = String::from_utf8_lossy(&o.stdout);
    assert!(
        objects.contains("ENC[AES256_GCM"),
        "the encrypted files are stored"
    );
    for c in CANARIES {
        assert!(!objects.contains(c), "{c} in the object store");
    }
    let mut stack = vec![r.dir.join(".git")];
    let mut files = 0;
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files += 1;
                let bytes = std::fs::read(&p).unwrap();
                let text = String::from_utf8_lossy(&bytes);
                for c in CANARIES {
                    assert!(!text.contains(c), "{c} in {}", p.display());
                }
            }
        }
    }
    assert!(files > 10);
    assert!(!r.dir.join(".git/refs/notes").join("textconv").exists());
}

#[test]
fn setup_names_the_command_when_it_is_on_path() {
    let r = Repo::new("git-setup-path");
    let bindir = r.home.join("bin");
    std::fs::create_dir_all(&bindir).unwrap();
    std::os::unix::fs::symlink(bin(), bindir.join("sops-rs")).unwrap();
    let path = format!(
        "{}:{}",
        bindir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let env = r.env(false);
    let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    envs.push(("PATH", &path));
    let o = run(&bin(), &["git", "setup"], &r.dir, &envs, None);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(
        r.git_ok(&["config", "--get", "diff.sopsrs.textconv"])
            .trim(),
        "sops-rs git textconv"
    );
}
