//! Shared helpers for the integration tests: the binary under test, the real sops oracle,
//! and running commands in a clean environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sops-rs"))
}

/// The real Go sops, installed by scripts/test-deps.sh. Tests fail (never skip) without it.
pub fn sops() -> PathBuf {
    if let Ok(p) = std::env::var("SOPS_RS_ORACLE") {
        return PathBuf::from(p);
    }
    let p = root().join("target/tools/bin/sops");
    assert!(
        p.exists(),
        "the real sops binary is missing at {}: run scripts/test-deps.sh (the README's test command does)",
        p.display()
    );
    p
}

pub fn interop_dir() -> PathBuf {
    root().join("testdata/sops-interop")
}

/// Run a program with a clean environment: PATH, HOME=/nonexistent, and `envs`.
pub fn run(prog: &Path, args: &[&str], cwd: &Path, envs: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    let mut c = Command::new(prog);
    c.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut child = c.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    if let Some(input) = stdin {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Run the real sops (version check off).
pub fn run_sops(args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Output {
    let mut a = vec!["--disable-version-check"];
    a.extend_from_slice(args);
    run(&sops(), &a, cwd, envs, None)
}

pub const KEY1_PUB: &str = "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66";

pub fn key1_file() -> String {
    interop_dir().join("keys/key1.txt").display().to_string()
}

/// A fresh, empty directory under target/ (no config files above it that matter:
/// tests pass `--config /dev/null`-free commands with explicit keys).
pub fn scratch(name: &str) -> PathBuf {
    let d = root().join("target/test-scratch").join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}
