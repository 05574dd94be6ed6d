//! AWS KMS master keys (`kms:` entries).

use std::collections::BTreeMap;
use std::time::Duration;

use zeroize::Zeroizing;

use super::entry::field;
#[cfg(not(feature = "kms"))]
use super::entry::not_built;
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

    /// sops' `ToString`, the ARN alone (getsops/sops `kms/keysource.go`): `--rm-kms ARN`
    /// removes the key whatever its role, context or profile.
    pub fn id(&self) -> String {
        self.arn.clone()
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

/// Nothing beyond what the AWS SDK reads itself: its credential chain (`AWS_ACCESS_KEY_ID`,
/// `AWS_PROFILE`, `AWS_CONFIG_FILE`, web identity, SSO, ...) and endpoint overrides
/// (`AWS_ENDPOINT_URL_KMS`, `AWS_ENDPOINT_URL`). That the SDK reads the environment inside
/// the library is accepted: it is how every AWS tool, sops included, is configured.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// An endpoint URL for KMS and STS that wins over the SDK's configuration: for programs
    /// embedding the library and for tests. The CLI leaves it unset (sops has no such knob).
    pub endpoint: Option<String>,
}

impl Settings {
    pub fn from_env(_get: &dyn Fn(&str) -> Option<String>) -> Settings {
        Settings::default()
    }
}

/// sops' STS session name: `sops@` + the hostname without the characters sops' regex
/// `[^a-zA-Z0-9=,.@-_]+` strips (in Go's RE2 `@-_` is the range `@`..`_`, so `-` goes but
/// `[\]^_` stay), cut to 64 bytes.
pub fn sts_session_name(hostname: &str) -> String {
    let keep = |c: char| c.is_ascii_alphanumeric() || matches!(c, '=' | ',' | '.' | '@'..='_');
    let mut name: String = "sops@".to_string();
    name.extend(hostname.chars().filter(|&c| keep(c)));
    name.truncate(64);
    name
}

#[cfg(feature = "kms")]
pub fn wrap(key: &Key, data: &[u8], s: &Settings, timeout: Duration) -> Result<String, String> {
    use base64::Engine;
    let blob = aws::encrypt(key, data, s, timeout)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(blob))
}

#[cfg(feature = "kms")]
pub fn unwrap(
    key: &Key,
    enc: &str,
    s: &Settings,
    timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    use base64::Engine;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(enc.trim())
        .map_err(|_| "the kms entry's enc is not base64".to_string())?;
    aws::decrypt(key, blob, s, timeout)
}

#[cfg(not(feature = "kms"))]
pub fn wrap(_key: &Key, _data: &[u8], _s: &Settings, _timeout: Duration) -> Result<String, String> {
    Err(not_built("kms"))
}

#[cfg(not(feature = "kms"))]
pub fn unwrap(
    _key: &Key,
    _enc: &str,
    _s: &Settings,
    _timeout: Duration,
) -> Result<Zeroizing<Vec<u8>>, String> {
    Err(not_built("kms"))
}

/// The calls through the AWS SDK, each on its own current-thread runtime so the rest of
/// sops-rs stays synchronous.
#[cfg(feature = "kms")]
mod aws {
    use std::future::Future;
    use std::time::Duration;

    use aws_config::timeout::TimeoutConfig;
    use aws_config::{BehaviorVersion, Region};
    use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
    use aws_sdk_kms::primitives::Blob;
    use aws_smithy_http_client::tls;
    use zeroize::Zeroizing;

    use super::{Key, Settings};

    pub fn encrypt(
        key: &Key,
        data: &[u8],
        s: &Settings,
        timeout: Duration,
    ) -> Result<Vec<u8>, String> {
        run(key, timeout, "Encrypt", async {
            let client = client(key, s, timeout).await?;
            let out = client
                .encrypt()
                .key_id(&key.arn)
                .plaintext(Blob::new(data))
                .set_encryption_context(context(key))
                .send()
                .await
                .map_err(|e| sdk_error("Encrypt", key, e))?;
            out.ciphertext_blob
                .map(Blob::into_inner)
                .ok_or_else(|| format!("AWS KMS Encrypt with {} returned no ciphertext", key.arn))
        })
    }

    pub fn decrypt(
        key: &Key,
        blob: Vec<u8>,
        s: &Settings,
        timeout: Duration,
    ) -> Result<Zeroizing<Vec<u8>>, String> {
        run(key, timeout, "Decrypt", async {
            let client = client(key, s, timeout).await?;
            // sops passes the KeyId too: KMS then refuses a ciphertext of another key
            let out = client
                .decrypt()
                .key_id(&key.arn)
                .ciphertext_blob(Blob::new(blob))
                .set_encryption_context(context(key))
                .send()
                .await
                .map_err(|e| sdk_error("Decrypt", key, e))?;
            out.plaintext
                .map(|p| Zeroizing::new(p.into_inner()))
                .ok_or_else(|| format!("AWS KMS Decrypt with {} returned no plaintext", key.arn))
        })
    }

    fn context(key: &Key) -> Option<std::collections::HashMap<String, String>> {
        (!key.context.is_empty()).then(|| key.context.clone().into_iter().collect())
    }

    /// Runs one call with `timeout` as the bound on everything, credential lookups and
    /// AssumeRole included (the SDK's own operation timeout only covers the KMS call).
    fn run<T>(
        key: &Key,
        timeout: Duration,
        op: &str,
        f: impl Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("AWS KMS: cannot start the async runtime: {e}"))?;
        rt.block_on(async {
            match tokio::time::timeout(timeout, f).await {
                Ok(r) => r,
                Err(_) => Err(timed_out(op, key, timeout)),
            }
        })
    }

    fn timed_out(op: &str, key: &Key, timeout: Duration) -> String {
        format!(
            "AWS KMS {op} with {} timed out after {}s (no answer from the KMS endpoint)",
            key.arn,
            timeout.as_secs_f64()
        )
    }

    async fn client(
        key: &Key,
        s: &Settings,
        timeout: Duration,
    ) -> Result<aws_sdk_kms::Client, String> {
        let region = key.region()?;
        // one TLS stack for the whole binary: rustls with ring
        let http = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::Ring,
            ))
            .build_https();
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(timeout)
            .connect_timeout(timeout)
            .build();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region))
            .http_client(http)
            .timeout_config(timeouts);
        if !key.aws_profile.is_empty() {
            loader = loader.profile_name(&key.aws_profile);
        }
        if let Some(url) = &s.endpoint {
            loader = loader.endpoint_url(url);
        }
        let conf = loader.load().await;
        let mut kms = aws_sdk_kms::config::Builder::from(&conf);
        if !key.role.is_empty() {
            let host = hostname();
            let role = aws_config::sts::AssumeRoleProvider::builder(&key.role)
                .session_name(super::sts_session_name(&host))
                .configure(&conf)
                .build()
                .await;
            kms = kms.credentials_provider(role);
        }
        Ok(aws_sdk_kms::Client::from_conf(kms.build()))
    }

    /// As Go's `os.Hostname`: /proc on Linux, else gethostname(2).
    fn hostname() -> String {
        if let Ok(h) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            return h.trim_end_matches('\n').to_string();
        }
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; the slice below stops at the first NUL
        // (or the end, if the name was truncated without one)
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc != 0 {
            return String::new();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).into_owned()
    }

    /// The AWS error code and message (or the transport failure), never the request.
    fn sdk_error<E, R>(op: &str, key: &Key, e: SdkError<E, R>) -> String
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let what = match &e {
            SdkError::ServiceError(se) => {
                let err = se.err();
                match (err.code(), err.message()) {
                    (Some(c), Some(m)) => format!("{c}: {m}"),
                    (Some(c), None) => c.to_string(),
                    _ => DisplayErrorContext(&e).to_string(),
                }
            }
            SdkError::TimeoutError(_) => "timed out".to_string(),
            _ => DisplayErrorContext(&e).to_string(),
        };
        format!("AWS KMS {op} with {} failed: {what}", key.arn)
    }
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

    #[test]
    fn sts_session_name_like_sops() {
        // sops' own test cases (kms/keysource_test.go)
        assert_eq!(sts_session_name("hostname"), "sops@hostname");
        assert_eq!(sts_session_name("some-hostname"), "sops@somehostname");
        let long = sts_session_name(&"a".repeat(100));
        assert_eq!(long.len(), 64);
        assert!(long.starts_with("sops@aaa"));
        assert_eq!(sts_session_name("a_b[c] d/e=f,g.h"), "sops@a_b[c]de=f,g.h");
    }
}
