//! A throw-away GnuPG home for the pgp tests: a 0700 temporary directory with its own
//! gpg-agent (stopped on drop), unprotected keys only, so gpg never prompts.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct GpgHome {
    dir: tempfile::TempDir,
}

/// gpg, or a clear failure (tests fail, never skip, when a tool is missing).
fn gpg_cmd(home: &Path) -> Command {
    let mut c = Command::new("gpg");
    c.env("GNUPGHOME", home)
        .arg("--batch")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

impl GpgHome {
    /// An empty home. It lives in /tmp: gpg-agent's socket path must stay short.
    pub fn new() -> GpgHome {
        let dir = tempfile::Builder::new()
            .prefix("sops-rs-gpg")
            .tempdir()
            .unwrap();
        // tempfile makes it 0700 already; gpg refuses a group/world-readable home
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        GpgHome { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn path_str(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Run `gpg --batch ARGS` in this home.
    pub fn gpg(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let mut child = gpg_cmd(self.path()).args(args).spawn().unwrap_or_else(|e| {
            panic!("cannot run gpg ({e}): install GnuPG (sh scripts/test-deps.sh does)")
        });
        {
            use std::io::Write;
            let mut i = child.stdin.take().unwrap();
            if let Some(b) = stdin {
                i.write_all(b).unwrap();
            }
        }
        child.wait_with_output().unwrap()
    }

    fn gpg_ok(&self, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let out = self.gpg(args, stdin);
        assert!(
            out.status.success(),
            "gpg {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A new unprotected key (ed25519 + cv25519: fast to make); its primary fingerprint.
    pub fn gen_key(&self, uid: &str) -> String {
        self.gpg_ok(
            &[
                "--passphrase",
                "",
                "--quick-gen-key",
                uid,
                "future-default",
                "default",
                "never",
            ],
            None,
        );
        self.fingerprints(uid)[0].clone()
    }

    /// Fingerprints of the key with this user id: the primary key first, then subkeys.
    pub fn fingerprints(&self, uid: &str) -> Vec<String> {
        let out = self.gpg_ok(
            &[
                "--with-colons",
                "--with-subkey-fingerprints",
                "--list-keys",
                uid,
            ],
            None,
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| l.starts_with("fpr:"))
            .map(|l| l.split(':').nth(9).unwrap().to_string())
            .collect()
    }

    pub fn import(&self, armored: &[u8]) {
        self.gpg_ok(&["--import"], Some(armored));
    }

    pub fn import_file(&self, path: &Path) {
        self.import(&std::fs::read(path).unwrap());
    }

    /// The public key only, armored (for a home that must not hold the secret key).
    pub fn export_public(&self, fp: &str) -> Vec<u8> {
        self.gpg_ok(&["--armor", "--export", fp], None).stdout
    }

    /// A script that logs each call to `log` and runs the real gpg (for SOPS_GPG_EXEC).
    pub fn wrapper_script(&self, dir: &Path, log: &Path) -> PathBuf {
        let p = dir.join("gpg-wrapper.sh");
        std::fs::write(
            &p,
            format!(
                "#!/bin/sh\necho \"$@\" >> '{}'\nexec gpg \"$@\"\n",
                log.display()
            ),
        )
        .unwrap();
        make_executable(&p);
        p
    }

    /// The pgp backend settings for this home.
    pub fn settings(&self) -> sops_rs::keys::pgp::Settings {
        sops_rs::keys::pgp::Settings {
            gpg_exec: None,
            gnupg_home: Some(self.path_str()),
        }
    }
}

pub fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl Drop for GpgHome {
    fn drop(&mut self) {
        // each home started its own agent: stop it, or they pile up
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.path())
            .args(["--kill", "gpg-agent"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
