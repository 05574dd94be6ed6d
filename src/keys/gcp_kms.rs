//! Google Cloud KMS master keys (`gcp_kms:` entries).

use std::time::Duration;

use zeroize::Zeroizing;

use super::entry::{field, map, not_built};
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

pub fn wrap(_key: &Key, _data: &[u8], _s: &Settings, _timeout: Duration) -> Result<String, String> {
    Err(not_built("gcp_kms"))
}

pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("gcp_kms"))
}
