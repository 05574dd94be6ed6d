//! A fake Google Cloud KMS REST endpoint (std only): `POST /v1/{name}:encrypt` and
//! `:decrypt` on 127.0.0.1, speaking the documented JSON shape (camelCase fields, bytes as
//! base64). It rejects anything else (method, path, content type, unknown fields, bad base64,
//! a missing or wrong bearer token) as the real service would, and records every request.
//!
//! Its "ciphertext" is `fakekms:` + the key's index + the plaintext XORed with a pad derived
//! from the key name: another key (or a tampered blob) cannot decrypt it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct State {
    keys: Vec<String>,
    token: Option<String>,
    requests: Mutex<Vec<Request>>,
}

pub struct GcpFake {
    port: u16,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
}

impl GcpFake {
    /// Serve `keys` (resource ids); with `token`, demand `Authorization: Bearer <token>`.
    pub fn start(keys: &[&str], token: Option<&str>) -> GcpFake {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            token: token.map(str::to_string),
            requests: Mutex::new(Vec::new()),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (st, sp) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let st = st.clone();
                std::thread::spawn(move || serve(conn, &st));
            }
        });
        GcpFake { port, state, stop }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.requests.lock().unwrap().clone()
    }
}

impl Drop for GcpFake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // wake the accept loop so it sees the flag
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A port that accepts connections (the kernel's backlog) but never answers.
pub struct DeadEndpoint {
    _listener: TcpListener,
    port: u16,
}

impl DeadEndpoint {
    pub fn start() -> DeadEndpoint {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        DeadEndpoint { _listener: l, port }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn serve(conn: TcpStream, st: &State) {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok();
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    // keep-alive: answer requests on this connection until the client closes it
    while let Some(req) = read_request(&mut r) {
        let (status, body) = answer(&req, st);
        st.requests.lock().unwrap().push(req);
        let reason = match status {
            200 => "OK",
            400 => "Bad Request",
            401 => "Unauthorized",
            404 => "Not Found",
            405 => "Method Not Allowed",
            _ => "Error",
        };
        let head = format!(
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json; charset=UTF-8\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if w.write_all(head.as_bytes()).is_err() || w.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        target,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn error(code: u16, status: &str, msg: &str) -> (u16, String) {
    (
        code,
        format!(r#"{{"error":{{"code":{code},"message":"{msg}","status":"{status}"}}}}"#),
    )
}

fn answer(req: &Request, st: &State) -> (u16, String) {
    if let Some(t) = &st.token
        && req.header("authorization") != Some(&format!("Bearer {t}"))
    {
        return error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        );
    }
    if req.method != "POST" {
        return error(405, "INVALID_ARGUMENT", "only POST is served");
    }
    let ct = req.header("content-type").unwrap_or("");
    if !ct.starts_with("application/json") {
        return error(400, "INVALID_ARGUMENT", "the body must be application/json");
    }
    let path = req.target.split('?').next().unwrap_or("");
    let Some(rest) = path.strip_prefix("/v1/") else {
        return error(404, "NOT_FOUND", "unknown path");
    };
    let Some((name, verb)) = rest.rsplit_once(':') else {
        return error(404, "NOT_FOUND", "unknown path");
    };
    if !is_crypto_key(name) {
        return error(400, "INVALID_ARGUMENT", "malformed resource name");
    }
    let Some(fields) = json_object(&req.body) else {
        return error(
            400,
            "INVALID_ARGUMENT",
            "the body is not a JSON object of strings",
        );
    };
    let Some(idx) = st.keys.iter().position(|k| k == name) else {
        return error(404, "NOT_FOUND", &format!("CryptoKey {name} not found."));
    };
    let allowed: &[&str] = match verb {
        "encrypt" => &["name", "plaintext"],
        "decrypt" => &["name", "ciphertext"],
        _ => return error(404, "NOT_FOUND", "unknown method"),
    };
    if let Some((k, _)) = fields.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return error(
            400,
            "INVALID_ARGUMENT",
            &format!("Invalid JSON payload received. Unknown name \\\"{k}\\\""),
        );
    }
    if let Some((_, n)) = fields.iter().find(|(k, _)| k == "name")
        && n != name
    {
        return error(400, "INVALID_ARGUMENT", "name does not match the path");
    }
    let field = |f: &str| {
        fields
            .iter()
            .find(|(k, _)| k == f)
            .and_then(|(_, v)| B64.decode(v).ok())
    };
    let pad = |i: usize| name.bytes().cycle().nth(i % name.len()).unwrap() ^ 0x5a;
    match verb {
        "encrypt" => {
            let Some(p) = field("plaintext") else {
                return error(400, "INVALID_ARGUMENT", "plaintext must be base64");
            };
            let mut ct = format!("fakekms:{idx}:").into_bytes();
            ct.extend(p.iter().enumerate().map(|(i, b)| b ^ pad(i)));
            (
                200,
                format!(
                    r#"{{"name":"{name}/cryptoKeyVersions/1","ciphertext":"{}","verifiedPlaintextCrc32c":false,"protectionLevel":"SOFTWARE"}}"#,
                    B64.encode(ct)
                ),
            )
        }
        _ => {
            let Some(ct) = field("ciphertext") else {
                return error(400, "INVALID_ARGUMENT", "ciphertext must be base64");
            };
            let prefix = format!("fakekms:{idx}:").into_bytes();
            let Some(body) = ct.strip_prefix(&prefix[..]) else {
                return error(
                    400,
                    "INVALID_ARGUMENT",
                    "Decryption failed: verify that 'name' refers to the correct CryptoKey.",
                );
            };
            let p: Vec<u8> = body.iter().enumerate().map(|(i, b)| b ^ pad(i)).collect();
            (
                200,
                format!(
                    r#"{{"plaintext":"{}","usedPrimary":true,"protectionLevel":"SOFTWARE"}}"#,
                    B64.encode(p)
                ),
            )
        }
    }
}

fn is_crypto_key(name: &str) -> bool {
    let p: Vec<&str> = name.split('/').collect();
    p.len() == 8
        && p[0] == "projects"
        && p[2] == "locations"
        && p[4] == "keyRings"
        && p[6] == "cryptoKeys"
        && p.iter().all(|s| !s.is_empty())
}

/// A flat JSON object whose values are all strings without escapes (what these requests
/// are): its fields, or None for anything else.
fn json_object(s: &str) -> Option<Vec<(String, String)>> {
    let s = s.trim().strip_prefix('{')?.strip_suffix('}')?.trim();
    let mut out = Vec::new();
    if s.is_empty() {
        return Some(out);
    }
    let mut rest = s;
    loop {
        let (k, r) = json_string(rest.trim_start())?;
        let r = r.trim_start().strip_prefix(':')?;
        let (v, r) = json_string(r.trim_start())?;
        out.push((k, v));
        let r = r.trim_start();
        if r.is_empty() {
            return Some(out);
        }
        rest = r.strip_prefix(',')?;
    }
}

fn json_string(s: &str) -> Option<(String, &str)> {
    let s = s.strip_prefix('"')?;
    let end = s.find('"')?;
    let v = &s[..end];
    if v.contains('\\') {
        return None;
    }
    Some((v.to_string(), &s[end + 1..]))
}
