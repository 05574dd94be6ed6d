//! `exec-env` and `exec-file`: the child sees the values (compared with the real sops where
//! sops has the same behaviour), names are checked, exit statuses pass through, nothing is
//! left in `$TMPDIR`, and a file that cannot be decrypted runs nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{KEY1_PUB, bin, isolated_scratch, key1_file, run, run_sops};

/// A scratch directory with its own `TMPDIR` (`tmp/`, checked empty afterwards).
struct Dir {
    path: PathBuf,
    tmp: PathBuf,
}

impl Dir {
    fn new(name: &str) -> Dir {
        let path = isolated_scratch(name);
        let tmp = path.join("tmp");
        std::fs::create_dir(&tmp).unwrap();
        Dir { path, tmp }
    }

    /// Write `plain` as `name`, encrypted with the test key by sops-rs.
    fn encrypted(&self, name: &str, plain: &str) -> String {
        let plain_name = format!("plain-{name}");
        std::fs::write(self.path.join(&plain_name), plain).unwrap();
        let out = run(
            &bin(),
            &[
                "encrypt",
                "--age",
                KEY1_PUB,
                "--output",
                name,
                "--filename-override",
                name,
                &plain_name,
            ],
            &self.path,
            &[],
            None,
        );
        assert!(
            out.status.success(),
            "encrypt {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::remove_file(self.path.join(&plain_name)).unwrap();
        name.to_string()
    }

    fn env(&self, key: bool) -> Vec<(&'static str, String)> {
        let mut e = vec![("TMPDIR", self.tmp.display().to_string())];
        if key {
            e.push(("SOPS_AGE_KEY_FILE", key1_file()));
        }
        e
    }

    fn sops_rs(&self, args: &[&str]) -> Output {
        self.sops_rs_env(args, &[])
    }

    fn sops_rs_env(&self, args: &[&str], extra: &[(&str, &str)]) -> Output {
        let env = self.env(true);
        let mut envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        envs.extend_from_slice(extra);
        run(&bin(), args, &self.path, &envs, None)
    }

    fn sops(&self, args: &[&str]) -> Output {
        let env = self.env(true);
        let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        run_sops(args, &self.path, &envs)
    }

    /// `$TMPDIR` holds nothing: no FIFO, file or directory was left behind.
    fn assert_tmp_empty(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.tmp)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "left in TMPDIR: {left:?}");
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[track_caller]
fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        stderr(o)
    );
    stdout(o)
}

/// A shell command printing `NAME=[value]` (or `NAME unset`) for each name, with builtins
/// only (a `--pristine` child has no PATH).
fn print_vars(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| {
            format!("if [ \"${{{n}+set}}\" = set ]; then printf '%s=[%s]\\n' {n} \"${n}\"; else echo '{n} unset'; fi")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

const YAML: &str = "\
# a comment
S: hello world
Q: 'it''s = \"quoted\"'
M: |
  two
  lines
U: café 🔑
I: 42
NEG: -7
F: 1.5
FI: 1.0
FE: 1.0e+21
FS: 0.000001
B: true
BF: false
N:
E: \"\"
T: 2024-01-15T10:00:00.5Z
D: 2024-01-15
";
const YAML_NAMES: &[&str] = &[
    "S", "Q", "M", "U", "I", "NEG", "F", "FI", "FE", "FS", "B", "BF", "N", "E", "T", "D",
];

#[test]
fn exec_env_gives_the_values_as_sops_does() {
    let d = Dir::new("exec-env-values");
    let cases: [(&str, &str, &[&str]); 3] = [
        ("v.yaml", YAML, YAML_NAMES),
        (
            "v.json",
            "{\n  \"S\": \"a b\",\n  \"NL\": \"x\\ny\",\n  \"I\": 3,\n  \"F\": 2.25,\n  \"BIG\": 1e300,\n  \"B\": false,\n  \"N\": null,\n  \"E\": \"\"\n}\n",
            &["S", "NL", "I", "F", "BIG", "B", "N", "E"],
        ),
        (
            "v.env",
            "# c\nS=a b\nQ=\"quoted\"\nEQ=a=b\nE=\nU=café\n",
            &["S", "Q", "EQ", "E", "U"],
        ),
    ];
    for (name, plain, names) in cases {
        let f = d.encrypted(name, plain);
        let cmd = print_vars(names);
        let ours = ok(&d.sops_rs(&["exec-env", "--pristine", &f, &cmd]));
        let theirs = ok(&d.sops(&["exec-env", "--pristine", &f, &cmd]));
        assert_eq!(ours, theirs, "{name}: sops-rs vs sops");
        assert!(!ours.contains("unset"), "{name}: {ours}");
    }
    // and by value, not only by agreement
    let got = ok(&d.sops_rs(&[
        "exec-env",
        "v.yaml",
        &print_vars(&["S", "M", "U", "I", "FI", "FE", "B", "N", "T", "D"]),
    ]));
    assert_eq!(
        got,
        "S=[hello world]\nM=[two\nlines\n]\nU=[café 🔑]\nI=[42]\nFI=[1.0]\nFE=[1E+21]\nB=[true]\nN=[<nil>]\nT=[2024-01-15T10:00:00Z]\nD=[2024-01-15T00:00:00Z]\n"
    );
    d.assert_tmp_empty();
}

#[test]
fn exec_env_takes_document_zero_only() {
    let d = Dir::new("exec-env-docs");
    let f = d.encrypted("m.yaml", "A: one\nB: two\n---\nA: other\nC: three\n");
    let cmd = print_vars(&["A", "B", "C"]);
    let ours = ok(&d.sops_rs(&["exec-env", "--pristine", &f, &cmd]));
    assert_eq!(ours, "A=[one]\nB=[two]\nC unset\n");
    let theirs = ok(&d.sops(&["exec-env", "--pristine", &f, &cmd]));
    assert_eq!(ours, theirs);
}

#[test]
fn exec_env_refuses_nested_values_and_bad_names_without_running() {
    let d = Dir::new("exec-env-names");
    let marker = d.path.join("ran");
    let touch = format!("echo ran > {}", marker.display());
    let cases = [
        (
            "nested.yaml",
            "A: CANARY_A\nDB:\n  password: CANARY_NESTED\n",
            "offending key DB",
        ),
        ("emptymap.yaml", "A: CANARY_A\nX: {}\n", "offending key X"),
        (
            "list.json",
            "{\"A\": \"CANARY_A\", \"L\": [\"CANARY_L\"]}\n",
            "offending key L",
        ),
        ("eq.yaml", "\"K=V\": CANARY_EQ\n", "\"K=V\""),
        (
            "nulname.json",
            "{\"K\\u0000V\": \"CANARY_NUL\"}\n",
            "NUL byte in the name",
        ),
        (
            "nulvalue.json",
            "{\"K\": \"CANARY\\u0000NUL\"}\n",
            "NUL byte in the value",
        ),
        ("empty.json", "{\"\": \"CANARY_EMPTY\"}\n", "an empty name"),
    ];
    for (name, plain, want) in cases {
        let f = d.encrypted(name, plain);
        let o = d.sops_rs(&["exec-env", &f, &touch]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{name}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("CANARY"),
            "{name} leaks: {}",
            stderr(&o)
        );
        assert!(!marker.exists(), "{name}: the command ran");
    }
    // sops refuses the same names and nested values (its messages differ)
    for f in ["nested.yaml", "eq.yaml", "list.json"] {
        let o = d.sops(&["exec-env", f, &touch]);
        assert_eq!(o.status.code(), Some(1), "sops {f}");
        assert!(!marker.exists());
    }
}

#[test]
fn loader_variables_are_warned_about_not_refused() {
    let d = Dir::new("exec-env-loader");
    let f = d.encrypted(
        "ld.yaml",
        "LD_LIBRARY_PATH: /nonexistent-lib\nDYLD_INSERT_LIBRARIES: /nonexistent.dylib\nOK: 1\n",
    );
    let o = d.sops_rs(&["exec-env", &f, &print_vars(&["LD_LIBRARY_PATH", "OK"])]);
    assert_eq!(ok(&o), "LD_LIBRARY_PATH=[/nonexistent-lib]\nOK=[1]\n");
    let err = stderr(&o);
    assert!(
        err.contains("warning") && err.contains("LD_LIBRARY_PATH"),
        "{err}"
    );
    assert!(err.contains("DYLD_INSERT_LIBRARIES"), "{err}");
    assert!(
        !err.contains("nonexistent"),
        "the value is not printed: {err}"
    );
}

#[test]
fn exit_statuses_pass_through() {
    let d = Dir::new("exec-status");
    let f = d.encrypted("s.yaml", "A: 1\n");
    for (cmd, want) in [
        ("true", 0),
        ("exit 3", 3),
        ("kill -9 $$", 128 + 9),
        ("kill -TERM $$", 128 + 15),
    ] {
        let o = d.sops_rs(&["exec-env", &f, cmd]);
        assert_eq!(
            o.status.code(),
            Some(want),
            "exec-env {cmd}: {}",
            stderr(&o)
        );
        for fifo in [true, false] {
            let mut args = vec!["exec-file"];
            if !fifo {
                args.push("--no-fifo");
            }
            let c = format!("test -e {{}} || exit 99; {cmd}");
            args.extend([f.as_str(), c.as_str()]);
            let o = d.sops_rs(&args);
            assert_eq!(o.status.code(), Some(want), "{args:?}: {}", stderr(&o));
            d.assert_tmp_empty();
        }
    }
    // --same-process: the command replaces sops-rs, so its status is ours
    let o = d.sops_rs(&[
        "exec-env",
        "--same-process",
        &f,
        "test \"$A\" = 1 && exit 7",
    ]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
}

#[test]
fn pristine_clears_the_environment() {
    let d = Dir::new("exec-pristine");
    let f = d.encrypted("p.yaml", "A: from-file\n");
    // (not PATH: the shell gives itself a default one)
    let cmd = print_vars(&["A", "OUTER", "HOME"]);
    let o = d.sops_rs_env(&["exec-env", &f, &cmd], &[("OUTER", "kept")]);
    assert_eq!(ok(&o), "A=[from-file]\nOUTER=[kept]\nHOME=[/nonexistent]\n");
    let o = d.sops_rs_env(&["exec-env", "--pristine", &f, &cmd], &[("OUTER", "kept")]);
    assert_eq!(ok(&o), "A=[from-file]\nOUTER unset\nHOME unset\n");
    // the file's values win over the inherited ones, as in sops (appended last)
    let o = d.sops_rs_env(&["exec-env", &f, &print_vars(&["A"])], &[("A", "outer")]);
    assert_eq!(ok(&o), "A=[from-file]\n");
}

#[test]
fn no_key_means_sops_exit_code_and_no_command() {
    let d = Dir::new("exec-nokey");
    let f = d.encrypted("k.yaml", "A: CANARY_KEYLESS\n");
    let marker = d.path.join("ran");
    let touch = format!("echo ran > {}", marker.display());
    let env = d.env(false);
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for args in [
        vec!["exec-env", f.as_str(), touch.as_str()],
        vec!["exec-file", f.as_str(), touch.as_str()],
        vec!["exec-file", "--no-fifo", f.as_str(), touch.as_str()],
    ] {
        let o = run(&bin(), &args, &d.path, &envs, None);
        assert_eq!(o.status.code(), Some(128), "{args:?}: {}", stderr(&o));
        assert!(!marker.exists(), "{args:?}: the command ran");
        assert!(!stderr(&o).contains("CANARY"));
        let s = run_sops(&args, &d.path, &envs);
        assert_eq!(s.status.code(), Some(128), "sops {args:?}");
    }
    // a tampered file: sops' MAC code, and nothing runs either
    let text = std::fs::read_to_string(d.path.join(&f)).unwrap();
    let at = text.find("mac: ENC[AES256_GCM,data:").unwrap() + 25;
    let mut b = text.into_bytes();
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    std::fs::write(d.path.join(&f), b).unwrap();
    let o = d.sops_rs(&["exec-env", &f, &touch]);
    assert_eq!(o.status.code(), Some(51), "{}", stderr(&o));
    assert!(!marker.exists());
    d.assert_tmp_empty();
}

#[test]
fn exec_file_gives_the_plaintext_and_leaves_nothing() {
    let d = Dir::new("exec-file");
    let plain = "# keep\ndb:\n  password: CANARY_FILE # note\n  port: 5432\n";
    let f = d.encrypted("f.yaml", plain);
    // FIFO (default) and regular file: the content, byte for byte, at a path in $TMPDIR
    for extra in [None, Some("--no-fifo")] {
        let mut args = vec!["exec-file"];
        args.extend(extra);
        args.extend([f.as_str(), "cat {}"]);
        assert_eq!(ok(&d.sops_rs(&args)), plain, "{args:?}");
        d.assert_tmp_empty();
    }
    // the kind, modes and place of the file, seen from the command
    let probe = "stat -c '%F %a' {}; stat -c '%a' \"$(dirname {})\"; dirname \"$(dirname {})\"; basename {}";
    let tmp = d.tmp.canonicalize().unwrap().display().to_string();
    let fifo = ok(&d.sops_rs(&["exec-file", &f, probe]));
    assert_eq!(fifo, format!("fifo 600\n700\n{tmp}\ntmp-file\n"));
    let file = ok(&d.sops_rs(&[
        "exec-file",
        "--no-fifo",
        "--filename",
        "app.yaml",
        &f,
        probe,
    ]));
    assert_eq!(file, format!("regular file 600\n700\n{tmp}\napp.yaml\n"));
    d.assert_tmp_empty();
    // a command that never opens the FIFO does not hang us
    let t = std::time::Instant::now();
    ok(&d.sops_rs(&["exec-file", &f, "true"]));
    assert!(t.elapsed() < std::time::Duration::from_secs(10));
    d.assert_tmp_empty();
    // --output-type converts, as sops does
    let json = ok(&d.sops_rs(&["exec-file", "--output-type", "json", &f, "cat {}"]));
    let sops_json = ok(&d.sops(&["exec-file", "--output-type", "json", &f, "cat {}"]));
    assert_eq!(json, sops_json);
    // --filename must stay inside the private directory
    for bad in ["../escape", "/etc/passwd", "a/../../b", ""] {
        let o = d.sops_rs(&["exec-file", "--filename", bad, &f, "cat {}"]);
        // (an empty value is already a usage error for the flag parser: exit 2)
        let want = if bad.is_empty() { 2 } else { 1 };
        assert_eq!(o.status.code(), Some(want), "--filename {bad:?}");
        assert!(stdout(&o).is_empty());
    }
    assert_eq!(
        ok(&d.sops_rs(&[
            "exec-file",
            "--no-fifo",
            "--filename",
            "sub/x.yaml",
            &f,
            "cat {}"
        ])),
        plain
    );
    d.assert_tmp_empty();
}

#[test]
fn exec_file_binary_and_dotenv() {
    let d = Dir::new("exec-file-formats");
    let env_plain = "A=1\n# c\nB=two words\n";
    let f = d.encrypted("e.env", env_plain);
    assert_eq!(ok(&d.sops_rs(&["exec-file", &f, "cat {}"])), env_plain);
    assert_eq!(
        ok(&d.sops_rs(&["exec-env", &f, &print_vars(&["A", "B"])])),
        "A=[1]\nB=[two words]\n"
    );
    let bin_plain = "line one\n\u{1F511} not a format\n";
    let f = d.encrypted("blob.bin", bin_plain);
    assert_eq!(
        ok(&d.sops_rs(&["exec-file", "--no-fifo", &f, "cat {}"])),
        bin_plain
    );
    d.assert_tmp_empty();
}

#[test]
fn user_switch() {
    let d = Dir::new("exec-user");
    let f = d.encrypted("u.yaml", "A: for-nobody\n");
    let marker = d.path.join("ran");
    let touch = format!("echo ran > {}", marker.display());
    let o = d.sops_rs(&["exec-env", "--user", "no-such-user-here", &f, &touch]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no such user"), "{}", stderr(&o));
    assert!(!marker.exists());
    let root = run(Path::new("/usr/bin/id"), &["-u"], &d.path, &[], None);
    let am_root = stdout(&root).trim() == "0";
    let who = "id -u; id -g; echo \"$HOME $USER\"; printf '%s\\n' \"$A\"";
    let o = d.sops_rs(&["exec-env", "--user", "nobody", &f, who]);
    if am_root {
        let nobody = run(
            Path::new("/usr/bin/id"),
            &["-u", "nobody"],
            &d.path,
            &[],
            None,
        );
        let uid = stdout(&nobody).trim().to_string();
        let got = ok(&o);
        let lines: Vec<&str> = got.lines().collect();
        assert_eq!(lines[0], uid, "{got}");
        assert_eq!(lines[3], "for-nobody");
        assert!(lines[2].ends_with(" nobody"), "{got}");
        // the FIFO and the file are readable by that user, and removed afterwards
        for extra in [None, Some("--no-fifo")] {
            let mut args = vec!["exec-file", "--user", "nobody"];
            args.extend(extra);
            args.extend([f.as_str(), "id -u; cat {}"]);
            assert_eq!(ok(&d.sops_rs(&args)), format!("{uid}\nA: for-nobody\n"));
            d.assert_tmp_empty();
        }
    } else {
        // only root can switch users: a clear error, and nothing runs
        assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    }
}

#[test]
fn background_is_accepted_with_a_warning() {
    let d = Dir::new("exec-bg");
    let f = d.encrypted("b.yaml", "A: 1\n");
    let o = d.sops_rs(&["exec-env", "--background", &f, "true"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("deprecated"));
    let o = d.sops_rs(&["exec-env", "--background", "--same-process", &f, "true"]);
    assert_eq!(o.status.code(), Some(8));
    let o = d.sops_rs(&["exec-file", "--background", &f, "cat {} >/dev/null; exit 4"]);
    assert_eq!(
        o.status.code(),
        Some(4),
        "exec-file waits, so it can clean up"
    );
    d.assert_tmp_empty();
}

#[test]
fn a_signal_to_sops_rs_reaches_the_command_and_cleanup_still_runs() {
    let d = Dir::new("exec-signal");
    let f = d.encrypted("sig.yaml", "A: 1\n");
    let started = d.path.join("started");
    let cmd = format!("echo up > {}; exec sleep 30", started.display());
    let mut c = std::process::Command::new(bin());
    c.args(["exec-file", "--no-fifo", &f, &cmd])
        .current_dir(&d.path)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent");
    for (k, v) in d.env(true) {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap();
    let t = std::time::Instant::now();
    while !started.exists() {
        assert!(t.elapsed().as_secs() < 20, "the command did not start");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let pid = child.id().to_string();
    let k = run(Path::new("/bin/kill"), &["-TERM", &pid], &d.path, &[], None);
    assert!(k.status.success());
    let st = child.wait().unwrap();
    assert_eq!(
        st.code(),
        Some(128 + 15),
        "the command's status, from the forwarded TERM"
    );
    assert!(t.elapsed().as_secs() < 20, "the command was not stopped");
    d.assert_tmp_empty();
}
