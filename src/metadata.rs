//! The `sops` metadata block: a generic tree read from any format, a typed model, and
//! writers for YAML and JSON.
//!
//! Reading accepts every key order sops has written (struct order up to 3.12, alphabetical
//! from 3.13), legacy `kms: []`/`null` lists and old versions. Writing is alphabetical, with
//! quoted timestamps and a semver `version`. Unknown fields and key types we cannot use yet
//! are kept verbatim, so re-writing a file never locks anyone out.

use crate::error::{Error, Result};
use crate::format::scalar::yaml_render;
use crate::select::Selector;
use crate::value::Value;

/// The version we write: the sops release whose layout we emit.
pub const SOPS_VERSION: &str = "3.13.2";

/// A generic metadata tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Meta {
    Map(Vec<(String, Meta)>),
    List(Vec<Meta>),
    /// A scalar's text; `plain` is false when it was a quoted string in the source.
    Scalar {
        text: String,
        plain: bool,
    },
    Null,
}

impl Meta {
    pub fn str(s: impl Into<String>) -> Meta {
        Meta::Scalar {
            text: s.into(),
            plain: false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Meta::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    pub fn get<'a>(&'a self, key: &str) -> Option<&'a Meta> {
        match self {
            Meta::Map(m) => m.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// One `age:` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AgeKey {
    pub recipient: String,
    pub enc: String,
    pub extra: Vec<(String, Meta)>,
}

/// A key group: age keys we use, and entries of other types kept verbatim.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyGroup {
    pub age: Vec<AgeKey>,
    /// (metadata list name, entry), e.g. ("pgp", {fp, enc, created_at}).
    pub others: Vec<(String, Meta)>,
}

impl KeyGroup {
    pub fn is_empty(&self) -> bool {
        self.age.is_empty() && self.others.is_empty()
    }
}

/// Key list names sops knows, in its internal order within a group.
pub(crate) const KEY_TYPES: [&str; 7] = [
    "kms", "gcp_kms", "hckms", "azure_kv", "hc_vault", "pgp", "age",
];

#[derive(Clone, Debug)]
pub struct Metadata {
    pub groups: Vec<KeyGroup>,
    pub shamir_threshold: Option<usize>,
    pub lastmodified: String,
    pub mac: String,
    pub selector: Selector,
    /// Whether the selector was written (sops treats absence as the default suffix).
    pub mac_only_encrypted: bool,
    pub version: String,
    /// sops-rs' format-preservation record: an `ENC[...]` string, absent in sops' files.
    pub preserved: Option<String>,
    /// Unknown fields, verbatim.
    pub extra: Vec<(String, Meta)>,
}

pub const PRESERVED_KEY: &str = "sops_rs_preserved";

impl Metadata {
    /// Read the typed model from a generic tree.
    ///
    /// # Errors
    /// `BadMetadata` naming the field when a known field has the wrong shape, or more than
    /// one selector is set.
    pub fn from_meta(m: &Meta) -> Result<Metadata> {
        let Meta::Map(entries) = m else {
            return Err(Error::BadMetadata("the sops entry is not a mapping".into()));
        };
        // a field given twice would let the second silently win
        let mut seen = std::collections::HashSet::new();
        if let Some((k, _)) = entries.iter().find(|(k, _)| !seen.insert(k.as_str())) {
            return Err(Error::BadMetadata(format!("the field {k} appears twice")));
        }
        let mut groups = Vec::new();
        let mut top = KeyGroup::default();
        let mut key_groups = None;
        let mut shamir_threshold = None;
        let mut lastmodified = None;
        let mut mac = None;
        let mut version = None;
        let mut mac_only_encrypted = false;
        let mut preserved = None;
        let mut selectors: Vec<(&'static str, Option<&str>)> = Vec::new();
        let mut extra = Vec::new();
        for (k, v) in entries {
            match k.as_str() {
                t if KEY_TYPES.contains(&t) => read_keys(t, v, &mut top)?,
                "key_groups" => key_groups = Some(v),
                "shamir_threshold" => {
                    let s = scalar(v, k)?;
                    let n = s.parse::<usize>().map_err(|_| {
                        Error::BadMetadata("shamir_threshold is not a number".into())
                    })?;
                    // sops never writes 0 (it omits the field): 0 is a tampered value
                    if n == 0 {
                        return Err(Error::BadMetadata("shamir_threshold is 0".into()));
                    }
                    shamir_threshold = Some(n);
                }
                "lastmodified" => lastmodified = Some(scalar(v, k)?.to_string()),
                "mac" => mac = Some(scalar(v, k)?.to_string()),
                "version" => version = Some(scalar(v, k)?.to_string()),
                "mac_only_encrypted" => {
                    mac_only_encrypted =
                        matches!(scalar(v, k)?, "true" | "True" | "TRUE" | "1" | "t" | "T")
                }
                PRESERVED_KEY => preserved = Some(scalar(v, k)?.to_string()),
                "unencrypted_suffix"
                | "encrypted_suffix"
                | "unencrypted_regex"
                | "encrypted_regex"
                | "unencrypted_comment_regex"
                | "encrypted_comment_regex" => {
                    let key: &'static str = SELECTOR_KEYS
                        .iter()
                        .find(|s| **s == k)
                        .copied()
                        .unwrap_or("");
                    if let Meta::Scalar { text, .. } = v
                        && !text.is_empty()
                    {
                        selectors.push((key, Some(text.as_str())));
                    }
                }
                _ => extra.push((k.clone(), v.clone())),
            }
        }
        if !top.is_empty() {
            groups.push(top);
        } else if let Some(kg) = key_groups {
            match kg {
                Meta::List(items) => {
                    for g in items {
                        let mut group = KeyGroup::default();
                        if let Meta::Map(es) = g {
                            for (t, v) in es {
                                if KEY_TYPES.contains(&t.as_str()) {
                                    read_keys(t, v, &mut group)?;
                                } else {
                                    group.others.push((t.clone(), v.clone()));
                                }
                            }
                        } else {
                            return Err(Error::BadMetadata("a key group is not a mapping".into()));
                        }
                        groups.push(group);
                    }
                }
                Meta::Null => {}
                _ => return Err(Error::BadMetadata("key_groups is not a list".into())),
            }
        }
        // sops fails on a version that is not a version number (semver.Make)
        if let Some(v) = &version {
            let major = v.split(['.', '-', '+']).next().unwrap_or("");
            match major.parse::<u32>() {
                Err(_) => {
                    return Err(Error::BadMetadata("version is not a version number".into()));
                }
                // a format from a future major release may mean something else
                Ok(m) if m > 3 => {
                    return Err(Error::BadMetadata(format!(
                        "version {v} is from a newer sops than sops-rs understands (3.x)"
                    )));
                }
                Ok(_) => {}
            }
        }
        if let Some(kg) = key_groups
            && !matches!(kg, Meta::List(items) if items.iter().all(|g| matches!(g, Meta::Map(_) | Meta::Null)))
            && !matches!(kg, Meta::Null)
        {
            return Err(Error::BadMetadata(
                "key_groups is not a list of key groups".into(),
            ));
        }
        if let Some(Meta::List(gs)) = key_groups
            && gs
                .iter()
                .any(|g| matches!(g, Meta::Map(es) if es.is_empty()) || matches!(g, Meta::Null))
        {
            return Err(Error::BadMetadata(
                "key_groups holds an empty key group".into(),
            ));
        }
        // (with one group sops ignores the threshold, and writes the rule's value anyway)
        if let Some(t) = shamir_threshold
            && groups.len() > 1
            && t > groups.len()
        {
            return Err(Error::BadMetadata(format!(
                "shamir_threshold {t} is larger than the number of key groups ({})",
                groups.len()
            )));
        }
        let selector = crate::select::at_most_one(&selectors)
            .map_err(|e| Error::BadMetadata(e.to_string()))?
            .unwrap_or_default();
        Ok(Metadata {
            groups,
            shamir_threshold,
            lastmodified: lastmodified.unwrap_or_default(),
            mac: mac.unwrap_or_default(),
            selector,
            mac_only_encrypted,
            version: version.unwrap_or_default(),
            preserved,
            extra,
        })
    }

    /// The generic tree we write: alphabetical at every level, as sops 3.13.
    pub fn to_meta(&self) -> Meta {
        let mut top: Vec<(String, Meta)> = Vec::new();
        if self.groups.len() == 1 {
            top.extend(group_lists(&self.groups[0], false));
        } else if self.groups.len() > 1 {
            let gs = self
                .groups
                .iter()
                .map(|g| Meta::Map(group_lists(g, true)))
                .collect();
            top.push(("key_groups".into(), Meta::List(gs)));
            let t = self.shamir_threshold.unwrap_or(self.groups.len());
            top.push((
                "shamir_threshold".into(),
                Meta::Scalar {
                    text: t.to_string(),
                    plain: true,
                },
            ));
        }
        top.push(("lastmodified".into(), Meta::str(&self.lastmodified)));
        top.push(("mac".into(), Meta::str(&self.mac)));
        if self.mac_only_encrypted {
            top.push((
                "mac_only_encrypted".into(),
                Meta::Scalar {
                    text: "true".into(),
                    plain: true,
                },
            ));
        }
        top.push((self.selector.key().into(), Meta::str(self.selector.value())));
        if let Some(p) = &self.preserved {
            top.push((PRESERVED_KEY.into(), Meta::str(p)));
        }
        top.push(("version".into(), Meta::str(&self.version)));
        top.extend(self.extra.iter().cloned());
        sort_meta(Meta::Map(top))
    }
}

use crate::select::SELECTOR_KEYS;

fn scalar<'a>(v: &'a Meta, key: &str) -> Result<&'a str> {
    v.as_str()
        .ok_or_else(|| Error::BadMetadata(format!("{key} is not a scalar")))
}

fn read_keys(ty: &str, v: &Meta, group: &mut KeyGroup) -> Result<()> {
    let items = match v {
        Meta::List(items) => items,
        Meta::Null => return Ok(()),
        _ => return Err(Error::BadMetadata(format!("{ty} is not a list"))),
    };
    for item in items {
        if ty == "age" {
            if !matches!(item, Meta::Map(_)) {
                return Err(Error::BadMetadata("an age entry is not a mapping".into()));
            }
            // sops reads a missing field as "" (the recipient is not needed to decrypt; an
            // empty enc just fails for that key), so neither is an error here
            let field = |k: &str| match item.get(k) {
                Some(v) => scalar(v, k).map(str::to_string),
                None => Ok(String::new()),
            };
            let (recipient, enc) = (field("recipient")?, field("enc")?);
            let extra = match item {
                Meta::Map(es) => es
                    .iter()
                    .filter(|(k, _)| k != "recipient" && k != "enc")
                    .cloned()
                    .collect(),
                _ => Vec::new(),
            };
            group.age.push(AgeKey {
                recipient,
                enc,
                extra,
            });
        } else {
            group.others.push((ty.to_string(), item.clone()));
        }
    }
    Ok(())
}

fn group_lists(g: &KeyGroup, in_group: bool) -> Vec<(String, Meta)> {
    let mut out: Vec<(String, Meta)> = Vec::new();
    for ty in KEY_TYPES {
        let mut items: Vec<Meta> = g
            .others
            .iter()
            .filter(|(t, _)| t == ty)
            .map(|(_, m)| m.clone())
            .collect();
        if ty == "age" {
            items.extend(g.age.iter().map(|a| {
                let mut es = vec![
                    ("enc".to_string(), Meta::str(&a.enc)),
                    ("recipient".to_string(), Meta::str(&a.recipient)),
                ];
                es.extend(a.extra.iter().cloned());
                Meta::Map(es)
            }));
        }
        // sops writes `age` and `hc_vault` inside groups even when empty.
        if !items.is_empty() || (in_group && (ty == "age" || ty == "hc_vault")) {
            out.push((ty.to_string(), Meta::List(items)));
        }
    }
    // types we don't know at all, inside groups
    for (t, m) in &g.others {
        if !KEY_TYPES.contains(&t.as_str()) {
            out.push((t.clone(), m.clone()));
        }
    }
    out
}

fn sort_meta(m: Meta) -> Meta {
    match m {
        Meta::Map(mut es) => {
            es.sort_by(|a, b| a.0.cmp(&b.0));
            Meta::Map(es.into_iter().map(|(k, v)| (k, sort_meta(v))).collect())
        }
        Meta::List(items) => Meta::List(items.into_iter().map(sort_meta).collect()),
        other => other,
    }
}

/// Write `sops:` and the tree below it as YAML with indentation unit `unit`, each line
/// ending in `\n`.
pub fn write_yaml(m: &Meta, unit: usize) -> String {
    let mut out = String::from("sops:");
    yaml_value(m, 0, unit, &mut out);
    out
}

fn yaml_value(m: &Meta, col: usize, unit: usize, out: &mut String) {
    // `col` is the column of the key that owns this value.
    match m {
        Meta::Map(es) if es.is_empty() => out.push_str(" {}\n"),
        Meta::List(items) if items.is_empty() => out.push_str(" []\n"),
        Meta::Map(es) => {
            out.push('\n');
            let c = col + unit;
            for (k, v) in es {
                out.push_str(&" ".repeat(c));
                yaml_key(k, out);
                yaml_value(v, c, unit, out);
            }
        }
        Meta::List(items) => {
            out.push('\n');
            let dash = col + unit;
            for item in items {
                out.push_str(&" ".repeat(dash));
                out.push('-');
                match item {
                    Meta::Map(es) if !es.is_empty() => {
                        let c = dash + 2;
                        for (i, (k, v)) in es.iter().enumerate() {
                            if i == 0 {
                                out.push(' ');
                            } else {
                                out.push_str(&" ".repeat(c));
                            }
                            yaml_key(k, out);
                            yaml_value(v, c, unit, out);
                        }
                    }
                    other => yaml_value(other, dash, unit, out),
                }
            }
        }
        Meta::Null => out.push_str(" null\n"),
        Meta::Scalar { text, plain } => {
            out.push(' ');
            if *plain && !text.is_empty() {
                out.push_str(text);
            } else {
                // sops' emitter (yaml.v3): plain where it reads back as the same string,
                // quoted otherwise (timestamps included), literal blocks for armored keys
                let n = unit * ((col + unit) / unit);
                out.push_str(&yaml_render(&Value::Str(text.clone()), unit, n));
            }
            out.push('\n');
        }
    }
}

fn yaml_key(k: &str, out: &mut String) {
    out.push_str(&yaml_render(&Value::Str(k.to_string()), 4, 0));
    out.push(':');
}

/// Go `json.Marshal` string escaping (HTML-safe), as sops writes JSON.
pub use crate::format::scalar::json_string;

/// Write the value of the `"sops"` member as JSON. `indent` is the unit (a tab or spaces),
/// `depth` the nesting level of the `"sops"` key itself.
pub fn write_json(m: &Meta, indent: &str, depth: usize) -> String {
    let mut out = String::new();
    json_value(m, indent, depth, &mut out);
    out
}

fn json_value(m: &Meta, indent: &str, depth: usize, out: &mut String) {
    match m {
        Meta::Map(es) if es.is_empty() => out.push_str("{}"),
        Meta::List(items) if items.is_empty() => out.push_str("[]"),
        Meta::Map(es) => {
            out.push('{');
            for (i, (k, v)) in es.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&indent.repeat(depth + 1));
                out.push_str(&json_string(k));
                out.push_str(": ");
                json_value(v, indent, depth + 1, out);
            }
            out.push('\n');
            out.push_str(&indent.repeat(depth));
            out.push('}');
        }
        Meta::List(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&indent.repeat(depth + 1));
                json_value(v, indent, depth + 1, out);
            }
            out.push('\n');
            out.push_str(&indent.repeat(depth));
            out.push(']');
        }
        Meta::Null => out.push_str("null"),
        Meta::Scalar { text, plain } => {
            let is_lit = *plain
                && (text == "true"
                    || text == "false"
                    || (!text.is_empty() && text.parse::<f64>().is_ok() && !text.starts_with('+')));
            if is_lit {
                out.push_str(text);
            } else {
                out.push_str(&json_string(text));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Metadata {
        Metadata {
            groups: vec![KeyGroup {
                age: vec![AgeKey {
                    recipient: "age1xyz".into(),
                    enc: "-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n-----END AGE ENCRYPTED FILE-----\n".into(),
                    extra: vec![],
                }],
                others: vec![],
            }],
            shamir_threshold: None,
            lastmodified: "2026-01-01T00:00:00Z".into(),
            mac: "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]".into(),
            selector: Selector::default(),
            mac_only_encrypted: false,
            version: SOPS_VERSION.into(),
            preserved: None,
            extra: vec![],
        }
    }

    #[test]
    fn yaml_layout_matches_sops_3_13() {
        let y = write_yaml(&sample().to_meta(), 4);
        assert_eq!(
            y,
            "sops:\n    age:\n        - enc: |\n            -----BEGIN AGE ENCRYPTED FILE-----\n            YWJj\n            -----END AGE ENCRYPTED FILE-----\n          recipient: age1xyz\n    lastmodified: \"2026-01-01T00:00:00Z\"\n    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n    unencrypted_suffix: _unencrypted\n    version: 3.13.2\n"
        );
    }

    #[test]
    fn json_layout() {
        let j = write_json(&sample().to_meta(), "\t", 1);
        assert!(j.starts_with("{\n\t\t\"age\": [\n\t\t\t{\n\t\t\t\t\"enc\": \"-----BEGIN AGE ENCRYPTED FILE-----\\nYWJj"));
        assert!(j.ends_with("\"version\": \"3.13.2\"\n\t}"));
    }

    #[test]
    fn reads_legacy_forms_and_keeps_what_it_cannot_use() {
        // sops <= 3.9 layout: struct order, empty kms/gcp lists, a pgp key, an unknown field
        let src = "a: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\nsops:\n    kms: []\n    gcp_kms: []\n    azure_kv: []\n    hc_vault: []\n    age: []\n    lastmodified: '2019-01-01T00:00:00Z'\n    mac: ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]\n    pgp:\n        - created_at: '2019-01-01T00:00:00Z'\n          enc: |\n            -----BEGIN PGP MESSAGE-----\n            abc\n            -----END PGP MESSAGE-----\n          fp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4\n    unencrypted_suffix: _unencrypted\n    attention: keep me\n    version: 3.0.5\n";
        let p = crate::format::yaml::parse(src).unwrap();
        let m = Metadata::from_meta(p.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(m.groups.len(), 1);
        assert_eq!(m.groups[0].others.len(), 1);
        assert_eq!(m.groups[0].others[0].0, "pgp");
        assert_eq!(m.version, "3.0.5");
        let y = write_yaml(&m.to_meta(), 4);
        assert!(y.contains("    pgp:\n        - created_at: \"2019-01-01T00:00:00Z\"\n          enc: |\n            -----BEGIN PGP MESSAGE-----\n"), "{y}");
        assert!(
            y.contains("fp: FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"),
            "{y}"
        );
        assert!(y.contains("    attention: keep me\n"), "{y}");
        // and it reads back to the same model
        let again = crate::format::yaml::parse(&format!("a: 1\n{y}")).unwrap();
        let m2 = Metadata::from_meta(again.metadata.as_ref().unwrap()).unwrap();
        assert_eq!(m2.groups, m.groups);
        assert_eq!(m2.extra, m.extra);
    }

    #[test]
    fn top_level_keys_win_over_key_groups_and_two_selectors_fail() {
        let m = Meta::Map(vec![
            (
                "age".into(),
                Meta::List(vec![Meta::Map(vec![
                    ("recipient".into(), Meta::str("r")),
                    ("enc".into(), Meta::str("e")),
                ])]),
            ),
            (
                "key_groups".into(),
                Meta::List(vec![
                    Meta::Map(vec![("age".into(), Meta::List(vec![]))]),
                    Meta::Map(vec![("age".into(), Meta::List(vec![]))]),
                ]),
            ),
        ]);
        assert_eq!(Metadata::from_meta(&m).unwrap().groups.len(), 1);
        let two = Meta::Map(vec![
            ("encrypted_regex".into(), Meta::str("a")),
            ("unencrypted_suffix".into(), Meta::str("b")),
        ]);
        assert!(Metadata::from_meta(&two).is_err());
    }

    /// Regression (tests/tamper.rs): sops decrypts a file whose age entry lacks `recipient`
    /// (it is not needed to decrypt), and a missing `enc` only fails that key (exit 128 when
    /// no other key works), so neither may be a metadata error.
    #[test]
    fn age_entry_missing_recipient_or_enc_is_read_as_empty() {
        let m = Meta::Map(vec![(
            "age".into(),
            Meta::List(vec![
                Meta::Map(vec![("enc".into(), Meta::str("e"))]),
                Meta::Map(vec![("recipient".into(), Meta::str("r"))]),
            ]),
        )]);
        let md = Metadata::from_meta(&m).unwrap();
        let age = &md.groups[0].age;
        assert_eq!((age[0].recipient.as_str(), age[0].enc.as_str()), ("", "e"));
        assert_eq!((age[1].recipient.as_str(), age[1].enc.as_str()), ("r", ""));
        let scalar_item = Meta::Map(vec![("age".into(), Meta::List(vec![Meta::str("x")]))]);
        assert!(Metadata::from_meta(&scalar_item).is_err());
    }
}
