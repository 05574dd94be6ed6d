//! `edit`, driven by scripted fake editors: every way an editor session can end leaves the
//! encrypted file either unchanged or correctly re-encrypted, never loses the typed text,
//! and never leaves the plaintext directory behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{KEY1_PUB, bin, isolated_scratch, key1_file, run, write_script};

const PLAIN: &str = "# team database\ndb:\n    user: admin\n    password: canary-edit-1\nport: 5432\nlist:\n    - one\n    - two\n";

struct Env {
    dir: PathBuf,
    run_dir: PathBuf,
}

impl Env {
    fn new(name: &str) -> Env {
        let dir = isolated_scratch(name);
        let run_dir = dir.join("run");
        std::fs::create_dir(&run_dir).unwrap();
        Env { dir, run_dir }
    }

    /// An editor script (`$1` is the file) written into the scratch directory.
    fn editor(&self, name: &str, body: &str) -> String {
        write_script(&self.dir.join(name), &format!("set -e\n{body}"))
    }

    fn encrypted(&self, name: &str, plain: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, plain).unwrap();
        let out = self.sops_rs(&["encrypt", "--age", KEY1_PUB, "-i", name], "", None);
        assert!(out.status.success(), "{}", stderr(&out));
        p
    }

    fn sops_rs(&self, args: &[&str], editor: &str, stdin: Option<&[u8]>) -> Output {
        let key = key1_file();
        let run_dir = self.run_dir.display().to_string();
        let mut envs = vec![
            ("SOPS_AGE_KEY_FILE", key.as_str()),
            ("XDG_RUNTIME_DIR", run_dir.as_str()),
        ];
        if !editor.is_empty() {
            envs.push(("EDITOR", editor));
        }
        run(&bin(), args, &self.dir, &envs, stdin)
    }

    fn decrypt(&self, file: &Path) -> String {
        let f = file.display().to_string();
        let out = self.sops_rs(&["decrypt", &f], "", None);
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// The plaintext directory is gone, whatever happened.
    fn assert_no_temp(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.run_dir).unwrap().collect();
        assert!(left.is_empty(), "temp left behind: {left:?}");
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

/// Recovery files the edit left next to the target.
fn recovery_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().contains("sops-rs-recovery"))
        .collect()
}

#[test]
fn change_and_save_changes_only_that_value() {
    let e = Env::new("edit-change");
    let f = e.encrypted("s.yaml", PLAIN);
    let before = std::fs::read_to_string(&f).unwrap();
    let ed = e.editor(
        "ed.sh",
        "sed -i 's/canary-edit-1/canary-edit-2/' \"$1\"\nsleep 1",
    );
    let out = e.sops_rs(&["edit", "s.yaml"], &ed, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        e.decrypt(&f),
        PLAIN.replace("canary-edit-1", "canary-edit-2")
    );
    let after = std::fs::read_to_string(&f).unwrap();
    let changed: Vec<_> = before
        .lines()
        .zip(after.lines())
        .filter(|(a, b)| a != b)
        .map(|(a, _)| a.trim_start().split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(before.lines().count(), after.lines().count());
    assert_eq!(changed, ["password", "lastmodified", "mac"], "{after}");
    e.assert_no_temp();
    assert!(!stderr(&out).contains("canary"));
}

#[test]
fn the_editor_sees_a_private_file_named_like_the_target() {
    let e = Env::new("edit-perms");
    e.encrypted("s.yaml", PLAIN);
    let log = e.dir.join("seen");
    let ed = e.editor(
        "ed.sh",
        &format!(
            "stat -c '%a %n' \"$1\" \"$(dirname \"$1\")\" > '{}'\necho 'extra: 1' >> \"$1\"",
            log.display()
        ),
    );
    let out = e.sops_rs(&["edit", "s.yaml"], &ed, None);
    assert!(out.status.success(), "{}", stderr(&out));
    let seen = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<_> = seen.lines().collect();
    assert!(
        lines[0].starts_with("600 ") && lines[0].ends_with("/s.yaml"),
        "{seen}"
    );
    assert!(lines[1].starts_with("700 "), "{seen}");
    assert!(
        lines[0].contains(&e.run_dir.display().to_string()),
        "not in XDG_RUNTIME_DIR: {seen}"
    );
    e.assert_no_temp();
}

#[test]
fn no_change_is_exit_200_and_the_file_is_untouched() {
    let e = Env::new("edit-nochange");
    let f = e.encrypted("s.yaml", PLAIN);
    let before = std::fs::read(&f).unwrap();
    let out = e.sops_rs(&["edit", "s.yaml"], "true", None);
    assert_eq!(code(&out), 200, "{}", stderr(&out));
    assert_eq!(std::fs::read(&f).unwrap(), before);
    e.assert_no_temp();
    // `sops-rs FILE` is edit mode, as `sops FILE`
    let out = e.sops_rs(&["s.yaml"], "true", None);
    assert_eq!(code(&out), 200, "{}", stderr(&out));
}

#[test]
fn a_failing_or_killed_editor_changes_nothing() {
    let e = Env::new("edit-fail");
    let f = e.encrypted("s.yaml", PLAIN);
    let before = std::fs::read(&f).unwrap();
    for (name, body) in [
        ("exit1.sh", "echo 'x: 1' >> \"$1\"\nexit 1"),
        ("killed.sh", "echo 'x: 1' >> \"$1\"\nkill -9 $$"),
        ("deletes.sh", "rm \"$1\""),
    ] {
        let ed = e.editor(name, body);
        let out = e.sops_rs(&["edit", "s.yaml"], &ed, None);
        assert!(!out.status.success(), "{name}");
        assert_eq!(std::fs::read(&f).unwrap(), before, "{name}");
        e.assert_no_temp();
        assert!(!stderr(&out).contains("canary"), "{name}");
    }
}

#[test]
fn invalid_yaml_then_fixed_on_reopen() {
    let e = Env::new("edit-reopen");
    let f = e.encrypted("s.yaml", PLAIN);
    let count = e.dir.join("count");
    // first run: break the YAML; second run: a valid change
    let ed = e.editor(
        "ed.sh",
        &format!(
            "if [ -e '{c}' ]; then printf 'fixed: yes\\n' > \"$1\"; else touch '{c}'; printf 'a: [\\n' > \"$1\"; fi",
            c = count.display()
        ),
    );
    let out = e.sops_rs(&["edit", "s.yaml"], &ed, Some(b"\n"));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("line"), "{}", stderr(&out));
    assert_eq!(e.decrypt(&f), "fixed: yes\n");
    e.assert_no_temp();
    assert!(recovery_files(&e.dir).is_empty());
}

#[test]
fn invalid_text_is_kept_in_an_encrypted_recovery_file() {
    let e = Env::new("edit-recover");
    let f = e.encrypted("s.yaml", PLAIN);
    let before = std::fs::read(&f).unwrap();
    for (i, (body, answer)) in [
        // invalid YAML, and no answer on stdin
        ("printf 'a: [\\ncanary-typed-1\\n' > \"$1\"", &b""[..]),
        // a top-level sops key, and the user types q
        ("printf 'sops: canary-typed-2\\n' >> \"$1\"", &b"q\n"[..]),
    ]
    .into_iter()
    .enumerate()
    {
        let ed = e.editor(&format!("ed{i}.sh"), body);
        let out = e.sops_rs(&["edit", "s.yaml"], &ed, Some(answer));
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(!err.contains("canary"), "{err}");
        if i == 1 {
            assert!(err.contains("'sops'"), "{err}");
        }
        assert_eq!(std::fs::read(&f).unwrap(), before);
        e.assert_no_temp();
        let rec = recovery_files(&e.dir);
        assert_eq!(rec.len(), 1, "{err}");
        assert!(err.contains(&rec[0].display().to_string()), "{err}");
        let r = rec[0].display().to_string();
        let out = e.sops_rs(&["decrypt", "--input-type", "binary", &r], "", None);
        assert!(out.status.success(), "{}", stderr(&out));
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(&format!("canary-typed-{}", i + 1)), "{text}");
        let mode = std::fs::metadata(&rec[0]).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        std::fs::remove_file(&rec[0]).unwrap();
    }
}

#[test]
fn an_unwritable_target_keeps_the_edit() {
    let e = Env::new("edit-unwritable");
    let f = e.encrypted("s.yaml", PLAIN);
    let before = std::fs::read(&f).unwrap();
    // the target becomes a directory while the editor runs: the write must fail (as root too)
    let ed = e.editor(
        "ed.sh",
        "sed -i 's/canary-edit-1/canary-edit-3/' \"$1\"\nmv s.yaml s.yaml.bak\nmkdir s.yaml",
    );
    let out = e.sops_rs(&["edit", "s.yaml"], &ed, None);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(std::fs::read(e.dir.join("s.yaml.bak")).unwrap(), before);
    e.assert_no_temp();
    let rec = recovery_files(&e.dir);
    assert_eq!(rec.len(), 1, "{}", stderr(&out));
    let r = rec[0].display().to_string();
    let out = e.sops_rs(&["decrypt", "--input-type", "binary", &r], "", None);
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        PLAIN.replace("canary-edit-1", "canary-edit-3")
    );
    assert!(f.is_dir());
}

#[test]
fn an_editor_that_saves_by_rename_works() {
    let e = Env::new("edit-rename");
    let f = e.encrypted("s.yaml", PLAIN);
    // as vim with `backupcopy=no`: write a new file, rename it over the original
    let ed = e.editor(
        "ed.sh",
        "sed 's/5432/6543/' \"$1\" > \"$1.new\"\nmv \"$1.new\" \"$1\"",
    );
    let out = e.sops_rs(&["edit", "s.yaml"], &ed, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(e.decrypt(&f), PLAIN.replace("5432", "6543"));
    e.assert_no_temp();
}

#[test]
fn editor_commands_are_split_as_a_shell_would() {
    let e = Env::new("edit-split");
    let f = e.encrypted("s.yaml", PLAIN);
    let ed = e.editor("ed.sh", "sed -i \"s/one/$2/\" \"$3\"");
    // EDITOR='ed.sh "ignored" replaced'-style: extra words come before the file
    let cmd = format!("{ed} 'x y' uno");
    let key = key1_file();
    let run_dir = e.run_dir.display().to_string();
    let out = run(
        &bin(),
        &["edit", "s.yaml"],
        &e.dir,
        &[
            ("SOPS_AGE_KEY_FILE", key.as_str()),
            ("XDG_RUNTIME_DIR", run_dir.as_str()),
            ("SOPS_EDITOR", cmd.as_str()),
            ("EDITOR", "false"),
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(e.decrypt(&f), PLAIN.replace("one", "uno"));
    // no editor at all: sops' exit 201
    let out = run(
        &bin(),
        &["edit", "s.yaml"],
        &e.dir,
        &[
            ("SOPS_AGE_KEY_FILE", key.as_str()),
            ("PATH", "/nonexistent"),
        ],
        None,
    );
    assert_eq!(code(&out), 201, "{}", stderr(&out));
}

#[test]
fn sigterm_removes_the_plaintext() {
    let e = Env::new("edit-sigterm");
    let f = e.encrypted("s.yaml", PLAIN);
    let before = std::fs::read(&f).unwrap();
    let started = e.dir.join("started");
    let ed = e.editor(
        "ed.sh",
        &format!(
            "echo 'x: 1' >> \"$1\"\ntouch '{}'\nsleep 30",
            started.display()
        ),
    );
    let key = key1_file();
    let mut child = std::process::Command::new(bin())
        .args(["edit", "s.yaml"])
        .current_dir(&e.dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("SOPS_AGE_KEY_FILE", &key)
        .env("XDG_RUNTIME_DIR", &e.run_dir)
        .env("EDITOR", &ed)
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t0 = std::time::Instant::now();
    while !started.exists() {
        assert!(t0.elapsed().as_secs() < 20, "the editor never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(std::fs::read_dir(&e.run_dir).unwrap().count(), 1);
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let status = child.wait().unwrap();
    assert!(t0.elapsed().as_secs() < 20, "sops-rs waited for the editor");
    assert_eq!(status.code(), Some(143));
    assert_eq!(std::fs::read(&f).unwrap(), before);
    e.assert_no_temp();
}

#[test]
fn a_new_file_is_created_from_the_rule_or_flags() {
    let e = Env::new("edit-new");
    let ed = e.editor("ed.sh", "printf 'token: canary-new-1\\n' > \"$1\"");
    let out = e.sops_rs(&["edit", "--age", KEY1_PUB, "new.yaml"], &ed, None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(e.decrypt(&e.dir.join("new.yaml")), "token: canary-new-1\n");
    e.assert_no_temp();
    // an example left as it is: nothing to save (sops: exit 200), nothing created
    let out = e.sops_rs(&["edit", "--age", KEY1_PUB, "untouched.json"], "true", None);
    assert_eq!(code(&out), 200, "{}", stderr(&out));
    assert!(!e.dir.join("untouched.json").exists());
    // a key that cannot be used fails before the editor opens: nothing typed is lost
    let marker = e.dir.join("opened");
    let ed = e.editor("mark.sh", &format!("touch '{}'", marker.display()));
    let out = e.sops_rs(&["edit", "--age", "age1notakey", "bad.yaml"], &ed, None);
    assert!(!out.status.success());
    assert!(!marker.exists(), "the editor ran although the key was bad");
    assert!(!e.dir.join("bad.yaml").exists());
    e.assert_no_temp();
}

#[test]
fn every_format_edits_in_place() {
    let e = Env::new("edit-formats");
    for (name, plain, from, to) in [
        (
            "a.json",
            "{\n  \"k\": \"canary-j\",\n  \"n\": 1\n}\n",
            "canary-j",
            "canary-J",
        ),
        ("a.env", "# c\nK=canary-e\nN=1\n", "canary-e", "canary-E"),
        ("a.ini", "[s]\nk = canary-i\n", "canary-i", "canary-I"),
        (
            "a.toml",
            "[s]\nk = \"canary-t\"\nn = 1\n",
            "canary-t",
            "canary-T",
        ),
    ] {
        let f = e.encrypted(name, plain);
        let ed = e.editor(
            &format!("ed-{name}.sh"),
            &format!("sed -i 's/{from}/{to}/' \"$1\""),
        );
        let out = e.sops_rs(&["edit", name], &ed, None);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        assert_eq!(e.decrypt(&f), plain.replace(from, to), "{name}");
    }
    e.assert_no_temp();
}
