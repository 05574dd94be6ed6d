//! AWS KMS master keys (`kms:` entries).

use std::collections::BTreeMap;
use std::time::Duration;

use zeroize::Zeroizing;

use super::entry::{field, not_built};
use crate::metadata::Meta;

/// An AWS KMS key: its ARN, an optional role to assume, the encryption context bound to
/// the ciphertext, and the shared-config profile to take credentials from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Key {
    pub arn: String,
    /// Empty when no role is assumed.
    pub role: String,
    pub context: BTreeMap<String, String>,
    /// Empty for the default credential chain.
    pub aws_profile: String,
}

impl Key {
    /// The CLI and flat-config syntax `ARN` or `ARN+ROLE_ARN`. The context and profile come
    /// from their own flags.
    pub fn parse(s: &str) -> Result<Key, String> {
        let s = s.trim();
        let (arn, role) = match s.split_once('+') {
            Some((a, r)) => (a.trim(), r.trim()),
            None => (s, ""),
        };
        region_of(arn)?;
        Ok(Key {
            arn: arn.to_string(),
            role: role.to_string(),
            ..Key::default()
        })
    }

    pub fn from_entry(m: &Meta) -> Result<Key, String> {
        let mut context = BTreeMap::new();
        match m.get("context") {
            None | Some(Meta::Null) => {}
            Some(Meta::Map(es)) => {
                for (k, v) in es {
                    let v = v
                        .as_str()
                        .ok_or_else(|| format!("context value {k} is not a string"))?;
                    context.insert(k.clone(), v.to_string());
                }
            }
            Some(_) => return Err("context is not a mapping".into()),
        }
        Ok(Key {
            arn: field(m, "arn")?,
            role: field(m, "role")?,
            context,
            aws_profile: field(m, "aws_profile")?,
        })
    }

    /// sops omits an empty `role` and `context` but always writes `aws_profile`.
    pub fn to_entry(&self, enc: &str, created_at: &str) -> Meta {
        let mut es = vec![("arn".to_string(), Meta::str(&self.arn))];
        if !self.role.is_empty() {
            es.push(("role".into(), Meta::str(&self.role)));
        }
        if !self.context.is_empty() {
            es.push((
                "context".into(),
                Meta::Map(
                    self.context
                        .iter()
                        .map(|(k, v)| (k.clone(), Meta::str(v)))
                        .collect(),
                ),
            ));
        }
        es.push(("created_at".into(), Meta::str(created_at)));
        es.push(("enc".into(), Meta::str(enc)));
        es.push(("aws_profile".into(), Meta::str(&self.aws_profile)));
        Meta::Map(es)
    }

    /// sops' `ToString`: `arn[+role][|k:v,k2:v2][|profile]`.
    pub fn id(&self) -> String {
        let mut s = self.arn.clone();
        if !self.role.is_empty() {
            s.push('+');
            s.push_str(&self.role);
        }
        if !self.context.is_empty() {
            s.push('|');
            let kv: Vec<String> = self
                .context
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            s.push_str(&kv.join(","));
        }
        if !self.aws_profile.is_empty() {
            s.push('|');
            s.push_str(&self.aws_profile);
        }
        s
    }

    /// The region the ARN names.
    pub fn region(&self) -> Result<String, String> {
        region_of(&self.arn)
    }
}

/// sops' `^arn:aws[\w-]*:kms:(.+):[0-9]+:(key|alias)/.+$`.
fn region_of(arn: &str) -> Result<String, String> {
    let bad = || format!("{arn:?} is not an AWS KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)");
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    if parts.len() != 6
        || parts[0] != "arn"
        || !parts[1].starts_with("aws")
        || parts[2] != "kms"
        || parts[3].is_empty()
        || parts[4].is_empty()
        || !parts[4].bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let rest = parts[5];
    let ok = ["key/", "alias/"]
        .iter()
        .any(|p| rest.strip_prefix(p).is_some_and(|r| !r.is_empty()));
    if !ok {
        return Err(bad());
    }
    Ok(parts[3].to_string())
}

/// Nothing beyond what the AWS SDK reads itself (its credential chain, `AWS_ENDPOINT_URL_KMS`).
#[derive(Clone, Debug, Default)]
pub struct Settings {}

impl Settings {
    pub fn from_env(_get: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings {}
    }
}

pub fn wrap(_key: &Key, _data: &[u8], _s: &Settings, _timeout: Duration) -> Result<String, String> {
    Err(not_built("kms"))
}

pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("kms"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arn_and_role() {
        let k =
            Key::parse("arn:aws:kms:us-east-1:111122223333:key/abc+arn:aws:iam::1:role/r").unwrap();
        assert_eq!(k.arn, "arn:aws:kms:us-east-1:111122223333:key/abc");
        assert_eq!(k.role, "arn:aws:iam::1:role/r");
        assert_eq!(k.region().unwrap(), "us-east-1");
        assert!(Key::parse("arn:aws:kms:eu-west-1:1:alias/x").is_ok());
        assert!(Key::parse("not-an-arn").is_err());
        assert!(Key::parse("arn:aws:kms::1:key/x").is_err());
    }
}
