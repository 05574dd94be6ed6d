//! `sops_rs::pathedit` (the library side of `set` and `unset`):
//! 1. setting an existing value changes only that value's bytes, in every format;
//! 2. new keys, subtrees and list appends give the expected data;
//! 3. unset of keys, items and subtrees; absent paths give `None`, bad ones an error;
//! 4. the same edits as the real `sops set` / `sops unset` give the same data (values, types,
//!    key order), in YAML, JSON, dotenv and INI;
//! 5. on random YAML, an edit keeps every byte outside one span and gives the expected data.
//! 6. TOML (no sops oracle): the data after set/unset through our JSON conversion, tables
//!    compared unordered; a new path only inserts bytes, unset only removes; the same on
//!    random TOML documents.

mod common;

use common::*;
use proptest::prelude::*;
use sops_rs::document::{convert, parse_tree_path};
use sops_rs::format::PathSeg;
use sops_rs::{Error, Format, pathedit};

/// A parsed JSON value; objects keep their order, numbers compare as floats.
#[derive(Debug, Clone, PartialEq)]
enum T {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<T>),
    Obj(Vec<(String, T)>),
}

fn tree_of_json(text: &str) -> T {
    use jsonc_parser::ast::{ObjectPropName, Value as J};
    fn go(v: &J) -> T {
        match v {
            J::NullKeyword(_) => T::Null,
            J::BooleanLit(b) => T::Bool(b.value),
            J::NumberLit(n) => T::Num(n.value.parse().unwrap()),
            J::StringLit(s) => T::Str(s.value.to_string()),
            J::Array(a) => T::Arr(a.elements.iter().map(go).collect()),
            J::Object(o) => T::Obj(
                o.properties
                    .iter()
                    .map(|p| {
                        let k = match &p.name {
                            ObjectPropName::String(s) => s.value.to_string(),
                            ObjectPropName::Word(w) => w.value.to_string(),
                        };
                        (k, go(&p.value))
                    })
                    .collect(),
            ),
        }
    }
    let ast = jsonc_parser::parse_to_ast(text, &Default::default(), &Default::default())
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    go(&ast.value.expect("a JSON value"))
}

/// A document's data as a tree (through our conversion to JSON).
fn tree(bytes: &[u8], f: Format) -> T {
    try_tree(bytes, f).expect("converts to JSON")
}

/// `None` for data JSON cannot hold (`.inf`).
fn try_tree(bytes: &[u8], f: Format) -> Option<T> {
    let json = convert(bytes, f, Format::Json).ok()?;
    Some(tree_of_json(&String::from_utf8(json).unwrap()))
}

fn path(s: &str) -> Vec<PathSeg> {
    parse_tree_path(s).unwrap()
}

fn set(src: &str, f: Format, p: &str, v: &str) -> String {
    let out = pathedit::set(src.as_bytes(), f, &path(p), v)
        .unwrap_or_else(|e| panic!("set {p} {v}: {e}"))
        .unwrap_or_else(|| panic!("set {p} {v}: no change"));
    String::from_utf8(out).unwrap()
}

fn unset(src: &str, f: Format, p: &str) -> String {
    let out = pathedit::unset(src.as_bytes(), f, &path(p))
        .unwrap_or_else(|e| panic!("unset {p}: {e}"))
        .unwrap_or_else(|| panic!("unset {p}: no change"));
    String::from_utf8(out).unwrap()
}

/// The bytes of `src` that `out` does not keep, when `out` differs from it in one span.
fn changed_span(src: &str, out: &str) -> std::ops::Range<usize> {
    let pre = src
        .bytes()
        .zip(out.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    let room = src.len().min(out.len()) - pre;
    let suf = src
        .bytes()
        .rev()
        .zip(out.bytes().rev())
        .take_while(|(a, b)| a == b)
        .count()
        .min(room);
    pre..src.len() - suf
}

/// `out` is `src` with `src[span]` replaced: (bytes before, bytes after) are the same.
fn only_span_changed(src: &str, out: &str, span: std::ops::Range<usize>) -> Result<(), String> {
    let tail = src.len() - span.end;
    if out.len() < span.start + tail
        || src.as_bytes()[..span.start] != out.as_bytes()[..span.start]
        || src.as_bytes()[span.end..] != out.as_bytes()[out.len() - tail..]
    {
        return Err(format!(
            "bytes outside {span:?} changed:\n--- before\n{src}\n--- after\n{out}"
        ));
    }
    Ok(())
}

const YAML: &str = "\
# settings
db:
  host: db.internal   # primary
  password: 'correct horse'
  port: 5432
  opts: {ssl: true, modes: [a, b]}
list:
  - one
  - name: two
    n: 2

last: \"quoted\"
";

const JSON: &str = "{\n    \"db\": {\n        \"host\": \"db.internal\",\n        \"port\": 5432,\n        \"tags\": [\"a\", \"b\"]\n    },\n    \"list\": [1, {\"x\": null}],\n    \"last\": true\n}\n";

const DOTENV: &str = "# env\nA=1\nexport B=two words\n\nC=\"q\"\n";

const INI: &str = "; top\n[db]\nhost = db.internal\nport=5432\n\n; s2\n[app]\nname = x\n";

const TOML: &str = "title = \"t\" # c\n\n[db]\nhost = \"db.internal\"\nport = 5432\n";

/// 1. Per format, setting an existing scalar replaces exactly its bytes.
#[test]
fn existing_value_changes_only_its_bytes() {
    let cases: [(&str, Format, &str, &str, &str, &str); 10] = [
        (
            YAML,
            Format::Yaml,
            "[\"db\"][\"host\"]",
            "\"db2\"",
            "db.internal",
            "db2",
        ),
        (
            YAML,
            Format::Yaml,
            "[\"db\"][\"password\"]",
            "\"it's\"",
            "'correct horse'",
            "'it''s'",
        ),
        (
            YAML,
            Format::Yaml,
            "[\"db\"][\"opts\"][\"modes\"][1]",
            "\"c d\"",
            "b]",
            "c d]",
        ),
        (
            YAML,
            Format::Yaml,
            "[\"last\"]",
            "false",
            "\"quoted\"",
            "false",
        ),
        (
            JSON,
            Format::Json,
            "[\"db\"][\"port\"]",
            "\"p\"",
            "5432",
            "\"p\"",
        ),
        (
            JSON,
            Format::Json,
            "[\"list\"][1][\"x\"]",
            "2.5",
            "null",
            "2.5",
        ),
        (
            DOTENV,
            Format::Dotenv,
            "[\"export B\"]",
            "\"x\"",
            "two words",
            "x",
        ),
        (
            INI,
            Format::Ini,
            "[\"db\"][\"port\"]",
            "\"6543\"",
            "5432",
            "6543",
        ),
        (INI, Format::Ini, "[\"app\"][\"name\"]", "true", "x", "true"),
        (
            TOML,
            Format::Toml,
            "[\"db\"][\"port\"]",
            "\"p\"",
            "5432",
            "\"p\"",
        ),
    ];
    for (src, f, p, v, old, new) in cases {
        let out = set(src, f, p, v);
        // the old text is unique enough in each fixture to locate the span
        let start = src
            .find(&format!("{old}\n"))
            .or_else(|| src.find(old))
            .unwrap();
        let span = start..start + old.len();
        only_span_changed(src, &out, span.clone()).unwrap();
        assert_eq!(&out[start..start + new.len()], new, "{f:?} {p}");
        assert_eq!(out.len(), src.len() - old.len() + new.len(), "{f:?} {p}");
    }
}

/// 2. New keys, nested keys, subtrees and appends: the data after the edit.
#[test]
fn creating_paths_gives_the_expected_data() {
    let y = set(
        YAML,
        Format::Yaml,
        "[\"db\"][\"new\"][\"deep\"][2]",
        "{\"k\": [1, \"2\"], \"e\": {}}",
    );
    let t = tree(y.as_bytes(), Format::Yaml);
    let T::Obj(root) = &t else { panic!() };
    let T::Obj(db) = &root[0].1 else { panic!() };
    assert_eq!(db.last().unwrap().0, "new");
    assert_eq!(
        db.last().unwrap().1,
        tree_of_json("{\"deep\": [{\"k\": [1, \"2\"], \"e\": {}}]}")
    );
    // the rest of the file is where it was
    assert!(changed_span(YAML, &y).is_empty(), "{y}");

    let y = set(YAML, Format::Yaml, "[\"list\"][9]", "{\"name\": \"three\"}");
    assert!(y.contains("    n: 2\n  - name: three\n\nlast:"), "{y}");

    let y = set(
        YAML,
        Format::Yaml,
        "[\"db\"][\"opts\"][\"more\"]",
        "{\"a\": [1]}",
    );
    assert!(
        y.contains("  opts: {ssl: true, modes: [a, b], more: {a: [1]}}\n"),
        "{y}"
    );

    let y = set(YAML, Format::Yaml, "[\"db\"][\"port\"][\"x\"]", "1");
    assert!(y.contains("  port:\n    x: 1\n"), "{y}");

    let y = set(YAML, Format::Yaml, "[\"top\"]", "\"multi\\nline\"");
    assert!(
        y.ends_with("last: \"quoted\"\ntop: |-\n  multi\n  line\n"),
        "{y}"
    );

    let j = set(
        JSON,
        Format::Json,
        "[\"db\"][\"extra\"]",
        "{\"a\": {\"b\": [true]}}",
    );
    assert!(
        j.contains("\"tags\": [\"a\", \"b\"],\n        \"extra\": {\n            \"a\": {\n                \"b\": [\n                    true\n                ]\n            }\n        }\n    },"),
        "{j}"
    );
    let j = set(JSON, Format::Json, "[\"list\"][5]", "\"s\"");
    assert!(j.contains("\"list\": [1, {\"x\": null}, \"s\"],"), "{j}");

    let d = set(DOTENV, Format::Dotenv, "[\"D\"]", "\"v\"");
    assert_eq!(d, format!("{DOTENV}D=v\n"));

    let i = set(INI, Format::Ini, "[\"db\"][\"user\"]", "\"u\"");
    assert!(i.contains("port=5432\nuser=u\n\n; s2\n"), "{i}");
    let i = set(
        INI,
        Format::Ini,
        "[\"new\"]",
        "{\"a\": \"1\", \"b\": \"2\"}",
    );
    assert!(i.ends_with("name = x\n\n[new]\na = 1\nb = 2\n"), "{i}");
}

/// 3. Removing keys, items and subtrees; absent paths; errors.
#[test]
fn unset_removes_entries() {
    let y = unset(YAML, Format::Yaml, "[\"db\"][\"host\"]");
    assert_eq!(y, YAML.replace("  host: db.internal   # primary\n", ""));
    let y = unset(YAML, Format::Yaml, "[\"list\"][1]");
    assert_eq!(y, YAML.replace("  - name: two\n    n: 2\n", ""));
    let y = unset(YAML, Format::Yaml, "[\"db\"]");
    assert_eq!(
        y,
        "# settings\nlist:\n  - one\n  - name: two\n    n: 2\n\nlast: \"quoted\"\n"
    );
    let y = unset(YAML, Format::Yaml, "[\"db\"][\"opts\"][\"modes\"][0]");
    assert!(y.contains("opts: {ssl: true, modes: [b]}"), "{y}");

    let j = unset(JSON, Format::Json, "[\"db\"]");
    assert_eq!(
        j,
        "{\n    \"list\": [1, {\"x\": null}],\n    \"last\": true\n}\n"
    );
    let j = unset(JSON, Format::Json, "[\"last\"]");
    assert_eq!(
        tree(j.as_bytes(), Format::Json),
        tree_of_json(&JSON.replace(",\n    \"last\": true", ""))
    );

    assert_eq!(
        unset(DOTENV, Format::Dotenv, "[\"A\"]"),
        DOTENV.replace("A=1\n", "")
    );
    assert_eq!(
        unset(INI, Format::Ini, "[\"db\"][\"host\"]"),
        INI.replace("host = db.internal\n", "")
    );
    assert_eq!(
        unset(INI, Format::Ini, "[\"app\"]"),
        "; top\n[db]\nhost = db.internal\nport=5432\n\n; s2\n"
    );
    assert_eq!(
        unset(TOML, Format::Toml, "[\"db\"][\"host\"]"),
        TOML.replace("host = \"db.internal\"\n", "")
    );

    for (src, f) in [
        (YAML, Format::Yaml),
        (JSON, Format::Json),
        (DOTENV, Format::Dotenv),
        (INI, Format::Ini),
    ] {
        for p in ["[\"nope\"]", "[\"nope\"][\"x\"]", "[7]"] {
            assert_eq!(
                pathedit::unset(src.as_bytes(), f, &path(p)).unwrap(),
                None,
                "{f:?} {p}"
            );
        }
        assert!(pathedit::unset(src.as_bytes(), f, &[]).is_err());
        assert!(pathedit::set(src.as_bytes(), f, &[], "1").is_err());
        assert!(matches!(
            pathedit::set(src.as_bytes(), f, &path("[\"x\"]"), "[1]"),
            Err(Error::BadSetValue(_))
        ));
    }
    assert_eq!(
        pathedit::unset(YAML.as_bytes(), Format::Yaml, &path("[\"list\"][2]")).unwrap(),
        None
    );
    assert!(matches!(
        pathedit::unset(YAML.as_bytes(), Format::Yaml, &path("[\"last\"][\"x\"]")),
        Err(Error::Unsupported(_))
    ));
    // --idempotent: setting what is there already changes nothing
    assert_eq!(
        pathedit::set(
            YAML.as_bytes(),
            Format::Yaml,
            &path("[\"db\"][\"port\"]"),
            "5432"
        )
        .unwrap(),
        None
    );
    assert_eq!(
        pathedit::set(
            YAML.as_bytes(),
            Format::Yaml,
            &path("[\"list\"][1]"),
            "{\"name\": \"two\", \"n\": 2}"
        )
        .unwrap(),
        None
    );
    assert_eq!(
        pathedit::set(JSON.as_bytes(), Format::Json, &path("[\"last\"]"), "true").unwrap(),
        None
    );
    assert_eq!(
        pathedit::set(DOTENV.as_bytes(), Format::Dotenv, &path("[\"A\"]"), "\"1\"").unwrap(),
        None
    );
    // but a different type is a change
    assert!(
        pathedit::set(
            YAML.as_bytes(),
            Format::Yaml,
            &path("[\"db\"][\"port\"]"),
            "\"5432\""
        )
        .unwrap()
        .is_some()
    );
}

/// A multi-document stream: the first document is edited, as sops does.
#[test]
fn first_document_of_a_stream() {
    let src = "a: 1\n---\na: 2\n";
    assert_eq!(set(src, Format::Yaml, "[\"a\"]", "3"), "a: 3\n---\na: 2\n");
    assert_eq!(
        set(src, Format::Yaml, "[\"b\"]", "3"),
        "a: 1\nb: 3\n---\na: 2\n"
    );
}

#[test]
fn crlf_documents_get_crlf_lines() {
    let src = "a: 1\r\nb:\r\n  c: 2\r\n";
    assert_eq!(
        set(src, Format::Yaml, "[\"b\"][\"d\"]", "{\"e\": 1}"),
        "a: 1\r\nb:\r\n  c: 2\r\n  d:\r\n    e: 1\r\n"
    );
    assert_eq!(
        unset(src, Format::Yaml, "[\"b\"][\"c\"]"),
        "a: 1\r\nb:\r\n  {}\r\n"
    );
}

// ---- 4. differential against the real sops ----

enum Op {
    Set(&'static str, &'static str),
    Unset(&'static str),
}

fn sops_edit(dir: &std::path::Path, name: &str, enc: &[u8], op: &Op) -> Result<T, String> {
    let file = dir.join(name);
    std::fs::write(&file, enc).unwrap();
    let f = file.to_str().unwrap();
    match op {
        Op::Set(p, v) => run_sops_ok(&["set", f, p, v], dir)?,
        Op::Unset(p) => run_sops_ok(&["unset", f, p], dir)?,
    };
    // sops' JSON output of a dotenv or INI file shows the types it holds in memory (a float
    // for `3`), which its own file cannot show: compare the file's text instead, as read by
    // our parser; YAML and JSON are compared through sops' JSON output
    let f_fmt = Format::from_path(&file);
    if matches!(f_fmt, Format::Dotenv | Format::Ini) {
        let out = run_sops_ok(&["decrypt", f], dir)?;
        return try_tree(&out.stdout, f_fmt).ok_or_else(|| "sops' output does not convert".into());
    }
    let out = run_sops_ok(&["decrypt", "--output-type", "json", f], dir)?;
    Ok(tree_of_json(&String::from_utf8(out.stdout).unwrap()))
}

fn our_edit(plain: &str, f: Format, op: &Op) -> Result<T, String> {
    let out = match op {
        Op::Set(p, v) => pathedit::set(plain.as_bytes(), f, &path(p), v),
        Op::Unset(p) => pathedit::unset(plain.as_bytes(), f, &path(p)),
    }
    .map_err(|e| e.to_string())?
    .unwrap_or_else(|| plain.as_bytes().to_vec());
    Ok(tree(&out, f))
}

#[test]
fn same_data_as_sops() {
    let yaml = "# c\na: 1\nm:\n  x: hi\n  n: 2\n  f: {p: 1, q: [1, 2]}\nl:\n  - one\n  - k: v\n    j: w\ns: 'str'\n";
    let json = "{\n  \"a\": 1,\n  \"m\": {\"x\": \"hi\", \"l\": [1, 2]},\n  \"b\": true\n}\n";
    let dotenv = "A=1\n# c\nB=two\nC=x y\n";
    let ini = "; c\n[s1]\na = 1\nb = x y\n\n[s2]\nc = 3\n";
    let yaml_ops = vec![
        Op::Set("[\"a\"]", "\"new\""),
        Op::Set("[\"a\"]", "5"),
        Op::Set("[\"a\"]", "1.5"),
        Op::Set("[\"a\"]", "null"),
        Op::Set("[\"a\"]", "\"multi\\nline\""),
        Op::Set(
            "[\"m\"][\"x\"]",
            "{\"deep\": [1, \"2\", {\"z\": false}], \"e\": {}}",
        ),
        Op::Set("[\"m\"][\"new\"][\"b\"][\"c\"]", "\"v\""),
        Op::Set("[\"m\"][\"f\"][\"r\"]", "{\"s\": [true]}"),
        Op::Set("[\"m\"][\"f\"][\"q\"][5]", "3"),
        Op::Set("[\"l\"][1][\"k\"]", "\"yes\""),
        Op::Set("[\"l\"][7]", "{\"a\": 1, \"b\": {\"c\": 2}}"),
        Op::Set("[\"l\"][0]", "{\"r\": 1}"),
        Op::Set("[\"m\"]", "\"flat\""),
        Op::Set("[\"z\"][0][\"y\"]", "\"0x1F\""),
        Op::Set("[\"s\"]", "\"it's\""),
        Op::Unset("[\"a\"]"),
        Op::Unset("[\"m\"][\"x\"]"),
        Op::Unset("[\"m\"]"),
        Op::Unset("[\"l\"][0]"),
        Op::Unset("[\"l\"][1][\"k\"]"),
        Op::Unset("[\"m\"][\"f\"][\"q\"][1]"),
    ];
    let json_ops = vec![
        Op::Set("[\"a\"]", "\"s\""),
        Op::Set("[\"m\"][\"x\"]", "{\"y\": [1, {\"z\": null}]}"),
        Op::Set("[\"m\"][\"l\"][9]", "3"),
        Op::Set("[\"n\"][\"o\"]", "12"),
        Op::Set("[\"b\"]", "false"),
        Op::Unset("[\"a\"]"),
        Op::Unset("[\"b\"]"),
        Op::Unset("[\"m\"][\"l\"][0]"),
        Op::Unset("[\"m\"]"),
    ];
    let dotenv_ops = vec![
        Op::Set("[\"A\"]", "\"x\""),
        Op::Set("[\"D\"]", "\"new value\""),
        Op::Set("[\"B\"]", "3"),
        Op::Set("[\"E\"]", "true"),
        Op::Set("[\"C\"]", "\"multi\\nline\""),
        Op::Unset("[\"A\"]"),
        Op::Unset("[\"C\"]"),
    ];
    let ini_ops = vec![
        Op::Set("[\"s1\"][\"a\"]", "\"v\""),
        Op::Set("[\"s1\"][\"z\"]", "true"),
        Op::Set("[\"s3\"][\"k\"]", "5"),
        Op::Set("[\"s2\"][\"c\"]", "2.5"),
        Op::Set("[\"DEFAULT\"][\"k\"]", "\"v\""),
        Op::Set("[\"s1\"]", "{\"q\": \"r\", \"t\": \"u\"}"),
        Op::Set("[\"s4\"]", "{\"q\": \"r\"}"),
        Op::Unset("[\"s1\"][\"a\"]"),
        Op::Unset("[\"s1\"]"),
        Op::Unset("[\"s2\"]"),
    ];
    let dir = isolated_scratch("pathedit-differential");
    let mut cases = Vec::new();
    for (name, plain, f, ops) in [
        ("d.yaml", yaml, Format::Yaml, yaml_ops),
        ("d.json", json, Format::Json, json_ops),
        ("d.env", dotenv, Format::Dotenv, dotenv_ops),
        ("d.ini", ini, Format::Ini, ini_ops),
    ] {
        let src = dir.join(format!("plain-{name}"));
        std::fs::write(&src, plain).unwrap();
        let enc = run_sops_ok(&["encrypt", "--age", KEY1_PUB, src.to_str().unwrap()], &dir)
            .unwrap()
            .stdout;
        for (i, op) in ops.into_iter().enumerate() {
            cases.push((format!("{i}-{name}"), plain, f, enc.clone(), op));
        }
    }
    let failures: Vec<String> = parallel_map(&cases, |(name, plain, f, enc, op)| {
        let what = match op {
            Op::Set(p, v) => format!("{name}: set {p} {v}"),
            Op::Unset(p) => format!("{name}: unset {p}"),
        };
        let theirs = sops_edit(&dir, name, enc, op);
        let ours = our_edit(plain, *f, op);
        match (theirs, ours) {
            (Ok(a), Ok(b)) if a == b => None,
            (a, b) => Some(format!("{what}\n  sops: {a:?}\n  ours: {b:?}")),
        }
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "{} differences:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{} edits compared with sops", cases.len());
}

// ---- 5. property: one span changes, and the data is as expected ----

/// Apply a set to the JSON tree of the data (the expected result).
fn expect_set(t: &mut T, path: &[PathSeg], v: T) {
    match (t, path) {
        (slot, []) => *slot = v,
        (T::Obj(es), [PathSeg::Key(k), rest @ ..]) => match es.iter_mut().find(|(key, _)| key == k)
        {
            Some((_, child)) => expect_set(child, rest, v),
            None => {
                let mut fresh = T::Null;
                expect_set(&mut fresh, rest, v);
                es.push((k.clone(), fresh));
            }
        },
        (T::Arr(items), [PathSeg::Index(i), rest @ ..]) => {
            if *i < items.len() {
                expect_set(&mut items[*i], rest, v);
            } else {
                let mut fresh = T::Null;
                expect_set(&mut fresh, rest, v);
                items.push(fresh);
            }
        }
        (slot, rest) => {
            // a scalar along the path becomes the structure the rest describes
            let mut fresh = match rest[0] {
                PathSeg::Key(_) => T::Obj(Vec::new()),
                PathSeg::Index(_) => T::Arr(Vec::new()),
            };
            expect_set(&mut fresh, rest, v);
            *slot = fresh;
        }
    }
}

/// Paths to try on a document: its leaves' paths, their parents with a new key, and an index
/// past the end of each list.
fn candidate_paths(src: &str) -> Vec<Vec<PathSeg>> {
    let p = sops_rs::format::yaml::parse(src).unwrap();
    let mut out = Vec::new();
    for l in &p.leaves {
        if matches!(l.value, Some(sops_rs::value::Value::Comment(_))) || l.ctx.alias {
            continue;
        }
        let ip = l.index_path.clone();
        if ip.is_empty() {
            continue;
        }
        out.push(ip.clone());
        let parent = &ip[..ip.len() - 1];
        match ip.last().unwrap() {
            PathSeg::Key(_) => {
                let mut q = parent.to_vec();
                q.push(PathSeg::Key("added".into()));
                out.push(q);
            }
            PathSeg::Index(_) => {
                let mut q = parent.to_vec();
                q.push(PathSeg::Index(99));
                out.push(q);
            }
        }
    }
    out
}

const VALUES: [&str; 8] = [
    "\"plain\"",
    "\"needs: quoting, [x]\"",
    "\"two\\nlines\"",
    "42",
    "true",
    "null",
    "{\"k\": [1, {\"n\": \"v\"}], \"e\": []}",
    "\"123\"",
];

proptest! {
    #![proptest_config(random_yaml::config(96))]

    #[test]
    fn random_yaml_edits(doc in random_yaml::doc(), pick in any::<prop::sample::Index>(), vi in 0..VALUES.len()) {
        let src = random_yaml::render(&doc);
        prop_assume!(sops_rs::format::yaml::parse(&src).is_ok());
        let paths = candidate_paths(&src);
        prop_assume!(!paths.is_empty());
        let p = pick.get(&paths).clone();
        let v = VALUES[vi];
        let out = match pathedit::set(src.as_bytes(), Format::Yaml, &p, v) {
            Ok(Some(out)) => String::from_utf8(out).unwrap(),
            Ok(None) => return Ok(()),
            // an edit we refuse (a flow item that shares its line…) must say so, never panic
            Err(Error::Unsupported(_)) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{src}"))),
        };
        // only the old value's line(s) changed, or nothing (an insertion)
        let changed = changed_span(&src, &out);
        let leaf = sops_rs::format::yaml::parse(&src).unwrap().leaves.into_iter().find(|l| {
            l.index_path == p && !matches!(l.value, Some(sops_rs::value::Value::Comment(_)))
        });
        match leaf {
            Some(l) => {
                let from = src[..l.span.start].rfind('\n').map_or(0, |i| i + 1);
                let to = src[l.span.end..].find('\n').map_or(src.len(), |i| l.span.end + i + 1);
                prop_assert!(changed.start >= from && changed.end <= to,
                    "{:?} changed, outside the value's lines {:?}\n--- before\n{}\n--- after\n{}", changed, from..to, src, out);
            }
            None => prop_assert!(changed.is_empty(), "an insertion changed {:?}\n--- before\n{}\n--- after\n{}", changed, src, out),
        }
        // the data is the old data with the value set
        let want = try_tree(src.as_bytes(), Format::Yaml);
        prop_assume!(want.is_some());
        let mut want = want.unwrap();
        let new = tree_of_json(v);
        let new = match (&new, v) {
            (T::Num(n), _) => T::Num(*n),
            _ => new,
        };
        expect_set(&mut want, &p, new);
        let got = tree(out.as_bytes(), Format::Yaml);
        prop_assert_eq!(&got, &want, "path {:?} value {}\n--- before\n{}\n--- after\n{}", p, v, src, out);
    }

    #[test]
    fn random_yaml_unsets(doc in random_yaml::doc(), pick in any::<prop::sample::Index>()) {
        let src = random_yaml::render(&doc);
        prop_assume!(sops_rs::format::yaml::parse(&src).is_ok());
        let paths: Vec<_> = candidate_paths(&src).into_iter().filter(|p| {
            !matches!(p.last(), Some(PathSeg::Index(99))) && p.last() != Some(&PathSeg::Key("added".into()))
        }).collect();
        prop_assume!(!paths.is_empty());
        let p = pick.get(&paths).clone();
        let out = match pathedit::unset(src.as_bytes(), Format::Yaml, &p) {
            Ok(Some(out)) => String::from_utf8(out).unwrap(),
            Ok(None) => return Err(TestCaseError::fail("a present path was not removed")),
            Err(Error::Unsupported(_)) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{src}"))),
        };
        // the removed bytes are one span (an emptied collection is left as `{}` or `[]`)
        let pre = src.bytes().zip(out.bytes()).take_while(|(a, b)| a == b).count();
        let rest = &out[pre..];
        let kept = src.ends_with(rest)
            || ((rest.starts_with("{}") || rest.starts_with("[]")) && src.ends_with(&rest[2..]));
        prop_assert!(kept, "more than one span changed\n--- before\n{}\n--- after\n{}", src, out);
        let want = try_tree(src.as_bytes(), Format::Yaml);
        prop_assume!(want.is_some());
        let mut want = want.unwrap();
        expect_unset(&mut want, &p);
        let got = tree(out.as_bytes(), Format::Yaml);
        prop_assert_eq!(&got, &want, "path {:?}\n--- before\n{}\n--- after\n{}", p, src, out);
    }
}

fn expect_unset(t: &mut T, path: &[PathSeg]) {
    match (t, path) {
        (T::Obj(es), [PathSeg::Key(k)]) => es.retain(|(key, _)| key != k),
        (T::Arr(items), [PathSeg::Index(i)]) => {
            items.remove(*i);
        }
        (T::Obj(es), [PathSeg::Key(k), rest @ ..]) => {
            if let Some((_, c)) = es.iter_mut().find(|(key, _)| key == k) {
                expect_unset(c, rest);
            }
        }
        (T::Arr(items), [PathSeg::Index(i), rest @ ..]) => expect_unset(&mut items[*i], rest),
        _ => panic!("unexpected shape"),
    }
}

// ---- 6. TOML (no sops oracle: the data through our JSON conversion, bytes around the edit) ----

fn empty(v: &T) -> bool {
    matches!(v, T::Obj(x) if x.is_empty()) || matches!(v, T::Arr(x) if x.is_empty())
}

/// Object keys sorted: TOML tables are unordered, and new tables follow their parent's keys.
/// Empty tables and arrays left out: a table emptied by `unset` is gone (`a.b = 1` without
/// its key).
fn sorted(t: T) -> T {
    match t {
        T::Obj(mut es) => {
            es.sort_by(|a, b| a.0.cmp(&b.0));
            T::Obj(
                es.into_iter()
                    .map(|(k, v)| (k, sorted(v)))
                    .filter(|(_, v)| !empty(v))
                    .collect(),
            )
        }
        T::Arr(xs) => T::Arr(xs.into_iter().map(sorted).filter(|v| !empty(v)).collect()),
        t => t,
    }
}

fn toml_tree(s: &str) -> T {
    sorted(tree(s.as_bytes(), Format::Toml))
}

/// `small` is `big` with some bytes left out (an edit that only removes, or only inserts).
fn subsequence(small: &str, big: &str) -> bool {
    let mut it = big.bytes();
    small.bytes().all(|b| it.any(|c| c == b))
}

const TOML_DOC: &str = "\
# app
name = \"svc\"
db.host = \"h\" # dotted

[server]
port = 8080
tags = [\"a\", \"b\"]
limits = { cpu = 2, mem = \"1G\" }
notes = \"\"\"
two
lines\"\"\"

[server.tls]
on = true

[[users]]
id = 1
[users.prefs]
theme = \"dark\"

[[users]]
id = 2
";

#[test]
fn toml_set_and_unset_give_the_expected_data() {
    let set_cases: &[(&str, &str)] = &[
        ("[\"name\"]", "\"new\""),
        (
            "[\"added\"]",
            "{\"a\": [1, {\"b\": 2}], \"c\": {\"d\": \"e\"}}",
        ),
        ("[\"db\"][\"port\"]", "5432"),
        ("[\"server\"][\"timeout\"]", "30"),
        ("[\"server\"][\"limits\"][\"io\"]", "{\"r\": 1}"),
        ("[\"server\"][\"tags\"][9]", "\"c\""),
        ("[\"server\"][\"tls\"]", "{\"on\": false, \"cert\": \"x\"}"),
        ("[\"server\"][\"port\"]", "{\"http\": 80}"),
        ("[\"server\"]", "\"flat\""),
        ("[\"users\"][0][\"prefs\"][\"lang\"]", "\"en\""),
        ("[\"users\"][1][\"prefs\"]", "{\"theme\": \"light\"}"),
        (
            "[\"users\"][5]",
            "{\"id\": 3, \"roles\": [{\"r\": \"admin\"}]}",
        ),
        ("[\"users\"][1]", "{\"id\": 22}"),
        ("[\"name\"][\"deep\"][0]", "true"),
        ("[\"list\"][0][\"x\"]", "1"),
    ];
    for (p, v) in set_cases {
        let out = set(TOML_DOC, Format::Toml, p, v);
        let mut want = tree(TOML_DOC.as_bytes(), Format::Toml);
        expect_set(&mut want, &path(p), tree_of_json(v));
        assert_eq!(toml_tree(&out), sorted(want), "set {p} {v}\n{out}");
        // a new path only inserts bytes
        if !toml_path_exists(TOML_DOC, &path(p)) {
            assert!(
                subsequence(TOML_DOC, &out),
                "set {p} {v} changed bytes\n{out}"
            );
        }
    }
    // a scalar replaced by a scalar: only its bytes change
    let out = set(TOML_DOC, Format::Toml, "[\"server\"][\"notes\"]", "\"one\"");
    let at = TOML_DOC.find("\"\"\"").unwrap();
    let end = TOML_DOC.find("lines\"\"\"").unwrap() + 8;
    only_span_changed(TOML_DOC, &out, at..end).unwrap();

    let unset_cases = [
        "[\"name\"]",
        "[\"db\"]",
        "[\"db\"][\"host\"]",
        "[\"server\"]",
        "[\"server\"][\"notes\"]",
        "[\"server\"][\"tags\"][0]",
        "[\"server\"][\"limits\"][\"mem\"]",
        "[\"server\"][\"tls\"]",
        "[\"users\"]",
        "[\"users\"][0]",
        "[\"users\"][0][\"prefs\"]",
        "[\"users\"][1][\"id\"]",
    ];
    for p in unset_cases {
        let out = unset(TOML_DOC, Format::Toml, p);
        let mut want = tree(TOML_DOC.as_bytes(), Format::Toml);
        expect_unset(&mut want, &path(p));
        assert_eq!(toml_tree(&out), sorted(want), "unset {p}\n{out}");
        assert!(
            subsequence(&out, TOML_DOC),
            "unset {p} did more than remove\n{out}"
        );
    }
    assert_eq!(
        unset(TOML_DOC, Format::Toml, "[\"server\"][\"tls\"]"),
        TOML_DOC.replace("[server.tls]\non = true\n\n", "")
    );
    for (p, v) in [("[\"x\"]", "null"), ("[\"server\"]", "{\"a\": [null]}")] {
        assert!(matches!(
            pathedit::set(TOML_DOC.as_bytes(), Format::Toml, &path(p), v),
            Err(Error::Unsupported(_))
        ));
    }
}

/// Whether `p` or a part of it holds data already (a set there may replace, not only insert).
fn toml_path_exists(src: &str, p: &[PathSeg]) -> bool {
    sops_rs::format::toml::parse(src)
        .unwrap()
        .leaves
        .iter()
        .filter(|l| !matches!(l.value, Some(sops_rs::value::Value::Comment(_))))
        .any(|l| l.index_path.starts_with(p) || p.starts_with(&l.index_path))
}

/// An `[[arr]]` header with no key under it.
fn empty_aot_element(s: &str) -> bool {
    let lines: Vec<&str> = s
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    lines
        .iter()
        .enumerate()
        .any(|(i, l)| l.starts_with("[[") && lines.get(i + 1).is_none_or(|n| n.starts_with('[')))
}

/// A random TOML document: keys, dotted keys, tables, arrays of tables with sub-tables,
/// inline tables and arrays (one- and multi-line), comments.
fn random_toml() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec((0usize..8, 0usize..10, 0usize..3), 0..18),
        proptest::bool::ANY,
    )
        .prop_map(|(lines, final_nl)| {
            let values = [
                "1",
                "\"s\"",
                "'lit'",
                "true",
                "1.5",
                "[1, 2]",
                "[3]",
                "{ a = 1, b = [\"x\"] }",
                "\"\"\"\nml\"\"\"",
                "{ c = [{ d = 1 }] }",
            ];
            let mut src = String::new();
            for (i, (kind, v, c)) in lines.iter().enumerate() {
                let comment = ["", " # c", ""][*c];
                let line = match kind {
                    0..=2 => format!("k{i} = {}{comment}", values[*v]),
                    3 => format!("d{}.\"q k\".x{i} = {}{comment}", v % 2, values[*v]),
                    4 => format!("[t{i}]{comment}"),
                    // sometimes empty: the element must keep its index (a regression)
                    5 if v % 3 == 0 => format!("[[arr]]{comment}"),
                    5 => format!("[[arr]]{comment}\nh{i} = {}", values[*v % 5]),
                    6 => format!("[arr.s{i}]{comment}"),
                    _ => format!("#{comment}"),
                };
                src.push_str(&line);
                src.push('\n');
                if *kind == 7 && *v == 0 {
                    src.push_str(&format!("m{i} = [\n  1, # one\n  2,\n]\n"));
                }
            }
            if !final_nl {
                src.pop();
            }
            src
        })
}

/// Paths into a TOML document: its values and every table above them, a new key beside
/// each, and an index past the end of each array.
fn toml_paths(src: &str) -> Vec<Vec<PathSeg>> {
    let p = sops_rs::format::toml::parse(src).unwrap();
    let mut out: Vec<Vec<PathSeg>> = Vec::new();
    for l in &p.leaves {
        if matches!(l.value, Some(sops_rs::value::Value::Comment(_))) {
            continue;
        }
        for n in 1..=l.index_path.len() {
            let ip = l.index_path[..n].to_vec();
            if !out.contains(&ip) {
                out.push(ip);
            }
        }
    }
    let mut more = Vec::new();
    for ip in &out {
        let mut q = ip[..ip.len() - 1].to_vec();
        q.push(match ip.last().unwrap() {
            PathSeg::Key(_) => PathSeg::Key("added".into()),
            PathSeg::Index(_) => PathSeg::Index(99),
        });
        if !out.contains(&q) && !more.contains(&q) {
            more.push(q);
        }
    }
    out.extend(more);
    out
}

// no `{}`: an empty table in an array is lost or refused by the JSON conversion
const TOML_VALUES: [&str; 6] = [
    "\"plain\"",
    "\"two\\nlines\"",
    "42",
    "false",
    "{\"k\": [1, {\"n\": \"v\"}], \"e\": [], \"t\": {\"u\": 1}}",
    "{\"l\": [{\"a\": 1}, {\"b\": {\"c\": 2}}]}",
];

proptest! {
    #![proptest_config(random_yaml::config(96))]

    #[test]
    fn random_toml_edits(src in random_toml(), pick in any::<prop::sample::Index>(), vi in 0..TOML_VALUES.len()) {
        prop_assume!(sops_rs::format::toml::parse(&src).is_ok());
        let paths = toml_paths(&src);
        prop_assume!(!paths.is_empty());
        let p = pick.get(&paths).clone();
        let v = TOML_VALUES[vi];
        let existed = toml_path_exists(&src, &p);
        let out = match pathedit::set(src.as_bytes(), Format::Toml, &p, v) {
            Ok(Some(out)) => String::from_utf8(out).unwrap(),
            Ok(None) => return Ok(()),
            // inside an inline table with dotted keys
            Err(Error::Unsupported(_)) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{src}"))),
        };
        if !existed {
            prop_assert!(subsequence(&src, &out), "an insertion changed bytes\n--- before\n{}\n--- after\n{}", src, out);
        }
        let mut want = tree(src.as_bytes(), Format::Toml);
        expect_set(&mut want, &p, tree_of_json(v));
        let conv = convert(out.as_bytes(), Format::Toml, Format::Json);
        prop_assert!(conv.is_ok(), "{:?}: path {:?} value {}\n--- before\n{}\n--- after\n{}", conv.err(), p, v, src, out);
        prop_assert_eq!(toml_tree(&out), sorted(want), "path {:?} value {}\n--- before\n{}\n--- after\n{}", p, v, src, out);
    }

    #[test]
    fn random_toml_unsets(src in random_toml(), pick in any::<prop::sample::Index>()) {
        prop_assume!(sops_rs::format::toml::parse(&src).is_ok());
        let paths: Vec<_> = toml_paths(&src).into_iter().filter(|p| {
            !matches!(p.last(), Some(PathSeg::Index(99))) && p.last() != Some(&PathSeg::Key("added".into()))
        }).collect();
        prop_assume!(!paths.is_empty());
        let p = pick.get(&paths).clone();
        let out = match pathedit::unset(src.as_bytes(), Format::Toml, &p) {
            Ok(Some(out)) => String::from_utf8(out).unwrap(),
            Ok(None) => return Err(TestCaseError::fail("a present path was not removed")),
            Err(Error::Unsupported(_)) => return Ok(()),
            Err(e) => return Err(TestCaseError::fail(format!("{e}\n{src}"))),
        };
        // an emptied `[[arr]]` element: the JSON conversion would lose it
        prop_assume!(!empty_aot_element(&out));
        prop_assert!(subsequence(&out, &src), "more than removed\n--- before\n{}\n--- after\n{}", src, out);
        let mut want = tree(src.as_bytes(), Format::Toml);
        expect_unset(&mut want, &p);
        prop_assert_eq!(toml_tree(&out), sorted(want), "path {:?}\n--- before\n{}\n--- after\n{}", p, src, out);
    }
}
