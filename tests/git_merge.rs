//! The git merge driver, in real temporary repositories (git run with a scratch HOME and no
//! system config): after `sops-rs git setup`, two branches that changed different values of
//! one encrypted file merge cleanly (YAML, JSON, dotenv, INI) and the result holds both
//! changes, re-encrypted with our data key so that only the changed values and the MAC lines
//! differ from ours; overlapping changes conflict, naming the key paths and never a value;
//! without the driver (or without a key) git merges as text and conflicts, as before.

mod common;

use std::path::Path;
use std::process::Output;

use common::git_repo::Repo;
use common::{KEY1_PUB, bin, key1_sources};
use sops_rs::document::{DecryptOptions, Opened};
use sops_rs::keys::KeySpec;
use sops_rs::{Format, decrypt, reencrypt};

/// What the merge tests do to a repository beyond the shared helpers.
trait MergeRepo {
    fn edit(&self, rel: &str, plain: &str);
    fn plaintext(&self, rel: &str) -> String;
    fn branches(&self, rel: &str, base: &str, ours: &str, theirs: &str, driver: bool);
    fn merge(&self, key: bool) -> Output;
}

impl MergeRepo for Repo {
    /// Replace the plaintext of an encrypted file as an edit would (same data key, unchanged
    /// values keep their ciphertext).
    #[track_caller]
    fn edit(&self, rel: &str, plain: &str) {
        let enc = self.read(rel);
        let out = reencrypt(
            enc.as_bytes(),
            plain.as_bytes(),
            Format::from_path(Path::new(rel)),
            &key1_sources(),
            &DecryptOptions::default(),
            "2026-02-02T00:00:00Z",
        )
        .unwrap();
        std::fs::write(self.dir.join(rel), out.bytes).unwrap();
    }

    fn plaintext(&self, rel: &str) -> String {
        let out = decrypt(
            self.read(rel).as_bytes(),
            Format::from_path(Path::new(rel)),
            &key1_sources(),
            &DecryptOptions::default(),
        )
        .unwrap();
        String::from_utf8(out.bytes).unwrap()
    }

    /// main and a branch `theirs`, each with its edit of `rel` committed; main checked out.
    /// With `driver`, `git setup` runs once the file exists (it marks the files it finds).
    fn branches(&self, rel: &str, base: &str, ours: &str, theirs: &str, driver: bool) {
        self.write_encrypted(rel, base);
        if driver {
            self.setup();
        }
        self.commit("base");
        self.git_ok(&["checkout", "-q", "-b", "theirs"]);
        self.edit(rel, theirs);
        self.commit("theirs");
        self.git_ok(&["checkout", "-q", "main"]);
        self.edit(rel, ours);
        self.commit("ours");
    }

    fn merge(&self, key: bool) -> Output {
        self.run_in(
            Path::new("git"),
            &["merge", "--no-edit", "-q", "theirs"],
            key,
        )
    }
}

const RULES: &str =
    "creation_rules:\n  - path_regex: secrets/.*\\.enc\\.(yaml|json|env|ini)$\n    age: KEY\n";

/// A repository whose creation rule encrypts `secrets/*.enc.*` to key1.
fn repo(name: &str) -> Repo {
    let r = Repo::new(name);
    r.write(".sops-rs.yaml", &RULES.replace("KEY", KEY1_PUB));
    r
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn assert_no_canary(what: &str, s: &str) {
    assert!(!s.contains("CANARY"), "a value in {what}:\n{s}");
}

/// Lines of `merged` that differ from `ours` (same number of lines).
fn changed_lines<'a>(ours: &str, merged: &'a str) -> Vec<&'a str> {
    assert_eq!(ours.lines().count(), merged.lines().count(), "{merged}");
    ours.lines()
        .zip(merged.lines())
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b)
        .collect()
}

struct Case {
    rel: &'static str,
    base: &'static str,
    ours: &'static str,
    theirs: &'static str,
    merged: &'static str,
    /// The key whose line their change is on (in the encrypted file).
    their_key: &'static str,
}

const CASES: &[Case] = &[
    Case {
        rel: "secrets/app.enc.yaml",
        base: "# the app\ndb:\n    user: CANARY_u1\n    password: CANARY_p1 # rotated\nport: 5432\n",
        ours: "# the app\ndb:\n    user: CANARY_u1\n    password: CANARY_p2 # rotated\nport: 5432\n",
        theirs: "# the app\ndb:\n    user: CANARY_u1\n    password: CANARY_p1 # rotated\nport: 6543\n",
        merged: "# the app\ndb:\n    user: CANARY_u1\n    password: CANARY_p2 # rotated\nport: 6543\n",
        their_key: "port:",
    },
    Case {
        rel: "secrets/db.enc.json",
        base: "{\n  \"token\": \"CANARY_t1\",\n  \"port\": 5432,\n  \"tls\": true\n}\n",
        ours: "{\n  \"token\": \"CANARY_t2\",\n  \"port\": 5432,\n  \"tls\": true\n}\n",
        theirs: "{\n  \"token\": \"CANARY_t1\",\n  \"port\": 5432,\n  \"tls\": false\n}\n",
        merged: "{\n  \"token\": \"CANARY_t2\",\n  \"port\": 5432,\n  \"tls\": false\n}\n",
        their_key: "\"tls\":",
    },
    Case {
        rel: "secrets/app.enc.env",
        base: "# env\nAPI_KEY=CANARY_k1\nHOST=db.local\n",
        ours: "# env\nAPI_KEY=CANARY_k2\nHOST=db.local\n",
        theirs: "# env\nAPI_KEY=CANARY_k1\nHOST=db.remote\n",
        merged: "# env\nAPI_KEY=CANARY_k2\nHOST=db.remote\n",
        their_key: "HOST=",
    },
    Case {
        rel: "secrets/app.enc.ini",
        base: "[db]\nuser = CANARY_u1\npass = CANARY_p1\n\n[app]\nname = demo\n",
        ours: "[db]\nuser = CANARY_u1\npass = CANARY_p2\n\n[app]\nname = demo\n",
        theirs: "[db]\nuser = CANARY_u1\npass = CANARY_p1\n\n[app]\nname = other\n",
        merged: "[db]\nuser = CANARY_u1\npass = CANARY_p2\n\n[app]\nname = other\n",
        their_key: "name =",
    },
];

#[test]
fn setup_installs_the_merge_driver() {
    let r = repo("gm-setup");
    r.write_encrypted("secrets/app.enc.yaml", "k: CANARY_1\n");
    r.setup();
    let driver = r.git_ok(&["config", "--get", "merge.sopsrs.driver"]);
    let exe = bin().canonicalize().unwrap();
    assert_eq!(
        driver.trim(),
        format!("{} git merge --marker-size=%L %O %A %B %P", exe.display())
    );
    let attrs = r.read(".gitattributes");
    assert!(
        attrs
            .lines()
            .any(|l| l == "/secrets/app.enc.yaml diff=sopsrs merge=sopsrs"),
        "{attrs}"
    );
}

#[test]
fn disjoint_edits_merge_in_each_format() {
    for (i, c) in CASES.iter().enumerate() {
        let r = repo(&format!("gm-disjoint-{i}"));
        r.branches(c.rel, c.base, c.ours, c.theirs, true);
        let ours_enc = r.read(c.rel);
        let o = r.merge(true);
        assert!(o.status.success(), "{}: {}", c.rel, text(&o));
        assert_no_canary("git merge's output", &text(&o));
        assert_eq!(r.plaintext(c.rel), c.merged, "{}", c.rel);
        // our data key, our unchanged ciphertext: their value and the MAC lines differ
        let merged_enc = r.read(c.rel);
        let diff = changed_lines(&ours_enc, &merged_enc);
        assert_eq!(diff.len(), 3, "{}: {diff:#?}", c.rel);
        assert!(diff[0].contains(c.their_key), "{}: {diff:#?}", c.rel);
        assert!(diff.iter().any(|l| l.contains("lastmodified")), "{diff:#?}");
        assert!(diff.iter().any(|l| l.contains("mac")), "{diff:#?}");
        // a merge commit was made
        assert_eq!(
            r.git_ok(&["log", "-1", "--format=%P"]).split(' ').count(),
            2
        );
        assert_no_canary("the merged file", &merged_enc);
    }
}

#[test]
fn overlapping_edits_conflict_naming_the_path_only() {
    let r = repo("gm-overlap");
    let c = &CASES[0];
    let theirs = c.ours.replace("CANARY_p2", "CANARY_p3");
    r.branches(c.rel, c.base, c.ours, &theirs, true);
    let ours_enc = r.read(c.rel);
    let o = r.merge(true);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(
        out.contains("[\"db\"][\"password\"]: changed on both sides"),
        "{out}"
    );
    assert!(!out.contains("port"), "only the conflicting path: {out}");
    assert_no_canary("git merge's output", &out);
    // ours is left as it was, and git knows the file is unmerged
    assert_eq!(r.read(c.rel), ours_enc);
    let status = r.git_ok(&["status", "--porcelain"]);
    assert!(status.contains(&format!("UU {}", c.rel)), "{status}");
    let st = r.run_in(Path::new("git"), &["diff"], true);
    assert_no_canary("git diff during the conflict", &text(&st));
}

#[test]
fn additions_and_removals_on_either_side() {
    let r = repo("gm-addrm");
    let base = "a: CANARY_a\nb: CANARY_b\nc:\n    x: 1\n    y: 2\nlist:\n    - one\n    - two\n";
    // ours: removes b, adds d, appends to the list
    let ours = "a: CANARY_a\nc:\n    x: 1\n    y: 2\nlist:\n    - one\n    - two\n    - three\nd: CANARY_d\n";
    // theirs: removes c.y, adds c.z and e
    let theirs = "a: CANARY_a\nb: CANARY_b\nc:\n    x: 1\n    z: CANARY_z\nlist:\n    - one\n    - two\ne: CANARY_e\n";
    r.branches("secrets/x.enc.yaml", base, ours, theirs, true);
    let o = r.merge(true);
    assert!(o.status.success(), "{}", text(&o));
    assert_no_canary("git merge's output", &text(&o));
    assert_eq!(
        r.plaintext("secrets/x.enc.yaml"),
        "a: CANARY_a\nc:\n    x: 1\n    z: CANARY_z\nlist:\n    - one\n    - two\n    - three\nd: CANARY_d\ne: CANARY_e\n"
    );
}

#[test]
fn removal_against_a_change_conflicts() {
    let r = repo("gm-rmchg");
    let base = "a: CANARY_a1\nb: 1\n";
    r.branches(
        "secrets/x.enc.yaml",
        base,
        "a: CANARY_a2\nb: 1\n",
        "b: 2\n",
        true,
    );
    let ours_enc = r.read("secrets/x.enc.yaml");
    let o = r.merge(true);
    assert!(!o.status.success());
    let out = text(&o);
    assert!(out.contains("[\"a\"]: changed on both sides"), "{out}");
    assert_no_canary("git merge's output", &out);
    assert_eq!(r.read("secrets/x.enc.yaml"), ours_enc);
}

#[test]
fn their_key_groups_lose_and_we_say_so() {
    let r = repo("gm-groups");
    let rel = "secrets/x.enc.yaml";
    r.write_encrypted(rel, "a: CANARY_a\nb: 1\n");
    r.setup();
    r.commit("base");
    r.git_ok(&["checkout", "-q", "-b", "theirs"]);
    r.edit(rel, "a: CANARY_a\nb: 2\n");
    // they also add a recipient
    let key2 = std::fs::read_to_string(common::interop_dir().join("keys/key2.pub")).unwrap();
    let opened = Opened::open(
        r.read(rel).as_bytes(),
        Format::Yaml,
        &key1_sources(),
        &DecryptOptions::default(),
    )
    .unwrap();
    let groups = vec![vec![
        KeySpec::Age(KEY1_PUB.into()),
        KeySpec::Age(key2.trim().into()),
    ]];
    std::fs::write(r.dir.join(rel), opened.rekey(&groups, None).unwrap().bytes).unwrap();
    r.commit("theirs");
    r.git_ok(&["checkout", "-q", "main"]);
    r.edit(rel, "a: CANARY_a2\nb: 1\n");
    r.commit("ours");
    let o = r.merge(true);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("key groups differ"), "{}", text(&o));
    assert_eq!(r.plaintext(rel), "a: CANARY_a2\nb: 2\n");
    assert!(!r.read(rel).contains(key2.trim()), "ours' groups win");
}

/// The conflict a textual merge of two edits of one encrypted file gives: the MAC lines.
#[track_caller]
fn assert_textual_conflict(r: &Repo, rel: &str, o: &Output) {
    assert!(!o.status.success(), "{}", text(o));
    let merged = r.read(rel);
    assert!(merged.contains("<<<<<<<"), "{merged}");
    let mut inside = false;
    let mac_in_conflict = merged.lines().any(|l| {
        if l.starts_with("<<<<<<<") || l.starts_with(">>>>>>>") {
            inside = l.starts_with('<');
        }
        inside && l.contains("mac")
    });
    assert!(mac_in_conflict, "{merged}");
    assert_no_canary("the conflicted file", &merged);
}

#[test]
fn without_the_driver_git_merges_as_text() {
    let r = repo("gm-nodriver");
    let c = &CASES[0];
    r.branches(c.rel, c.base, c.ours, c.theirs, false);
    let o = r.merge(true);
    assert_textual_conflict(&r, c.rel, &o);
}

#[test]
fn without_a_key_the_driver_merges_as_text() {
    let r = repo("gm-nokey");
    let c = &CASES[0];
    r.branches(c.rel, c.base, c.ours, c.theirs, true);
    let o = r.merge(false);
    assert_textual_conflict(&r, c.rel, &o);
    assert!(text(&o).contains("no key"), "{}", text(&o));
}

#[test]
fn plain_files_under_the_driver_merge_as_git_would() {
    let r = repo("gm-plain");
    r.setup();
    // marked by the common patterns, but not encrypted
    let rel = "notes.enc.yaml";
    r.write(".gitattributes", "*.enc.yaml diff=sopsrs merge=sopsrs\n");
    r.write(rel, "a: 1\nb: 1\nc: 1\nd: 1\n");
    r.commit("base");
    r.git_ok(&["checkout", "-q", "-b", "theirs"]);
    r.write(rel, "a: 1\nb: 1\nc: 1\nd: 2\n");
    r.commit("theirs");
    r.git_ok(&["checkout", "-q", "main"]);
    r.write(rel, "a: 2\nb: 1\nc: 1\nd: 1\n");
    r.commit("ours");
    let o = r.merge(true);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(r.read(rel), "a: 2\nb: 1\nc: 1\nd: 2\n");
}

#[test]
fn a_path_with_a_space_merges() {
    // %P reaches the driver as one argument (git quotes it for the shell)
    let r = repo("gm-space");
    let c = &CASES[0];
    let rel = "secrets/my app.enc.yaml";
    r.branches(rel, c.base, c.ours, c.theirs, true);
    let o = r.merge(true);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(r.plaintext(rel), c.merged);
}
