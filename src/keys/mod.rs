//! Master keys: wrapping the data key for every recipient, and getting it back.
//!
//! This module holds the one list of key types. A file's key groups each receive the whole
//! data key (one group) or one Shamir share (several groups); decryption tries every group
//! and recombines. age is built in; other types (PGP, cloud KMS) are kept verbatim in the
//! metadata and reported as unavailable until their backends land.

pub mod age;
pub mod shamir;

use crate::crypto::DataKey;
use crate::error::{Error, Result};
use crate::metadata::{AgeKey, KeyGroup, Metadata};

/// A key to wrap a new data key for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeySpec {
    Age(String),
}

/// What the caller found to unwrap data keys with.
#[derive(Debug, Default)]
pub struct KeySources {
    pub age: age::Identities,
}

/// Wrap `key` for each group (Shamir-split across groups when there are several).
///
/// # Errors
/// An empty group, a bad recipient, or an impossible threshold.
pub fn wrap(
    groups: &[Vec<KeySpec>],
    threshold: Option<usize>,
    key: &DataKey,
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
            }
        }
        out.push(group);
    }
    Ok((out, threshold))
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
        for a in &g.age {
            match sources.age.unwrap(&a.enc) {
                Ok(p) => {
                    got = Some(p);
                    break;
                }
                Err(e) => errors.push(format!("  - age {}: {e}", a.recipient)),
            }
        }
        if got.is_none() {
            for (ty, _) in &g.others {
                errors.push(format!(
                    "  - {ty}: this key type is not supported by sops-rs yet"
                ));
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
            None => Err(Error::DataKey(with_hint(report, sources))),
        };
    }
    let threshold = meta.shamir_threshold.unwrap_or(meta.groups.len());
    if parts.len() < threshold {
        report.push(format!(
            "Recovery failed because the file was encrypted with a Shamir threshold of {threshold}, but only {} part(s) were successfully decrypted, one per key group.",
            parts.len()
        ));
        return Err(Error::DataKey(with_hint(report, sources)));
    }
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let key = shamir::combine(&refs)
        .map_err(|e| Error::DataKey(format!("cannot combine the key groups' shares: {e}")))?;
    Ok(DataKey::from_bytes(&key))
}

fn with_hint(mut report: Vec<String>, sources: &KeySources) -> String {
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
