//! `edit`: the plaintext in the user's editor, re-encrypted on save with the same data key.
//!
//! What the user typed is never lost: a save that cannot be encrypted or written goes to an
//! encrypted recovery file (the file's own keys) whose path is printed, and invalid text can
//! be fixed in the editor again. The plaintext lives in a 0600 file inside a fresh 0700
//! directory, removed on every exit path, SIGTERM, SIGHUP and Ctrl-C included.

// one libc call: kill(2) of the editor on SIGTERM (with a SAFETY note)
#![allow(unsafe_code)]

use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicI32, Ordering};

use clap::Args;
use sha2::{Digest, Sha256};
use sops_rs::document::{self, DecryptOptions, Opened};
use sops_rs::{Error, Format};

use super::{
    Failure, GlobalEncrypt, NewFileArgs, code, env, fail, format_of, key_sources, new_file_options,
    output, sanitize,
};

#[derive(Args)]
pub(super) struct EditArgs {
    /// The file (created from the matching creation rule when it does not exist)
    pub(super) file: PathBuf,
    #[command(flatten)]
    pub(super) keys: NewFileArgs,
    /// Input format: yaml, json, dotenv, ini, toml or binary (default: from the extension)
    #[arg(long)]
    pub(super) input_type: Option<String>,
    /// Do not check the MAC when opening the file
    #[arg(long)]
    pub(super) ignore_mac: bool,
}

const FILE_HAS_NOT_BEEN_MODIFIED: u8 = 200;
const NO_EDITOR_FOUND: u8 = 201;

/// The editor's process id while it runs (0 otherwise), for the signal thread.
static EDITOR_PID: AtomicI32 = AtomicI32::new(0);
/// The signal that is ending the process (0 while none is).
static SIGNALLED: AtomicI32 = AtomicI32::new(0);
/// The plaintext directory to remove if a signal ends the process.
static TEMP_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

pub(super) fn edit(
    config: &Option<PathBuf>,
    verbose: bool,
    a: EditArgs,
    g: GlobalEncrypt,
) -> Result<(), Failure> {
    let name = a.file.display().to_string();
    let mut format = format_of(a.input_type.as_deref(), Some(&a.file), "--input-type")?;
    let exists = std::fs::symlink_metadata(&a.file).is_ok();
    let (opened, original) = if exists {
        let input = super::read_input(Some(&a.file))?;
        if a.input_type.is_none() && !Format::known_extension(&a.file) {
            format = Format::detect_encrypted(&input);
        }
        let opts = DecryptOptions {
            ignore_mac: a.ignore_mac,
            extract: None,
        };
        let o = Opened::open(&input, format, &key_sources(), &opts).map_err(|e| fail(&name, e))?;
        let text = zeroize::Zeroizing::new(o.plaintext().to_vec());
        (o, text)
    } else {
        // the keys are wrapped before the editor opens: a key that cannot be used fails
        // before anything is typed
        let opts = new_file_options(config, verbose, Some(&a.file), &name, &a.keys, &g)?;
        let o = Opened::create(format, &opts).map_err(|e| fail(&name, e))?;
        (o, zeroize::Zeroizing::new(example(format).into_bytes()))
    };
    let editor = find_editor()?;
    let session = Session::create(&a.file)?;
    session.write(&original)?;
    let before = Sha256::digest(&original[..]);
    let stdin = std::io::stdin();
    loop {
        run_editor(&editor, &session.file)?;
        let edited = zeroize::Zeroizing::new(std::fs::read(&session.file).map_err(|e| {
            Failure::new(
                code::COULD_NOT_READ_INPUT,
                format!("{name}: could not read the edited file: {e}"),
            )
            .hint("the editor removed or renamed it; the encrypted file is unchanged")
        })?);
        if Sha256::digest(&edited[..]) == before {
            return Err(Failure::new(
                FILE_HAS_NOT_BEEN_MODIFIED,
                format!("{name}: file has not changed, exiting"),
            ));
        }
        let now = document::now_rfc3339();
        match opened.reseal(&edited, &now) {
            Ok(out) => {
                for w in &out.warnings {
                    eprintln!("warning: {name}: {}", sanitize(w));
                }
                return match output::write_atomic(&a.file, &out.bytes, 0o644) {
                    Ok(()) => Ok(()),
                    Err(e) => {
                        let f = Failure::new(
                            code::COULD_NOT_WRITE_OUTPUT,
                            format!("{name}: could not write: {e}"),
                        );
                        Err(recover(f, &opened, &edited, &a.file, &session))
                    }
                };
            }
            Err(e) if fixable(&e) => {
                let msg = match e {
                    Error::AlreadyEncrypted => "the file you saved contains a top-level entry called 'sops'; this key is reserved for the file's metadata".to_string(),
                    e => e.to_string(),
                };
                eprintln!("error: {name}: {}", sanitize(&msg));
                eprint!(
                    "Press Enter to return to the editor, or type q and Enter to stop (your text is then kept in an encrypted recovery file): "
                );
                let _ = std::io::stderr().flush();
                let mut line = String::new();
                let n = stdin.lock().read_line(&mut line).unwrap_or(0);
                if n == 0 || line.trim() == "q" {
                    let f = Failure::new(code::GENERIC, format!("{name}: {}", sanitize(&msg)));
                    return Err(recover(f, &opened, &edited, &a.file, &session));
                }
            }
            Err(e) => {
                let f = fail(&name, e);
                return Err(recover(f, &opened, &edited, &a.file, &session));
            }
        }
    }
}

/// Errors the user can fix in the editor.
fn fixable(e: &Error) -> bool {
    matches!(
        e,
        Error::Syntax { .. }
            | Error::AlreadyEncrypted
            | Error::Empty
            | Error::IntegerTooLarge(_)
            | Error::NonStringKey(_)
            | Error::Unsupported(_)
    )
}

/// Keep `text` in an encrypted recovery file next to the target (else in the home
/// directory) and add its path to the failure; when even that fails, keep the plaintext
/// temp file and say where it is.
fn recover(
    mut f: Failure,
    opened: &Opened,
    text: &[u8],
    target: &Path,
    session: &Session,
) -> Failure {
    let now = document::now_rfc3339();
    let base = target
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let stamp: String = now.chars().filter(char::is_ascii_digit).collect();
    let file_name = format!(".{base}.sops-rs-recovery-{stamp}");
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(d) = std::path::absolute(target)
        .ok()
        .and_then(|t| t.parent().map(Path::to_path_buf))
    {
        dirs.push(d);
    }
    if let Some(h) = env("HOME") {
        dirs.push(PathBuf::from(h));
    }
    if let Ok(bytes) = opened.seal_recovery(text, &now) {
        for d in dirs {
            let p = d.join(&file_name);
            if !p.exists() && output::write_atomic(&p, &bytes, 0o600).is_ok() {
                f.hint = Some(format!(
                    "your edit is kept, encrypted with this file's keys, in {}; get it back with: sops-rs decrypt --input-type binary '{}'",
                    p.display(),
                    p.display()
                ));
                return f;
            }
        }
    }
    session.keep();
    f.hint = Some(format!(
        "your edit is kept in clear in {} (mode 0600): move it somewhere safe and delete it",
        session.file.display()
    ));
    f
}

/// The editor command: `SOPS_EDITOR`, `EDITOR` (split as a shell would), else the first of
/// vim, nano and vi on `PATH`.
fn find_editor() -> Result<Vec<String>, Failure> {
    for var in ["SOPS_EDITOR", "EDITOR"] {
        if let Some(v) = env(var) {
            return match shell_words::split(&v) {
                Ok(w) if !w.is_empty() => Ok(w),
                _ => Err(Failure::new(
                    NO_EDITOR_FOUND,
                    format!("{var} is not a command sops-rs can run"),
                )),
            };
        }
    }
    let path = env("PATH").unwrap_or_default();
    for e in ["vim", "nano", "vi"] {
        if std::env::split_paths(&path).any(|d| d.join(e).is_file()) {
            return Ok(vec![e.to_string()]);
        }
    }
    Err(Failure::new(NO_EDITOR_FOUND, "no editor found")
        .hint("set SOPS_EDITOR or EDITOR, or install vim or nano"))
}

fn run_editor(editor: &[String], file: &Path) -> Result<(), Failure> {
    let mut child = std::process::Command::new(&editor[0])
        .args(&editor[1..])
        .arg(file)
        .spawn()
        .map_err(|e| {
            Failure::new(
                NO_EDITOR_FOUND,
                format!("could not run the editor {}: {e}", editor[0]),
            )
        })?;
    EDITOR_PID.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
    let status = child.wait();
    EDITOR_PID.store(0, Ordering::SeqCst);
    if SIGNALLED.load(Ordering::SeqCst) != 0 {
        // the signal thread stopped the editor and is ending the process
        loop {
            std::thread::park();
        }
    }
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(Failure::new(
            NO_EDITOR_FOUND,
            format!("the editor failed ({s}); the file is unchanged"),
        )),
        Err(e) => Err(Failure::new(
            NO_EDITOR_FOUND,
            format!("could not wait for the editor: {e}"),
        )),
    }
}

/// The plaintext's directory and file, removed on drop and by the signal thread.
struct Session {
    dir: PathBuf,
    file: PathBuf,
    kept: std::cell::Cell<bool>,
}

impl Session {
    fn create(target: &Path) -> Result<Session, Failure> {
        let base = env("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|d| d.is_dir())
            .unwrap_or_else(std::env::temp_dir);
        let dir = tempfile::Builder::new()
            .prefix("sops-rs-edit-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
            .tempdir_in(&base)
            .map_err(|e| {
                Failure::new(
                    code::COULD_NOT_WRITE_OUTPUT,
                    format!(
                        "could not create a private directory in {}: {e}",
                        base.display()
                    ),
                )
            })?
            .keep();
        // named like the target, so the editor picks the right syntax
        let name = target
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_os_string());
        let session = Session {
            file: dir.join(name),
            dir,
            kept: std::cell::Cell::new(false),
        };
        *TEMP_DIR.lock().unwrap_or_else(|p| p.into_inner()) = Some(session.dir.clone());
        watch_signals();
        Ok(session)
    }

    fn write(&self, text: &[u8]) -> Result<(), Failure> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&self.file)
            .and_then(|mut f| f.write_all(text).map(|()| f))
            .map_err(|e| {
                Failure::new(
                    code::COULD_NOT_WRITE_OUTPUT,
                    format!("could not write the temporary file: {e}"),
                )
            })?;
        f.flush().ok();
        Ok(())
    }

    /// Leave the plaintext where it is (the last resort of [`recover`]).
    fn keep(&self) {
        self.kept.set(true);
        *TEMP_DIR.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if !self.kept.get() {
            let _ = std::fs::remove_dir_all(&self.dir);
            *TEMP_DIR.lock().unwrap_or_else(|p| p.into_inner()) = None;
        }
    }
}

/// On SIGTERM or SIGHUP: stop the editor, remove the plaintext, exit 128+signal. Ctrl-C
/// (SIGINT) belongs to the editor while it runs (vim and nano use it); otherwise it ends
/// the edit the same way.
fn watch_signals() {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            let pid = EDITOR_PID.load(Ordering::SeqCst);
            if sig == SIGINT && pid != 0 {
                continue;
            }
            SIGNALLED.store(sig, Ordering::SeqCst);
            if pid != 0 {
                // SAFETY: kill(2) with a pid we spawned and have not yet reaped
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
            }
            if let Some(d) = TEMP_DIR.lock().unwrap_or_else(|p| p.into_inner()).take() {
                let _ = std::fs::remove_dir_all(d);
            }
            eprintln!("sops-rs: interrupted; the encrypted file is unchanged");
            std::process::exit(128 + sig);
        }
    });
}

/// The document a new file starts from, as sops' example files.
fn example(format: Format) -> String {
    match format {
        Format::Json => "{\n    \"hello\": \"Welcome to sops-rs! Edit this file as you please!\",\n    \"example_key\": \"example_value\",\n    \"example_array\": [\n        \"example_value1\",\n        \"example_value2\"\n    ],\n    \"example_number\": 1234.56789,\n    \"example_booleans\": [\n        true,\n        false\n    ]\n}\n".into(),
        Format::Dotenv => "hello=Welcome to sops-rs! Edit this file as you please!\nexample_key=example_value\n".into(),
        Format::Ini => "[section]\nhello = Welcome to sops-rs! Edit this file as you please!\nexample_key = example_value\n".into(),
        Format::Toml => "hello = \"Welcome to sops-rs! Edit this file as you please!\"\nexample_key = \"example_value\"\nexample_array = [\"example_value1\", \"example_value2\"]\nexample_number = 1234.56789\n".into(),
        Format::Binary => "Welcome to sops-rs! Edit this file as you please!\n".into(),
        Format::Yaml => "hello: Welcome to sops-rs! Edit this file as you please!\nexample_key: example_value\n# Example comment\nexample_array:\n    - example_value1\n    - example_value2\nexample_number: 1234.56789\nexample_booleans:\n    - true\n    - false\n".into(),
    }
}
