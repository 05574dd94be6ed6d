//! HashiCorp Vault (and OpenBao) transit master keys (`hc_vault:` entries).

use std::path::PathBuf;
use std::time::Duration;

use zeroize::Zeroizing;

#[cfg(not(feature = "hc_vault"))]
use super::entry::not_built;
use super::entry::{field, map};
use crate::metadata::Meta;

/// A transit key: server address, the engine's mount path, and the key name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub vault_address: String,
    pub engine_path: String,
    pub key_name: String,
}

impl Key {
    /// `SCHEME://HOST[:PORT]/v1/ENGINE/PATH/keys/NAME`, as sops' `--hc-vault-transit`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let s = s.trim();
        let bad = || {
            format!("{s:?} is not a Vault transit key URI (https://HOST:8200/v1/ENGINE/keys/NAME)")
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let (host, path) = rest.split_once('/').ok_or_else(bad)?;
        let path = path.strip_prefix("v1/").ok_or_else(bad)?;
        let (engine, name) = path.rsplit_once("/keys/").ok_or_else(bad)?;
        if host.is_empty() || engine.is_empty() || name.is_empty() || name.contains('/') {
            return Err(bad());
        }
        Ok(Key {
            vault_address: format!("{scheme}://{host}"),
            engine_path: engine.to_string(),
            key_name: name.to_string(),
        })
    }

    pub fn from_entry(m: &Meta) -> Result<Key, String> {
        Ok(Key {
            vault_address: field(m, "vault_address")?,
            engine_path: field(m, "engine_path")?,
            key_name: field(m, "key_name")?,
        })
    }

    pub fn to_entry(&self, enc: &str, created_at: &str) -> Meta {
        map(&[
            ("created_at", created_at),
            ("enc", enc),
            ("engine_path", &self.engine_path),
            ("key_name", &self.key_name),
            ("vault_address", &self.vault_address),
        ])
    }

    /// sops' `ToString`: the URI again.
    pub fn id(&self) -> String {
        format!(
            "{}/v1/{}/keys/{}",
            self.vault_address, self.engine_path, self.key_name
        )
    }
}

/// The token: `VAULT_TOKEN`, else the contents of `~/.vault-token` (read by the caller);
/// `VAULT_NAMESPACE` as the Vault client sops uses honours it (Vault Enterprise, OpenBao).
#[derive(Clone, Default)]
pub struct Settings {
    pub token: Option<Zeroizing<String>>,
    pub namespace: Option<String>,
    /// `VAULT_CACERT`: a PEM file of the CAs to trust instead of the system's.
    pub ca_cert: Option<PathBuf>,
    /// `VAULT_CAPATH`: a directory of PEM files, used when `ca_cert` is not set.
    pub ca_path: Option<PathBuf>,
    /// `VAULT_SKIP_VERIFY`: accept any server certificate.
    pub skip_verify: bool,
    /// A setting that could not be read (`VAULT_SKIP_VERIFY=maybe`): every call fails with it,
    /// as the Vault client refuses to start.
    pub invalid: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("namespace", &self.namespace)
            .field("ca_cert", &self.ca_cert)
            .field("ca_path", &self.ca_path)
            .field("skip_verify", &self.skip_verify)
            .field("invalid", &self.invalid)
            .finish()
    }
}

impl Settings {
    /// `VAULT_TOKEN`, else `$HOME/.vault-token` as the vault CLI leaves it; `VAULT_NAMESPACE`;
    /// and the TLS settings sops' Vault client reads: `VAULT_CACERT`, `VAULT_CAPATH`,
    /// `VAULT_SKIP_VERIFY`.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        let token = get("VAULT_TOKEN").filter(|t| !t.is_empty()).or_else(|| {
            let home = get("HOME")?;
            let t =
                std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token")).ok()?;
            Some(t.trim().to_string()).filter(|t| !t.is_empty())
        });
        let path = |name| get(name).filter(|p| !p.is_empty()).map(PathBuf::from);
        let (skip_verify, invalid) = match get("VAULT_SKIP_VERIFY").filter(|v| !v.is_empty()) {
            None => (false, None),
            Some(v) => match go_bool(&v) {
                Some(b) => (b, None),
                None => (
                    false,
                    Some(format!(
                        "VAULT_SKIP_VERIFY={v:?} is not a boolean (true, false, 1, 0)"
                    )),
                ),
            },
        };
        Settings {
            token: token.map(Zeroizing::new),
            namespace: get("VAULT_NAMESPACE").filter(|n| !n.is_empty()),
            ca_cert: path("VAULT_CACERT"),
            ca_path: path("VAULT_CAPATH"),
            skip_verify,
            invalid,
        }
    }
}

/// Go's `strconv.ParseBool`, which the Vault client uses for its boolean variables.
fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The CA certificates to trust, as the Vault client picks them: `VAULT_CACERT` wins over
/// `VAULT_CAPATH`; neither means the system's roots.
#[cfg(feature = "hc_vault")]
fn tls(s: &Settings) -> Result<super::rest::Tls, String> {
    if let Some(e) = &s.invalid {
        return Err(e.clone());
    }
    let read = |p: &std::path::Path, var: &str| {
        std::fs::read(p).map_err(|e| format!("{var} {}: cannot read it: {}", p.display(), e.kind()))
    };
    let roots = if let Some(p) = &s.ca_cert {
        Some((
            read(p, "VAULT_CACERT")?,
            format!("VAULT_CACERT {}", p.display()),
        ))
    } else if let Some(d) = &s.ca_path {
        let from = format!("VAULT_CAPATH {}", d.display());
        let mut files: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| format!("{from}: cannot list it: {}", e.kind()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let mut pem = Vec::new();
        for f in &files {
            pem.extend(read(f, "VAULT_CAPATH")?);
            pem.push(b'\n');
        }
        Some((pem, from))
    } else {
        None
    };
    Ok(super::rest::Tls {
        roots,
        skip_verify: s.skip_verify,
    })
}

/// Encrypt `data` with the transit key: the `vault:v1:...` ciphertext sops stores as `enc`.
/// A key name the engine does not have yet is created by Vault itself (transit's upsert,
/// when the token may create keys), as with sops.
#[cfg(feature = "hc_vault")]
pub fn wrap(key: &Key, data: &[u8], s: &Settings, timeout: Duration) -> Result<String, String> {
    use base64::Engine as _;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(data));
    let body = Zeroizing::new(serde_json::json!({ "plaintext": b64.as_str() }).to_string());
    let v = call(key, "encrypt", &body, s, timeout)?;
    match v.pointer("/data/ciphertext") {
        Some(serde_json::Value::String(c)) if !c.is_empty() => Ok(c.clone()),
        _ => Err("Vault answered without data.ciphertext".into()),
    }
}

/// Decrypt `enc` (a `vault:v1:...` ciphertext) with the transit key.
#[cfg(feature = "hc_vault")]
pub fn unwrap(
    key: &Key,
    enc: &str,
    s: &Settings,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    use base64::Engine as _;
    let body = serde_json::json!({ "ciphertext": enc }).to_string();
    let v = call(key, "decrypt", &body, s, timeout)?;
    let p = match v.pointer("/data/plaintext") {
        Some(serde_json::Value::String(p)) => Zeroizing::new(p.clone()),
        _ => return Err("Vault answered without data.plaintext".into()),
    };
    base64::engine::general_purpose::STANDARD
        .decode(p.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| "Vault's data.plaintext is not base64".into())
}

/// POST `body` to `{address}/v1/{engine}/{op}/{key}`; the parsed JSON answer, or the HTTP
/// status and Vault's `errors` (never the token or the body).
#[cfg(feature = "hc_vault")]
fn call(
    key: &Key,
    op: &str,
    body: &str,
    s: &Settings,
    timeout: Duration,
) -> Result<serde_json::Value, String> {
    let url = format!(
        "{}/v1/{}/{op}/{}",
        key.vault_address.trim_end_matches('/'),
        key.engine_path.trim_matches('/'),
        key.key_name
    );
    let tls = tls(s).map_err(|e| format!("Vault transit {op}: {e}"))?;
    let reply = super::rest::block_on(timeout, async {
        let c = super::rest::client_with(timeout, &tls)?;
        let mut req = c
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        if let Some(t) = &s.token {
            req = req.header("X-Vault-Token", t.as_str());
        }
        if let Some(n) = &s.namespace {
            req = req.header("X-Vault-Namespace", n.as_str());
        }
        super::rest::send(req, &url, timeout).await
    })
    .and_then(|r| r)
    .map_err(|e| {
        let hint = if e.contains("invalid peer certificate") {
            " (a server with its own CA: set VAULT_CACERT to that CA's PEM file)"
        } else {
            ""
        };
        format!("Vault transit {op}: {e}{hint}")
    })?;
    if !reply.ok() {
        // Vault's error shape: {"errors": ["permission denied"]}
        let errors = reply
            .json("Vault")
            .ok()
            .and_then(|v| {
                let list = v.get("errors")?.as_array()?.clone();
                let texts: Vec<String> = list
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_string))
                    .collect();
                Some(texts.join("; "))
            })
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "no error text".into());
        let hint = if s.token.is_none() && matches!(reply.status, 401 | 403) {
            " (no Vault token was given: set VAULT_TOKEN or log in so ~/.vault-token exists)"
        } else {
            ""
        };
        return Err(format!(
            "Vault transit {op} at {url}: HTTP {}: {errors}{hint}",
            reply.status
        ));
    }
    reply
        .json("Vault")
        .map_err(|e| format!("Vault transit {op} at {url}: {e}"))
}

#[cfg(not(feature = "hc_vault"))]
pub fn wrap(_key: &Key, _data: &[u8], _s: &Settings, _timeout: Duration) -> Result<String, String> {
    Err(not_built("hc_vault"))
}

#[cfg(not(feature = "hc_vault"))]
pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("hc_vault"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_uris() {
        let k = Key::parse("http://127.0.0.1:8200/v1/sops/keys/firstkey").unwrap();
        assert_eq!(k.vault_address, "http://127.0.0.1:8200");
        assert_eq!(
            (k.engine_path.as_str(), k.key_name.as_str()),
            ("sops", "firstkey")
        );
        let k = Key::parse("https://v:8200/v1/team/transit/keys/k").unwrap();
        assert_eq!(k.engine_path, "team/transit");
        assert_eq!(k.id(), "https://v:8200/v1/team/transit/keys/k");
        assert!(Key::parse("https://v:8200/sops/keys/k").is_err());
    }
}
