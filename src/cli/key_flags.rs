//! The sops flags that name master keys (`--kms`, `--pgp`, `--gcp-kms`, …), as key specs,
//! and `--decryption-order`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use clap::Args;
use sops_rs::keys::{KEY_TYPE_NAMES, KeySpec, azure_kv, gcp_kms, hc_vault, kms, pgp};

use super::{Failure, age_env, code};

/// Keys for a new file besides `--age` (`encrypt`, `edit` of a new file).
#[derive(Args, Clone, Default)]
pub(super) struct KeyFlags {
    /// AWS KMS key ARNs (ARN or ARN+ROLE_ARN), comma-separated
    #[arg(short = 'k', long, env = "SOPS_KMS_ARN")]
    kms: Option<String>,
    /// AWS shared-config profile for the --kms keys
    #[arg(long)]
    aws_profile: Option<String>,
    /// KMS encryption context for the --kms keys: key:value,key2:value2
    #[arg(long)]
    encryption_context: Option<String>,
    /// GCP KMS key resource ids, comma-separated
    #[arg(long, env = "SOPS_GCP_KMS_IDS")]
    gcp_kms: Option<String>,
    /// Azure Key Vault key URLs (https://VAULT/keys/NAME[/VERSION]), comma-separated
    #[arg(long, env = "SOPS_AZURE_KEYVAULT_URLS")]
    azure_kv: Option<String>,
    /// Vault transit key URIs (https://HOST:8200/v1/ENGINE/keys/NAME), comma-separated
    #[arg(long, env = "SOPS_VAULT_URIS")]
    hc_vault_transit: Option<String>,
    /// PGP fingerprints, comma-separated
    #[arg(short = 'p', long, env = "SOPS_PGP_FP")]
    pgp: Option<String>,
}

impl KeyFlags {
    /// The keys named, in one list (they form one key group, as in sops).
    pub(super) fn specs(&self) -> Result<Vec<KeySpec>, Failure> {
        let kms = self.kms.iter().cloned().collect::<Vec<_>>();
        let gcp = self.gcp_kms.iter().cloned().collect::<Vec<_>>();
        let az = self.azure_kv.iter().cloned().collect::<Vec<_>>();
        let vault = self.hc_vault_transit.iter().cloned().collect::<Vec<_>>();
        let pgp = self.pgp.iter().cloned().collect::<Vec<_>>();
        let lists = Lists {
            kms: &kms,
            gcp_kms: &gcp,
            azure_kv: &az,
            hc_vault: &vault,
            pgp: &pgp,
        };
        lists.specs(
            self.aws_profile.as_deref(),
            self.encryption_context.as_deref(),
        )
    }
}

/// Repeatable, comma-separated flag values per key type (rotate's `--add-*`/`--rm-*`,
/// `groups add`).
pub(super) struct Lists<'a> {
    pub kms: &'a [String],
    pub gcp_kms: &'a [String],
    pub azure_kv: &'a [String],
    pub hc_vault: &'a [String],
    pub pgp: &'a [String],
}

impl Lists<'_> {
    pub(super) fn specs(
        &self,
        aws_profile: Option<&str>,
        context: Option<&str>,
    ) -> Result<Vec<KeySpec>, Failure> {
        let context = parse_context(context)?;
        let bad = |flag: &str, e: String| Failure::new(code::GENERIC, format!("--{flag}: {e}"));
        let mut out = Vec::new();
        for arn in split(self.kms) {
            let mut k = kms::Key::parse(&arn).map_err(|e| bad("kms", e))?;
            k.context = context.clone();
            k.aws_profile = aws_profile.unwrap_or_default().to_string();
            out.push(KeySpec::Kms(k));
        }
        for id in split(self.gcp_kms) {
            out.push(KeySpec::GcpKms(
                gcp_kms::Key::parse(&id).map_err(|e| bad("gcp-kms", e))?,
            ));
        }
        for url in split(self.azure_kv) {
            out.push(KeySpec::AzureKv(
                azure_kv::Key::parse(&url).map_err(|e| bad("azure-kv", e))?,
            ));
        }
        for uri in split(self.hc_vault) {
            out.push(KeySpec::HcVault(
                hc_vault::Key::parse(&uri).map_err(|e| bad("hc-vault-transit", e))?,
            ));
        }
        for fp in split(self.pgp) {
            out.push(KeySpec::Pgp(
                pgp::Key::parse(&fp).map_err(|e| bad("pgp", e))?,
            ));
        }
        Ok(out)
    }
}

fn split(flags: &[String]) -> Vec<String> {
    flags
        .iter()
        .flat_map(|f| age_env::split_recipients(f))
        .collect()
}

/// sops' `ParseKMSContext`: `k:v,k2:v2`; anything else is exit 6.
pub(super) fn parse_context(s: Option<&str>) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    let Some(s) = s.filter(|s| !s.is_empty()) else {
        return Ok(out);
    };
    for kv in s.split(',') {
        let parts: Vec<&str> = kv.split(':').collect();
        if parts.len() != 2 {
            return Err(Failure::new(
                code::INVALID_KMS_ENCRYPTION_CONTEXT,
                "Invalid KMS encryption context format",
            )
            .hint("use key:value,key2:value2"));
        }
        out.insert(parts[0].to_string(), parts[1].to_string());
    }
    Ok(out)
}

static DECRYPTION_ORDER: OnceLock<Vec<String>> = OnceLock::new();

/// Check and remember `--decryption-order` (or `SOPS_DECRYPTION_ORDER`) for every key
/// lookup of this run.
pub(super) fn set_decryption_order(s: Option<&str>) -> Result<(), Failure> {
    let Some(s) = s.filter(|s| !s.trim().is_empty()) else {
        return Ok(());
    };
    let mut order: Vec<String> = Vec::new();
    for t in s.split(',').map(str::trim) {
        if !KEY_TYPE_NAMES.contains(&t) {
            return Err(Failure::new(
                code::GENERIC,
                format!("--decryption-order: unknown key type '{t}'"),
            )
            .hint(format!("use some of: {}", KEY_TYPE_NAMES.join(","))));
        }
        if order.iter().any(|o| o == t) {
            return Err(Failure::new(
                code::DUPLICATE_DECRYPTION_KEY_TYPE,
                format!("--decryption-order: the key type '{t}' is given twice"),
            ));
        }
        order.push(t.to_string());
    }
    let _ = DECRYPTION_ORDER.set(order);
    Ok(())
}

pub(super) fn decryption_order() -> Vec<String> {
    DECRYPTION_ORDER.get().cloned().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contexts() {
        let c = parse_context(Some("a:1,b:2")).ok().unwrap();
        assert_eq!(c.len(), 2);
        assert!(parse_context(Some("a")).is_err());
        assert!(parse_context(Some("a:1:2")).is_err());
        assert!(parse_context(None).ok().unwrap().is_empty());
    }
}
