//! `--output-type`: converting between formats gives the same data as real sops' conversion
//! (comments and layout do not carry over, in sops either).

mod common;

use common::*;

#[test]
fn conversions_match_sops() {
    let dir = interop_dir();
    let k = key1_file();
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    let mut failures = Vec::new();
    // decrypt with conversion: compare with what sops prints for the same command
    for (vector, to) in [
        ("vectors/yaml-basic.yaml", "json"),
        // (not json-basic → yaml: sops 3.11 typed its integers as floats, we read them as
        // integers like sops 3.13.2, so `9007199254740992` prints as an integer here)
        ("vectors/dotenv-basic.env", "json"),
        ("vectors/dotenv-basic.env", "yaml"),
        ("vectors/k8s-basic.yaml", "json"),
        ("vectors/json-unencrypted-regex.json", "yaml"),
    ] {
        let args = ["decrypt", "--output-type", to, vector];
        let ours = run(&bin(), &args, &dir, &env, None);
        let theirs = run_sops(&args, &dir, &env);
        if !ours.status.success() || ours.stdout != theirs.stdout {
            failures.push(format!(
                "decrypt {vector} → {to}: differs from sops\n--- ours ({})\n{}\n--- sops\n{}",
                String::from_utf8_lossy(&ours.stderr).trim_end(),
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&theirs.stdout)
            ));
        }
    }
    // encrypt with conversion: sops reads our JSON as it reads its own yaml-to-json vector
    let d = isolated_scratch("convert");
    std::fs::copy(dir.join("plaintext/app.yaml"), d.join("app.yaml")).unwrap();
    let enc = run(
        &bin(),
        &[
            "encrypt",
            "--output-type",
            "json",
            "--age",
            KEY1_PUB,
            "app.yaml",
        ],
        &d,
        &[],
        None,
    );
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    std::fs::write(d.join("app.json"), &enc.stdout).unwrap();
    let back = run_sops(&["decrypt", "app.json"], &d, &env);
    let want = std::fs::read(dir.join("expected/yaml-to-json.out")).unwrap();
    if back.stdout != want {
        failures.push(format!(
            "encrypt app.yaml → json: sops reads other data\n--- sops on ours\n{}\n--- expected\n{}",
            String::from_utf8_lossy(&back.stdout),
            String::from_utf8_lossy(&want)
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// YAML documents sops can convert to INI (two levels: sections of keys), with the corners
/// of go-ini's writer: a first `DEFAULT` section (no header), an empty `DEFAULT`, a later one
/// (with a header), section and key comments, aligned `=`, keys and values go-ini quotes.
const INI_SHAPED: &[(&str, &str)] = &[
    (
        "plain.yaml",
        "sec1:\n    a: hello\n    bb: 5\n    c: 1.5\n    d: true\n    e: 1e30\nsec2:\n    x: y\n",
    ),
    (
        "quoting.yaml",
        "s:\n    sp: \" spaced \"\n    semi: 'x;y#z'\n    nl: \"multi\\nline\"\n    q: 'say \"hi\"'\n    empty: \"\"\n    bt: \"a`b\"\n    \"a:b\": x\n    \"q\\\"k\": y\n    \"b`k\": 2\n    t: \"tab\\there\"\n",
    ),
    (
        "comments.yaml",
        "# dropped\nDEFAULT:\n    # dc\n    z: w\ns:\n    # sc\n    #    second\n    long_key: 1\n    \"a:b\": x   # after\n    # own line after\n    k: y\nf:\n    x: 1\n    # trailing\n",
    ),
    (
        "defaults.yaml",
        "DEFAULT: {}\ns:\n    a: 1\n    b: 2020-01-01T00:00:00.5Z\n    d: false\ne: {}\nDEFAULT2:\n    k: v\n",
    ),
    ("default-last.yaml", "s:\n    a: x\nDEFAULT:\n    b: y\n"),
    ("empty.yaml", "{}\n"),
];

/// `--output-type ini` prints what sops prints for the same conversion (decrypting a file
/// sops encrypted), and an INI file we encrypt from YAML decrypts in sops as sops' own
/// conversion's text does once sops has encrypted it (sops re-reads comments with their
/// marker and spaces stripped, so it does not print the conversion's text itself).
#[test]
fn ini_conversions_match_sops() {
    let d = isolated_scratch("convert-ini");
    let mut failures = Vec::new();
    for (name, text) in INI_SHAPED {
        std::fs::write(d.join(name), text).unwrap();
        let enc = format!("enc.{name}");
        let e = run_sops_ok(&["encrypt", "--age", KEY1_PUB, name], &d).unwrap();
        std::fs::write(d.join(&enc), &e.stdout).unwrap();
        let args = ["decrypt", "--output-type", "ini", enc.as_str()];
        let theirs = run_sops_ok(&args, &d).unwrap().stdout;
        match run_ok(&bin(), &args, &d) {
            Ok(o) if o.stdout == theirs => {}
            Ok(o) => failures.push(format!(
                "decrypt {name} → ini: {}",
                first_difference(&o.stdout, &theirs)
            )),
            Err(e) => failures.push(e),
        }
        // encrypt with conversion: sops reads our INI file as its own conversion's data
        let ini = format!("{name}.ini");
        let sops_ini = format!("sops.{name}.ini");
        std::fs::write(d.join(&sops_ini), &theirs).unwrap();
        let theirs = match run_sops_ok(&["encrypt", "--age", KEY1_PUB, &sops_ini], &d) {
            Ok(o) => {
                std::fs::write(d.join(&sops_ini), &o.stdout).unwrap();
                run_sops_ok(&["decrypt", &sops_ini], &d).unwrap().stdout
            }
            Err(_) => Vec::new(),
        };
        match run_ok(
            &bin(),
            &["encrypt", "--output-type", "ini", "--age", KEY1_PUB, name],
            &d,
        ) {
            Ok(o) => {
                std::fs::write(d.join(&ini), &o.stdout).unwrap();
                match run_sops_ok(&["decrypt", &ini], &d) {
                    Ok(back) if back.stdout == theirs => {}
                    Ok(back) => failures.push(format!(
                        "sops decrypt of our {ini}: {}",
                        first_difference(&back.stdout, &theirs)
                    )),
                    Err(e) if theirs.is_empty() => {
                        // an INI file with no data: sops' store cannot write one either
                        let _ = e;
                    }
                    Err(e) => failures.push(e),
                }
            }
            Err(e) if theirs.is_empty() => {
                assert!(e.contains("empty") || e.contains("no data"), "{e}");
            }
            Err(e) => failures.push(e),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Shapes INI cannot hold are refused with a message naming the key, never the value, where
/// sops writes Go's `%v` of the data (`[1 2]`, `<nil>`) or fails with a generic error.
#[test]
fn ini_refuses_what_it_cannot_hold() {
    let d = isolated_scratch("convert-ini-refuse");
    for (name, text, key) in [
        ("top.yaml", "a: canary-top\ns:\n    x: y\n", "\"a\""),
        (
            "nested.yaml",
            "s:\n    y:\n        z: canary-nested\n",
            "\"y\"",
        ),
        ("list.yaml", "s:\n    l: [canary-list, 2]\n", "\"l\""),
        (
            "null.yaml",
            "s:\n    n: null\n    v: canary-null\n",
            "\"n\"",
        ),
    ] {
        std::fs::write(d.join(name), text).unwrap();
        let out = run(
            &bin(),
            &["encrypt", "--output-type", "ini", "--age", KEY1_PUB, name],
            &d,
            &[],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: converted");
        assert!(out.stdout.is_empty(), "{name}: printed output");
        assert!(err.contains(key) && err.contains("INI"), "{name}: {err}");
        assert!(
            !err.contains("canary"),
            "{name}: the error shows a value: {err}"
        );
    }
}

/// `encrypt --output-type toml FILE` into `FILE.enc.toml`, then its decryption.
fn encrypt_to_toml_and_back(d: &std::path::Path, file: &str) -> Vec<u8> {
    let enc = run_ok(
        &bin(),
        &["encrypt", "--output-type", "toml", "--age", KEY1_PUB, file],
        d,
    )
    .unwrap();
    let stem = file.rsplit_once('.').unwrap().0;
    let out = format!("{stem}.enc.toml");
    std::fs::write(d.join(&out), &enc.stdout).unwrap();
    run_ok(&bin(), &["decrypt", &out], d).unwrap().stdout
}

/// YAML → TOML writes tables, arrays of tables and inline arrays (keys before sub-tables, as
/// TOML requires), and the TOML reads back (TOML → YAML) to the data sops prints for the
/// YAML file.
#[test]
fn toml_conversions() {
    let d = isolated_scratch("convert-toml");
    let yaml = "# top\ntitle: x\nowner:\n    name: Tom # inline\n    dob: 1979-05-27T07:32:00Z\n    n: 1.5\nservers:\n    - name: a\n      ip: 10.0.0.1\n      sub:\n        deep: true\n    - name: b\nports: [8000, 8001]\nmixed: [1, \"two\", {a: 1}, [3]]\n\"key with space\": \"multi\\nline \\\"q\\\"\"\nafter: 5\n";
    std::fs::write(d.join("t.yaml"), yaml).unwrap();
    let plain = encrypt_to_toml_and_back(&d, "t.yaml");
    let want = "# top\ntitle = \"x\"\nports = [8000, 8001]\nmixed = [1, \"two\", { a = 1 }, [3]]\n\"key with space\" = \"multi\\nline \\\"q\\\"\"\nafter = 5\n\n[owner]\n# inline\nname = \"Tom\"\ndob = 1979-05-27T07:32:00Z\nn = 1.5\n\n[[servers]]\nname = \"a\"\nip = \"10.0.0.1\"\n\n[servers.sub]\ndeep = true\n\n[[servers]]\nname = \"b\"\n";
    assert_eq!(String::from_utf8_lossy(&plain), want);

    // back to YAML and JSON: the same data as sops prints for the YAML (key order aside:
    // TOML moved `ports`… above the tables)
    std::fs::write(d.join("t.toml"), &plain).unwrap();
    std::fs::write(d.join("t.conf"), &plain).unwrap();
    let sops_enc = run_sops_ok(&["encrypt", "--age", KEY1_PUB, "t.yaml"], &d).unwrap();
    std::fs::write(d.join("s.enc.yaml"), &sops_enc.stdout).unwrap();
    let sops_json = run_sops_ok(&["decrypt", "--output-type", "json", "s.enc.yaml"], &d)
        .unwrap()
        .stdout;
    let ours_json = run_ok(
        &bin(),
        &[
            "encrypt",
            "--input-type",
            "toml",
            "--output-type",
            "json",
            "--age",
            KEY1_PUB,
            "t.conf",
        ],
        &d,
    )
    .unwrap()
    .stdout;
    std::fs::write(d.join("t.enc.json"), &ours_json).unwrap();
    let back = run_sops_ok(&["decrypt", "t.enc.json"], &d).unwrap().stdout;
    // the data as a sorted list of (path, value): key order aside
    let parse = |b: &[u8]| {
        let p = sops_rs::format::json::parse(std::str::from_utf8(b).unwrap()).unwrap();
        let mut v: Vec<String> = p
            .leaves
            .iter()
            .map(|l| {
                format!(
                    "{:?}={:?}",
                    l.index_path,
                    l.value.as_ref().map(|v| v.to_bytes())
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        parse(&back),
        parse(&sops_json),
        "TOML → JSON changed the data"
    );
    let yaml_back = run_ok(
        &bin(),
        &["decrypt", "--output-type", "yaml", "t.enc.toml"],
        &d,
    )
    .unwrap()
    .stdout;
    assert!(
        String::from_utf8_lossy(&yaml_back)
            .starts_with("# top\ntitle: x\nports:\n    - 8000\n    - 8001\n"),
        "{}",
        String::from_utf8_lossy(&yaml_back)
    );

    // INI → TOML: sections become tables, every value a string
    std::fs::write(d.join("a.ini"), "[s]\na = 1\nb = x y\n").unwrap();
    let p = encrypt_to_toml_and_back(&d, "a.ini");
    assert_eq!(String::from_utf8_lossy(&p), "[s]\na = \"1\"\nb = \"x y\"\n");

    // TOML has no null; a top-level scalar list of maps mixed with scalars stays inline
    std::fs::write(d.join("n.yaml"), "a: canary-n\nb: null\n").unwrap();
    let out = run(
        &bin(),
        &[
            "encrypt",
            "--output-type",
            "toml",
            "--age",
            KEY1_PUB,
            "n.yaml",
        ],
        &d,
        &[],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("[\"b\"]") && err.contains("null"));
    assert!(!err.contains("canary"), "{err}");
}

/// Regression: TOML's empty tables, empty arrays and empty array-of-tables elements were
/// dropped (or shifted other elements) on conversion; the real sops reads what we write.
#[test]
fn toml_empty_collections_convert() {
    let d = isolated_scratch("convert-toml-empty");
    let cases = [
        (
            "[[arr]]\n[[arr]]\nh = 1\nk = 1\n",
            "{\n\t\"arr\": [\n\t\t{},\n\t\t{\n\t\t\t\"h\": 1,\n\t\t\t\"k\": 1\n\t\t}\n\t]\n}",
        ),
        ("a = [{}, 2]\n", "{\n\t\"a\": [\n\t\t{},\n\t\t2\n\t]\n}"),
        (
            "x = 1\n[t]\n[u]\nv = []\n",
            "{\n\t\"x\": 1,\n\t\"t\": {},\n\t\"u\": {\n\t\t\"v\": []\n\t}\n}",
        ),
    ];
    for (i, (toml, want)) in cases.iter().enumerate() {
        let f = format!("c{i}.toml");
        std::fs::write(d.join(&f), toml).unwrap();
        let enc = run_ok(&bin(), &["encrypt", "--age", KEY1_PUB, &f], &d).unwrap();
        let e = format!("c{i}.enc.toml");
        std::fs::write(d.join(&e), &enc.stdout).unwrap();
        // the TOML itself round-trips byte for byte
        let back = run_ok(&bin(), &["decrypt", &e], &d).unwrap().stdout;
        assert_eq!(String::from_utf8_lossy(&back), *toml);
        let json = run_ok(&bin(), &["decrypt", "--output-type", "json", &e], &d)
            .unwrap()
            .stdout;
        assert_eq!(String::from_utf8_lossy(&json).trim_end(), *want, "{toml}");
        // and sops reads the same data from our JSON encryption
        let ej = run_ok(
            &bin(),
            &["encrypt", "--output-type", "json", "--age", KEY1_PUB, &f],
            &d,
        )
        .unwrap();
        let j = format!("c{i}.enc.json");
        std::fs::write(d.join(&j), &ej.stdout).unwrap();
        let sops = run_sops_ok(&["decrypt", &j], &d).unwrap().stdout;
        assert_eq!(String::from_utf8_lossy(&sops).trim_end(), *want, "{toml}");
    }
}
