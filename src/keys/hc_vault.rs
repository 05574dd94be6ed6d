//! HashiCorp Vault (and OpenBao) transit master keys (`hc_vault:` entries).

use std::time::Duration;

use zeroize::Zeroizing;

use super::entry::{field, map, not_built};
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

/// The token: `VAULT_TOKEN`, else the contents of `~/.vault-token` (read by the caller).
#[derive(Clone, Default)]
pub struct Settings {
    pub token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

impl Settings {
    /// `VAULT_TOKEN`, else `$HOME/.vault-token` as the vault CLI leaves it.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        let token = get("VAULT_TOKEN").or_else(|| {
            let home = get("HOME")?;
            let t =
                std::fs::read_to_string(std::path::Path::new(&home).join(".vault-token")).ok()?;
            Some(t.trim().to_string()).filter(|t| !t.is_empty())
        });
        Settings {
            token: token.map(Zeroizing::new),
        }
    }
}

pub fn wrap(_key: &Key, _data: &[u8], _s: &Settings, _timeout: Duration) -> Result<String, String> {
    Err(not_built("hc_vault"))
}

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
