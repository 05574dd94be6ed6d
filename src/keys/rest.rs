//! The HTTP client the REST key backends share (hc_vault, azure_kv): reqwest on rustls with
//! the ring provider, driven by a current-thread tokio runtime that lives only for one
//! backend call, so the rest of sops-rs stays synchronous.

use std::future::Future;
use std::time::Duration;

/// A client whose connect and whole-request times are bounded by `timeout`, so a dead
/// endpoint fails instead of hanging. Servers are verified against the system's roots.
// hc_vault calls client_with instead (its VAULT_CACERT settings)
#[cfg_attr(not(feature = "azure_kv"), allow(dead_code))]
pub(crate) fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    client_with(timeout, &Tls::default())
}

/// How a backend's own settings change server verification (Vault's `VAULT_CACERT`, …).
#[derive(Default)]
pub(crate) struct Tls {
    /// PEM certificates to trust instead of the system's roots, and where they came from
    /// (for errors).
    pub roots: Option<(Vec<u8>, String)>,
    /// Accept any certificate (Vault's `VAULT_SKIP_VERIFY`).
    pub skip_verify: bool,
}

/// A client builder with our user agent, its TLS provider installed.
pub(crate) fn builder() -> reqwest::ClientBuilder {
    // reqwest is built without a provider of its own (no aws-lc); a second install (another
    // backend, or the GCP client, got there first) is harmless
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().user_agent(concat!("sops-rs/", env!("CARGO_PKG_VERSION")))
}

/// [`client`] with the server verification `tls` asks for.
pub(crate) fn client_with(timeout: Duration, tls: &Tls) -> Result<reqwest::Client, String> {
    let mut b = builder().connect_timeout(timeout).timeout(timeout);
    if let Some((pem, from)) = &tls.roots {
        let certs = reqwest::Certificate::from_pem_bundle(pem)
            .map_err(|_| format!("{from}: not a PEM certificate bundle"))?;
        if certs.is_empty() {
            return Err(format!("{from}: no PEM certificate in it"));
        }
        b = b.tls_certs_only(certs);
    }
    if tls.skip_verify {
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build()
        .map_err(|e| format!("cannot set up the HTTP client: {}", cause(&e)))
}

/// Run `fut` to completion on a fresh current-thread runtime, giving up after `timeout`
/// (a backend call may make several requests; together they get `timeout`).
pub(crate) fn block_on<F: Future>(timeout: Duration, fut: F) -> Result<F::Output, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the HTTP runtime: {e}"))?;
    rt.block_on(async { tokio::time::timeout(timeout, fut).await })
        .map_err(|_| format!("no answer within {}", secs(timeout)))
}

/// A response: its status and body (a JSON error body is parsed by the caller).
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body as JSON, or an error naming `what` answered something else.
    pub fn json(&self, what: &str) -> Result<serde_json::Value, String> {
        serde_json::from_slice(&self.body).map_err(|_| {
            format!(
                "{what} answered HTTP {} with a body that is not JSON",
                self.status
            )
        })
    }
}

/// Send `req` and read the whole body; transport failures become one-line reasons that
/// name `url` (no headers, no body: those carry tokens and keys).
pub(crate) async fn send(
    req: reqwest::RequestBuilder,
    url: &str,
    timeout: Duration,
) -> Result<Reply, String> {
    let fail = |e: reqwest::Error| {
        if e.is_timeout() {
            format!("{url}: no answer within {}", secs(timeout))
        } else if e.is_connect() {
            format!("cannot connect to {url}: {}", cause(&e))
        } else {
            format!("request to {url} failed: {}", cause(&e))
        }
    };
    let resp = req.send().await.map_err(fail)?;
    let status = resp.status().as_u16();
    let body = resp.bytes().await.map_err(fail)?.to_vec();
    Ok(Reply { status, body })
}

/// The innermost error of a chain (e.g. "Connection refused (os error 111)"): reqwest's
/// own text repeats the URL, which callers already name.
fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &dyn std::error::Error = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// `application/x-www-form-urlencoded` for one (name, value) list (OAuth2 token requests).
#[cfg_attr(not(feature = "azure_kv"), allow(dead_code))]
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        let mut o = String::with_capacity(s.len());
        for b in s.bytes() {
            match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    o.push(b as char)
                }
                b' ' => o.push('+'),
                _ => o.push_str(&format!("%{b:02X}")),
            }
        }
        o
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encodes() {
        assert_eq!(
            form(&[
                ("scope", "https://vault.azure.net/.default"),
                ("a b", "x+y&z")
            ]),
            "scope=https%3A%2F%2Fvault.azure.net%2F.default&a+b=x%2By%26z"
        );
    }

    #[test]
    fn dead_endpoint_times_out() {
        // a listener that never accepts: the connection is queued, no answer comes
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        let t = Duration::from_millis(300);
        let start = std::time::Instant::now();
        let r = block_on(t * 4, async {
            let c = client(t)?;
            send(c.get(&url), &url, t).await
        })
        .unwrap();
        let e = r.err().unwrap();
        assert!(e.contains("no answer within 0.3s"), "{e}");
        assert!(start.elapsed() < Duration::from_secs(3));
    }
}
