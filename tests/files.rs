//! T14, files and permissions (docs security.md §5 rows F1–F7, §7 row T14): `encrypt -i` and
//! `decrypt -i` on files of every usual mode, symlinks (dangling too), hard links, a
//! directory, a FIFO, missing and unreadable files, `--output` into a missing directory and
//! new outputs. Exit codes are compared with the real sops wherever sops can run the same case;
//! after every run the directory holds no temp file. Cases that need an unprivileged user run
//! as `nobody` through `setpriv` when the suite runs as root (CI does).

mod common;

use common::*;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const PLAIN: &str = "user: CANARY-files-1-9d2e\npassword: CANARY-files-2-9d2e\n";

#[derive(Clone, Copy, PartialEq, Debug)]
enum Tool {
    Ours,
    Sops,
}

const TOOLS: [Tool; 2] = [Tool::Ours, Tool::Sops];

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        .unwrap()
}

/// Run a tool with key1, optionally as an unprivileged user, killed after `limit`.
fn run_tool(tool: Tool, args: &[&str], dir: &Path, unprivileged: bool, limit: Duration) -> Output {
    let prog = match tool {
        Tool::Ours => bin(),
        Tool::Sops => sops(),
    };
    let mut argv: Vec<String> = Vec::new();
    if tool == Tool::Sops {
        argv.push("--disable-version-check".into());
    }
    argv.extend(args.iter().map(|a| a.to_string()));
    let mut c = if unprivileged && is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(&prog);
        c
    } else {
        Command::new(&prog)
    };
    c.args(&argv)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("SOPS_AGE_KEY_FILE", key1_file())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().expect("spawn");
    let start = Instant::now();
    // drain the pipes on threads so a big output cannot block the child
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).ok();
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).ok();
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "{tool:?} {} did not finish within {limit:?} (a hang)",
                args.join(" ")
            );
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Output {
        status,
        stdout: t1.join().unwrap(),
        stderr: t2.join().unwrap(),
    }
}

const LIMIT: Duration = Duration::from_secs(20);

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn set_mode(p: &Path, m: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(m)).unwrap();
}

/// The directory's entry names, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

struct Suite {
    root: PathBuf,
    cases: usize,
    problems: Vec<String>,
}

impl Suite {
    /// A fresh directory for one case and tool (writable by everyone, for the unprivileged
    /// runs).
    fn dir(&self, case: &str, tool: Tool) -> PathBuf {
        let d = self.root.join(format!("{case}-{tool:?}"));
        fs::create_dir_all(&d).unwrap();
        set_mode(&d, 0o777);
        d
    }

    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.problems.push(what());
        }
    }

    /// No temp file of ours (`.sops-rs-*`) is left in `dir`.
    fn no_temps(&mut self, dir: &Path, what: &str) {
        let temps: Vec<String> = listing(dir)
            .into_iter()
            .filter(|n| n.starts_with(".sops-rs-"))
            .collect();
        self.check(temps.is_empty(), || {
            format!("{what}: temp files left: {temps:?}")
        });
    }

    /// Run both tools on the same case (each in its own directory, prepared by `setup`) and
    /// require the same exit code; returns (ours, sops) with their directories.
    fn both(
        &mut self,
        case: &str,
        args: &[&str],
        unprivileged: bool,
        setup: impl Fn(&Path),
    ) -> [(Output, PathBuf); 2] {
        self.cases += 1;
        let run = |tool| {
            let d = self.dir(case, tool);
            setup(&d);
            let before = listing(&d);
            let o = run_tool(tool, args, &d, unprivileged, LIMIT);
            (o, d, before)
        };
        let (ours, od, obefore) = run(Tool::Ours);
        let (theirs, sd, _) = run(Tool::Sops);
        self.check(code(&ours) == code(&theirs), || {
            format!(
                "{case}: sops-rs exit {:?} ({}), sops exit {:?} ({})",
                code(&ours),
                String::from_utf8_lossy(&ours.stderr).trim(),
                code(&theirs),
                String::from_utf8_lossy(&theirs.stderr)
                    .trim()
                    .lines()
                    .last()
                    .unwrap_or("")
            )
        });
        self.no_temps(&od, case);
        if !ours.status.success() {
            // a failure changes nothing in the directory
            let after = listing(&od);
            self.check(after == obefore, || {
                format!("{case}: the directory changed on failure: {obefore:?} -> {after:?}")
            });
            self.check(ours.stdout.is_empty(), || {
                format!("{case}: stdout not empty on failure")
            });
        }
        [(ours, od), (theirs, sd)]
    }
}

fn write_mode(p: &Path, content: &str, m: u32) {
    fs::write(p, content).unwrap();
    set_mode(p, m);
}

/// A file encrypted by sops-rs for key1 (sops reads it too: tests/interop.rs).
fn encrypted(root: &Path) -> String {
    let d = root.join("src");
    fs::create_dir_all(&d).unwrap();
    fs::write(d.join("p.yaml"), PLAIN).unwrap();
    let o = run(
        &bin(),
        &["encrypt", "--age", KEY1_PUB, "p.yaml"],
        &d,
        &[],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The two results of [`Suite::both`] with their tool.
fn ours_then_sops(r: &[(Output, PathBuf); 2]) -> [(Tool, &Output, &PathBuf); 2] {
    [(TOOLS[0], &r[0].0, &r[0].1), (TOOLS[1], &r[1].0, &r[1].1)]
}

#[test]
fn files_and_permissions() {
    let root = isolated_scratch("files");
    let enc = encrypted(&root);
    let mut s = Suite {
        root: root.clone(),
        cases: 0,
        problems: Vec::new(),
    };

    // ---- in place, keeping the mode: 0600 0640 0644 (and 0444 as root) ----
    let mut modes = vec![0o600, 0o640, 0o644];
    if is_root() {
        // root may write a 0444 file, so sops (os.Create) succeeds; so do we, mode kept
        modes.push(0o444);
    }
    for m in modes {
        let case = format!("encrypt-i-{m:o}");
        let r = s.both(
            &case,
            &["encrypt", "-i", "--age", KEY1_PUB, "f.yaml"],
            false,
            |d| write_mode(&d.join("f.yaml"), PLAIN, m),
        );
        for (tool, o, d) in ours_then_sops(&r) {
            let f = d.join("f.yaml");
            let text = fs::read_to_string(&f).unwrap();
            s.check(
                o.status.success() && text.contains("ENC[AES256_GCM"),
                || format!("{case} {tool:?}: not encrypted in place"),
            );
            s.check(mode(&f) == m, || {
                format!("{case} {tool:?}: mode {:o}, want {m:o}", mode(&f))
            });
        }
        let case = format!("decrypt-i-{m:o}");
        let r = s.both(&case, &["decrypt", "-i", "f.yaml"], false, |d| {
            write_mode(&d.join("f.yaml"), &enc, m)
        });
        for (tool, o, d) in ours_then_sops(&r) {
            let f = d.join("f.yaml");
            s.check(
                o.status.success() && fs::read_to_string(&f).unwrap() == PLAIN,
                || format!("{case} {tool:?}: not decrypted in place"),
            );
            s.check(mode(&f) == m, || {
                format!("{case} {tool:?}: mode {:o}, want {m:o}", mode(&f))
            });
        }
    }

    // ---- 0444 as an unprivileged user: refused with exit 3, file unchanged ----
    // (sops fails opening it for writing; sops-rs checks the same before its rename, which
    // would otherwise replace a read-only file in a writable directory)
    for (op, content) in [("encrypt", PLAIN), ("decrypt", enc.as_str())] {
        let case = format!("{op}-i-444-unprivileged");
        let args: Vec<&str> = if op == "encrypt" {
            vec!["encrypt", "-i", "--age", KEY1_PUB, "f.yaml"]
        } else {
            vec!["decrypt", "-i", "f.yaml"]
        };
        let r = s.both(&case, &args, true, |d| {
            write_mode(&d.join("f.yaml"), content, 0o444)
        });
        for (tool, o, d) in ours_then_sops(&r) {
            let f = d.join("f.yaml");
            s.check(code(o) == Some(3), || {
                format!("{case} {tool:?}: exit {:?}, want 3", code(o))
            });
            s.check(
                fs::read_to_string(&f).unwrap() == content && mode(&f) == 0o444,
                || format!("{case} {tool:?}: the read-only file changed"),
            );
        }
    }

    // ---- unreadable (0000): root reads it anyway; an unprivileged user cannot ----
    for unprivileged in [false, true] {
        let case = format!("decrypt-0000-unprivileged-{unprivileged}");
        let r = s.both(&case, &["decrypt", "f.yaml"], unprivileged, |d| {
            write_mode(&d.join("f.yaml"), &enc, 0o000)
        });
        let want_ok = is_root() && !unprivileged;
        for (tool, o, _) in ours_then_sops(&r) {
            s.check(o.status.success() == want_ok, || {
                format!("{case} {tool:?}: exit {:?}", code(o))
            });
        }
    }

    // ---- symlinks: the link stays, its target is replaced ----
    for (case, target) in [
        ("symlink", "real.yaml"),
        ("symlink-subdir", "sub/real.yaml"),
    ] {
        let setup = |d: &Path| {
            fs::create_dir_all(d.join("sub")).unwrap();
            fs::write(d.join(target), PLAIN).unwrap();
            std::os::unix::fs::symlink(target, d.join("link.yaml")).unwrap();
        };
        let r = s.both(
            &format!("encrypt-i-{case}"),
            &["encrypt", "-i", "--age", KEY1_PUB, "link.yaml"],
            false,
            setup,
        );
        for (tool, o, d) in ours_then_sops(&r) {
            let link = d.join("link.yaml");
            s.check(
                fs::symlink_metadata(&link)
                    .unwrap()
                    .file_type()
                    .is_symlink()
                    && fs::read_link(&link).unwrap() == Path::new(target),
                || format!("{case} {tool:?}: the symlink was not kept"),
            );
            s.check(
                o.status.success()
                    && fs::read_to_string(d.join(target))
                        .unwrap()
                        .contains("ENC[AES256_GCM"),
                || format!("{case} {tool:?}: the link's target was not encrypted"),
            );
            s.no_temps(&d.join("sub"), case);
        }
    }

    // ---- a dangling symlink: an error as sops gives, nothing created ----
    for (op, args) in [
        ("decrypt", vec!["decrypt", "dangling.yaml"]),
        ("decrypt-i", vec!["decrypt", "-i", "dangling.yaml"]),
        (
            "encrypt-i",
            vec!["encrypt", "-i", "--age", KEY1_PUB, "dangling.yaml"],
        ),
    ] {
        let case = format!("{op}-dangling-symlink");
        let r = s.both(&case, &args, false, |d| {
            std::os::unix::fs::symlink("missing.yaml", d.join("dangling.yaml")).unwrap();
        });
        for (tool, o, d) in ours_then_sops(&r) {
            s.check(code(o) == Some(100), || {
                format!("{case} {tool:?}: exit {:?}, want 100", code(o))
            });
            s.check(!d.join("missing.yaml").exists(), || {
                format!("{case} {tool:?}: the link's target was created")
            });
        }
    }

    // ---- a hard link: the atomic rename gives the named path a new inode, so the OTHER
    // name keeps the old content (sops truncates the shared inode, so both names change).
    // With `encrypt -i` the other name therefore still holds the plaintext: documented. ----
    let r = s.both(
        "encrypt-i-hardlink",
        &["encrypt", "-i", "--age", KEY1_PUB, "a.yaml"],
        false,
        |d| {
            fs::write(d.join("a.yaml"), PLAIN).unwrap();
            fs::hard_link(d.join("a.yaml"), d.join("b.yaml")).unwrap();
        },
    );
    {
        let (o, d) = (&r[0].0, &r[0].1);
        s.check(o.status.success(), || "hardlink: sops-rs failed".into());
        s.check(
            String::from_utf8_lossy(&o.stderr).contains("hard links"),
            || "hardlink: sops-rs does not warn that the other name keeps the old content".into(),
        );
        s.check(
            fs::read_to_string(d.join("b.yaml")).unwrap() == PLAIN
                && fs::metadata(d.join("a.yaml")).unwrap().nlink() == 1,
            || "hardlink: sops-rs should break the link (b.yaml keeps the old content)".into(),
        );
        let d = &r[1].1;
        s.check(
            fs::read_to_string(d.join("b.yaml"))
                .unwrap()
                .contains("ENC[AES256_GCM"),
            || "hardlink: sops writes through the shared inode (b.yaml changes too)".into(),
        );
    }

    // ---- a directory as input ----
    for (op, args) in [
        ("decrypt", vec!["decrypt", "d"]),
        ("encrypt", vec!["encrypt", "--age", KEY1_PUB, "d"]),
        ("decrypt-i", vec!["decrypt", "-i", "d"]),
    ] {
        let case = format!("{op}-directory");
        let r = s.both(&case, &args, false, |d| {
            fs::create_dir_all(d.join("d")).unwrap()
        });
        for (tool, o, _) in ours_then_sops(&r) {
            s.check(!o.status.success(), || {
                format!("{case} {tool:?}: a directory was accepted")
            });
        }
    }

    // ---- missing file: sops' exit 100 ----
    for (op, args) in [
        ("decrypt", vec!["decrypt", "missing.yaml"]),
        ("decrypt-i", vec!["decrypt", "-i", "missing.yaml"]),
        (
            "encrypt",
            vec!["encrypt", "--age", KEY1_PUB, "missing.yaml"],
        ),
    ] {
        let case = format!("{op}-missing");
        let r = s.both(&case, &args, false, |_| {});
        for (tool, o, d) in ours_then_sops(&r) {
            s.check(code(o) == Some(100), || {
                format!("{case} {tool:?}: exit {:?}, want 100", code(o))
            });
            s.check(!d.join("missing.yaml").exists(), || {
                format!("{case} {tool:?}: created the missing file")
            });
        }
    }

    // ---- --output into a missing directory: exit 3, nothing created ----
    for (op, args, content) in [
        (
            "decrypt",
            vec!["decrypt", "--output", "nodir/out.yaml", "f.yaml"],
            enc.as_str(),
        ),
        (
            "encrypt",
            vec![
                "encrypt",
                "--age",
                KEY1_PUB,
                "--output",
                "nodir/out.yaml",
                "f.yaml",
            ],
            PLAIN,
        ),
    ] {
        let case = format!("{op}-output-missing-dir");
        let r = s.both(&case, &args, false, |d| {
            fs::write(d.join("f.yaml"), content).unwrap()
        });
        for (tool, o, d) in ours_then_sops(&r) {
            s.check(code(o) == Some(3), || {
                format!("{case} {tool:?}: exit {:?}, want 3", code(o))
            });
            s.check(!d.join("nodir").exists(), || {
                format!("{case} {tool:?}: created the directory")
            });
        }
    }

    // ---- new outputs: plaintext 0600 (sops: 0666 & ~umask, documented in security.md
    // §2.5); ciphertext 0644 like sops with umask 022 ----
    let r = s.both(
        "decrypt-output-new",
        &["decrypt", "--output", "out.yaml", "f.yaml"],
        false,
        |d| fs::write(d.join("f.yaml"), &enc).unwrap(),
    );
    let o = r[0].1.join("out.yaml");
    s.check(
        fs::read_to_string(&o).ok().as_deref() == Some(PLAIN) && mode(&o) == 0o600,
        || {
            format!(
                "decrypt --output: new plaintext mode {:o}, want 600",
                mode(&o)
            )
        },
    );
    let r = s.both(
        "encrypt-output-new",
        &[
            "encrypt", "--age", KEY1_PUB, "--output", "out.yaml", "f.yaml",
        ],
        false,
        |d| fs::write(d.join("f.yaml"), PLAIN).unwrap(),
    );
    let (ours_mode, sops_mode) = (
        mode(&r[0].1.join("out.yaml")),
        mode(&r[1].1.join("out.yaml")),
    );
    s.check(ours_mode == sops_mode, || {
        format!("encrypt --output: new file mode {ours_mode:o}, sops {sops_mode:o}")
    });

    // ---- a FIFO as input: read once, decrypted to stdout; in place it is refused, no hang ----
    s.cases += fifo_cases(&root, &enc, &mut s.problems);

    println!(
        "files: {} cases tried, each with sops-rs and sops where sops can run it",
        s.cases
    );
    assert!(s.problems.is_empty(), "{}", s.problems.join("\n"));
    let _ = fs::remove_dir_all(&root);
}

/// Open `fifo` for writing (without blocking forever when nobody reads) and write `content`.
fn feed_fifo(fifo: PathBuf, content: Vec<u8>) -> std::thread::JoinHandle<bool> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::thread::spawn(move || {
        let deadline = Instant::now() + LIMIT;
        loop {
            // O_NONBLOCK: ENXIO until a reader has opened the FIFO
            match fs::OpenOptions::new()
                .write(true)
                .custom_flags(0o4000)
                .open(&fifo)
            {
                Ok(mut f) => return f.write_all(&content).is_ok(),
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return false,
            }
        }
    })
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().expect("mkfifo");
    assert!(st.success());
}

fn fifo_cases(root: &Path, enc: &str, problems: &mut Vec<String>) -> usize {
    let mut n = 0;
    // decrypt a FIFO to stdout: both tools read it once and print the plaintext
    let mut codes = Vec::new();
    for tool in TOOLS {
        n += 1;
        let d = root.join(format!("fifo-decrypt-{tool:?}"));
        fs::create_dir_all(&d).unwrap();
        let fifo = d.join("f.yaml");
        mkfifo(&fifo);
        let writer = feed_fifo(fifo.clone(), enc.as_bytes().to_vec());
        let o = run_tool(tool, &["decrypt", "f.yaml"], &d, false, LIMIT);
        let fed = writer.join().unwrap();
        if !(fed && o.status.success() && o.stdout == PLAIN.as_bytes()) {
            problems.push(format!(
                "fifo decrypt {tool:?}: exit {:?} ({})",
                o.status.code(),
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        codes.push(o.status.code());
    }
    // in place on a FIFO: sops-rs reads it, then refuses to replace a non-regular file
    // (exit 3) without hanging. (sops is not run here: its os.Create on the FIFO blocks
    // until someone reads.)
    n += 1;
    let d = root.join("fifo-decrypt-i");
    fs::create_dir_all(&d).unwrap();
    let fifo = d.join("f.yaml");
    mkfifo(&fifo);
    let writer = feed_fifo(fifo.clone(), enc.as_bytes().to_vec());
    let o = run_tool(Tool::Ours, &["decrypt", "-i", "f.yaml"], &d, false, LIMIT);
    writer.join().unwrap();
    if o.status.code() != Some(3)
        || !fs::symlink_metadata(&fifo)
            .unwrap()
            .file_type()
            .is_fifo_like()
        || listing(&d) != ["f.yaml"]
    {
        problems.push(format!(
            "fifo decrypt -i: exit {:?} ({}), dir {:?}",
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).trim(),
            listing(&d)
        ));
    }
    if String::from_utf8_lossy(&o.stderr).contains("CANARY") {
        problems.push("fifo decrypt -i: a secret in stderr".into());
    }
    n
}

trait FifoLike {
    fn is_fifo_like(&self) -> bool;
}

impl FifoLike for fs::FileType {
    fn is_fifo_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_fifo()
    }
}
