//! sops' `stores/flatten.go`: the metadata tree as single-level keys, for the formats that
//! cannot nest (dotenv with the `sops_` prefix, INI below its `[sops]` section).
//!
//! A map entry appends `__map_<key>` to its parent's key, a list item `__list_<index>`.
//! `{age: [{enc: x, recipient: y}]}` becomes `age__list_0__map_enc=x` and
//! `age__list_0__map_recipient=y`. Empty maps and lists produce no key at all, as in sops.
//!
//! Reading follows sops 3.13 (`tokenize` / `place` / `convert`): a key given twice, a key
//! used both as a value and as a map or list, and a list whose indices are not exactly
//! `0..n` are errors. Error messages name the flat key, never a value.

use std::collections::BTreeMap;

use crate::metadata::Meta;

pub const MAP_SEPARATOR: &str = "__map_";
pub const LIST_SEPARATOR: &str = "__list_";

/// Nesting deeper than this is refused when reading (sops' own metadata nests 5 levels);
/// it bounds the recursion over what an untrusted file can build.
const MAX_DEPTH: usize = 32;

/// Flatten `m` to `(key, text)` pairs in the tree's order (alphabetical for the output of
/// `Metadata::to_meta`, each nested structure expanded in place). Top-level keys get
/// `prefix` (`"sops_"` for dotenv, `""` for INI). Nulls, empty maps and empty lists are
/// left out, as sops leaves them out.
pub fn flatten(m: &Meta, prefix: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    match m {
        Meta::Map(entries) => {
            for (k, v) in entries {
                descend(v, format!("{prefix}{k}"), &mut out);
            }
        }
        other => descend(other, prefix.to_string(), &mut out),
    }
    out
}

fn descend(m: &Meta, key: String, out: &mut Vec<(String, String)>) {
    match m {
        Meta::Map(entries) => {
            for (k, v) in entries {
                descend(v, format!("{key}{MAP_SEPARATOR}{k}"), out);
            }
        }
        Meta::List(items) => {
            for (i, v) in items.iter().enumerate() {
                descend(v, format!("{key}{LIST_SEPARATOR}{i}"), out);
            }
        }
        Meta::Scalar { text, .. } => out.push((key, text.clone())),
        Meta::Null => {}
    }
}

/// One step of a flat key.
#[derive(Debug, PartialEq, Eq)]
enum Tok<'a> {
    Key(&'a str),
    Index(usize),
}

/// sops' `tokenize`: the text before the first separator is a map key, then each
/// `__map_<key>` or `__list_<index>` one step (separators are found left to right, the map
/// separator tested first). Unlike sops (which reads a bad index as 0) a list index must
/// be decimal digits.
fn tokenize(key: &str) -> Result<Vec<Tok<'_>>, String> {
    #[derive(Clone, Copy)]
    enum State {
        Normal,
        Map,
        List,
    }
    let b = key.as_bytes();
    let mut tokens = Vec::new();
    let mut state = State::Normal;
    let mut last = 0;
    let mut i = 0;
    let mut finish = |state: State, last: usize, i: usize| -> Result<(), String> {
        let t = match state {
            State::Normal => Tok::Key(&key[last..i]),
            State::Map => Tok::Key(&key[last + MAP_SEPARATOR.len()..i]),
            State::List => {
                let digits = &key[last + LIST_SEPARATOR.len()..i];
                if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
                    return Err(format!(
                        "metadata key {} has an invalid list index",
                        shown(key)
                    ));
                }
                Tok::Index(digits.parse::<usize>().map_err(|_| {
                    format!("metadata key {} has an invalid list index", shown(key))
                })?)
            }
        };
        tokens.push(t);
        Ok(())
    };
    while i < b.len() {
        if b[i..].starts_with(MAP_SEPARATOR.as_bytes()) {
            finish(state, last, i)?;
            last = i;
            state = State::Map;
            i += MAP_SEPARATOR.len();
        } else if b[i..].starts_with(LIST_SEPARATOR.as_bytes()) {
            finish(state, last, i)?;
            last = i;
            state = State::List;
            i += LIST_SEPARATOR.len();
        } else {
            i += 1;
        }
    }
    finish(state, last, i)?;
    Ok(tokens)
}

#[derive(Default)]
struct Node {
    value: Option<String>,
    subkeys: BTreeMap<String, Node>,
    indices: BTreeMap<usize, Node>,
}

/// The inverse of [`flatten`] (without a prefix: strip it first). Maps come back sorted by
/// key, lists in index order, and every value as `Meta::Scalar { plain: true }` (so `"2"`
/// can be read as a number and `"true"` as a bool, as mapstructure's weak typing does).
///
/// # Errors
/// A message naming the offending key: a key given twice, a key that is both a value and
/// a map or list (or both a map and a list), a list with missing indices, a bad index, or
/// nesting deeper than 32 levels.
pub fn unflatten(pairs: &[(String, String)]) -> Result<Meta, String> {
    let mut root = Node::default();
    for (k, v) in pairs {
        let tokens = tokenize(k)?;
        if tokens.len() > MAX_DEPTH {
            return Err(format!("metadata key {} is nested too deeply", shown(k)));
        }
        let mut node = &mut root;
        for t in tokens {
            node = match t {
                Tok::Key(s) => node.subkeys.entry(s.to_string()).or_default(),
                Tok::Index(i) => node.indices.entry(i).or_default(),
            };
        }
        if node.value.is_some() {
            return Err(format!("metadata key {} is given twice", shown(k)));
        }
        node.value = Some(v.clone());
    }
    convert(root, "")
}

fn convert(node: Node, path: &str) -> Result<Meta, String> {
    let kinds = usize::from(node.value.is_some())
        + usize::from(!node.subkeys.is_empty())
        + usize::from(!node.indices.is_empty());
    if kinds > 1 {
        let what = if node.value.is_none() {
            "both as a map and as a list"
        } else if node.subkeys.is_empty() {
            "both as a value and as a list"
        } else {
            "both as a value and as a map"
        };
        return Err(format!("metadata key {} is used {what}", shown(path)));
    }
    if let Some(text) = node.value {
        return Ok(Meta::Scalar { text, plain: true });
    }
    if !node.indices.is_empty() {
        let n = node.indices.len();
        if node.indices.keys().next_back() != Some(&(n - 1)) {
            let missing = (0..n).find(|i| !node.indices.contains_key(i)).unwrap_or(n);
            return Err(format!(
                "metadata list {} is incomplete: index {missing} is missing",
                shown(path)
            ));
        }
        return node
            .indices
            .into_iter()
            .map(|(i, child)| convert(child, &format!("{path}{LIST_SEPARATOR}{i}")))
            .collect::<Result<Vec<_>, _>>()
            .map(Meta::List);
    }
    // a map (the root, or a node reached through `__map_`); BTreeMap iterates sorted
    node.subkeys
        .into_iter()
        .map(|(k, child)| {
            let p = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}{MAP_SEPARATOR}{k}")
            };
            Ok((k, convert(child, &p)?))
        })
        .collect::<Result<Vec<_>, String>>()
        .map(Meta::Map)
}

/// A key for a message: quoted, and cut short if someone made it huge.
fn shown(key: &str) -> String {
    const MAX: usize = 120;
    if key.len() <= MAX {
        return format!("{key:?}");
    }
    let mut end = MAX;
    while !key.is_char_boundary(end) {
        end -= 1;
    }
    format!("{:?}…", &key[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::{AgeKey, KeyGroup, Metadata};

    fn s(t: &str) -> Meta {
        Meta::Scalar {
            text: t.into(),
            plain: true,
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The metadata of `dotenv-basic.env` (sops 3.11.0, age), unflattened by hand.
    fn basic_meta() -> Meta {
        Meta::Map(vec![
            (
                "age".into(),
                Meta::List(vec![Meta::Map(vec![
                    (
                        "enc".into(),
                        s(
                            "-----BEGIN AGE ENCRYPTED FILE-----\nYWJj\n-----END AGE ENCRYPTED FILE-----\n",
                        ),
                    ),
                    (
                        "recipient".into(),
                        s("age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66"),
                    ),
                ])]),
            ),
            ("lastmodified".into(), s("2026-11-25T20:38:56Z")),
            (
                "mac".into(),
                s("ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]"),
            ),
            ("unencrypted_suffix".into(), s("_unencrypted")),
            ("version".into(), s("3.11.0")),
        ])
    }

    #[test]
    fn flatten_real_dotenv_metadata() {
        let flat = flatten(&basic_meta(), "sops_");
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sops_age__list_0__map_enc",
                "sops_age__list_0__map_recipient",
                "sops_lastmodified",
                "sops_mac",
                "sops_unencrypted_suffix",
                "sops_version",
            ]
        );
        assert_eq!(flat[2].1, "2026-11-25T20:38:56Z");
        // without a prefix (INI)
        assert_eq!(flatten(&basic_meta(), "")[0].0, "age__list_0__map_enc");
    }

    #[test]
    fn unflatten_is_the_inverse() {
        let flat = flatten(&basic_meta(), "");
        assert_eq!(unflatten(&flat).unwrap(), basic_meta());
        // order in the input does not matter: maps come back sorted
        let mut rev = flat.clone();
        rev.reverse();
        assert_eq!(unflatten(&rev).unwrap(), basic_meta());
    }

    #[test]
    fn two_groups_and_threshold() {
        let g = |r: &str| KeyGroup {
            age: vec![AgeKey {
                recipient: r.into(),
                enc: "-----BEGIN AGE ENCRYPTED FILE-----\nx\n-----END AGE ENCRYPTED FILE-----\n"
                    .into(),
                extra: vec![],
            }],
            others: vec![],
        };
        let md = Metadata {
            groups: vec![g("age1aaa"), g("age1bbb")],
            shamir_threshold: Some(2),
            lastmodified: "2026-11-25T20:38:57Z".into(),
            mac: "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]".into(),
            selector: Default::default(),
            mac_only_encrypted: false,
            version: "3.13.2".into(),
            preserved: None,
            extra: vec![],
        };
        let flat = flatten(&md.to_meta(), "sops_");
        let keys: Vec<&str> = flat.iter().map(|(k, _)| k.as_str()).collect();
        // the empty `hc_vault: []` that to_meta writes inside each group leaves no key,
        // exactly as in `two-groups-dotenv.env`
        assert_eq!(
            keys,
            [
                "sops_key_groups__list_0__map_age__list_0__map_enc",
                "sops_key_groups__list_0__map_age__list_0__map_recipient",
                "sops_key_groups__list_1__map_age__list_0__map_enc",
                "sops_key_groups__list_1__map_age__list_0__map_recipient",
                "sops_lastmodified",
                "sops_mac",
                "sops_shamir_threshold",
                "sops_unencrypted_suffix",
                "sops_version",
            ]
        );
        assert_eq!(flat[6].1, "2");
        let stripped: Vec<(String, String)> = flat
            .iter()
            .map(|(k, v)| (k["sops_".len()..].to_string(), v.clone()))
            .collect();
        let back = Metadata::from_meta(&unflatten(&stripped).unwrap()).unwrap();
        assert_eq!(back.groups.len(), 2);
        assert_eq!(back.groups[1].age[0].recipient, "age1bbb");
        assert_eq!(back.shamir_threshold, Some(2));
        assert_eq!(back.version, "3.13.2");
    }

    #[test]
    fn kms_context_and_bools() {
        let m = unflatten(&pairs(&[
            ("kms__list_0__map_context__map_Environment", "prod"),
            ("kms__list_0__map_arn", "arn:aws:kms:x"),
            ("mac_only_encrypted", "true"),
        ]))
        .unwrap();
        assert_eq!(
            m,
            Meta::Map(vec![
                (
                    "kms".into(),
                    Meta::List(vec![Meta::Map(vec![
                        ("arn".into(), s("arn:aws:kms:x")),
                        (
                            "context".into(),
                            Meta::Map(vec![("Environment".into(), s("prod"))])
                        ),
                    ])])
                ),
                ("mac_only_encrypted".into(), s("true")),
            ])
        );
        let md = Metadata::from_meta(&m).unwrap();
        assert!(md.mac_only_encrypted);
        assert_eq!(md.groups[0].others[0].0, "kms");
    }

    #[test]
    fn tokenize_like_sops() {
        assert_eq!(
            tokenize("a___map_b").unwrap(),
            [Tok::Key("a_"), Tok::Key("b")]
        );
        assert_eq!(
            tokenize("x__list_10__map_").unwrap(),
            [Tok::Key("x"), Tok::Index(10), Tok::Key("")]
        );
        assert_eq!(tokenize("plain").unwrap(), [Tok::Key("plain")]);
    }

    #[test]
    fn lists_in_index_order() {
        let m = unflatten(&pairs(&[
            ("l__list_1", "b"),
            ("l__list_10", "k"),
            ("l__list_0", "a"),
            ("l__list_2", "c"),
            ("l__list_3", "d"),
            ("l__list_4", "e"),
            ("l__list_5", "f"),
            ("l__list_6", "g"),
            ("l__list_7", "h"),
            ("l__list_8", "i"),
            ("l__list_9", "j"),
        ]))
        .unwrap();
        let Meta::Map(es) = m else { panic!() };
        let Meta::List(items) = &es[0].1 else {
            panic!()
        };
        let texts: String = items
            .iter()
            .map(|i| match i {
                Meta::Scalar { text, .. } => text.as_str(),
                _ => "?",
            })
            .collect();
        assert_eq!(texts, "abcdefghijk");
    }

    #[test]
    fn errors_name_the_key_not_the_value() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (
                &[("mac", "SECRET1"), ("mac", "SECRET2")],
                "\"mac\" is given twice",
            ),
            (
                &[("age", "SECRET"), ("age__list_0__map_enc", "x")],
                "\"age\" is used both as a value and as a list",
            ),
            (
                &[("a__map_b", "SECRET"), ("a", "x")],
                "\"a\" is used both as a value and as a map",
            ),
            (
                &[("a__map_b", "SECRET"), ("a__list_0", "x")],
                "\"a\" is used both as a map and as a list",
            ),
            (
                &[
                    ("g__list_0__map_x__map_y", "SECRET"),
                    ("g__list_0__map_x", "v"),
                ],
                "\"g__list_0__map_x\" is used both as a value and as a map",
            ),
            (
                &[("age__list_0", "SECRET"), ("age__list_2", "x")],
                "list \"age\" is incomplete: index 1 is missing",
            ),
            (
                &[("age__list_1", "SECRET")],
                "list \"age\" is incomplete: index 0 is missing",
            ),
            (
                &[("age__list_x", "SECRET")],
                "\"age__list_x\" has an invalid list index",
            ),
            (
                &[("age__list_", "SECRET")],
                "\"age__list_\" has an invalid list index",
            ),
            (&[("age__list_-1", "SECRET")], "has an invalid list index"),
            (
                &[("age__list_99999999999999999999999", "SECRET")],
                "has an invalid list index",
            ),
        ];
        for (input, want) in cases {
            let err = unflatten(&pairs(input)).unwrap_err();
            assert!(err.contains(want), "{err} / {want}");
            assert!(!err.contains("SECRET"), "{err}");
        }
        let deep = format!("a{}", "__map_b".repeat(40));
        let err = unflatten(&pairs(&[(&deep, "SECRET")])).unwrap_err();
        assert!(
            err.contains("nested too deeply") && err.len() < 200,
            "{err}"
        );
    }

    #[test]
    fn huge_index_does_not_allocate() {
        let err = unflatten(&pairs(&[("a__list_18446744073709551615", "x")])).unwrap_err();
        assert!(err.contains("incomplete"), "{err}");
    }

    #[test]
    fn empty_input_is_an_empty_map() {
        assert_eq!(unflatten(&[]).unwrap(), Meta::Map(vec![]));
        assert!(flatten(&Meta::Map(vec![]), "sops_").is_empty());
        assert!(
            flatten(
                &Meta::Map(vec![
                    ("l".into(), Meta::List(vec![])),
                    ("m".into(), Meta::Map(vec![])),
                    ("n".into(), Meta::Null),
                ]),
                "sops_"
            )
            .is_empty()
        );
    }
}
