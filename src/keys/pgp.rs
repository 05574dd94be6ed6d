//! PGP master keys (`pgp:` entries), through the `gpg` binary as sops does.

use std::time::Duration;

use zeroize::Zeroizing;

use super::entry::{field, map, not_built};
use crate::metadata::Meta;

/// A PGP key by fingerprint; a trailing `!` selects that exact subkey (gpg syntax).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub fingerprint: String,
}

impl Key {
    /// A fingerprint as given on the command line or in a config (spaces dropped, as sops).
    pub fn parse(s: &str) -> Result<Key, String> {
        let fingerprint: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        if fingerprint.is_empty() {
            return Err("empty PGP fingerprint".into());
        }
        Ok(Key { fingerprint })
    }

    pub fn from_entry(m: &Meta) -> Result<Key, String> {
        Ok(Key {
            fingerprint: field(m, "fp")?,
        })
    }

    pub fn to_entry(&self, enc: &str, created_at: &str) -> Meta {
        map(&[
            ("created_at", created_at),
            ("enc", enc),
            ("fp", &self.fingerprint),
        ])
    }

    /// sops' `ToString`: what `--rm-pgp` matches and reports name.
    pub fn id(&self) -> String {
        self.fingerprint.clone()
    }
}

/// Where gpg is and which home it uses (`SOPS_GPG_EXEC`, `GNUPGHOME`).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub gpg_exec: Option<String>,
    pub gnupg_home: Option<String>,
}

impl Settings {
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings {
            gpg_exec: get("SOPS_GPG_EXEC"),
            gnupg_home: get("GNUPGHOME"),
        }
    }
}

pub fn wrap(_key: &Key, _data: &[u8], _s: &Settings, _timeout: Duration) -> Result<String, String> {
    Err(not_built("pgp"))
}

pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("pgp"))
}
