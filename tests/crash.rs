//! Crash consistency, disk full and process hygiene (security.md §7 T12, T13, T21).
//!
//! * `kill -9` at random points of in-place writes: the target is always the original bytes or
//!   a complete new file; a killed run leaves at most its temp `.sops-rs-<pid>-<random>.tmp`
//!   (mode 0600), which the next write in the directory removes.
//! * A full or read-only file system, a target that cannot be renamed over: exit 3 (sops'
//!   CouldNotWriteOutputFile), the original intact, no temp left. Needs root to mount a tmpfs;
//!   where that is impossible the tests fail loudly, unless `SOPS_RS_NO_MOUNT_TESTS=1` says to
//!   pass them without running (and they say so on stderr).
//! * The running CLI cannot dump core and is not dumpable (its /proc files are root's).
//!
//! The kill points are random: the seed is printed; set `SOPS_RS_CRASH_SEED=N` to repeat a run
//! (the timing still varies with the machine's load).

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{KEY1_PUB, bin, isolated_scratch, key1_file};

// ---------------------------------------------------------------------------------------------
// T12: kill -9 at random points
// ---------------------------------------------------------------------------------------------

/// What the target holds before the command runs.
#[derive(Clone, Copy, Debug)]
enum Start {
    Plain,
    Encrypted,
}

/// Checks a target that is no longer the original: Ok if it is a complete new file.
type Verify = fn(&Ctx, &[u8]) -> Result<(), String>;

/// One command under test: its name, the target's starting content, argv after the binary
/// (`{file}` is the target's path), the check of a complete result, and extra environment
/// (`{runtime}` is a scratch `XDG_RUNTIME_DIR`). Add a row per command.
struct Row(
    &'static str,
    Start,
    &'static [&'static str],
    Verify,
    &'static [(&'static str, &'static str)],
);

/// The edit row's editor: changes one value in place, as a user saving in vim would.
const SED_EDITOR: &str = "sed -i -e 's/^key_7: .*/key_7: changed/'";

#[rustfmt::skip]
const ROWS: &[Row] = &[
    Row("encrypt -i", Start::Plain, &["encrypt", "-i", "--age", KEY1_PUB, "{file}"], decrypts_to_plain, &[]),
    Row("decrypt -i", Start::Encrypted, &["decrypt", "-i", "{file}"], equals_plain, &[]),
    Row("rotate -i", Start::Encrypted, &["rotate", "-i", "{file}"], decrypts_to_plain, &[]),
    Row("set", Start::Encrypted, &["set", "{file}", "[\"key_7\"]", "\"changed\""], decrypts_and_verifies, &[]),
    // edit keeps its plaintext in a 0700 dir under $XDG_RUNTIME_DIR while the editor runs: a
    // SIGKILL cannot remove it (no handler runs), which is why it lives there, on the tmpfs the
    // login manager clears at logout. The test checks what a kill leaves is 0700/0600.
    Row("edit", Start::Encrypted, &["edit", "{file}"], decrypts_and_verifies,
        &[("EDITOR", SED_EDITOR), ("XDG_RUNTIME_DIR", "{runtime}")]),
];

/// Kills per row that interrupt a run at a uniform random delay over the measured run time, and
/// kills triggered by the temp file's appearance (so that some land mid-write: during the write,
/// the fsync or just before the rename).
const DELAY_KILLS: usize = 50;
const TRIGGERED_KILLS: usize = 16;

/// The plaintext and its encryption.
struct Ctx {
    plain: Vec<u8>,
    encrypted: Vec<u8>,
}

fn decrypt(bytes: &[u8]) -> Result<Vec<u8>, String> {
    sops_rs::decrypt(
        bytes,
        sops_rs::Format::Yaml,
        &common::key1_sources(),
        &Default::default(),
    )
    .map(|o| o.bytes)
    .map_err(|e| format!("does not decrypt: {e}"))
}

fn decrypts_to_plain(ctx: &Ctx, bytes: &[u8]) -> Result<(), String> {
    if decrypt(bytes)? == ctx.plain {
        Ok(())
    } else {
        Err("decrypts, but not to the original plaintext".into())
    }
}

fn equals_plain(ctx: &Ctx, bytes: &[u8]) -> Result<(), String> {
    if bytes == ctx.plain {
        Ok(())
    } else {
        Err(format!(
            "is neither the original nor the plaintext ({} bytes, plaintext {})",
            bytes.len(),
            ctx.plain.len()
        ))
    }
}

/// A row that only needs a file that decrypts and MAC-verifies (`set`, `rotate`, an edit).
#[allow(dead_code)]
fn decrypts_and_verifies(_: &Ctx, bytes: &[u8]) -> Result<(), String> {
    decrypt(bytes).map(drop)
}

/// splitmix64: a seeded generator, enough for kill delays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, max).
    fn below(&mut self, max: Duration) -> Duration {
        let n = max.as_micros().max(1) as u64;
        Duration::from_micros(self.next() % n)
    }
}

/// About 1.4 MB of YAML: long values, so that a debug-build run takes a few hundred ms.
fn big_plaintext(rng: &mut Rng) -> Vec<u8> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut out = Vec::with_capacity(1_500_000);
    out.extend_from_slice(b"# kill -9 test input\n");
    for i in 0..1000 {
        out.extend_from_slice(format!("key_{i}: ").as_bytes());
        for _ in 0..1400 {
            out.push(ALPHABET[(rng.next() % ALPHABET.len() as u64) as usize]);
        }
        out.push(b'\n');
    }
    out
}

/// A temp name of ours, `.sops-rs-<pid>-<random>.tmp`: the writer's pid.
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".sops-rs-")?.strip_suffix(".tmp")?;
    let (pid, random) = rest.split_once('-')?;
    let ok = !random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok { pid.parse().ok() } else { None }
}

/// Every directory entry but the target and the config: only our temps may be there.
fn leftovers(dir: &Path, target: &str) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != target && n != ".sops-rs.yaml")
        .collect();
    v.sort();
    v
}

fn command(args: &[&str], file: &Path, dir: &Path) -> Command {
    let mut c = Command::new(bin());
    for a in args {
        c.arg(if *a == "{file}" {
            file.as_os_str()
        } else {
            a.as_ref()
        });
    }
    c.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .env("SOPS_AGE_KEY_FILE", key1_file())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// The scratch `XDG_RUNTIME_DIR` of the rows that need one, beside the test's directory.
fn runtime_dir(dir: &Path) -> PathBuf {
    let mut name = dir.file_name().unwrap().to_os_string();
    name.push("-runtime");
    dir.with_file_name(name)
}

/// `command` for a row: its argv and its environment.
fn row_command(row: &Row, file: &Path, dir: &Path) -> Command {
    let mut c = command(row.2, file, dir);
    let runtime = runtime_dir(dir);
    for (k, v) in row.4 {
        if *v == "{runtime}" {
            fs::create_dir_all(&runtime).unwrap();
            c.env(k, &runtime);
        } else {
            c.env(k, v);
        }
    }
    c
}

/// What killed runs left under the scratch `XDG_RUNTIME_DIR`: edit's plaintext directories,
/// which must be 0700 with 0600 files (only the user can read a plaintext a kill left behind).
fn runtime_leftovers(dir: &Path) -> Result<usize, String> {
    let Ok(entries) = fs::read_dir(runtime_dir(dir)) else {
        return Ok(0);
    };
    let mut n = 0;
    for e in entries {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = fs::symlink_metadata(e.path()).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if !name.starts_with("sops-rs-edit-") || !meta.is_dir() || mode != 0o700 {
            return Err(format!(
                "runtime dir: {name:?} left with mode {mode:o} (want a sops-rs-edit-* dir, 0700)"
            ));
        }
        for f in fs::read_dir(e.path()).unwrap() {
            let f = f.unwrap();
            let m = fs::symlink_metadata(f.path()).unwrap();
            let mode = m.permissions().mode() & 0o7777;
            if !m.is_file() || mode != 0o600 {
                return Err(format!(
                    "runtime dir: {name}/{:?} left with mode {mode:o} (want a 0600 file)",
                    f.file_name()
                ));
            }
        }
        n += 1;
    }
    Ok(n)
}

/// Where a kill landed, judged from what it left.
#[derive(Default, Debug)]
struct Landed {
    /// the process had finished already
    finished: usize,
    /// target unchanged, no temp: before the write
    before_write: usize,
    /// target unchanged, a temp left: mid-write (create … fsync … chmod)
    mid_write: usize,
    /// target replaced: after the rename
    after_rename: usize,
}

fn seed() -> u64 {
    match std::env::var("SOPS_RS_CRASH_SEED") {
        Ok(s) => s.parse().expect("SOPS_RS_CRASH_SEED: a u64"),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// Run `row` to completion once: Ok(run time) after checking the result.
fn complete_run(row: &Row, ctx: &Ctx, dir: &Path, file: &Path, original: &[u8]) -> Duration {
    fs::write(file, original).unwrap();
    let t = Instant::now();
    let before = runtime_leftovers(dir).unwrap_or(0);
    let out = row_command(row, file, dir).output().unwrap();
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}: an uninterrupted run failed ({:?}): {}",
        row.0,
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    if let Err(e) = (row.3)(ctx, &fs::read(file).unwrap()) {
        panic!("{}: the result of an uninterrupted run {e}", row.0);
    }
    assert_eq!(
        runtime_leftovers(dir),
        Ok(before),
        "{}: an uninterrupted run left a plaintext directory",
        row.0
    );
    took
}

/// Kill one run of `row`; check the target and any temp; say where the kill landed.
fn kill_once(
    row: &Row,
    ctx: &Ctx,
    dir: &Path,
    file: &Path,
    original: &[u8],
    delay: Option<Duration>,
    rng: &mut Rng,
) -> Result<(&'static str, Vec<String>), String> {
    fs::write(file, original).unwrap();
    fs::set_permissions(file, fs::Permissions::from_mode(0o644)).unwrap();
    // its own process group, so that the kill takes the editor of an edit with it (an orphaned
    // editor would go on writing into the plaintext directory while we look at it)
    let mut child = row_command(row, file, dir)
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pid = child.id();
    match delay {
        Some(d) => std::thread::sleep(d),
        None => {
            // wait for this run's temp file to appear, then kill within the next few ms
            let prefix = format!(".sops-rs-{pid}-");
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let seen = fs::read_dir(dir)
                    .unwrap()
                    .filter_map(Result::ok)
                    .any(|e| e.file_name().to_string_lossy().starts_with(&prefix));
                if seen || child.try_wait().unwrap().is_some() || Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(rng.below(Duration::from_millis(15)));
        }
    }
    let finished = child.try_wait().unwrap().is_some();
    // SIGKILL to the group
    // SAFETY: kill(2) on a process group we created; no memory is involved.
    unsafe { libc::kill(-(pid as i32), libc::SIGKILL) };
    let status = child.wait().unwrap();
    runtime_leftovers(dir)?;
    let now = fs::read(file).unwrap();
    let target_name = file.file_name().unwrap().to_string_lossy().into_owned();
    let mut own_temp = false;
    let mut final_mode = Vec::new();
    for name in leftovers(dir, &target_name) {
        let Some(writer) = temp_pid(&name) else {
            return Err(format!("an unexpected file was left: {name:?}"));
        };
        own_temp |= writer == pid;
        let p = dir.join(&name);
        let meta = fs::symlink_metadata(&p).unwrap();
        let mode = meta.permissions().mode() & 0o7777;
        if !meta.is_file() {
            return Err(format!("{name}: a temp that is not a regular file"));
        }
        // 0600 until the last step before the rename, which gives the target's mode to a
        // complete file
        let complete = || (row.3)(ctx, &fs::read(&p).unwrap()).is_ok();
        if mode == 0o644 && complete() {
            final_mode.push(name);
        } else if mode != 0o600 {
            return Err(format!("{name}: a temp left with mode {mode:o}"));
        }
    }
    let landed = if now == original {
        if finished {
            // a command that leaves its target as it was (none yet) finished before the kill
            "finished"
        } else if own_temp {
            "mid_write"
        } else {
            "before_write"
        }
    } else {
        (row.3)(ctx, &now).map_err(|e| {
            format!(
                "the target is not the original, and it {e} (killed: {:?})",
                status.signal()
            )
        })?;
        if finished { "finished" } else { "after_rename" }
    };
    Ok((landed, final_mode))
}

#[test]
fn kill_9_leaves_the_original_or_a_complete_file() {
    let seed = seed();
    eprintln!("crash: seed {seed} (repeat with SOPS_RS_CRASH_SEED={seed})");
    let mut rng = Rng(seed);
    let plain = big_plaintext(&mut rng);
    let dir = isolated_scratch("crash-kill");
    let encrypted = {
        let f = dir.join("seed.yaml");
        fs::write(&f, &plain).unwrap();
        let out = command(&["encrypt", "--age", KEY1_PUB, "{file}"], &f, &dir)
            .stdout(Stdio::piped())
            .output()
            .unwrap();
        assert!(out.status.success(), "cannot encrypt the test input");
        fs::remove_file(&f).unwrap();
        out.stdout
    };
    let ctx = Ctx { plain, encrypted };
    let mut failures = Vec::new();
    let t0 = Instant::now();
    for row in ROWS {
        let original = match row.1 {
            Start::Plain => ctx.plain.clone(),
            Start::Encrypted => ctx.encrypted.clone(),
        };
        let file = dir.join("target.yaml");
        // the run time to spread the kills over (the median of three)
        let mut times: Vec<Duration> = (0..3)
            .map(|_| complete_run(row, &ctx, &dir, &file, &original))
            .collect();
        times.sort();
        let span = times[1] + times[1] / 10;
        let mut landed = Landed::default();
        // temps caught in the chmod-to-rename window (a few syscalls): with the final mode
        let mut final_mode = std::collections::BTreeSet::new();
        // random delays until DELAY_KILLS of them interrupted a run (a run that had finished
        // does not count), then the triggered ones
        let (mut i, mut delayed, mut triggered) = (0, 0, 0);
        while triggered < TRIGGERED_KILLS && i < 3 * (DELAY_KILLS + TRIGGERED_KILLS) {
            let delay = (delayed < DELAY_KILLS).then(|| rng.below(span));
            match kill_once(row, &ctx, &dir, &file, &original, delay, &mut rng) {
                Ok((l, names)) => {
                    final_mode.extend(names);
                    match l {
                        "finished" => landed.finished += 1,
                        "before_write" => landed.before_write += 1,
                        "mid_write" => landed.mid_write += 1,
                        _ => landed.after_rename += 1,
                    }
                    if delay.is_none() {
                        triggered += 1;
                    } else if l != "finished" {
                        delayed += 1;
                    }
                }
                Err(e) => {
                    failures.push(format!("{} (kill {i}, delay {delay:?}): {e}", row.0));
                    break;
                }
            }
            i += 1;
        }
        if delayed < DELAY_KILLS {
            failures.push(format!(
                "{}: only {delayed} of {i} random kills interrupted a run",
                row.0
            ));
        }
        let stale = leftovers(&dir, "target.yaml");
        // the next run in the directory succeeds and removes the dead runs' temps
        complete_run(row, &ctx, &dir, &file, &original);
        let after = leftovers(&dir, "target.yaml");
        if !after.is_empty() {
            failures.push(format!(
                "{}: temps of killed runs not removed by the next run: {after:?}",
                row.0
            ));
        }
        // more would mean the temp gets the target's mode before it is complete and fsynced
        if final_mode.len() > 2 {
            failures.push(format!(
                "{}: {} temps already had the target's mode: {final_mode:?}",
                row.0,
                final_mode.len()
            ));
        }
        // edit's plaintext directories left by kills (checked 0700/0600 after every kill)
        let plain_dirs = runtime_leftovers(&dir).unwrap_or(0);
        let _ = fs::remove_dir_all(runtime_dir(&dir));
        if landed.mid_write == 0 {
            failures.push(format!("{}: no kill landed mid-write: {landed:?}", row.0));
        }
        eprintln!(
            "crash: {}: run {:?}, {i} kills: {landed:?}; {} temps left by kills, {} after the next run; {plain_dirs} plaintext dirs (0700) left in XDG_RUNTIME_DIR",
            row.0,
            times[1],
            stale.len(),
            after.len()
        );
    }
    eprintln!("crash: {} rows in {:?}", ROWS.len(), t0.elapsed());
    let _ = fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// T13: disk full, read-only file system, a target that cannot be replaced
// ---------------------------------------------------------------------------------------------

/// Set to 1 to pass the mount tests without running them where mounting is impossible.
const NO_MOUNT_ENV: &str = "SOPS_RS_NO_MOUNT_TESTS";

/// A mount, undone when dropped (also when the test panics).
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let ok = Command::new("umount")
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
}

/// `mount ARGS AT`. Fails the test loudly if that is impossible, unless [`NO_MOUNT_ENV`] is 1:
/// then None, after saying so loudly.
fn mount(args: &[&str], at: &Path) -> Option<Mount> {
    let out = Command::new("mount").args(args).arg(at).output();
    match out {
        Ok(o) if o.status.success() => Some(Mount(at.to_path_buf())),
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            let bar = "!".repeat(78);
            let msg = format!(
                "\n{bar}\n!!! cannot `mount {}` ({why}).\n!!! The disk-full tests (security.md T13) need root; CI runs as root.\n!!! Set {NO_MOUNT_ENV}=1 to pass them WITHOUT RUNNING them.\n{bar}",
                args.join(" ")
            );
            if std::env::var(NO_MOUNT_ENV).as_deref() == Ok("1") {
                eprintln!("{msg}\n!!! {NO_MOUNT_ENV}=1: NOT RUN\n{bar}");
                None
            } else {
                panic!("{msg}");
            }
        }
    }
}

const CANARY: &str = "canary-d1sk-full-7f3a";

/// About 16 KiB of YAML whose values hold the canary.
fn small_plaintext() -> Vec<u8> {
    let mut s = String::from("# disk full test\n");
    for i in 0..160 {
        s.push_str(&format!("key_{i:03}: {CANARY}-{i:03}-{}\n", "x".repeat(64)));
    }
    s.into_bytes()
}

fn encrypted(plain: &[u8], dir: &Path) -> Vec<u8> {
    let f = dir.join("to-encrypt.yaml");
    fs::write(&f, plain).unwrap();
    let out = cli(&["encrypt", "--age", KEY1_PUB, f.to_str().unwrap()], dir);
    assert!(out.status.success(), "cannot encrypt the test input");
    fs::remove_file(&f).unwrap();
    out.stdout
}

fn cli(args: &[&str], dir: &Path) -> std::process::Output {
    let key = key1_file();
    common::run(&bin(), args, dir, &[("SOPS_AGE_KEY_FILE", &key)], None)
}

/// Fill the file system of `dir` until only `leave` bytes (whole pages) are free.
fn fill(dir: &Path, leave: u64) {
    use std::io::Write;
    let p = dir.join("filler");
    let mut f = fs::File::create(&p).unwrap();
    let page = [0u8; 4096];
    while f.write_all(&page).is_ok() {}
    let len = f.metadata().unwrap().len() / 4096 * 4096;
    f.set_len(len.saturating_sub(leave)).unwrap();
}

/// Files and what they must still hold (None: absent).
type Expected<'a> = Vec<(&'a Path, Option<&'a [u8]>)>;

/// A run that must fail to write: exit 3, the files as they were (None: absent), no temp left
/// in `dir`, no value on stderr.
fn expect_exit_3(
    what: &str,
    args: &[&str],
    dir: &Path,
    files: &[(&Path, Option<&[u8]>)],
) -> Vec<String> {
    let before = leftovers(dir, "");
    let out = cli(args, dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut errs = Vec::new();
    if out.status.code() != Some(3) {
        errs.push(format!("{what}: exit {:?}, want 3: {stderr}", out.status));
    }
    if stderr.contains(CANARY) || !stderr.contains("could not write") {
        errs.push(format!(
            "{what}: stderr leaks a value or says nothing: {stderr}"
        ));
    }
    for (f, want) in files {
        let now = fs::read(f).ok();
        if now.as_deref() != *want {
            errs.push(format!("{what}: {} changed", f.display()));
        }
    }
    let after = leftovers(dir, "");
    if after != before {
        errs.push(format!("{what}: left {after:?} (before: {before:?})"));
    }
    errs
}

#[test]
fn disk_full_exit_3_original_intact_no_temp() {
    let dir = isolated_scratch("crash-full");
    let plain = small_plaintext();
    let enc = encrypted(&plain, &dir);
    let (plain_out, enc_out) = (dir.join("plain.yaml"), dir.join("enc.yaml"));
    fs::write(&plain_out, &plain).unwrap();
    fs::write(&enc_out, &enc).unwrap();
    let full = dir.join("full");
    fs::create_dir(&full).unwrap();
    let Some(_m) = mount(&["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs"], &full) else {
        return;
    };
    let (p, e) = (full.join("plain.yaml"), full.join("enc.yaml"));
    fs::write(&p, &plain).unwrap();
    fs::write(&e, &enc).unwrap();
    // 8 KiB free: less than any output here (plaintext 16 KiB, encrypted more)
    fill(&full, 8192);
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let new = full.join("new.yaml");
    let (ps, es, news) = (s(&p), s(&e), s(&new));
    let mut errs = Vec::new();
    let cases: [(&str, Vec<&str>, Expected); 4] = [
        (
            "encrypt -i",
            vec!["encrypt", "-i", "--age", KEY1_PUB, &ps],
            vec![(&p, Some(&plain))],
        ),
        (
            "decrypt -i",
            vec!["decrypt", "-i", &es],
            vec![(&e, Some(&enc))],
        ),
        (
            "encrypt --output (new file)",
            vec![
                "encrypt",
                "--age",
                KEY1_PUB,
                "--output",
                &news,
                plain_out.to_str().unwrap(),
            ],
            vec![(&new, None)],
        ),
        (
            "decrypt --output (over a file)",
            vec!["decrypt", "--output", &ps, enc_out.to_str().unwrap()],
            vec![(&p, Some(&plain))],
        ),
    ];
    for (what, args, files) in &cases {
        errs.extend(expect_exit_3(what, args, &full, files));
    }
    // the failures were the space: with it back, the same in-place run works
    fs::remove_file(full.join("filler")).unwrap();
    fs::remove_file(&e).unwrap();
    let out = cli(&["encrypt", "-i", "--age", KEY1_PUB, &ps], &full);
    assert!(out.status.success(), "encrypt -i with space: {out:?}");
    assert!(errs.is_empty(), "{}", errs.join("\n"));
    drop(_m);
    let _ = fs::remove_dir_all(&dir);
    eprintln!(
        "crash: disk full: {} cases, exit 3, originals intact, no temp",
        cases.len()
    );
}

#[test]
fn read_only_no_inode_and_busy_target_exit_3() {
    let dir = isolated_scratch("crash-ro");
    let plain = small_plaintext();
    let mut errs = Vec::new();
    let encrypt_in_place = |f: &Path| -> Vec<String> {
        vec![
            "encrypt".into(),
            "-i".into(),
            "--age".into(),
            KEY1_PUB.into(),
            f.to_str().unwrap().into(),
        ]
    };
    let check = |what: &str, f: &Path, d: &Path| {
        let args = encrypt_in_place(f);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        expect_exit_3(what, &args, d, &[(f, Some(&plain))])
    };

    // a read-only file system (root ignores directory modes; a mount does not)
    let ro = dir.join("ro");
    fs::create_dir(&ro).unwrap();
    let Some(_ro) = mount(&["-t", "tmpfs", "-o", "size=1m", "tmpfs"], &ro) else {
        return;
    };
    fs::write(ro.join("t.yaml"), &plain).unwrap();
    // the same mount point: `_ro` undoes both
    std::mem::forget(mount(&["-o", "remount,ro"], &ro).expect("remount"));
    errs.extend(check("read-only file system", &ro.join("t.yaml"), &ro));

    // no inode left for the temp file (the root directory and the target use both)
    let ino = dir.join("ino");
    fs::create_dir(&ino).unwrap();
    let _ino = mount(&["-t", "tmpfs", "-o", "size=1m,nr_inodes=2", "tmpfs"], &ino).unwrap();
    fs::write(ino.join("t.yaml"), &plain).unwrap();
    errs.extend(check("no inode left", &ino.join("t.yaml"), &ino));

    // the data fits, the rename fails: a file bind-mounted over the target (EBUSY), as
    // container runtimes mount single secret files
    let bind = dir.join("bind");
    fs::create_dir(&bind).unwrap();
    fs::write(dir.join("src.yaml"), &plain).unwrap();
    fs::write(bind.join("t.yaml"), b"under the mount\n").unwrap();
    let _b = mount(
        &["--bind", dir.join("src.yaml").to_str().unwrap()],
        &bind.join("t.yaml"),
    )
    .unwrap();
    errs.extend(check(
        "target is a mount point",
        &bind.join("t.yaml"),
        &bind,
    ));

    assert!(errs.is_empty(), "{}", errs.join("\n"));
    drop((_b, _ino, _ro));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn stdout_full_exit_3() {
    let dir = isolated_scratch("crash-stdout");
    let plain = small_plaintext();
    let f = dir.join("enc.yaml");
    fs::write(&f, encrypted(&plain, &dir)).unwrap();
    let out = Command::new(bin())
        .args(["decrypt", f.to_str().unwrap()])
        .env_clear()
        .env("SOPS_AGE_KEY_FILE", key1_file())
        .stdout(fs::File::create("/dev/full").unwrap())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(!stderr.contains(CANARY), "{stderr}");
    let _ = fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------------
// T21: process hygiene
// ---------------------------------------------------------------------------------------------

/// A field of /proc/PID/limits: the soft "Max core file size".
fn core_limit(pid: u32) -> Option<String> {
    let limits = fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max core file size"))?;
    line.split_whitespace().nth(4).map(String::from)
}

fn owner(p: &str) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(p).ok().map(|m| m.uid())
}

/// Start `prog args` with core dumps allowed (soft limit raised to unlimited), as uid 65534
/// when we are root (so that "owned by root" is observable), stdin a pipe kept open.
fn start_waiting(prog: &Path, args: &[&str], cwd: &Path) -> std::process::Child {
    let root = owner("/proc/self/status") == Some(0);
    let mut c = Command::new("sh");
    c.arg("-c")
        .arg(if root {
            r#"ulimit -c unlimited && exec setpriv --reuid=65534 --regid=65534 --clear-groups "$@""#
        } else {
            r#"ulimit -S -c "$(ulimit -H -c)"; exec "$@""#
        })
        .arg("sh")
        .arg(prog)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c.spawn().expect("sh")
}

/// Wait until `pid` runs `prog` (after the wrapper's exec), then up to 2 s for `ready`.
fn wait_for(pid: u32, prog: &Path, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    // unreadable to a non-root test once the process is not dumpable: past the exec
    while fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e != prog) {
        assert!(Instant::now() < deadline, "pid {pid} never became {prog:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Is /proc/PID/environ readable by the process' own user? (ptrace access mode READ)
fn environ_readable_by_owner(pid: u32) -> bool {
    let path = format!("/proc/{pid}/environ");
    let mut c = if owner("/proc/self/status") == Some(0) {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "cat",
            &path,
        ]);
        c
    } else {
        let mut c = Command::new("cat");
        c.arg(&path);
        c
    };
    c.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn cli_cannot_dump_core_and_is_not_dumpable() {
    // a copy anyone can run (the checkout may be private to root)
    let tmp = tempfile::tempdir().unwrap();
    fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let prog = tmp.path().join("sops-rs");
    fs::copy(bin(), &prog).unwrap();
    let prog = prog.canonicalize().unwrap();
    let cat = PathBuf::from(
        String::from_utf8(
            Command::new("sh")
                .args(["-c", "command -v cat"])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap()
        .trim(),
    )
    .canonicalize()
    .unwrap();

    // control: a plain process started the same way can dump core and is dumpable
    let mut control = start_waiting(&cat, &[], tmp.path());
    let cpid = control.id();
    wait_for(cpid, &cat, || core_limit(cpid).is_some());
    let control_core = core_limit(cpid);
    let control_owner = owner(&format!("/proc/{cpid}/status"));
    let control_environ = environ_readable_by_owner(cpid);
    drop(control.stdin.take());
    control.wait().unwrap();
    assert_ne!(
        control_core.as_deref(),
        Some("0"),
        "the control cannot dump core"
    );
    assert_ne!(
        control_owner,
        Some(0),
        "the control's /proc files are root's"
    );
    assert!(
        control_environ,
        "the control's environ is not readable by its user"
    );

    // sops-rs, blocked reading stdin after its start-up
    let mut child = start_waiting(&prog, &["decrypt", "--input-type", "yaml"], tmp.path());
    let pid = child.id();
    wait_for(pid, &prog, || core_limit(pid).as_deref() == Some("0"));
    let core = core_limit(pid);
    let status_owner = owner(&format!("/proc/{pid}/status"));
    let environ = environ_readable_by_owner(pid);
    // SIGABRT: no core dump
    let _ = Command::new("kill")
        .args(["-ABRT", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();
    assert_eq!(core.as_deref(), Some("0"), "sops-rs' soft core limit");
    assert_eq!(
        status_owner,
        Some(0),
        "sops-rs is dumpable: its /proc files are not root's"
    );
    assert!(!environ, "sops-rs' environ is readable by its own user");
    assert_eq!(status.signal(), Some(6), "{status:?}");
    assert!(!status.core_dumped(), "sops-rs dumped core");
    assert!(!tmp.path().join("core").exists());
}
