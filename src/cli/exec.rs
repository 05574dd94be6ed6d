//! `exec-env` and `exec-file`: run a command with the decrypted values in its environment,
//! or with the decrypted file at a temporary path, as sops 3.x does.
//!
//! Beyond sops: variable names are checked (NUL and `=` refused naming the key; the
//! dynamic-loader variables warned about), the child's exit status is passed through
//! (128+signal when it is killed), and the FIFO or temp file and its directory are removed
//! once the child has exited, whatever its status. A signal sent to sops-rs itself (HUP, INT,
//! QUIT, TERM from another process) is forwarded to the child, so that clean-up still runs.
//!
//! `libc` (already in the tree through `getrandom`) provides what std does not: `mkfifo`,
//! the user database (`getpwnam_r`, `getgrouplist`), dropping privileges in the child, and
//! the signal handler. Each `unsafe` block says why it is sound.

// libc calls (kill, mkfifo, user look-up, setuid), each with a SAFETY note
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, OsString};
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use clap::Args;
use sops_rs::Format;
use sops_rs::document::DecryptOptions;
use sops_rs::format::{PathSeg, dotenv, ini, json, toml, yaml};
use sops_rs::value::Value;
use zeroize::Zeroizing;

use super::{Failure, code, fail, format_of, read_input, sanitize};

/// sops' name for the temporary file (`exec.FallbackFilename`).
const FALLBACK_FILENAME: &str = "tmp-file";

#[derive(Args)]
pub struct ExecEnvArgs {
    /// The encrypted file
    pub file: PathBuf,
    /// The command, run with `/bin/sh -c`
    pub command: String,
    /// Give the command only the decrypted values, not this process's environment
    #[arg(long)]
    pub pristine: bool,
    /// Run the command as this user (needs root)
    #[arg(long)]
    pub user: Option<String>,
    /// Replace this process with the command (execve) instead of running a child
    #[arg(long)]
    pub same_process: bool,
    /// Deprecated (as in sops): start the command and do not wait for it
    #[arg(long)]
    pub background: bool,
    /// Input format: yaml, json, dotenv, ini, toml or binary (default: from the extension)
    #[arg(long)]
    pub input_type: Option<String>,
}

#[derive(Args)]
pub struct ExecFileArgs {
    /// The encrypted file
    pub file: PathBuf,
    /// The command, run with `/bin/sh -c`; every `{}` is replaced by the temporary path
    pub command: String,
    /// Write a regular 0600 file instead of a FIFO
    #[arg(long)]
    pub no_fifo: bool,
    /// Name of the temporary file (a relative path inside the private directory)
    #[arg(long, default_value = FALLBACK_FILENAME)]
    pub filename: PathBuf,
    /// Run the command as this user (needs root)
    #[arg(long)]
    pub user: Option<String>,
    /// Input format: yaml, json, dotenv, ini, toml or binary (default: from the extension)
    #[arg(long)]
    pub input_type: Option<String>,
    /// Format of the temporary file (default: the input format)
    #[arg(long)]
    pub output_type: Option<String>,
    /// Deprecated (as in sops); sops-rs still waits for the command, so that the file can be
    /// removed after it
    #[arg(long)]
    pub background: bool,
}

/// Decrypt `file` as `decrypt` does (format from the flag, the extension or the content).
fn decrypt_file(
    file: &Path,
    input_type: Option<&str>,
    verbose: bool,
) -> Result<(Zeroizing<Vec<u8>>, Format), Failure> {
    let name = file.display().to_string();
    let format = format_of(input_type, Some(file), "--input-type")?;
    let input = read_input(Some(file))?;
    let format = if input_type.is_none() && !Format::known_extension(file) {
        let f = Format::detect_encrypted(&input);
        if verbose {
            eprintln!(
                "sops-rs: {name}: the file name does not tell the format; the content reads as {f:?}"
            );
        }
        f
    } else {
        format
    };
    let sources = super::key_sources();
    let out = sops_rs::decrypt(&input, format, &sources, &DecryptOptions::default())
        .map_err(|e| fail(&name, e))?;
    Ok((Zeroizing::new(out.bytes), format))
}

/// sops' `ValToString` (`stores.ValToString`): a null is Go's `<nil>`, as sops prints it.
fn val_to_string(v: Option<&Value>) -> String {
    match v {
        None => "<nil>".into(),
        Some(Value::Str(s)) => s.clone(),
        // dotenv's rendering is ValToString for every non-string type
        Some(other) => dotenv::render(other),
    }
}

/// Document 0's top-level entries, `(key, value)` in order; a nested value is sops' error
/// "cannot use complex value in environment" naming the key.
fn top_level(plain: &[u8], format: Format, file: &str) -> Result<Vec<(String, String)>, Failure> {
    if format == Format::Binary {
        // sops' binary store holds the whole file under `data`
        let s = String::from_utf8(plain.to_vec()).map_err(|_| {
            Failure::new(
                code::GENERIC,
                format!("{file}: the value of \"data\" is not UTF-8 text: it cannot be an environment variable"),
            )
        })?;
        return Ok(vec![("data".into(), s)]);
    }
    let src = std::str::from_utf8(plain)
        .map_err(|_| Failure::new(code::GENERIC, format!("{file}: the plaintext is not UTF-8")))?;
    // the plaintext came out of a file that parsed: a failure here names no content
    let reparse = |_| {
        Failure::new(
            code::GENERIC,
            format!("{file}: the decrypted document does not parse as {format:?}"),
        )
    };
    let leaves = match format {
        Format::Yaml => {
            let p = yaml::parse(src).map_err(reparse)?;
            // document 0 only, as sops (`tree.Branches[0]`)
            let end = if p.docs.len() > 1 {
                p.docs[0].insert_at
            } else {
                usize::MAX
            };
            p.leaves
                .into_iter()
                .filter(|l| l.span.start < end)
                .collect()
        }
        Format::Json => json::parse(src).map_err(reparse)?.leaves,
        Format::Dotenv => dotenv::parse(src).map_err(reparse)?.leaves,
        Format::Ini => ini::parse(src).map_err(reparse)?.leaves,
        Format::Toml => toml::parse(src).map_err(reparse)?.leaves,
        Format::Binary => unreachable!("handled above"),
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for l in &leaves {
        let key = match l.index_path.first() {
            Some(PathSeg::Key(k)) => k,
            // a top-level comment
            None if l.value.as_ref().is_some_and(Value::is_comment) => continue,
            _ => {
                return Err(Failure::new(
                    code::GENERIC,
                    format!("{file}: the document is not a mapping: it cannot be an environment"),
                ));
            }
        };
        // a longer path, a comment inside a collection, an empty `{}` or `[]`: a nested value
        let nested = l.index_path.len() > 1
            || l.value.as_ref().is_some_and(Value::is_comment)
            || (l.value.is_none() && matches!(l.ctx.quote, b'{' | b'['));
        if nested {
            return Err(Failure::new(
                code::GENERIC,
                format!(
                    "{file}: cannot use complex value in environment; offending key {}",
                    sanitize(key)
                ),
            )
            .hint("exec-env takes a flat file: one top-level KEY: value per variable"));
        }
        out.push((key.clone(), val_to_string(l.value.as_ref())));
    }
    Ok(out)
}

/// Check the names (and values) that go into the environment. Errors name the key only.
fn check_env(vars: &[(String, String)], file: &str) -> Result<(), Failure> {
    for (k, v) in vars {
        let bad = if k.is_empty() {
            Some("an empty name")
        } else if k.contains('\0') {
            Some("a NUL byte in the name")
        } else if k.contains('=') {
            Some("'=' in the name")
        } else if v.contains('\0') {
            Some("a NUL byte in the value")
        } else {
            None
        };
        if let Some(why) = bad {
            return Err(Failure::new(
                code::GENERIC,
                format!(
                    "{file}: cannot use the key {:?} in the environment: {why}",
                    sanitize(k)
                ),
            ));
        }
        if k.starts_with("LD_") || k.starts_with("DYLD_") {
            eprintln!(
                "warning: {file}: sets {}, a dynamic-loader variable: the command will load what it names",
                sanitize(k)
            );
        }
    }
    Ok(())
}

/// A user to run the command as: ids and groups from the user database.
struct Account {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    home: OsString,
}

fn lookup_user(name: &str) -> Result<Account, Failure> {
    let unknown = || {
        Failure::new(
            code::GENERIC,
            format!("--user: no such user: {}", sanitize(name)),
        )
    };
    let cname = CString::new(name).map_err(|_| unknown())?;
    let mut buf: Vec<libc::c_char> = vec![0; 4096];
    // SAFETY: an all-zero `passwd` is a valid value (null pointers, zero ids); it is only
    // read after getpwnam_r filled it.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    loop {
        // SAFETY: every pointer is valid for the call; getpwnam_r writes the entry into `pwd`
        // and its strings into `buf` (of the length given), and sets `result` to `&pwd` or null.
        let rc = unsafe {
            libc::getpwnam_r(
                cname.as_ptr(),
                &mut pwd,
                buf.as_mut_ptr(),
                buf.len(),
                &mut result,
            )
        };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() {
            return Err(unknown());
        }
        break;
    }
    // SAFETY: on success `pw_dir` points to a NUL-terminated string inside `buf`, alive here.
    let home = unsafe { CStr::from_ptr(pwd.pw_dir) }.to_bytes().to_vec();
    let (uid, gid) = (pwd.pw_uid, pwd.pw_gid);
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut n = groups.len() as libc::c_int;
        // SAFETY: `groups` has room for `n` entries; getgrouplist writes at most that many and
        // sets `n` to the number found (or needed, when it returns -1).
        let rc = unsafe {
            libc::getgrouplist(cname.as_ptr(), gid as _, groups.as_mut_ptr().cast(), &mut n)
        };
        if rc >= 0 {
            groups.truncate(n.max(0) as usize);
            break;
        }
        if groups.len() >= 65536 {
            groups = vec![gid];
            break;
        }
        let want = (n.max(0) as usize).max(groups.len() * 2);
        groups.resize(want, 0);
    }
    Ok(Account {
        name: name.to_string(),
        uid,
        gid,
        groups,
        home: OsString::from_vec(home),
    })
}

/// Drop to `acct` in the child between fork and exec: groups, then gid, then uid (sops 3.13.2
/// sets the supplementary groups too). std's `uid`/`gid` would clear the groups instead.
fn drop_privileges(cmd: &mut Command, acct: &Account) {
    let (uid, gid, groups) = (acct.uid, acct.gid, acct.groups.clone());
    // SAFETY: the closure runs in the forked child before exec; it only makes the
    // async-signal-safe system calls setgroups/setgid/setuid on data prepared beforehand, and
    // builds its error from errno without allocating.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setgroups(groups.len() as _, groups.as_ptr()) != 0
                || libc::setgid(gid) != 0
                || libc::setuid(uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.env("HOME", &acct.home)
        .env("USER", &acct.name)
        .env("LOGNAME", &acct.name);
}

/// `/bin/sh -c command`, as sops runs it.
fn shell(command: &str, pristine: bool) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    if pristine {
        cmd.env_clear();
    }
    cmd
}

/// The child's exit status as ours: its code, or 128+signal when a signal ended it.
fn status_code(st: std::process::ExitStatus) -> u8 {
    match (st.code(), st.signal()) {
        (Some(c), _) => (c & 0xff) as u8,
        (None, Some(sig)) => (128 + sig).clamp(0, 255) as u8,
        _ => code::GENERIC,
    }
}

/// Run the command to completion, forwarding HUP/INT/QUIT/TERM that another process sends us.
fn run_child(mut cmd: Command) -> Result<u8, Failure> {
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::new(code::GENERIC, format!("could not run the command: {e}")))?;
    signals::forward_to(child.id());
    let st = child.wait();
    signals::forward_to(0);
    let st =
        st.map_err(|e| Failure::new(code::GENERIC, format!("waiting for the command: {e}")))?;
    Ok(status_code(st))
}

/// Leave with the child's status once everything is cleaned up (a non-zero status is the
/// child's, not an error of ours: nothing is printed).
fn exit_with(status: u8) -> Result<(), Failure> {
    if status == 0 {
        Ok(())
    } else {
        let _ = std::io::stdout().flush();
        std::process::exit(i32::from(status));
    }
}

pub fn exec_env(a: ExecEnvArgs, verbose: bool) -> Result<(), Failure> {
    if a.background {
        eprintln!(
            "warning: exec-env's --background option is deprecated (as in sops) and will be removed"
        );
        if a.same_process {
            return Err(Failure::new(
                code::CONFLICTING_PARAMETERS,
                "the --same-process flag cannot be used with --background",
            ));
        }
    }
    let name = a.file.display().to_string();
    let acct = a.user.as_deref().map(lookup_user).transpose()?;
    let (plain, format) = decrypt_file(&a.file, a.input_type.as_deref(), verbose)?;
    let vars = Zeroizing::new(top_level(&plain, format, &name)?);
    drop(plain);
    check_env(&vars, &name)?;
    let mut cmd = shell(&a.command, a.pristine);
    if let Some(acct) = &acct {
        drop_privileges(&mut cmd, acct);
    }
    for (k, v) in vars.iter() {
        cmd.env(k, v);
    }
    if a.same_process {
        // only returns on failure
        let e = cmd.exec();
        return Err(Failure::new(
            code::GENERIC,
            format!("could not run the command: {e}"),
        ));
    }
    if a.background {
        cmd.spawn()
            .map_err(|e| Failure::new(code::GENERIC, format!("could not run the command: {e}")))?;
        return Ok(());
    }
    let status = run_child(cmd)?;
    exit_with(status)
}

/// `--filename` must stay inside the private directory (sops 3.13: `filepath.IsLocal`).
fn local_name(p: &Path) -> Result<&Path, Failure> {
    let ok = !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)));
    if ok {
        Ok(p)
    } else {
        Err(Failure::new(
            code::GENERIC,
            format!(
                "--filename {:?} must be a relative path without '..'",
                sanitize(&p.display().to_string())
            ),
        ))
    }
}

fn mkfifo(path: &Path) -> std::io::Result<()> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    // SAFETY: `c` is a NUL-terminated path that mkfifo only reads.
    if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

pub fn exec_file(a: ExecFileArgs, verbose: bool) -> Result<(), Failure> {
    if a.background {
        eprintln!(
            "warning: exec-file's --background option is deprecated (as in sops); sops-rs waits for the command so that it can remove the file afterwards"
        );
    }
    let rel = local_name(&a.filename)?;
    let acct = a.user.as_deref().map(lookup_user).transpose()?;
    let name = a.file.display().to_string();
    let (plain, format) = decrypt_file(&a.file, a.input_type.as_deref(), verbose)?;
    let plain = match a.output_type.as_deref() {
        None => plain,
        Some(t) => {
            let to = format_of(Some(t), None, "--output-type")?;
            if to == format {
                plain
            } else if to == Format::Binary {
                return Err(Failure::new(
                    code::GENERIC,
                    "--output-type binary is not supported by exec-file",
                ));
            } else {
                Zeroizing::new(
                    sops_rs::document::convert(&plain, format, to).map_err(|e| fail(&name, e))?,
                )
            }
        }
    };

    let io_fail = |what: &str, e: std::io::Error| {
        Failure::new(code::COULD_NOT_WRITE_OUTPUT, format!("{what}: {e}"))
    };
    // a fresh private directory (0700) under $TMPDIR, removed when `dir` is dropped
    let dir = tempfile::Builder::new()
        .prefix(".sops-rs-")
        .tempdir()
        .map_err(|e| io_fail("could not create a temporary directory", e))?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| io_fail("temporary directory", e))?;
    let path = dir.path().join(rel);
    let result = (|| {
        if let Some(parent) = path.parent()
            && parent != dir.path()
        {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(|e| io_fail("temporary directory", e))?;
        }
        let mut writer = None;
        if a.no_fifo {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .map_err(|e| io_fail("temporary file", e))?;
            // a short write would hand the command a truncated file (sops ignores this)
            f.write_all(&plain)
                .and_then(|()| f.flush())
                .map_err(|e| io_fail("temporary file", e))?;
        } else {
            mkfifo(&path).map_err(|e| io_fail("could not create a FIFO", e))?;
        }
        if let Some(acct) = &acct {
            // the command runs as another user: it must be able to reach and read the file
            for p in path.ancestors().take_while(|p| p.starts_with(dir.path())) {
                std::os::unix::fs::chown(p, Some(acct.uid), Some(acct.gid))
                    .map_err(|e| io_fail("temporary directory", e))?;
            }
        }
        if !a.no_fifo {
            // opening a FIFO for writing blocks until the command opens it for reading; a
            // command that never reads leaves this thread blocked until we exit
            let fifo = path.clone();
            let data = Zeroizing::new(plain.to_vec());
            writer = Some(std::thread::spawn(move || {
                if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                    // the reader may stop early (EPIPE): nothing to do about it
                    let _ = f.write_all(&data);
                }
            }));
        }
        let command = a.command.replace("{}", &path.to_string_lossy());
        let mut cmd = shell(&command, false);
        if let Some(acct) = &acct {
            drop_privileges(&mut cmd, acct);
        }
        let status = run_child(cmd)?;
        if let Some(w) = writer
            && w.is_finished()
        {
            let _ = w.join();
        }
        Ok(status)
    })();
    drop(plain);
    // remove the file and the directory before anything else, also when the command failed
    let removed = dir.close();
    let status = result?;
    removed.map_err(|e| {
        Failure::new(
            code::GENERIC,
            format!("could not remove the temporary directory: {e}"),
        )
    })?;
    exit_with(status)
}

/// Forwarding of HUP/INT/QUIT/TERM sent by another process to the running child.
///
/// A signal from the terminal (Ctrl-C) reaches the child directly, as it shares our process
/// group; only a signal sent to us alone (`kill`, a supervisor stopping a service) is passed
/// on, so that we outlive the child and remove its files.
mod signals {
    use std::sync::Once;
    use std::sync::atomic::{AtomicI32, Ordering};

    static CHILD: AtomicI32 = AtomicI32::new(0);
    static INSTALL: Once = Once::new();

    extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO; reading `si_code` is a
        // plain load. kill(2) is async-signal-safe.
        let from_process = !info.is_null() && unsafe { (*info).si_code } <= 0;
        let pid = CHILD.load(Ordering::SeqCst);
        if from_process && pid > 0 {
            unsafe {
                libc::kill(pid, sig);
            }
        }
    }

    /// Send forwarded signals to `pid` from now on (0: to nobody).
    pub fn forward_to(pid: u32) {
        CHILD.store(pid as i32, Ordering::SeqCst);
        INSTALL.call_once(|| {
            for sig in [libc::SIGHUP, libc::SIGINT, libc::SIGQUIT, libc::SIGTERM] {
                // SAFETY: a zeroed sigaction is valid; the handler has the SA_SIGINFO
                // signature and only does async-signal-safe work. SA_RESTART keeps our
                // waitpid going.
                unsafe {
                    let mut sa: libc::sigaction = std::mem::zeroed();
                    sa.sa_sigaction = handler as *const () as usize;
                    sa.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
                    libc::sigemptyset(&mut sa.sa_mask);
                    libc::sigaction(sig, &sa, std::ptr::null_mut());
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filename_must_be_local() {
        for ok in ["tmp-file", "a/b.yaml", "x y"] {
            assert!(local_name(Path::new(ok)).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/../b", "./x"] {
            assert!(local_name(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_are_checked() {
        let one = |k: &str, v: &str| check_env(&[(k.to_string(), v.to_string())], "f");
        assert!(one("A", "1").is_ok());
        assert!(one("LD_PRELOAD", "x").is_ok(), "a warning, not an error");
        for (k, v) in [
            ("", "CANARY"),
            ("A=B", "CANARY"),
            ("A\0B", "CANARY"),
            ("A", "CAN\0ARY"),
        ] {
            let e = one(k, v).expect_err("refused");
            assert!(!e.msg.contains("CAN"), "{}", e.msg);
        }
    }

    #[test]
    fn statuses() {
        use std::process::ExitStatus;
        assert_eq!(status_code(ExitStatus::from_raw(3 << 8)), 3);
        assert_eq!(status_code(ExitStatus::from_raw(9)), 137);
    }
}
