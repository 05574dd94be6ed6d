//! Azure Key Vault master keys (`azure_kv:` entries).

use std::time::Duration;

use zeroize::Zeroizing;

use super::entry::{field, map, not_built};
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

/// Credentials, from the usual Azure environment variables.
#[derive(Clone, Default)]
pub struct Settings {
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<Zeroizing<String>>,
    /// `AZURE_AUTHORITY_HOST`, for sovereign clouds (and the test fake).
    pub authority_host: Option<String>,
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
            .finish()
    }
}

impl Settings {
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings {
            tenant_id: get("AZURE_TENANT_ID"),
            client_id: get("AZURE_CLIENT_ID"),
            client_secret: get("AZURE_CLIENT_SECRET").map(Zeroizing::new),
            authority_host: get("AZURE_AUTHORITY_HOST"),
        }
    }
}

/// The wrapped key and the key version that wrapped it (the latest one when `key.version`
/// is empty, so the entry can name it as sops does).
pub fn wrap(
    _key: &Key,
    _data: &[u8],
    _s: &Settings,
    _timeout: Duration,
) -> Result<(String, String), String> {
    Err(not_built("azure_kv"))
}

pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("azure_kv"))
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
}
