//! `.sops-rs.yaml` / `.sops.yaml`: creation rules (the subset the core needs: `path_regex`,
//! age keys flat or in `key_groups`, `shamir_threshold`, one selector, `mac_only_encrypted`).
//!
//! The CLI finds the file; this module only parses text and matches paths.

use crate::error::{Error, Result};
use crate::keys::KeySpec;
use crate::metadata::Meta;
use crate::select::{GoRegex, Selector};

#[derive(Debug, Default)]
pub struct Config {
    pub creation_rules: Vec<CreationRule>,
}

#[derive(Debug, Default)]
pub struct CreationRule {
    pub path_regex: Option<GoRegex>,
    pub groups: Vec<Vec<KeySpec>>,
    pub shamir_threshold: Option<usize>,
    pub selector: Option<Selector>,
    pub mac_only_encrypted: bool,
    /// Key types named in the rule that sops-rs cannot use yet (e.g. `pgp`).
    pub unsupported: Vec<String>,
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
        let Some(Meta::List(rules)) = get(&tree, "creation_rules") else {
            return Ok(cfg);
        };
        for (i, r) in rules.iter().enumerate() {
            let ctx = |m: String| Error::Config(format!("{name}: creation rule {i}: {m}"));
            let mut rule = CreationRule::default();
            if let Some(re) = get(r, "path_regex").and_then(text) {
                rule.path_regex = Some(GoRegex::new(re).map_err(|e| ctx(e.to_string()))?);
            }
            if let Some(Meta::List(groups)) = get(r, "key_groups") {
                for g in groups {
                    let mut keys: Vec<KeySpec> = Vec::new();
                    let add_group = |g: &Meta, keys: &mut Vec<KeySpec>| {
                        keys.extend(key_list(get(g, "age")).into_iter().map(KeySpec::Age));
                    };
                    add_group(g, &mut keys);
                    if let Some(Meta::List(merged)) = get(g, "merge") {
                        for m in merged {
                            add_group(m, &mut keys);
                        }
                    }
                    for t in [
                        "pgp",
                        "kms",
                        "gcp_kms",
                        "azure_keyvault",
                        "hc_vault",
                        "hckms",
                    ] {
                        if get(g, t).is_some() {
                            rule.unsupported.push(t.to_string());
                        }
                    }
                    keys.dedup();
                    rule.groups.push(keys);
                }
            } else {
                let keys: Vec<KeySpec> = key_list(get(r, "age"))
                    .into_iter()
                    .map(KeySpec::Age)
                    .collect();
                for t in [
                    "pgp",
                    "kms",
                    "gcp_kms",
                    "azure_keyvault",
                    "hc_vault_transit_uri",
                    "hckms",
                ] {
                    if get(r, t).is_some() {
                        rule.unsupported.push(t.to_string());
                    }
                }
                if !keys.is_empty() {
                    rule.groups.push(keys);
                }
            }
            if let Some(t) = get(r, "shamir_threshold").and_then(text) {
                rule.shamir_threshold = Some(
                    t.parse()
                        .map_err(|_| ctx("shamir_threshold is not a number".into()))?,
                );
            }
            rule.mac_only_encrypted = get(r, "mac_only_encrypted").and_then(text) == Some("true");
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
