//! A local AWS (moto_server: KMS + STS) for the AWS KMS tests, one per test, killed on drop.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::root;

/// The fake credentials every moto call uses (moto accepts any).
pub const FAKE_CREDS: [(&str, &str); 2] = [
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
];

pub struct Moto {
    child: Option<Child>,
    pub port: u16,
    pub url: String,
}

fn tool(name: &str) -> PathBuf {
    let p = root().join("target/tools/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/test-deps.sh (installs moto[server] into target/tools)",
        p.display()
    );
    p
}

/// A free port on 127.0.0.1 (released again: the caller binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Moto {
    pub fn start() -> Moto {
        let bin = tool("moto_server");
        // a port taken between free_port and moto's bind makes moto exit: try again
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new(&bin)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .env_clear()
                .env("PATH", std::env::var("PATH").unwrap_or_default())
                .envs(FAKE_CREDS)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(60) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    return Moto {
                        child: Some(child),
                        port,
                        url: format!("http://127.0.0.1:{port}"),
                    };
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("moto_server did not start listening");
    }

    /// Stop the server now (a KMS outage); drop does it too.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The environment that points an AWS SDK (sops-rs's or the real sops') at this server
    /// with fake credentials, and never at a real AWS, a shared config or the EC2 metadata
    /// service.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = FAKE_CREDS
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        v.extend(
            [
                ("AWS_ENDPOINT_URL", self.url.as_str()),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                ("AWS_CONFIG_FILE", "/nonexistent/config"),
                ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        v
    }

    /// Run a Python snippet with boto3 against this server (`kms` is a KMS client for
    /// `region`); its stdout, trimmed.
    pub fn python(&self, region: &str, code: &str) -> String {
        let py = root().join("target/tools/venv/bin/python");
        tool("moto_server");
        let prog = format!(
            "import boto3\nkms = boto3.client('kms', endpoint_url='{}', region_name='{region}')\n{code}",
            self.url
        );
        let out = Command::new(&py)
            .args(["-c", &prog])
            .env_clear()
            .envs(FAKE_CREDS)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", py.display()));
        assert!(
            out.status.success(),
            "boto3 snippet failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// A new symmetric KMS key in `region`: its ARN.
    pub fn create_key(&self, region: &str) -> String {
        self.python(region, "print(kms.create_key()['KeyMetadata']['Arn'])")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers (a hung endpoint).
/// Runs until the test process ends.
pub fn silent_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            // keep the connection open, read nothing, write nothing
            held.push(s);
            if held.len() > 64 {
                break;
            }
        }
        std::thread::sleep(Duration::from_secs(3600));
    });
    port
}

/// A TCP proxy on 127.0.0.1 to `target`'s port that goes "down" while the file `down`
/// exists: it then closes each new connection at once and counts it. Runs until the test
/// process ends. Returns the proxy's port and the count of refused connections.
pub fn switchable_proxy(
    target: u16,
    down: PathBuf,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let refused = Arc::new(AtomicUsize::new(0));
    let r = refused.clone();
    std::thread::spawn(move || {
        for client in l.incoming().flatten() {
            if down.exists() {
                r.fetch_add(1, Ordering::SeqCst);
                continue; // dropped: the connection closes
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                continue;
            };
            let pipe = |mut from: TcpStream, mut to: TcpStream| {
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            };
            pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
            pipe(server, client);
        }
    });
    (port, refused)
}
