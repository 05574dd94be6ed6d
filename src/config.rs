//! `.sops-rs.yaml` / `.sops.yaml`: creation rules as sops reads them (`path_regex`, keys
//! flat or in `key_groups` with `merge`, `shamir_threshold`, one selector,
//! `mac_only_encrypted`), plus warnings for keys neither sops nor sops-rs knows.
//!
//! The CLI finds the file; this module only parses text and matches paths.

use crate::error::{Error, Result};
use crate::keys::{KeySpec, azure_kv, gcp_kms, hc_vault, kms, pgp};
use crate::metadata::Meta;
use crate::select::{GoRegex, Selector};

#[derive(Debug, Default)]
pub struct Config {
    pub creation_rules: Vec<CreationRule>,
    /// Unknown keys, by where they are (sops ignores them; a typo would silently drop a
    /// setting, so we say so).
    pub warnings: Vec<String>,
}

const TOP_KEYS: &[&str] = &["creation_rules", "destination_rules", "stores"];
const RULE_KEYS: &[&str] = &[
    "path_regex",
    "kms",
    "aws_profile",
    "age",
    "pgp",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault_transit_uri",
    "hckms",
    "key_groups",
    "shamir_threshold",
    "mac_only_encrypted",
    "unencrypted_suffix",
    "encrypted_suffix",
    "unencrypted_regex",
    "encrypted_regex",
    "unencrypted_comment_regex",
    "encrypted_comment_regex",
    "rotate_after",
];
const GROUP_KEYS: &[&str] = &[
    "kms",
    "gcp_kms",
    "azure_keyvault",
    "hc_vault",
    "age",
    "pgp",
    "hckms",
    "merge",
];
/// Key types sops-rs cannot wrap for (HuaweiCloud KMS), in a key group and in a flat rule.
const UNSUPPORTED: &[&str] = &["hckms"];

fn unknown_keys(m: &Meta, known: &[&str], at: &str, out: &mut Vec<String>) {
    if let Meta::Map(es) = m {
        for (k, _) in es {
            if !known.contains(&k.as_str()) {
                out.push(format!("unknown key '{k}' in {at} (ignored)"));
            }
        }
    }
}

/// A key group's age keys and unsupported key types, `merge`d groups included (recursively,
/// as sops 3.9).
fn read_group(
    g: &Meta,
    depth: usize,
    at: &str,
    keys: &mut Vec<KeySpec>,
    unsupported: &mut Vec<String>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    if depth > 32 {
        return Err(Error::Config(format!("{at}: merge is nested too deeply")));
    }
    if !matches!(g, Meta::Map(_)) {
        return Err(Error::Config(format!(
            "{at}: a key group must be a mapping"
        )));
    }
    unknown_keys(g, GROUP_KEYS, at, warnings);
    for t in UNSUPPORTED {
        if get(g, t).is_some() && !unsupported.iter().any(|u| u == t) {
            unsupported.push((*t).to_string());
        }
    }
    // sops puts the merged groups' keys first
    match get(g, "merge") {
        None => {}
        Some(Meta::List(merged)) => {
            for (j, m) in merged.iter().enumerate() {
                read_group(
                    m,
                    depth + 1,
                    &format!("{at}, merge {j}"),
                    keys,
                    unsupported,
                    warnings,
                )?;
            }
        }
        Some(_) => return Err(Error::Config(format!("{at}: merge must be a list"))),
    }
    group_keys(g, at, keys)
}

/// The keys a key group names, each type in sops' shape: `kms`, `gcp_kms` and
/// `azure_keyvault` as lists of mappings, the others as lists of strings.
fn group_keys(g: &Meta, at: &str, keys: &mut Vec<KeySpec>) -> Result<()> {
    let bad = |ty: &str, e: String| Error::Config(format!("{at}: {ty}: {e}"));
    keys.extend(key_list(get(g, "age")).into_iter().map(KeySpec::Age));
    for fp in key_list(get(g, "pgp")) {
        keys.push(KeySpec::Pgp(
            pgp::Key::parse(&fp).map_err(|e| bad("pgp", e))?,
        ));
    }
    for (ty, m) in maps(g, "kms", at)? {
        let mut k = kms::Key::parse(field(m, "arn")).map_err(|e| bad(ty, e))?;
        if let Some(r) = get(m, "role").and_then(text) {
            k.role = r.to_string();
        }
        k.aws_profile = field(m, "aws_profile").to_string();
        if let Some(Meta::Map(ctx)) = get(m, "context") {
            for (ck, cv) in ctx {
                k.context
                    .insert(ck.clone(), text(cv).unwrap_or_default().to_string());
            }
        }
        keys.push(KeySpec::Kms(k));
    }
    for (ty, m) in maps(g, "gcp_kms", at)? {
        let k = gcp_kms::Key::parse(field(m, "resource_id")).map_err(|e| bad(ty, e))?;
        keys.push(KeySpec::GcpKms(k));
    }
    for (ty, m) in maps(g, "azure_keyvault", at)? {
        if field(m, "vaultUrl").is_empty() || field(m, "key").is_empty() {
            return Err(bad(ty, "vaultUrl and key are required".into()));
        }
        keys.push(KeySpec::AzureKv(azure_kv::Key {
            vault_url: field(m, "vaultUrl").trim_end_matches('/').to_string(),
            name: field(m, "key").to_string(),
            version: field(m, "version").to_string(),
        }));
    }
    for uri in key_list(get(g, "hc_vault")) {
        let k = hc_vault::Key::parse(&uri).map_err(|e| bad("hc_vault", e))?;
        keys.push(KeySpec::HcVault(k));
    }
    Ok(())
}

/// The mappings of a list-of-mappings key type.
fn maps<'a>(g: &'a Meta, ty: &'static str, at: &str) -> Result<Vec<(&'static str, &'a Meta)>> {
    match get(g, ty) {
        None | Some(Meta::Null) => Ok(Vec::new()),
        Some(Meta::List(items)) => items
            .iter()
            .map(|m| match m {
                Meta::Map(_) => Ok((ty, m)),
                _ => Err(Error::Config(format!(
                    "{at}: each {ty} entry must be a mapping"
                ))),
            })
            .collect(),
        Some(_) => Err(Error::Config(format!("{at}: {ty} must be a list"))),
    }
}

fn field<'a>(m: &'a Meta, k: &str) -> &'a str {
    get(m, k).and_then(text).unwrap_or_default()
}

/// The keys of a flat rule: comma strings or lists; `kms` entries may be `ARN+ROLE` and
/// share the rule's `aws_profile`.
fn flat_keys(r: &Meta, at: &str, keys: &mut Vec<KeySpec>) -> Result<()> {
    let bad = |ty: &str, e: String| Error::Config(format!("{at}: {ty}: {e}"));
    keys.extend(key_list(get(r, "age")).into_iter().map(KeySpec::Age));
    for fp in key_list(get(r, "pgp")) {
        keys.push(KeySpec::Pgp(
            pgp::Key::parse(&fp).map_err(|e| bad("pgp", e))?,
        ));
    }
    let profile = get(r, "aws_profile").and_then(text).unwrap_or_default();
    for arn in key_list(get(r, "kms")) {
        let mut k = kms::Key::parse(&arn).map_err(|e| bad("kms", e))?;
        k.aws_profile = profile.to_string();
        keys.push(KeySpec::Kms(k));
    }
    for id in key_list(get(r, "gcp_kms")) {
        keys.push(KeySpec::GcpKms(
            gcp_kms::Key::parse(&id).map_err(|e| bad("gcp_kms", e))?,
        ));
    }
    for url in key_list(get(r, "azure_keyvault")) {
        keys.push(KeySpec::AzureKv(
            azure_kv::Key::parse(&url).map_err(|e| bad("azure_keyvault", e))?,
        ));
    }
    for uri in key_list(get(r, "hc_vault_transit_uri")) {
        keys.push(KeySpec::HcVault(
            hc_vault::Key::parse(&uri).map_err(|e| bad("hc_vault_transit_uri", e))?,
        ));
    }
    Ok(())
}

/// Drop repeated keys, keeping the first (sops 3.9 de-duplicates by type and value).
fn dedup(keys: &mut Vec<KeySpec>) {
    let mut seen = std::collections::HashSet::new();
    keys.retain(|k| seen.insert(k.clone()));
}

#[derive(Debug, Default)]
pub struct CreationRule {
    pub path_regex: Option<GoRegex>,
    pub groups: Vec<Vec<KeySpec>>,
    pub shamir_threshold: Option<usize>,
    pub selector: Option<Selector>,
    pub mac_only_encrypted: bool,
    /// Key types named in the rule that sops-rs cannot use (`hckms`).
    pub unsupported: Vec<String>,
    /// sops-rs' `rotate_after` (e.g. `90d`), in seconds: `check` flags files whose data key
    /// is older. sops ignores the key.
    pub rotate_after: Option<u64>,
}

/// A duration such as `90d`, `12w`, `36h` or `30m`, in seconds.
pub fn parse_duration(s: &str) -> Option<u64> {
    let s = s.trim();
    let unit = match s.chars().last()? {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        'y' => 365 * 86_400,
        _ => return None,
    };
    let n: u64 = s[..s.len() - 1].parse().ok()?;
    n.checked_mul(unit).filter(|v| *v > 0)
}

use crate::select::SELECTOR_KEYS as SELECTORS;

fn get<'a>(m: &'a Meta, k: &str) -> Option<&'a Meta> {
    match m {
        Meta::Map(es) => es.iter().find(|(key, _)| key == k).map(|(_, v)| v),
        _ => None,
    }
}

fn text(m: &Meta) -> Option<&str> {
    match m {
        Meta::Scalar { text, .. } => Some(text),
        _ => None,
    }
}

/// A key list: a comma-separated string or a YAML list of strings (each may hold commas).
fn key_list(m: Option<&Meta>) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |s: &str| {
        out.extend(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    };
    match m {
        Some(Meta::Scalar { text, .. }) => add(text),
        Some(Meta::List(items)) => items.iter().filter_map(text).for_each(&mut add),
        _ => {}
    }
    out
}

impl Config {
    /// Parse a configuration file's text.
    ///
    /// # Errors
    /// YAML syntax errors (with line), a bad `path_regex`, more than one selector in a rule.
    pub fn parse(src: &str, name: &str) -> Result<Config> {
        let tree = crate::format::yaml::parse_tree(src)
            .map_err(|e| Error::Config(format!("{name}: {e}")))?;
        let mut cfg = Config::default();
        let Some(tree) = tree else { return Ok(cfg) };
        if !matches!(tree, Meta::Map(_)) {
            return Err(Error::Config(format!(
                "{name}: the configuration must be a mapping with creation_rules"
            )));
        }
        unknown_keys(&tree, TOP_KEYS, "the configuration", &mut cfg.warnings);
        let rules = match get(&tree, "creation_rules") {
            None | Some(Meta::Null) => return Ok(cfg),
            Some(Meta::List(rules)) => rules,
            Some(_) => {
                return Err(Error::Config(format!(
                    "{name}: creation_rules must be a list"
                )));
            }
        };
        for (i, r) in rules.iter().enumerate() {
            let ctx = |m: String| Error::Config(format!("{name}: creation rule {i}: {m}"));
            if !matches!(r, Meta::Map(_)) {
                return Err(ctx("a rule must be a mapping".into()));
            }
            unknown_keys(
                r,
                RULE_KEYS,
                &format!("creation rule {i}"),
                &mut cfg.warnings,
            );
            let mut rule = CreationRule::default();
            if let Some(re) = get(r, "path_regex").and_then(text) {
                rule.path_regex = Some(GoRegex::new(re).map_err(|e| ctx(e.to_string()))?);
            }
            match get(r, "key_groups") {
                Some(Meta::List(groups)) => {
                    for (j, g) in groups.iter().enumerate() {
                        let mut keys: Vec<KeySpec> = Vec::new();
                        read_group(
                            g,
                            0,
                            &format!("{name}: creation rule {i}, key group {j}"),
                            &mut keys,
                            &mut rule.unsupported,
                            &mut cfg.warnings,
                        )?;
                        dedup(&mut keys);
                        rule.groups.push(keys);
                    }
                }
                Some(_) => return Err(ctx("key_groups must be a list".into())),
                None => {
                    let mut keys: Vec<KeySpec> = Vec::new();
                    flat_keys(r, &format!("{name}: creation rule {i}"), &mut keys)?;
                    dedup(&mut keys);
                    for t in UNSUPPORTED {
                        if get(r, t).is_some() {
                            rule.unsupported.push((*t).to_string());
                        }
                    }
                    if !keys.is_empty() {
                        rule.groups.push(keys);
                    }
                }
            }
            if let Some(t) = get(r, "shamir_threshold").and_then(text) {
                rule.shamir_threshold = Some(
                    t.parse()
                        .map_err(|_| ctx("shamir_threshold is not a number".into()))?,
                );
            }
            rule.mac_only_encrypted = get(r, "mac_only_encrypted").and_then(text) == Some("true");
            if let Some(t) = get(r, "rotate_after").and_then(text) {
                rule.rotate_after = Some(parse_duration(t).ok_or_else(|| {
                    ctx(format!(
                        "rotate_after '{t}' is not a duration such as 90d, 12w or 36h"
                    ))
                })?);
            }
            let pairs: Vec<(&'static str, Option<&str>)> = SELECTORS
                .iter()
                .map(|k| (*k, get(r, k).and_then(text)))
                .collect();
            rule.selector = crate::select::at_most_one(&pairs).map_err(|e| ctx(e.to_string()))?;
            cfg.creation_rules.push(rule);
        }
        Ok(cfg)
    }

    /// The first rule whose `path_regex` matches `rel_path` (the file's path relative to
    /// the configuration's directory), as sops: unanchored, first match wins.
    pub fn rule_for(&self, rel_path: &str) -> Option<&CreationRule> {
        self.creation_rules
            .iter()
            .find(|r| r.path_regex.as_ref().is_none_or(|re| re.is_match(rel_path)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_in_order() {
        let c = Config::parse(
            "creation_rules:\n  - path_regex: secret/.*\\.yaml$\n    age: age1a, age1b\n    encrypted_regex: ^data$\n  - age:\n      - age1c\n",
            "test",
        )
        .unwrap();
        let r = c.rule_for("secret/x.yaml").unwrap();
        assert_eq!(
            r.groups,
            vec![vec![
                KeySpec::Age("age1a".into()),
                KeySpec::Age("age1b".into())
            ]]
        );
        assert!(r.selector.is_some());
        assert_eq!(
            c.rule_for("other.json").unwrap().groups,
            vec![vec![KeySpec::Age("age1c".into())]]
        );
    }

    #[test]
    fn every_key_type_flat_and_in_groups() {
        let c = Config::parse(
            r#"creation_rules:
  - path_regex: flat
    kms: "arn:aws:kms:us-east-1:1:key/a+arn:aws:iam::1:role/r, arn:aws:kms:eu-west-1:1:alias/b"
    aws_profile: dev
    pgp: [FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4]
    gcp_kms: projects/p/locations/global/keyRings/r/cryptoKeys/k
    azure_keyvault: https://v.vault.azure.net/keys/k/1
    hc_vault_transit_uri: http://127.0.0.1:8200/v1/sops/keys/k
  - path_regex: groups
    key_groups:
      - kms:
          - arn: arn:aws:kms:us-east-1:1:key/a
            role: arn:aws:iam::1:role/r
            context: {Env: prod}
            aws_profile: p
        azure_keyvault:
          - vaultUrl: https://v.vault.azure.net
            key: k
        hc_vault: [http://127.0.0.1:8200/v1/sops/keys/k]
      - gcp_kms:
          - resource_id: projects/p/locations/global/keyRings/r/cryptoKeys/k
        pgp: [FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4]
  - path_regex: huawei
    hckms: [{key_id: "r:u"}]
"#,
            "t",
        )
        .unwrap();
        let flat = &c.rule_for("flat").unwrap().groups;
        let types: Vec<&str> = flat[0].iter().map(KeySpec::type_name).collect();
        assert_eq!(
            types,
            ["pgp", "kms", "kms", "gcp_kms", "azure_kv", "hc_vault"]
        );
        let KeySpec::Kms(k) = &flat[0][1] else {
            panic!()
        };
        assert_eq!(
            (k.role.as_str(), k.aws_profile.as_str()),
            ("arn:aws:iam::1:role/r", "dev")
        );
        let g = &c.rule_for("groups").unwrap().groups;
        assert_eq!(g.len(), 2);
        let KeySpec::Kms(k) = &g[0][0] else { panic!() };
        assert_eq!(k.context.get("Env").map(String::as_str), Some("prod"));
        let KeySpec::AzureKv(a) = &g[0][1] else {
            panic!()
        };
        assert_eq!((a.name.as_str(), a.version.as_str()), ("k", ""));
        assert_eq!(g[1].len(), 2);
        assert_eq!(c.rule_for("huawei").unwrap().unsupported, ["hckms"]);
        let bad = Config::parse("creation_rules:\n  - kms: not-an-arn\n", "t");
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("not an AWS KMS key ARN")
        );
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90d"), Some(90 * 86_400));
        assert_eq!(parse_duration("2w"), Some(14 * 86_400));
        assert_eq!(parse_duration("36h"), Some(36 * 3600));
        for bad in ["", "d", "10", "0d", "-1d", "1.5d", "99999999999999999999y"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn two_selectors_is_an_error() {
        assert!(
            Config::parse(
                "creation_rules:\n  - encrypted_regex: a\n    unencrypted_suffix: b\n",
                "t"
            )
            .is_err()
        );
    }
}
