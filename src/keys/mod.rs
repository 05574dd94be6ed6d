//! Master keys: wrapping the data key for every recipient, and getting it back.
//!
//! This module holds the one list of key types. A file's key groups each receive the whole
//! data key (one group) or one Shamir share (several groups); decryption tries every group
//! and recombines. age is built in; other types (PGP, cloud KMS) are kept verbatim in the
//! metadata and reported as unavailable until their backends land.

pub mod age;
pub mod azure_kv;
mod entry;
pub mod gcp_kms;
pub mod hc_vault;
pub mod kms;
pub mod pgp;
#[cfg(feature = "rest")]
mod rest;
pub mod shamir;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::metadata::{AgeKey, KeyGroup, Meta, Metadata};

/// A key to wrap a new data key for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    Age(String),
    Pgp(pgp::Key),
    Kms(kms::Key),
    GcpKms(gcp_kms::Key),
    AzureKv(azure_kv::Key),
    HcVault(hc_vault::Key),
}

impl KeySpec {
    /// The metadata list (and `--decryption-order` name) of this key type.
    pub fn type_name(&self) -> &'static str {
        match self {
            KeySpec::Age(_) => "age",
            KeySpec::Pgp(_) => "pgp",
            KeySpec::Kms(_) => "kms",
            KeySpec::GcpKms(_) => "gcp_kms",
            KeySpec::AzureKv(_) => "azure_kv",
            KeySpec::HcVault(_) => "hc_vault",
        }
    }

    /// sops' `ToString` of the key: what `--rm-*` matches, and what reports name.
    pub fn id(&self) -> String {
        match self {
            KeySpec::Age(r) => r.clone(),
            KeySpec::Pgp(k) => k.id(),
            KeySpec::Kms(k) => k.id(),
            KeySpec::GcpKms(k) => k.id(),
            KeySpec::AzureKv(k) => k.id(),
            KeySpec::HcVault(k) => k.id(),
        }
    }

    /// The key a non-age metadata entry of list `ty` names; `None` for a type sops-rs does
    /// not know (e.g. `hckms`), whose entries are kept verbatim.
    pub fn from_entry(ty: &str, m: &Meta) -> Option<std::result::Result<KeySpec, String>> {
        Some(match ty {
            "pgp" => pgp::Key::from_entry(m).map(KeySpec::Pgp),
            "kms" => kms::Key::from_entry(m).map(KeySpec::Kms),
            "gcp_kms" => gcp_kms::Key::from_entry(m).map(KeySpec::GcpKms),
            "azure_kv" => azure_kv::Key::from_entry(m).map(KeySpec::AzureKv),
            "hc_vault" => hc_vault::Key::from_entry(m).map(KeySpec::HcVault),
            _ => return None,
        })
    }

    /// Wrap `data` (a data key or a Shamir share) for this non-age key: its metadata entry.
    fn wrap_entry(
        &self,
        data: &[u8],
        b: &Backends,
        created_at: &str,
    ) -> std::result::Result<Meta, String> {
        let t = b.timeout;
        Ok(match self {
            KeySpec::Age(_) => unreachable!("age entries are typed"),
            KeySpec::Pgp(k) => k.to_entry(&pgp::wrap(k, data, &b.pgp, t)?, created_at),
            KeySpec::Kms(k) => k.to_entry(&kms::wrap(k, data, &b.kms, t)?, created_at),
            KeySpec::GcpKms(k) => k.to_entry(&gcp_kms::wrap(k, data, &b.gcp_kms, t)?, created_at),
            KeySpec::AzureKv(k) => {
                // an unversioned key is pinned to the version that wrapped it
                let (enc, version) = azure_kv::wrap(k, data, &b.azure_kv, t)?;
                let mut k = k.clone();
                k.version = version;
                k.to_entry(&enc, created_at)
            }
            KeySpec::HcVault(k) => {
                k.to_entry(&hc_vault::wrap(k, data, &b.hc_vault, t)?, created_at)
            }
        })
    }

    fn unwrap_enc(
        &self,
        enc: &str,
        b: &Backends,
    ) -> std::result::Result<Zeroizing<Vec<u8>>, String> {
        let t = b.timeout;
        match self {
            KeySpec::Age(_) => unreachable!("age entries are unwrapped by identities"),
            KeySpec::Pgp(k) => pgp::unwrap(k, enc, &b.pgp, t),
            KeySpec::Kms(k) => kms::unwrap(k, enc, &b.kms, t),
            KeySpec::GcpKms(k) => gcp_kms::unwrap(k, enc, &b.gcp_kms, t),
            KeySpec::AzureKv(k) => azure_kv::unwrap(k, enc, &b.azure_kv, t),
            KeySpec::HcVault(k) => hc_vault::unwrap(k, enc, &b.hc_vault, t),
        }
    }
}

/// What the non-age backends need to reach their services, gathered by the caller (the
/// CLI reads the environment; the library does not).
#[derive(Clone, Debug)]
pub struct Backends {
    pub pgp: pgp::Settings,
    pub kms: kms::Settings,
    pub gcp_kms: gcp_kms::Settings,
    pub azure_kv: azure_kv::Settings,
    pub hc_vault: hc_vault::Settings,
    /// The most one call to a key service may take, so a dead endpoint fails, not hangs.
    pub timeout: Duration,
}

impl Default for Backends {
    fn default() -> Backends {
        Backends {
            pgp: pgp::Settings::default(),
            kms: kms::Settings::default(),
            gcp_kms: gcp_kms::Settings::default(),
            azure_kv: azure_kv::Settings::default(),
            hc_vault: hc_vault::Settings::default(),
            timeout: Duration::from_secs(30),
        }
    }
}

impl Backends {
    /// Every backend's settings from an environment lookup; `SOPS_RS_KEYSERVICE_TIMEOUT`
    /// (seconds, or `500ms`, `10s`, `2m`) bounds each call to a key service.
    pub fn from_env(get: &dyn Fn(&str) -> Option<String>) -> Backends {
        let default = Backends::default();
        Backends {
            pgp: pgp::Settings::from_env(get),
            kms: kms::Settings::from_env(get),
            gcp_kms: gcp_kms::Settings::from_env(get),
            azure_kv: azure_kv::Settings::from_env(get),
            hc_vault: hc_vault::Settings::from_env(get),
            timeout: get("SOPS_RS_KEYSERVICE_TIMEOUT")
                .and_then(|t| parse_timeout(&t))
                .unwrap_or(default.timeout),
        }
    }
}

/// `30`, `30s`, `500ms` or `2m`; zero and nonsense are `None` (the default applies).
fn parse_timeout(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (n, unit_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000)
    } else {
        (s, 1000)
    };
    let n: u64 = n.trim().parse().ok()?;
    Some(Duration::from_millis(n.checked_mul(unit_ms)?)).filter(|d| !d.is_zero())
}

/// Data keys (or shares) already unwrapped in this run, by (key type, `enc`): many files
/// of one pipeline usually share one wrapped key, and each KMS call costs a round trip.
#[derive(Default)]
pub struct UnwrapCache(Mutex<HashMap<CacheKey, Zeroizing<Vec<u8>>>>);

/// (key type, `enc`).
type CacheKey = (String, String);

impl std::fmt::Debug for UnwrapCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("UnwrapCache")
    }
}

impl UnwrapCache {
    fn get(&self, ty: &str, enc: &str) -> Option<Zeroizing<Vec<u8>>> {
        let m = self.0.lock().ok()?;
        m.get(&(ty.to_string(), enc.to_string())).cloned()
    }

    fn put(&self, ty: &str, enc: &str, v: &[u8]) {
        if let Ok(mut m) = self.0.lock() {
            m.insert(
                (ty.to_string(), enc.to_string()),
                Zeroizing::new(v.to_vec()),
            );
        }
    }
}

/// What the caller found to unwrap data keys with.
#[derive(Debug, Default)]
pub struct KeySources {
    pub age: age::Identities,
    pub backends: Backends,
    /// Key types to try first within a group (`--decryption-order`); empty means sops'
    /// default, age then pgp. Types not named keep the file's order, after the named ones.
    pub decryption_order: Vec<String>,
    pub cache: UnwrapCache,
}

/// The key type names `--decryption-order` accepts.
pub const KEY_TYPE_NAMES: [&str; 7] = [
    "age", "pgp", "kms", "gcp_kms", "azure_kv", "hc_vault", "hckms",
];

/// Wrap `key` for each group (Shamir-split across groups when there are several).
///
/// # Errors
/// An empty group, a bad recipient, an impossible threshold, or a key service that refused.
pub fn wrap(
    groups: &[Vec<KeySpec>],
    threshold: Option<usize>,
    key: &DataKey,
    backends: &Backends,
) -> Result<(Vec<KeyGroup>, Option<usize>)> {
    if groups.is_empty() || groups.iter().all(|g| g.is_empty()) {
        return Err(Error::NoKeys);
    }
    if groups.iter().any(|g| g.is_empty()) {
        return Err(Error::Config("empty key group provided".into()));
    }
    let (parts, threshold) = if groups.len() == 1 {
        (vec![zeroize::Zeroizing::new(key.as_bytes().to_vec())], None)
    } else {
        let t = threshold.unwrap_or(groups.len());
        let shares = shamir::split(key.as_bytes(), groups.len(), t)
            .map_err(|e| Error::Config(format!("cannot split the data key: {e}")))?;
        (
            shares.into_iter().map(zeroize::Zeroizing::new).collect(),
            Some(t),
        )
    };
    let created_at = crate::document::now_rfc3339();
    let mut out = Vec::new();
    for (g, part) in groups.iter().zip(parts.iter()) {
        let mut group = KeyGroup::default();
        for k in g {
            match k {
                KeySpec::Age(r) => {
                    let enc = age::wrap(r, part)
                        .map_err(|e| Error::Config(format!("age recipient {r}: {e}")))?;
                    group.age.push(AgeKey {
                        recipient: r.clone(),
                        enc,
                        extra: Vec::new(),
                    });
                }
                other => {
                    let entry = other.wrap_entry(part, backends, &created_at).map_err(|e| {
                        Error::KeyService(format!("{} {}: {e}", other.type_name(), other.id()))
                    })?;
                    group.others.push((other.type_name().to_string(), entry));
                }
            }
        }
        out.push(group);
    }
    Ok((out, threshold))
}

/// One key of a group, in the order decryption tries them.
enum Candidate<'a> {
    Age(&'a AgeKey),
    Other(&'a str, &'a Meta),
}

impl Candidate<'_> {
    fn type_name(&self) -> &str {
        match self {
            Candidate::Age(_) => "age",
            Candidate::Other(t, _) => t,
        }
    }
}

/// The group's keys, stable-sorted by the decryption order (sops' `sort.SliceStable`).
fn candidates<'a>(g: &'a KeyGroup, order: &[String]) -> Vec<Candidate<'a>> {
    let default = ["age".to_string(), "pgp".to_string()];
    let order: &[String] = if order.is_empty() { &default } else { order };
    // file order, as sops keeps it within a group: kms, gcp_kms, hckms, azure_kv, hc_vault, pgp, age
    let mut cs: Vec<Candidate> = Vec::new();
    for ty in crate::metadata::KEY_TYPES {
        if ty == "age" {
            cs.extend(g.age.iter().map(Candidate::Age));
        } else {
            cs.extend(
                g.others
                    .iter()
                    .filter(|(t, _)| t == ty)
                    .map(|(t, m)| Candidate::Other(t, m)),
            );
        }
    }
    let rank = |c: &Candidate| {
        order
            .iter()
            .position(|o| o == c.type_name())
            .unwrap_or(order.len())
    };
    cs.sort_by_key(|c| rank(c));
    cs
}

/// Unwrap one candidate, or say which key failed and why.
fn try_candidate(
    c: &Candidate,
    sources: &KeySources,
) -> std::result::Result<Zeroizing<Vec<u8>>, (String, String)> {
    match c {
        Candidate::Age(a) => sources
            .age
            .unwrap(&a.enc)
            .map_err(|e| (format!("age {}", a.recipient), e.to_string())),
        Candidate::Other(ty, m) => {
            let spec = match KeySpec::from_entry(ty, m) {
                None => {
                    return Err((
                        (*ty).to_string(),
                        "this key type is not supported by sops-rs".into(),
                    ));
                }
                Some(Err(e)) => return Err(((*ty).to_string(), format!("bad entry: {e}"))),
                Some(Ok(s)) => s,
            };
            let name = format!("{ty} {}", spec.id());
            let enc = entry_enc(m);
            if let Some(p) = sources.cache.get(ty, &enc) {
                return Ok(p);
            }
            let p = spec
                .unwrap_enc(&enc, &sources.backends)
                .map_err(|e| (name, e))?;
            sources.cache.put(ty, &enc, &p);
            Ok(p)
        }
    }
}

fn entry_enc(m: &Meta) -> String {
    m.get("enc")
        .and_then(Meta::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Recover the data key from the metadata, trying every key of every group.
///
/// # Errors
/// `DataKey` with a per-group SUCCESS/FAILED report (no secret in it) when no key, or too
/// few groups for the Shamir threshold, worked.
pub fn unwrap(meta: &Metadata, sources: &KeySources) -> Result<DataKey> {
    let mut parts = Vec::new();
    let mut report = Vec::new();
    for (i, g) in meta.groups.iter().enumerate() {
        let mut errors = Vec::new();
        let mut got = None;
        for c in candidates(g, &sources.decryption_order) {
            match try_candidate(&c, sources) {
                Ok(p) => {
                    got = Some(p);
                    break;
                }
                Err((name, e)) => errors.push(format!("  - {name}: {e}")),
            }
        }
        // types outside sops' list (kept verbatim) can never be tried
        for (ty, _) in &g.others {
            if got.is_none() && !crate::metadata::KEY_TYPES.contains(&ty.as_str()) {
                errors.push(format!("  - {ty}: this key type is not known to sops-rs"));
            }
        }
        match got {
            Some(p) => {
                report.push(format!("Group {i}: SUCCESS"));
                parts.push(p);
            }
            None => {
                report.push(format!("Group {i}: FAILED"));
                report.extend(errors);
            }
        }
    }
    if meta.groups.is_empty() {
        return Err(Error::DataKey("the file lists no master keys".into()));
    }
    if meta.groups.len() == 1 {
        return match parts.pop() {
            Some(p) => Ok(DataKey::from_bytes(&p)),
            None => Err(Error::DataKey(with_hint(report, sources, meta))),
        };
    }
    let threshold = meta.shamir_threshold.unwrap_or(meta.groups.len());
    if parts.len() < threshold {
        report.push(format!(
            "Recovery failed because the file was encrypted with a Shamir threshold of {threshold}, but only {} part(s) were successfully decrypted, one per key group.",
            parts.len()
        ));
        return Err(Error::DataKey(with_hint(report, sources, meta)));
    }
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let key = shamir::combine(&refs)
        .map_err(|e| Error::DataKey(format!("cannot combine the key groups' shares: {e}")))?;
    Ok(DataKey::from_bytes(&key))
}

fn with_hint(mut report: Vec<String>, sources: &KeySources, meta: &Metadata) -> String {
    // age hints only where an age key could have helped
    if meta.groups.iter().all(|g| g.age.is_empty()) {
        return report.join("\n");
    }
    for e in sources.age.load_errors() {
        report.push(format!("  (age identity source: {e})"));
    }
    if sources.age.is_empty() {
        report.push(
            "hint: no age identity was found: set SOPS_AGE_KEY_FILE, SOPS_AGE_KEY or put keys in ~/.config/sops/age/keys.txt"
                .into(),
        );
    }
    report.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(ty: &str, id: &str) -> (String, Meta) {
        let m = match ty {
            "pgp" => pgp::Key::parse(id).unwrap().to_entry("x", "t"),
            "kms" => kms::Key::parse(id).unwrap().to_entry("x", "t"),
            _ => hc_vault::Key::parse(id).unwrap().to_entry("x", "t"),
        };
        (ty.to_string(), m)
    }

    fn group() -> KeyGroup {
        KeyGroup {
            age: vec![AgeKey {
                recipient: "age1x".into(),
                enc: "not armored".into(),
                extra: vec![],
            }],
            others: vec![
                entry("hc_vault", "http://127.0.0.1:1/v1/sops/keys/k"),
                entry("kms", "arn:aws:kms:us-east-1:1:key/k"),
                entry("pgp", "ABCD"),
                ("hckms".into(), Meta::Map(vec![])),
            ],
        }
    }

    #[test]
    fn decryption_order_is_a_stable_sort_of_sops_group_order() {
        let g = group();
        let names = |order: &[&str]| {
            let order: Vec<String> = order.iter().map(|s| s.to_string()).collect();
            candidates(&g, &order)
                .iter()
                .map(|c| c.type_name().to_string())
                .collect::<Vec<_>>()
        };
        // default: age, pgp, then the file order kms, hckms, hc_vault
        assert_eq!(names(&[]), ["age", "pgp", "kms", "hckms", "hc_vault"]);
        assert_eq!(
            names(&["hc_vault", "kms"]),
            ["hc_vault", "kms", "hckms", "pgp", "age"]
        );
    }

    fn meta_of(g: KeyGroup) -> Metadata {
        Metadata {
            groups: vec![g],
            shamir_threshold: None,
            lastmodified: String::new(),
            mac: String::new(),
            selector: crate::select::Selector::default(),
            mac_only_encrypted: false,
            version: "3.13.2".into(),
            preserved: None,
            extra: vec![],
        }
    }

    #[test]
    fn the_report_names_every_key_and_no_secret() {
        let meta = meta_of(group());
        let e = unwrap(&meta, &KeySources::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("Group 0: FAILED"), "{e}");
        assert!(e.contains("hint: no age identity"), "{e}");
        for want in [
            "age age1x",
            "pgp ABCD",
            "kms arn:aws:kms:us-east-1:1:key/k",
            "hc_vault http://127.0.0.1:1/v1/sops/keys/k",
            "hckms: this key type is not supported",
        ] {
            assert!(e.contains(want), "{want} missing from:\n{e}");
        }
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_timeout("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_timeout("2m"), Some(Duration::from_secs(120)));
        for bad in ["", "0", "x", "-1s", "1h"] {
            assert_eq!(parse_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn cached_unwraps_skip_the_service() {
        let sources = KeySources::default();
        sources.cache.put("kms", "x", &[7u8; 32]);
        let mut g = group();
        g.age.clear();
        g.others.retain(|(t, _)| t == "kms");
        let meta = meta_of(g);
        assert_eq!(unwrap(&meta, &sources).unwrap().as_bytes(), &[7u8; 32]);
        // a file without age keys gets no age hint
        let mut meta = meta;
        meta.groups[0].others = vec![("hckms".into(), Meta::Map(vec![]))];
        let e = unwrap(&meta, &KeySources::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("hckms") && !e.contains("age"), "{e}");
    }
}
