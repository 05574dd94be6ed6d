//! A real OpenBao dev server (Vault's transit API) on a free 127.0.0.1 port, with the
//! transit engine mounted at `sops/` and a key `firstkey`; killed on drop. The `bao`
//! binary comes from scripts/test-deps.sh; tests fail, never skip, without it.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub const ROOT_TOKEN: &str = "root";
pub const ENGINE: &str = "sops";
pub const KEY: &str = "firstkey";

pub fn bao() -> PathBuf {
    let p = super::root().join("target/tools/bin/bao");
    assert!(
        p.exists(),
        "OpenBao's bao binary is missing at {}: run scripts/test-deps.sh",
        p.display()
    );
    p
}

pub struct OpenBao {
    pub addr: String,
    /// With TLS: the dev server's generated CA certificate (PEM).
    pub ca: Option<PathBuf>,
    child: Child,
    log: PathBuf,
}

impl OpenBao {
    pub fn start() -> OpenBao {
        OpenBao::start_with(false)
    }

    /// A dev server on https, its certificate signed by a CA of its own ([`OpenBao::ca`]).
    pub fn start_tls() -> OpenBao {
        OpenBao::start_with(true)
    }

    fn start_with(tls: bool) -> OpenBao {
        // the free port is found by bind-and-release, so another process may take it first:
        // try a few
        let mut last = String::new();
        for _ in 0..3 {
            match OpenBao::try_start(tls) {
                Ok(s) => {
                    s.cli_ok(&["secrets", "enable", &format!("-path={ENGINE}"), "transit"]);
                    s.cli_ok(&["write", "-f", &format!("{ENGINE}/keys/{KEY}")]);
                    return s;
                }
                Err(e) => last = e,
            }
        }
        panic!("{last}");
    }

    fn try_start(tls: bool) -> Result<OpenBao, String> {
        let bao = bao();
        let dir = super::scratch("openbao");
        let log = dir.join("server.log");
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let scheme = if tls { "https" } else { "http" };
        let addr = format!("{scheme}://127.0.0.1:{port}");
        let mut args = vec![
            "server".to_string(),
            "-dev".into(),
            format!("-dev-root-token-id={ROOT_TOKEN}"),
            format!("-dev-listen-address=127.0.0.1:{port}"),
        ];
        if tls {
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", dir.display()));
        }
        let child = Command::new(&bao)
            .args(&args)
            .current_dir(&dir)
            // the dev server writes the root token to ~/.vault-token: keep it in scratch
            .env("HOME", &dir)
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(Stdio::from(
                std::fs::OpenOptions::new().append(true).open(&log).unwrap(),
            ))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bao.display()));
        let ca = tls.then(|| dir.join("vault-ca.pem"));
        let mut s = OpenBao {
            addr,
            ca,
            child,
            log,
        };
        s.wait_ready()?;
        Ok(s)
    }

    /// `https://.../v1/sops/keys/NAME`, the URI sops' `--hc-vault-transit` takes.
    pub fn key_uri(&self, name: &str) -> String {
        format!("{}/v1/{ENGINE}/keys/{name}", self.addr)
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        let log = |l: &PathBuf| std::fs::read_to_string(l).unwrap_or_default();
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Err(format!(
                    "bao server exited ({st}) before answering:\n{}",
                    log(&self.log)
                ));
            }
            if self.cli(&["status"]).status.success() {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!(
                    "bao server did not answer within 30s:\n{}",
                    log(&self.log)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Run `bao ARGS` against this server as root.
    pub fn cli(&self, args: &[&str]) -> Output {
        let mut c = Command::new(bao());
        c.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", ROOT_TOKEN)
            .stdin(Stdio::null());
        if let Some(ca) = &self.ca {
            c.env("BAO_CACERT", ca);
        }
        c.output().unwrap()
    }

    pub fn cli_ok(&self, args: &[&str]) -> Output {
        let o = self.cli(args);
        assert!(
            o.status.success(),
            "bao {args:?} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        o
    }
}

impl Drop for OpenBao {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
