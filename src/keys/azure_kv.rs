//! Azure Key Vault master keys (`azure_kv:` entries).

use std::time::Duration;

use zeroize::Zeroizing;

#[cfg(not(feature = "azure_kv"))]
use super::entry::not_built;
use super::entry::{field, map};
use crate::metadata::Meta;

/// A Key Vault key; an empty `version` means "the latest", resolved when wrapping.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub vault_url: String,
    pub name: String,
    pub version: String,
}

impl Key {
    /// `https://VAULT/keys/NAME[/VERSION]`, as sops' `--azure-kv`.
    pub fn parse(s: &str) -> Result<Key, String> {
        let s = s.trim();
        let bad = || {
            format!("{s:?} is not an Azure Key Vault key URL (https://VAULT/keys/NAME[/VERSION])")
        };
        let (scheme, rest) = s.split_once("://").ok_or_else(bad)?;
        let (host, path) = rest.split_once('/').ok_or_else(bad)?;
        let parts: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        if host.is_empty()
            || parts.len() < 2
            || parts.len() > 3
            || parts[0] != "keys"
            || parts[1].is_empty()
        {
            return Err(bad());
        }
        Ok(Key {
            vault_url: format!("{scheme}://{host}"),
            name: parts[1].to_string(),
            version: parts.get(2).map(|v| v.to_string()).unwrap_or_default(),
        })
    }

    pub fn from_entry(m: &Meta) -> Result<Key, String> {
        Ok(Key {
            vault_url: field(m, "vault_url")?,
            name: field(m, "name")?,
            version: field(m, "version")?,
        })
    }

    pub fn to_entry(&self, enc: &str, created_at: &str) -> Meta {
        map(&[
            ("created_at", created_at),
            ("enc", enc),
            ("name", &self.name),
            ("vault_url", &self.vault_url),
            ("version", &self.version),
        ])
    }

    /// sops' `ToString`: `VAULT_URL/keys/NAME/VERSION`.
    pub fn id(&self) -> String {
        format!("{}/keys/{}/{}", self.vault_url, self.name, self.version)
    }
}

/// Credentials, from the usual Azure environment variables, in `DefaultAzureCredential`'s
/// order: a service principal's client secret (`AZURE_CLIENT_SECRET`), workload identity
/// (`AZURE_FEDERATED_TOKEN_FILE`), a managed identity (App Service's `IDENTITY_ENDPOINT`, else
/// the instance metadata service), else the Azure CLI's login (`az`).
#[derive(Clone, Default)]
pub struct Settings {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Zeroizing<String>>,
    /// `AZURE_AUTHORITY_HOST`, for sovereign clouds (and the test fake).
    pub authority_host: Option<String>,
    /// `AZURE_FEDERATED_TOKEN_FILE` (workload identity: AKS, GitHub OIDC): its JWT is the
    /// client assertion, read at each call since the platform rotates it.
    pub federated_token_file: Option<std::path::PathBuf>,
    /// `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`: the managed identity of App Service,
    /// Functions and Container Apps.
    pub identity_endpoint: Option<String>,
    pub identity_header: Option<Zeroizing<String>>,
    /// The instance metadata service (VMs, scale sets, AKS nodes), asked for a managed
    /// identity's token when nothing above is set; empty means `http://169.254.169.254`
    /// (`AZURE_POD_IDENTITY_AUTHORITY_HOST` overrides it, as in the Python and .NET SDKs).
    pub imds_host: String,
    /// The Azure CLI to ask for a token when no other credential is set; empty means `az`.
    pub az_command: String,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<set>"),
            )
            .field("authority_host", &self.authority_host)
            .field("federated_token_file", &self.federated_token_file)
            .field("identity_endpoint", &self.identity_endpoint)
            .field(
                "identity_header",
                &self.identity_header.as_ref().map(|_| "<set>"),
            )
            .field("imds_host", &self.imds_host)
            .field("az_command", &self.az_command)
            .finish()
    }
}

impl Settings {
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        let get = |k: &str| get(k).filter(|v| !v.is_empty());
        Settings {
            tenant_id: get("AZURE_TENANT_ID"),
            client_id: get("AZURE_CLIENT_ID"),
            client_secret: get("AZURE_CLIENT_SECRET").map(Zeroizing::new),
            authority_host: get("AZURE_AUTHORITY_HOST"),
            federated_token_file: get("AZURE_FEDERATED_TOKEN_FILE").map(Into::into),
            identity_endpoint: get("IDENTITY_ENDPOINT"),
            identity_header: get("IDENTITY_HEADER").map(Zeroizing::new),
            // the Python and .NET Azure SDKs' override of the metadata service's address
            imds_host: get("AZURE_POD_IDENTITY_AUTHORITY_HOST").unwrap_or_default(),
            az_command: String::new(),
        }
    }
}

/// The wrapped key and the key version that wrapped it (the latest one when `key.version`
/// is empty, so the entry can name it as sops does).
///
/// Like sops (azkeys `Encrypt`), this is Key Vault's `encrypt` operation with RSA-OAEP-256,
/// and `enc` is the result's bytes in unpadded base64url.
#[cfg(feature = "azure_kv")]
pub fn wrap(
    key: &Key,
    data: &[u8],
    s: &Settings,
    timeout: Duration,
) -> Result<(String, String), String> {
    rest::wrap(key, data, s, timeout)
}

#[cfg(feature = "azure_kv")]
pub fn unwrap(
    key: &Key,
    enc: &str,
    s: &Settings,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    rest::unwrap(key, enc, s, timeout)
}

#[cfg(not(feature = "azure_kv"))]
pub fn wrap(
    _key: &Key,
    _data: &[u8],
    _s: &Settings,
    _timeout: Duration,
) -> Result<(String, String), String> {
    Err(not_built("azure_kv"))
}

#[cfg(not(feature = "azure_kv"))]
pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("azure_kv"))
}

/// Key Vault's REST API, hand-rolled: the official Rust client refuses bearer tokens over
/// plain http, which would leave it untestable against a local fake.
#[cfg(feature = "azure_kv")]
mod rest {
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    use serde_json::{Value, json};
    use zeroize::Zeroizing;

    use super::{Key, Settings};
    use crate::keys::rest::{self, Reply};

    const API_VERSION: &str = "7.4";
    const ALG: &str = "RSA-OAEP-256";

    pub fn wrap(
        key: &Key,
        data: &[u8],
        s: &Settings,
        timeout: Duration,
    ) -> Result<(String, String), String> {
        let token = token(s, &resource(&key.vault_url), timeout)?;
        rest::block_on(timeout, async {
            let c = rest::client(timeout)?;
            let version = if key.version.is_empty() {
                latest_version(&c, key, &token, timeout).await?
            } else {
                key.version.clone()
            };
            let value = Zeroizing::new(URL_SAFE_NO_PAD.encode(data));
            let out = operation(&c, key, &version, "encrypt", &value, &token, timeout).await?;
            Ok((URL_SAFE_NO_PAD.encode(&*out), version))
        })?
    }

    pub fn unwrap(
        key: &Key,
        enc: &str,
        s: &Settings,
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        // sops decodes with Go's RawURLEncoding: unpadded base64url only
        let raw = URL_SAFE_NO_PAD
            .decode(enc)
            .map_err(|_| "the encrypted key (enc) is not unpadded base64url".to_string())?;
        let token = token(s, &resource(&key.vault_url), timeout)?;
        rest::block_on(timeout, async {
            let c = rest::client(timeout)?;
            let value = URL_SAFE_NO_PAD.encode(&raw);
            operation(&c, key, &key.version, "decrypt", &value, &token, timeout).await
        })?
    }

    /// `GET {vault}/keys/{name}`: the current version is the last segment of `key.kid`.
    async fn latest_version(
        c: &reqwest::Client,
        key: &Key,
        token: &str,
        timeout: Duration,
    ) -> Result<String, String> {
        let url = format!(
            "{}/keys/{}?api-version={API_VERSION}",
            key.vault_url.trim_end_matches('/'),
            key.name
        );
        let req = c.get(&url).bearer_auth(token);
        let reply = rest::send(req, &url, timeout).await?;
        let v = check(&reply, &format!("getting key {}", key.name))?;
        v.pointer("/key/kid")
            .and_then(Value::as_str)
            .and_then(|kid| kid.trim_end_matches('/').rsplit('/').next())
            .filter(|v| !v.is_empty())
            .map(str::to_string)
            .ok_or_else(|| "Key Vault answered the key without key.kid".to_string())
    }

    /// `POST {vault}/keys/{name}/{version}/{op}` (`encrypt`/`decrypt`): the result bytes.
    async fn operation(
        c: &reqwest::Client,
        key: &Key,
        version: &str,
        op: &str,
        value: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        // an empty version gives `keys/NAME//decrypt`, as the Go SDK sops uses sends it
        let url = format!(
            "{}/keys/{}/{version}/{op}?api-version={API_VERSION}",
            key.vault_url.trim_end_matches('/'),
            key.name
        );
        let body = Zeroizing::new(json!({ "alg": ALG, "value": value }).to_string());
        let req = c
            .post(&url)
            .bearer_auth(token)
            .header("Content-Type", "application/json")
            .body(body.to_string());
        let reply = rest::send(req, &url, timeout).await?;
        let v = check(&reply, &format!("{op} with key {}/{version}", key.name))?;
        let out = v
            .get("value")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("Key Vault answered {op} without a value"))?;
        // the service sends unpadded base64url; accept padding too
        URL_SAFE_NO_PAD
            .decode(out.trim_end_matches('='))
            .or_else(|_| URL_SAFE.decode(out))
            .map(Zeroizing::new)
            .map_err(|_| format!("Key Vault's {op} value is not base64url"))
    }

    /// The JSON body of a 2xx reply, else Key Vault's `error.code: error.message`.
    fn check(reply: &Reply, what: &str) -> Result<Value, String> {
        if reply.ok() {
            return reply.json("Key Vault");
        }
        let detail = reply
            .json("Key Vault")
            .ok()
            .and_then(|v| {
                let e = v.get("error")?;
                let code = e.get("code").and_then(Value::as_str).unwrap_or("");
                let msg = e.get("message").and_then(Value::as_str).unwrap_or("");
                Some(format!("{code}: {msg}"))
            })
            .unwrap_or_else(|| "no error text".into());
        Err(format!("Key Vault {what}: HTTP {}: {detail}", reply.status))
    }

    /// The token audience for a vault: its cloud's Key Vault resource.
    pub(super) fn resource(vault_url: &str) -> String {
        let host = vault_url
            .split_once("://")
            .map_or(vault_url, |(_, r)| r)
            .split(['/', ':'])
            .next()
            .unwrap_or_default();
        for suffix in [
            "vault.azure.cn",
            "vault.usgovcloudapi.net",
            "vault.microsoftazure.de",
            "managedhsm.azure.net",
        ] {
            if host.ends_with(&format!(".{suffix}")) {
                return format!("https://{suffix}");
            }
        }
        "https://vault.azure.net".into()
    }

    /// An access token: client credentials when a secret is set, else the Azure CLI.
    fn token(s: &Settings, resource: &str, timeout: Duration) -> Result<Zeroizing<String>, String> {
        if let Some(secret) = &s.client_secret {
            let (Some(tenant), Some(client)) = (&s.tenant_id, &s.client_id) else {
                return Err(
                    "AZURE_CLIENT_SECRET is set but AZURE_TENANT_ID or AZURE_CLIENT_ID is not"
                        .into(),
                );
            };
            let cred = [("client_secret", secret.as_str())];
            return client_credentials(s, tenant, client, &cred, resource, timeout);
        }
        if let Some(file) = &s.federated_token_file {
            let (Some(tenant), Some(client)) = (&s.tenant_id, &s.client_id) else {
                return Err(
                    "AZURE_FEDERATED_TOKEN_FILE is set but AZURE_TENANT_ID or AZURE_CLIENT_ID is not"
                        .into(),
                );
            };
            let jwt = std::fs::read_to_string(file)
                .map(|t| Zeroizing::new(t.trim().to_string()))
                .map_err(|e| {
                    format!(
                        "cannot read AZURE_FEDERATED_TOKEN_FILE {}: {e}",
                        file.display()
                    )
                })?;
            let cred = [
                (
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ),
                ("client_assertion", jwt.as_str()),
            ];
            return client_credentials(s, tenant, client, &cred, resource, timeout);
        }
        if let Some(endpoint) = &s.identity_endpoint {
            return app_service_token(s, endpoint, resource, timeout);
        }
        // as DefaultAzureCredential: the metadata service when it answers, else the CLI
        let imds = match imds_token(s, resource, timeout) {
            Ok(t) => return Ok(t),
            Err(e) => e,
        };
        az_cli_token(s, resource, timeout).map_err(|e| {
            format!(
                "no Azure credentials: neither AZURE_CLIENT_SECRET nor AZURE_FEDERATED_TOKEN_FILE (with AZURE_TENANT_ID and AZURE_CLIENT_ID) nor IDENTITY_ENDPOINT is set, no managed identity answered ({imds}), and the Azure CLI gave no token: {e}"
            )
        })
    }

    /// App Service's managed identity: `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&
    /// resource=…` with the `X-IDENTITY-HEADER` secret; a user-assigned identity is chosen by
    /// `AZURE_CLIENT_ID`.
    fn app_service_token(
        s: &Settings,
        endpoint: &str,
        resource: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<String>, String> {
        let Some(header) = &s.identity_header else {
            return Err("IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not".into());
        };
        let mut query = vec![("api-version", "2019-08-01"), ("resource", resource)];
        if let Some(id) = &s.client_id {
            query.push(("client_id", id.as_str()));
        }
        let url = format!("{endpoint}?{}", rest::form(&query));
        let reply = rest::block_on(timeout, async {
            let c = rest::client(timeout)?;
            let req = c.get(&url).header("X-IDENTITY-HEADER", header.as_str());
            rest::send(req, endpoint, timeout).await
        })
        .and_then(|r| r)
        .map_err(|e| format!("managed identity (IDENTITY_ENDPOINT): {e}"))?;
        identity_token(&reply, "managed identity (IDENTITY_ENDPOINT)")
    }

    /// The instance metadata service's managed identity. Like DefaultAzureCredential, give
    /// it one second to connect: off Azure nothing is there.
    fn imds_token(
        s: &Settings,
        resource: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<String>, String> {
        let host = if s.imds_host.is_empty() {
            "http://169.254.169.254"
        } else {
            s.imds_host.trim_end_matches('/')
        };
        let endpoint = format!("{host}/metadata/identity/oauth2/token");
        let mut query = vec![("api-version", "2018-02-01"), ("resource", resource)];
        if let Some(id) = &s.client_id {
            query.push(("client_id", id.as_str()));
        }
        let url = format!("{endpoint}?{}", rest::form(&query));
        let probe = timeout.min(Duration::from_secs(1));
        let reply = rest::block_on(timeout, async {
            let c = rest::builder()
                .connect_timeout(probe)
                .timeout(timeout)
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
            let req = c.get(&url).header("Metadata", "true");
            rest::send(req, &endpoint, probe).await
        })
        .and_then(|r| r)?;
        identity_token(&reply, "the instance metadata service")
    }

    /// `access_token` from a managed-identity endpoint's answer, or its error text.
    fn identity_token(reply: &Reply, what: &str) -> Result<Zeroizing<String>, String> {
        let v = reply.json(what)?;
        if !reply.ok() {
            // {"error": "invalid_request", "error_description": "Identity not found"}
            let text = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (code, desc) = match v.get("error") {
                Some(Value::Object(e)) => (
                    e.get("code").and_then(Value::as_str).unwrap_or("").into(),
                    e.get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .into(),
                ),
                _ => (text("error"), text("error_description")),
            };
            return Err(format!("{what}: HTTP {}: {code}: {desc}", reply.status));
        }
        v.get("access_token")
            .and_then(Value::as_str)
            .map(|t| Zeroizing::new(t.to_string()))
            .ok_or_else(|| format!("{what} answered without access_token"))
    }

    /// OAuth2 client-credentials grant against `{authority}/{tenant}/oauth2/v2.0/token`,
    /// proving the client by `cred` (a secret, or a federated assertion).
    fn client_credentials(
        s: &Settings,
        tenant: &str,
        client: &str,
        cred: &[(&str, &str)],
        resource: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<String>, String> {
        let authority = s
            .authority_host
            .as_deref()
            .unwrap_or("https://login.microsoftonline.com")
            .trim_end_matches('/');
        let url = format!("{authority}/{tenant}/oauth2/v2.0/token");
        let scope = format!("{resource}/.default");
        let mut fields = vec![
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("scope", scope.as_str()),
        ];
        fields.extend_from_slice(cred);
        let body = Zeroizing::new(rest::form(&fields));
        let reply = rest::block_on(timeout, async {
            let c = rest::client(timeout)?;
            let req = c
                .post(&url)
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(body.to_string());
            rest::send(req, &url, timeout).await
        })
        .and_then(|r| r)
        .map_err(|e| format!("Azure token request: {e}"))?;
        let v = reply.json("the Azure token endpoint")?;
        if !reply.ok() {
            // {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret ...\r\nTrace ID: ..."}
            let code = v.get("error").and_then(Value::as_str).unwrap_or("");
            let desc = v
                .get("error_description")
                .and_then(Value::as_str)
                .and_then(|d| d.lines().next())
                .unwrap_or("");
            return Err(format!(
                "Azure token request for client {client} in tenant {tenant} failed: HTTP {}: {code}: {desc}",
                reply.status
            ));
        }
        v.get("access_token")
            .and_then(Value::as_str)
            .map(|t| Zeroizing::new(t.to_string()))
            .ok_or_else(|| "the Azure token endpoint answered without access_token".into())
    }

    /// `az account get-access-token --resource RESOURCE` (what `az login` users have).
    fn az_cli_token(
        s: &Settings,
        resource: &str,
        timeout: Duration,
    ) -> Result<Zeroizing<String>, String> {
        use std::io::Read as _;
        use std::process::{Command, Stdio};
        let az = if s.az_command.is_empty() {
            "az"
        } else {
            &s.az_command
        };
        let mut cmd = Command::new(az);
        cmd.args(["account", "get-access-token", "--output", "json"])
            .args(["--resource", resource]);
        if let Some(t) = &s.tenant_id {
            cmd.args(["--tenant", t]);
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {az}: {e}"))?;
        let (mut out, mut err) = (child.stdout.take(), child.stderr.take());
        let reader = std::thread::spawn(move || {
            let mut o = Zeroizing::new(Vec::new());
            let mut e = Vec::new();
            if let Some(s) = out.as_mut() {
                let _ = s.read_to_end(&mut o);
            }
            if let Some(s) = err.as_mut() {
                let _ = s.read_to_end(&mut e);
            }
            (o, e)
        });
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(st) = child.try_wait().map_err(|e| format!("{az}: {e}"))? {
                break st;
            }
            if start.elapsed() > timeout {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{az} gave no token within {:.1}s",
                    timeout.as_secs_f64()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let (out, err) = reader.join().map_err(|_| format!("{az}: reader failed"))?;
        if !status.success() {
            let e = String::from_utf8_lossy(&err);
            let first = e.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            return Err(format!("{az} failed ({status}): {first}"));
        }
        let v: Value = serde_json::from_slice(&out)
            .map_err(|_| format!("{az} printed something that is not JSON"))?;
        v.get("accessToken")
            .and_then(Value::as_str)
            .map(|t| Zeroizing::new(t.to_string()))
            .ok_or_else(|| format!("{az} printed no accessToken"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let k = Key::parse("https://v.vault.azure.net/keys/sops/0123").unwrap();
        assert_eq!(k.vault_url, "https://v.vault.azure.net");
        assert_eq!((k.name.as_str(), k.version.as_str()), ("sops", "0123"));
        assert_eq!(
            Key::parse("https://v.vault.azure.net/keys/sops")
                .unwrap()
                .version,
            ""
        );
        assert!(Key::parse("https://v.vault.azure.net/secrets/x").is_err());
    }

    #[cfg(feature = "azure_kv")]
    #[test]
    fn token_audience_follows_the_cloud() {
        assert_eq!(
            rest::resource("https://v.vault.azure.net"),
            "https://vault.azure.net"
        );
        assert_eq!(
            rest::resource("https://v.vault.azure.cn/"),
            "https://vault.azure.cn"
        );
        assert_eq!(
            rest::resource("http://127.0.0.1:9"),
            "https://vault.azure.net"
        );
    }
}
