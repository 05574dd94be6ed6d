//! Google Cloud KMS master keys (`gcp_kms:` entries).

use std::time::Duration;

use zeroize::Zeroizing;

#[cfg(not(feature = "gcp_kms"))]
use super::entry::not_built;
use super::entry::{field, map};
use crate::metadata::Meta;

/// A Cloud KMS key by resource id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub resource_id: String,
}

impl Key {
    /// `projects/P/locations/L/keyRings/R/cryptoKeys/K`, as sops requires.
    pub fn parse(s: &str) -> Result<Key, String> {
        let s = s.trim();
        let parts: Vec<&str> = s.split('/').collect();
        let ok = parts.len() == 8
            && parts[0] == "projects"
            && parts[2] == "locations"
            && parts[4] == "keyRings"
            && parts[6] == "cryptoKeys"
            && parts.iter().all(|p| !p.is_empty());
        if !ok {
            return Err(format!(
                "GCP KMS resource id {s:?} is not projects/*/locations/*/keyRings/*/cryptoKeys/*"
            ));
        }
        Ok(Key {
            resource_id: s.to_string(),
        })
    }

    pub fn from_entry(m: &Meta) -> Result<Key, String> {
        Ok(Key {
            resource_id: field(m, "resource_id")?,
        })
    }

    pub fn to_entry(&self, enc: &str, created_at: &str) -> Meta {
        map(&[
            ("created_at", created_at),
            ("enc", enc),
            ("resource_id", &self.resource_id),
        ])
    }

    pub fn id(&self) -> String {
        self.resource_id.clone()
    }
}

/// Credentials and endpoint, read as sops reads them.
#[derive(Clone, Default)]
pub struct Settings {
    /// `GOOGLE_CREDENTIALS`: a path or the JSON itself.
    pub credentials: Option<Zeroizing<String>>,
    /// `GOOGLE_OAUTH_ACCESS_TOKEN`.
    pub access_token: Option<Zeroizing<String>>,
    /// `SOPS_GCP_KMS_ENDPOINT`.
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("credentials", &self.credentials.as_ref().map(|_| "<set>"))
            .field("access_token", &self.access_token.as_ref().map(|_| "<set>"))
            .field("endpoint", &self.endpoint)
            .finish()
    }
}

impl Settings {
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings {
            credentials: get("GOOGLE_CREDENTIALS").map(Zeroizing::new),
            access_token: get("GOOGLE_OAUTH_ACCESS_TOKEN").map(Zeroizing::new),
            endpoint: get("SOPS_GCP_KMS_ENDPOINT"),
        }
    }
}

/// Encrypt `data` with the Cloud KMS key: base64 (std) of the ciphertext, as sops stores it.
pub fn wrap(key: &Key, data: &[u8], s: &Settings, timeout: Duration) -> Result<String, String> {
    #[cfg(feature = "gcp_kms")]
    {
        use base64::Engine;
        let plaintext = data.to_vec();
        let name = key.resource_id.clone();
        let ct = client::call(s, timeout, move |c| async move {
            c.encrypt()
                .set_name(name)
                .set_plaintext(plaintext)
                .send()
                .await
                .map(|r| r.ciphertext.to_vec())
        })?;
        if ct.is_empty() {
            return Err("Cloud KMS returned an empty ciphertext".into());
        }
        Ok(base64::engine::general_purpose::STANDARD.encode(ct))
    }
    #[cfg(not(feature = "gcp_kms"))]
    {
        let _ = (key, data, s, timeout);
        Err(not_built("gcp_kms"))
    }
}

/// Decrypt `enc` (base64 of a Cloud KMS ciphertext) with the key.
pub fn unwrap(
    key: &Key,
    enc: &str,
    s: &Settings,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    #[cfg(feature = "gcp_kms")]
    {
        use base64::Engine;
        let ct = base64::engine::general_purpose::STANDARD
            .decode(enc.trim())
            .map_err(|_| "the encrypted data key is not base64".to_string())?;
        let name = key.resource_id.clone();
        client::call(s, timeout, move |c| async move {
            c.decrypt()
                .set_name(name)
                .set_ciphertext(ct)
                .send()
                .await
                // the response's own buffer is the client library's; we keep only our copy
                .map(|r| Zeroizing::new(r.plaintext.to_vec()))
        })
    }
    #[cfg(not(feature = "gcp_kms"))]
    {
        let _ = (key, enc, s, timeout);
        Err(not_built("gcp_kms"))
    }
}

#[cfg(feature = "gcp_kms")]
mod client {
    use std::future::Future;
    use std::time::Duration;

    use google_cloud_auth::credentials::{self, CacheableResource, Credentials, EntityTag};
    use google_cloud_kms_v1::client::KeyManagementService;
    use zeroize::Zeroizing;

    use super::Settings;

    /// rustls needs one process-wide crypto provider; only ring is built (no aws-lc).
    pub(crate) fn install_ring_provider() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            // an application that installed a provider already keeps its own
            let _ = rustls::crypto::ring::default_provider().install_default();
        });
    }

    /// Build a client and run `f` on a current-thread runtime, bounded by `timeout`.
    pub(super) fn call<T, F, Fut>(s: &Settings, timeout: Duration, f: F) -> Result<T, String>
    where
        F: FnOnce(KeyManagementService) -> Fut,
        Fut: Future<Output = Result<T, google_cloud_kms_v1::Error>>,
    {
        install_ring_provider();
        let creds = credentials(s)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the async runtime: {e}"))?;
        let endpoint = s
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let work = async move {
            let mut b = KeyManagementService::builder().with_credentials(creds);
            if let Some(e) = endpoint {
                b = b.with_endpoint(endpoint_url(e));
            }
            let client = b
                .build()
                .await
                .map_err(|e| format!("cannot create the Cloud KMS client: {e}"))?;
            f(client).await.map_err(describe)
        };
        match rt.block_on(async { tokio::time::timeout(timeout, work).await }) {
            Ok(r) => r,
            Err(_) => Err(format!(
                "Cloud KMS did not answer within {}s{}",
                timeout.as_secs_f32(),
                endpoint
                    .map(|e| format!(" (endpoint {e})"))
                    .unwrap_or_default()
            )),
        }
    }

    /// `SOPS_GCP_KMS_ENDPOINT` may be a gRPC-style `host:port`; the REST client wants a URL.
    fn endpoint_url(e: &str) -> String {
        if e.contains("://") {
            e.trim_end_matches('/').to_string()
        } else {
            format!("https://{}", e.trim_end_matches('/'))
        }
    }

    /// The service's own words (code and message) rather than the library's wrapping.
    fn describe(e: google_cloud_kms_v1::Error) -> String {
        if let Some(st) = e.status() {
            let msg = st.message.trim();
            return if msg.is_empty() {
                format!("Cloud KMS refused: {}", st.code)
            } else {
                format!("Cloud KMS refused: {} ({msg})", st.code)
            };
        }
        if let Some(code) = e.http_status_code() {
            return format!("Cloud KMS answered HTTP {code}: {e}");
        }
        format!("Cloud KMS call failed: {e}")
    }

    /// sops' order: `GOOGLE_CREDENTIALS` (a file path, or the JSON itself), then
    /// `GOOGLE_OAUTH_ACCESS_TOKEN`, then Application Default Credentials.
    fn credentials(s: &Settings) -> Result<Credentials, String> {
        if let Some(c) = s.credentials.as_ref().filter(|c| !c.trim().is_empty()) {
            return from_json(c);
        }
        if let Some(t) = s.access_token.as_ref().filter(|t| !t.trim().is_empty()) {
            return Ok(Credentials::from(StaticToken::new(t.trim())?));
        }
        credentials::Builder::default()
            .build()
            .map_err(|e| format!("no Google credentials (GOOGLE_CREDENTIALS, GOOGLE_OAUTH_ACCESS_TOKEN or Application Default Credentials): {e}"))
    }

    fn from_json(value: &str) -> Result<Credentials, String> {
        let path = std::path::Path::new(value.trim());
        let text: Zeroizing<String> = if !value.trim_start().starts_with('{') && path.is_file() {
            Zeroizing::new(std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read GOOGLE_CREDENTIALS file {}: {e}",
                    path.display()
                )
            })?)
        } else {
            Zeroizing::new(value.to_string())
        };
        // serde_json's errors give a position, never the text
        let json: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| format!("GOOGLE_CREDENTIALS is neither a file nor JSON: {e}"))?;
        let ty = json
            .get("type")
            .and_then(|t| t.as_str())
            .unwrap_or("")
            .to_string();
        let built = match ty.as_str() {
            "service_account" => credentials::service_account::Builder::new(json).build(),
            "authorized_user" => credentials::user_account::Builder::new(json).build(),
            "impersonated_service_account" => credentials::impersonated::Builder::new(json).build(),
            "external_account" => credentials::external_account::Builder::new(json).build(),
            other => {
                return Err(format!(
                    "GOOGLE_CREDENTIALS has an unsupported credential type {other:?}"
                ));
            }
        };
        built.map_err(|e| format!("GOOGLE_CREDENTIALS ({ty}) cannot be used: {e}"))
    }

    /// `GOOGLE_OAUTH_ACCESS_TOKEN`: a bearer token sent as is, never refreshed.
    struct StaticToken {
        header: http::HeaderValue,
        tag: EntityTag,
    }

    impl StaticToken {
        fn new(token: &str) -> Result<StaticToken, String> {
            let mut header = http::HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|_| "GOOGLE_OAUTH_ACCESS_TOKEN is not a valid header value".to_string())?;
            header.set_sensitive(true);
            Ok(StaticToken {
                header,
                tag: EntityTag::new(),
            })
        }
    }

    impl std::fmt::Debug for StaticToken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("StaticToken([REDACTED])")
        }
    }

    impl credentials::CredentialsProvider for StaticToken {
        async fn headers(
            &self,
            _extensions: http::Extensions,
        ) -> Result<CacheableResource<http::HeaderMap>, google_cloud_auth::errors::CredentialsError>
        {
            let mut h = http::HeaderMap::new();
            h.insert(http::header::AUTHORIZATION, self.header.clone());
            Ok(CacheableResource::New {
                entity_tag: self.tag.clone(),
                data: h,
            })
        }

        async fn universe_domain(&self) -> Option<String> {
            None
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn endpoint_gets_a_scheme() {
            assert_eq!(endpoint_url("kms.example:443"), "https://kms.example:443");
            assert_eq!(endpoint_url("http://127.0.0.1:1/"), "http://127.0.0.1:1");
        }
    }
}
