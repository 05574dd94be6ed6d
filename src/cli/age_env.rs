//! Gathering age identities from the environment and files, the way sops does
//! (`age/keysource.go: loadIdentities`). This is the CLI side: it reads files and runs
//! commands; the environment is read through a lookup function so tests never touch the
//! process environment. Load errors are recorded in the returned [`Identities`] and only
//! surface if decryption fails.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use zeroize::Zeroizing;

use sops_rs::keys::age::Identities;

/// Text of one or more age keys.
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
/// Path of an age keys file.
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
/// Command whose standard output is age key text.
pub const SOPS_AGE_KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
/// Path of an SSH private key.
pub const SOPS_AGE_SSH_PRIVATE_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";
/// Command whose standard output is an SSH private key (sops 3.12).
pub const SOPS_AGE_SSH_PRIVATE_KEY_CMD: &str = "SOPS_AGE_SSH_PRIVATE_KEY_CMD";
/// Set in the environment of the key commands: the recipient being decrypted (sops 3.12).
pub const SOPS_AGE_RECIPIENT: &str = "SOPS_AGE_RECIPIENT";

/// Gather age identities the way sops does, all sources combined, in this order:
/// 1. SSH: `SOPS_AGE_SSH_PRIVATE_KEY_FILE`, `SOPS_AGE_SSH_PRIVATE_KEY_CMD`, and
///    `~/.ssh/id_ed25519` and `~/.ssh/id_rsa` if they exist (sops tries these two even when
///    the variable is set);
/// 2. `SOPS_AGE_KEY` (key text);
/// 3. `SOPS_AGE_KEY_FILE` (path; an age-encrypted identity file is accepted too);
/// 4. `SOPS_AGE_KEY_CMD` (split like a shell would; run with `SOPS_AGE_RECIPIENT=<recipient>`
///    added to its environment when `recipient` is given; its stdout is key text);
/// 5. the default keys file, `$XDG_CONFIG_HOME/sops/age/keys.txt`, else
///    `$HOME/.config/sops/age/keys.txt` (macOS: `$XDG_CONFIG_HOME` or
///    `~/Library/Application Support`; Windows: `%AppData%`).
///
/// Missing default files are skipped silently (they are listed as unused locations for the
/// "Did not find keys in locations …" hint); an explicitly named file that cannot be read, a
/// failing command or unparsable key material is a load error, recorded with the path or
/// variable name but never the content.
pub fn load_identities(
    env: &dyn Fn(&str) -> Option<String>,
    recipient: Option<&str>,
) -> Identities {
    let mut ids = Identities::new();
    load_identities_into(&mut ids, env, recipient);
    ids
}

/// [`load_identities`] into an existing set, e.g. one made with
/// [`Identities::with_prompter`](sops_rs::keys::age::Identities::with_prompter) so that
/// passphrase-protected keys can be unlocked.
pub fn load_identities_into(
    ids: &mut Identities,
    env: &dyn Fn(&str) -> Option<String>,
    recipient: Option<&str>,
) {
    let before = ids.len();

    // 1. SSH identities.
    match env(SOPS_AGE_SSH_PRIVATE_KEY_FILE) {
        Some(path) => {
            let origin = format!("{SOPS_AGE_SSH_PRIVATE_KEY_FILE}={path}");
            load_ssh_file(ids, Path::new(&path), &origin);
        }
        None => ids.add_unused_location(SOPS_AGE_SSH_PRIVATE_KEY_FILE),
    }
    if let Some(cmd) = env(SOPS_AGE_SSH_PRIVATE_KEY_CMD)
        && let Some(out) = run_key_command(ids, &cmd, SOPS_AGE_SSH_PRIVATE_KEY_CMD, recipient)
    {
        let _ = ids.add_ssh_key(&out, SOPS_AGE_SSH_PRIVATE_KEY_CMD);
    }
    match home_dir(env) {
        Ok(home) => {
            for name in ["id_ed25519", "id_rsa"] {
                let path = home.join(".ssh").join(name);
                if std::fs::metadata(&path).is_ok() {
                    load_ssh_file(ids, &path, &path.display().to_string());
                } else {
                    ids.add_unused_location(path.display().to_string());
                }
            }
        }
        Err(e) => ids.add_load_error(e),
    }

    // 2.–4. The explicit age key sources ("readers" in sops).
    let mut readers = 0usize;
    match env(SOPS_AGE_KEY).map(Zeroizing::new) {
        Some(text) => {
            readers += 1;
            if let Ok(0) = ids.add_key_text(&text, SOPS_AGE_KEY) {
                ids.add_unused_location(SOPS_AGE_KEY);
            }
        }
        None => ids.add_unused_location(SOPS_AGE_KEY),
    }
    match env(SOPS_AGE_KEY_FILE) {
        Some(path) => match read_secret_file(Path::new(&path)) {
            Ok(data) => {
                readers += 1;
                let origin = format!("{SOPS_AGE_KEY_FILE}={path}");
                if let Ok(0) = ids.add_key_bytes(&data, &origin) {
                    ids.add_unused_location(SOPS_AGE_KEY_FILE);
                }
            }
            Err(e) => ids.add_load_error(format!(
                "failed to open {SOPS_AGE_KEY_FILE} file: open {path}: {}",
                io_reason(&e)
            )),
        },
        None => ids.add_unused_location(SOPS_AGE_KEY_FILE),
    }
    match env(SOPS_AGE_KEY_CMD) {
        Some(cmd) => {
            if let Some(out) = run_key_command(ids, &cmd, SOPS_AGE_KEY_CMD, recipient) {
                readers += 1;
                if let Ok(0) = ids.add_key_bytes(&out, SOPS_AGE_KEY_CMD) {
                    ids.add_unused_location(SOPS_AGE_KEY_CMD);
                }
            }
        }
        None => ids.add_unused_location(SOPS_AGE_KEY_CMD),
    }

    // 5. The default keys file; required (reported as unused) only when nothing else was given.
    let nothing_else = readers == 0 && ids.len() == before;
    match user_config_dir(env) {
        Err(e) => {
            if nothing_else {
                ids.add_load_error(format!(
                    "user config directory could not be determined: {e}"
                ));
            }
        }
        Ok(dir) => {
            let path = dir.join("sops").join("age").join("keys.txt");
            let shown = path.display().to_string();
            match read_secret_file(&path) {
                Ok(data) => {
                    if let Ok(0) = ids.add_key_bytes(&data, &shown) {
                        ids.add_unused_location(shown);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    if nothing_else {
                        ids.add_unused_location(shown);
                    }
                }
                Err(e) => ids.add_load_error(format!(
                    "failed to open file: open {shown}: {}",
                    io_reason(&e)
                )),
            }
        }
    }
}

/// Recipients from `--age` / `SOPS_AGE_RECIPIENTS`: comma-separated, trimmed, empty entries
/// dropped.
pub fn split_recipients(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_owned)
        .collect()
}

fn load_ssh_file(ids: &mut Identities, path: &Path, origin: &str) {
    match read_secret_file(path) {
        Ok(pem) => {
            let _ = ids.add_ssh_key(&pem, origin);
        }
        Err(e) => ids.add_load_error(format!(
            "failed to open file: open {}: {}",
            path.display(),
            io_reason(&e)
        )),
    }
}

fn read_secret_file(path: &Path) -> io::Result<Zeroizing<Vec<u8>>> {
    std::fs::read(path).map(Zeroizing::new)
}

/// Run a key command (`SOPS_AGE_KEY_CMD` / `SOPS_AGE_SSH_PRIVATE_KEY_CMD`) and return its
/// stdout. stdin is closed (as Go's `exec.Command(...).Output()` does); stderr is passed
/// through so the user sees the command's own messages. Failures are recorded naming the
/// program only (a command line could embed a secret).
fn run_key_command(
    ids: &mut Identities,
    cmd: &str,
    var: &str,
    recipient: Option<&str>,
) -> Option<Zeroizing<Vec<u8>>> {
    let args = match shell_words::split(cmd) {
        Ok(args) if !args.is_empty() => Zeroizing::new(args),
        Ok(_) => {
            ids.add_load_error(format!("failed to parse command from {var}: empty command"));
            return None;
        }
        Err(e) => {
            ids.add_load_error(format!("failed to parse command from {var}: {e}"));
            return None;
        }
    };
    let program = args[0].clone();
    let mut command = Command::new(&program);
    command
        .args(&args[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    if let Some(r) = recipient {
        command.env(SOPS_AGE_RECIPIENT, r);
    }
    match command.output() {
        Ok(out) => {
            let stdout = Zeroizing::new(out.stdout);
            if out.status.success() {
                Some(stdout)
            } else {
                ids.add_load_error(format!(
                    "failed to execute command '{program}' from {var}: {}",
                    out.status
                ));
                None
            }
        }
        Err(e) => {
            ids.add_load_error(format!(
                "failed to execute command '{program}' from {var}: {}",
                io_reason(&e)
            ));
            None
        }
    }
}

/// A short lowercase reason for an I/O error (Go-like wording for the common cases).
fn io_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => {
            let s = e.to_string();
            let mut chars = s.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => s,
            }
        }
    }
}

fn non_empty(env: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    env(name).filter(|v| !v.is_empty())
}

/// The user's home directory (Go's `os.UserHomeDir`).
fn home_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    if cfg!(windows) {
        non_empty(env, "USERPROFILE")
            .map(PathBuf::from)
            .ok_or_else(|| "%userprofile% is not defined".into())
    } else {
        non_empty(env, "HOME")
            .map(PathBuf::from)
            .ok_or_else(|| "$HOME is not defined".into())
    }
}

/// The user config directory as sops computes it (`getUserConfigDir` over Go's
/// `os.UserConfigDir`).
fn user_config_dir(env: &dyn Fn(&str) -> Option<String>) -> Result<PathBuf, String> {
    if cfg!(windows) {
        return non_empty(env, "AppData")
            .or_else(|| non_empty(env, "APPDATA"))
            .map(PathBuf::from)
            .ok_or_else(|| "%AppData% is not defined".into());
    }
    if cfg!(target_os = "macos") {
        if let Some(xdg) = non_empty(env, "XDG_CONFIG_HOME") {
            return Ok(PathBuf::from(xdg));
        }
        return non_empty(env, "HOME")
            .map(|h| PathBuf::from(h).join("Library").join("Application Support"))
            .ok_or_else(|| "$HOME is not defined".into());
    }
    match non_empty(env, "XDG_CONFIG_HOME") {
        Some(xdg) if Path::new(&xdg).is_absolute() => Ok(PathBuf::from(xdg)),
        Some(_) => Err("path in $XDG_CONFIG_HOME is relative".into()),
        None => non_empty(env, "HOME")
            .map(|h| PathBuf::from(h).join(".config"))
            .ok_or_else(|| "neither $XDG_CONFIG_HOME nor $HOME are defined".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sops_rs::keys::age::{AgeError, wrap};
    use std::collections::HashMap;

    // the repository's copy of the sops-made vectors
    const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sops-interop");

    fn scratch_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sops-rs-age-env-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_env(pairs: &[(&str, String)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn load(map: &HashMap<String, String>, recipient: Option<&str>) -> Identities {
        load_identities(&|k: &str| map.get(k).cloned(), recipient)
    }

    /// (recipient, secret key line)
    fn new_key() -> (String, Zeroizing<String>) {
        use ::age::secrecy::ExposeSecret;
        let id = ::age::x25519::Identity::generate();
        (
            id.to_public().to_string(),
            Zeroizing::new(id.to_string().expose_secret().to_owned()),
        )
    }

    fn vector_enc(name: &str) -> String {
        let text = std::fs::read_to_string(format!("{INTEROP}/vectors/{name}")).unwrap();
        let start = text.find("-----BEGIN AGE ENCRYPTED FILE-----").unwrap();
        let end = text.find("-----END AGE ENCRYPTED FILE-----").unwrap();
        text[start..end]
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .chain(["-----END AGE ENCRYPTED FILE-----", ""])
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn split_recipients_trims_and_drops_empties() {
        assert_eq!(
            split_recipients(" age1a , age1b,,\n age1c ,"),
            vec!["age1a", "age1b", "age1c"]
        );
        assert!(split_recipients("").is_empty());
        assert!(split_recipients(" , ").is_empty());
    }

    #[test]
    fn all_sources_combined() {
        let dir = scratch_dir("all");
        let home = dir.join("home");
        let xdg = dir.join("xdg");
        std::fs::create_dir_all(home.join(".ssh")).unwrap();
        std::fs::create_dir_all(xdg.join("sops/age")).unwrap();

        let (r_env, s_env) = new_key();
        let (r_file, s_file) = new_key();
        let (r_cmd, s_cmd) = new_key();
        let (r_default, s_default) = new_key();
        let (r_other, s_other) = new_key();

        std::fs::write(dir.join("keys.txt"), format!("# file\n{}\n", &*s_file)).unwrap();
        std::fs::write(dir.join("cmd-keys.txt"), format!("{}\n", &*s_cmd)).unwrap();
        std::fs::write(xdg.join("sops/age/keys.txt"), format!("{}\n", &*s_default)).unwrap();

        // An SSH key in ~/.ssh (default location).
        let ssh_ok = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "t", "-f"])
            .arg(home.join(".ssh/id_ed25519"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);

        // The command checks it got SOPS_AGE_RECIPIENT before printing the key.
        let cmd = format!(
            "sh -c 'test \"$SOPS_AGE_RECIPIENT\" = {r_cmd} && cat \"$0\"' '{}'",
            dir.join("cmd-keys.txt").display()
        );
        let env = fake_env(&[
            ("HOME", home.display().to_string()),
            ("XDG_CONFIG_HOME", xdg.display().to_string()),
            (SOPS_AGE_KEY, format!("# env\n{} {}\n", &*s_env, &*s_other)),
            (
                SOPS_AGE_KEY_FILE,
                dir.join("keys.txt").display().to_string(),
            ),
            (SOPS_AGE_KEY_CMD, cmd),
        ]);
        let ids = load(&env, Some(&r_cmd));
        assert!(ids.load_errors().is_empty(), "{:?}", ids.load_errors());
        let ssh = usize::from(ssh_ok);
        assert_eq!(ids.len(), 5 + ssh, "{ids:?}");
        for r in [&r_env, &r_file, &r_cmd, &r_default, &r_other] {
            let enc = wrap(r, &[1u8; 32]).unwrap();
            assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[1u8; 32][..]);
        }
        if ssh_ok {
            let public = std::fs::read_to_string(home.join(".ssh/id_ed25519.pub")).unwrap();
            let enc = wrap(public.trim(), &[2u8; 32]).unwrap();
            assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[2u8; 32][..]);
        }
        assert_eq!(
            ids.unused_locations(),
            &[
                SOPS_AGE_SSH_PRIVATE_KEY_FILE.to_owned(),
                home.join(".ssh/id_rsa").display().to_string()
            ]
        );

        // Without the recipient the command fails: a load error naming only the program.
        let ids = load(&env, None);
        assert_eq!(ids.len(), 4 + ssh);
        assert_eq!(ids.load_errors().len(), 1, "{:?}", ids.load_errors());
        let e = &ids.load_errors()[0];
        assert!(
            e.starts_with("failed to execute command 'sh' from SOPS_AGE_KEY_CMD:"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sops_interop_env_like_check_sh() {
        // check.sh runs with HOME=/nonexistent and SOPS_AGE_KEY_FILE=<key file>.
        let env = fake_env(&[
            ("HOME", "/nonexistent".into()),
            (SOPS_AGE_KEY_FILE, format!("{INTEROP}/keys/key1.txt")),
        ]);
        let ids = load(&env, None);
        assert_eq!(ids.len(), 1);
        assert!(ids.load_errors().is_empty());
        let enc = vector_enc("yaml-basic.yaml");
        assert_eq!(ids.unwrap(&enc).unwrap().len(), 32);

        // Wrong key: the same "Did not find keys" hint as real sops (expected/*.err).
        let env = fake_env(&[
            ("HOME", "/nonexistent".into()),
            (SOPS_AGE_KEY_FILE, format!("{INTEROP}/keys/key2.txt")),
        ]);
        let err = load(&env, None).unwrap(&enc).unwrap_err();
        assert!(matches!(err, AgeError::Decrypt { .. }));
        let want = std::fs::read_to_string(format!("{INTEROP}/expected/yaml-basic-wrong-key.err"))
            .unwrap();
        let want: String = want
            .lines()
            .filter_map(|l| l.trim_start().trim_start_matches("- ").strip_prefix("| "))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(err.to_string(), want);
    }

    #[test]
    fn missing_files() {
        let dir = scratch_dir("missing");
        // Explicitly named files that don't exist are load errors naming the path.
        let env = fake_env(&[
            ("HOME", dir.display().to_string()),
            (
                SOPS_AGE_KEY_FILE,
                dir.join("nope.txt").display().to_string(),
            ),
            (
                SOPS_AGE_SSH_PRIVATE_KEY_FILE,
                dir.join("nope_ssh").display().to_string(),
            ),
        ]);
        let ids = load(&env, None);
        assert!(ids.is_empty());
        let errs = ids.load_errors();
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert!(
            errs[0].contains(&dir.join("nope_ssh").display().to_string()),
            "{errs:?}"
        );
        assert!(
            errs[1].starts_with("failed to open SOPS_AGE_KEY_FILE file: open "),
            "{errs:?}"
        );
        assert!(errs[1].contains("nope.txt") && errs[1].ends_with("no such file or directory"));

        // Missing default files are skipped silently (only listed as unused locations).
        let env = fake_env(&[("HOME", dir.display().to_string())]);
        let ids = load(&env, None);
        assert!(ids.is_empty());
        assert!(ids.load_errors().is_empty(), "{:?}", ids.load_errors());
        let default = dir.join(".config/sops/age/keys.txt").display().to_string();
        assert_eq!(ids.unused_locations().last(), Some(&default));
        let msg = ids
            .unwrap(&vector_enc("yaml-basic.yaml"))
            .unwrap_err()
            .to_string();
        assert!(
            msg.starts_with("failed to load age identities. Did not find keys in locations"),
            "{msg}"
        );
        assert!(
            msg.ends_with(&format!("'SOPS_AGE_KEY_CMD', and '{default}'.")),
            "{msg}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn home_config_fallback_and_bad_content_is_not_leaked() {
        let dir = scratch_dir("fallback");
        std::fs::create_dir_all(dir.join(".config/sops/age")).unwrap();
        let (r, s) = new_key();
        std::fs::write(dir.join(".config/sops/age/keys.txt"), format!("{}\n", &*s)).unwrap();
        let env = fake_env(&[("HOME", dir.display().to_string())]);
        let ids = load(&env, None);
        assert_eq!(ids.len(), 1);
        assert_eq!(
            &ids.unwrap(&wrap(&r, &[3u8; 32]).unwrap()).unwrap()[..],
            &[3u8; 32][..]
        );

        // A garbled SOPS_AGE_KEY is a load error without the content; the file still works.
        // one character changed (bech32's checksum catches every single substitution)
        let mut chars: Vec<char> = s.chars().collect();
        chars[25] = if chars[25] == 'Q' { 'P' } else { 'Q' };
        let garbled: String = chars.into_iter().collect();
        let env = fake_env(&[
            ("HOME", dir.display().to_string()),
            (SOPS_AGE_KEY, garbled.clone()),
        ]);
        let ids = load(&env, None);
        // the file's key still works whatever became of the garbled one
        assert_eq!(
            &ids.unwrap(&wrap(&r, &[4u8; 32]).unwrap()).unwrap()[..],
            &[4u8; 32][..]
        );
        let errors = ids.load_errors();
        if ids.len() == 1 {
            assert!(
                errors.iter().any(|e| e.contains("'SOPS_AGE_KEY'")),
                "{errors:?}"
            );
        }
        // and no message repeats the key material
        assert!(errors.iter().all(|e| !e.contains(&garbled[15..])));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn config_dir_rules() {
        let env = fake_env(&[("HOME", "/h".into()), ("XDG_CONFIG_HOME", "rel".into())]);
        let lookup = |k: &str| env.get(k).cloned();
        if !cfg!(windows) && !cfg!(target_os = "macos") {
            assert!(user_config_dir(&lookup).is_err());
            let env2 = fake_env(&[("HOME", "/h".into()), ("XDG_CONFIG_HOME", String::new())]);
            assert_eq!(
                user_config_dir(&|k: &str| env2.get(k).cloned()).unwrap(),
                PathBuf::from("/h/.config")
            );
            let env3 = fake_env(&[]);
            assert!(user_config_dir(&|k: &str| env3.get(k).cloned()).is_err());
        }
    }
}
