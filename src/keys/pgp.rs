//! PGP master keys (`pgp:` entries), through the `gpg` binary as sops does.

use std::time::Duration;

use zeroize::Zeroizing;

#[cfg(not(feature = "pgp"))]
use super::entry::not_built;
use super::entry::{field, map};
use crate::metadata::Meta;

/// A PGP key by fingerprint; a trailing `!` selects that exact subkey (gpg syntax).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub fingerprint: String,
}

impl Key {
    /// A fingerprint as given on the command line or in a config (spaces dropped, as sops).
    pub fn parse(s: &str) -> Result<Key, String> {
        let fingerprint: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if fingerprint.is_empty() {
            return Err("empty PGP fingerprint".into());
        }
        Ok(Key { fingerprint })
    }

    pub fn from_entry(m: &Meta) -> Result<Key, String> {
        Ok(Key {
            fingerprint: field(m, "fp")?,
        })
    }

    pub fn to_entry(&self, enc: &str, created_at: &str) -> Meta {
        map(&[
            ("created_at", created_at),
            ("enc", enc),
            ("fp", &self.fingerprint),
        ])
    }

    /// sops' `ToString`: what `--rm-pgp` matches and reports name.
    pub fn id(&self) -> String {
        self.fingerprint.clone()
    }
}

/// Where gpg is and which home it uses (`SOPS_GPG_EXEC`, `GNUPGHOME`).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub gpg_exec: Option<String>,
    pub gnupg_home: Option<String>,
}

impl Settings {
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings {
            gpg_exec: get("SOPS_GPG_EXEC"),
            gnupg_home: get("GNUPGHOME"),
        }
    }
}

/// Encrypt `data` to the key with `gpg`, as sops' fallback does: the armored message, trimmed.
pub fn wrap(key: &Key, data: &[u8], s: &Settings, timeout: Duration) -> Result<String, String> {
    #[cfg(feature = "pgp")]
    {
        let args = [
            "--no-default-recipient",
            "--yes",
            "--encrypt",
            "-a",
            "-r",
            key.fingerprint.as_str(),
            "--trusted-key",
            short_id(&key.fingerprint),
            "--no-encrypt-to",
        ];
        let out = gpg::run(s, &args, data, timeout)
            .map_err(|e| format!("failed to encrypt the data key with gpg: {e}"))?;
        let text = std::str::from_utf8(&out)
            .map_err(|_| "gpg wrote a non-text armored message".to_string())?;
        let text = text.trim();
        if !text.starts_with("-----BEGIN PGP MESSAGE-----") {
            return Err("gpg did not write an armored PGP message".into());
        }
        Ok(text.to_string())
    }
    #[cfg(not(feature = "pgp"))]
    {
        let _ = (key, data, s, timeout);
        Err(not_built("pgp"))
    }
}

/// Decrypt `enc` with `gpg -d` (through gpg-agent, so a protected key prompts via pinentry).
pub fn unwrap(
    key: &Key,
    enc: &str,
    s: &Settings,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "pgp")]
    {
        let _ = key; // gpg finds the secret key from the message itself
        // no --batch, as sops: pinentry may ask an interactive user for the passphrase
        let out = gpg::run(s, &["--use-agent", "-d"], enc.as_bytes(), timeout)
            .map_err(|e| format!("failed to decrypt the data key with gpg: {e}"))?;
        if out.is_empty() {
            return Err("gpg decrypted nothing".into());
        }
        Ok(out)
    }
    #[cfg(not(feature = "pgp"))]
    {
        let _ = (key, enc, s, timeout);
        Err(not_built("pgp"))
    }
}

/// sops' `shortenFingerprint`: the last 16 characters, the long key id gpg's `--trusted-key`
/// takes. A subkey's `!` is not part of a key id, so it is left out.
#[cfg_attr(not(feature = "pgp"), allow(dead_code))]
fn short_id(fp: &str) -> &str {
    let fp = fp.strip_suffix('!').unwrap_or(fp);
    match fp.len().checked_sub(16) {
        Some(off) if fp.is_char_boundary(off) => &fp[off..],
        _ => fp,
    }
}

#[cfg(feature = "pgp")]
mod gpg {
    use std::io::{Read, Write};
    use std::process::{Command, Stdio};
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use zeroize::Zeroizing;

    use super::Settings;

    /// The most gpg may print on stdout: an armored message of a 33-byte share is ~1 KiB, a
    /// data key 32 bytes. Reserving it up front keeps the buffer from being reallocated (and
    /// an unzeroized copy of a data key left behind).
    const STDOUT_CAP: usize = 64 * 1024;
    const STDERR_CAP: usize = 16 * 1024;

    /// Run gpg with `args` (after the home directory options), `input` on stdin; stdout on
    /// success, else a summary of gpg's stderr. gpg is killed after `timeout`.
    pub(super) fn run(
        s: &Settings,
        args: &[&str],
        input: &[u8],
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        let exe = s
            .gpg_exec
            .as_deref()
            .filter(|e| !e.is_empty())
            .unwrap_or("gpg");
        let mut cmd = Command::new(exe);
        if let Some(home) = s.gnupg_home.as_deref().filter(|h| !h.is_empty()) {
            // sops pins the home on the command line too; the variable reaches gpg-agent
            cmd.args(["--no-default-keyring", "--homedir", home])
                .env("GNUPGHOME", home);
        }
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {exe:?}: {}", io_reason(&e)))?;

        // Readers on their own threads, so a full pipe never stalls gpg and a grandchild that
        // keeps a pipe open after a kill cannot stall us (the thread is then left behind).
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (out_tx, out_rx) = mpsc::channel();
        let (err_tx, err_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = Zeroizing::new(Vec::with_capacity(STDOUT_CAP));
            let r = read_capped(&mut stdout, &mut buf, STDOUT_CAP);
            let _ = out_tx.send(r.map(|()| buf));
        });
        std::thread::spawn(move || {
            let mut buf = Vec::with_capacity(STDERR_CAP);
            let _ = read_capped(&mut stderr, &mut buf, STDERR_CAP);
            let _ = err_tx.send(buf);
        });
        {
            let mut stdin = child.stdin.take().expect("piped");
            // gpg may exit without reading (a bad option): its stderr says why, not EPIPE
            let _ = stdin.write_all(input);
        }

        let deadline = Instant::now() + timeout;
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "gpg did not finish within {}s and was stopped (waiting for a passphrase or a locked keyring?)",
                        timeout.as_secs_f32()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("cannot wait for gpg: {}", io_reason(&e))),
            }
        };
        let left = deadline.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        let err = err_rx.recv_timeout(left).unwrap_or_default();
        if !status.success() {
            let why = summarize(&err);
            let code = status
                .code()
                .map_or_else(|| "a signal".to_string(), |c| format!("status {c}"));
            return Err(if why.is_empty() {
                format!("gpg exited with {code}")
            } else {
                format!("gpg exited with {code}: {why}")
            });
        }
        match out_rx.recv_timeout(left) {
            Ok(Ok(out)) => Ok(out),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("gpg's output did not end (a child of gpg kept it open)".into()),
        }
    }

    fn read_capped(r: &mut impl Read, buf: &mut Vec<u8>, cap: usize) -> Result<(), String> {
        let mut chunk = Zeroizing::new([0u8; 4096]);
        loop {
            let n = match r.read(&mut chunk[..]) {
                Ok(0) => return Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("cannot read gpg's output: {}", io_reason(&e))),
            };
            if buf.len() + n > cap {
                // drain the rest so gpg is not blocked, but keep nothing more
                let mut sink = [0u8; 4096];
                while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
                return Err(format!("gpg printed more than {cap} bytes"));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// gpg's diagnostics on one line: its `gpg:` lines without the prefix, the last few,
    /// length-capped. gpg never prints the plaintext (the data key) on stderr, only key ids,
    /// user ids and reasons.
    pub(super) fn summarize(stderr: &[u8]) -> String {
        let text = String::from_utf8_lossy(stderr);
        let lines: Vec<&str> = text
            .lines()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_prefix("gpg: ").unwrap_or(l))
            .collect();
        let tail = &lines[lines.len().saturating_sub(4)..];
        let mut s = tail.join("; ");
        if s.len() > 600 {
            let mut end = 600;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
        s
    }

    fn io_reason(e: &std::io::Error) -> String {
        match e.kind() {
            std::io::ErrorKind::NotFound => "not found (install GnuPG or set SOPS_GPG_EXEC)".into(),
            _ => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_id_is_the_long_key_id() {
        assert_eq!(
            short_id("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"),
            "3D16CEE4A27381B4"
        );
        assert_eq!(
            short_id("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4!"),
            "3D16CEE4A27381B4"
        );
        assert_eq!(short_id("ABCD"), "ABCD");
    }

    #[cfg(feature = "pgp")]
    #[test]
    fn summary_keeps_the_last_gpg_lines() {
        let e = b"gpg: encrypted with 256-bit ECDH key, ID 1, created 2026\n      \"x <x@y>\"\ngpg: decryption failed: No secret key\n";
        assert_eq!(
            gpg::summarize(e),
            "encrypted with 256-bit ECDH key, ID 1, created 2026; \"x <x@y>\"; decryption failed: No secret key"
        );
    }
}
