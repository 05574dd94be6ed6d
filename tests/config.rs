//! Creation rules as sops applies them (sops-compat §2.5), checked against the real sops
//! where sops has the same behaviour, plus sops-rs' own lookup (the file's directory first,
//! `.sops-rs.yaml` over `.sops.yaml`) and warnings.

mod common;

use std::path::Path;
use std::process::Output;

use common::{bin, interop_dir, run, run_sops, scratch};

fn pubkey(n: u8) -> String {
    std::fs::read_to_string(interop_dir().join(format!("keys/key{n}.pub")))
        .unwrap()
        .trim()
        .to_string()
}

fn ours(args: &[&str], cwd: &Path, stdin: Option<&[u8]>) -> Output {
    run(&bin(), args, cwd, &[], stdin)
}

/// The age recipients written into an encrypted YAML/JSON file, per group in order.
fn recipients(out: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(out);
    text.lines()
        .filter_map(|l| {
            let l = l.trim().trim_start_matches("- ");
            l.strip_prefix("recipient: ")
                .or_else(|| l.strip_prefix("\"recipient\": "))
                .map(|r| r.trim_matches(['"', ',']).to_string())
        })
        .collect()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Encrypt `file` (relative to `cwd`) with both tools and return the recipients each chose.
fn both(cwd: &Path, file: &str) -> (Result<Vec<String>, String>, Result<Vec<String>, String>) {
    let o = ours(&["encrypt", file], cwd, None);
    let s = run_sops(&["encrypt", file], cwd, &[]);
    let r = |o: Output| {
        if o.status.success() {
            Ok(recipients(&o.stdout))
        } else {
            Err(err(&o))
        }
    };
    (r(o), r(s))
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn rules_match_like_sops() {
    let d = scratch("config-rules");
    let (k1, k2, k3) = (pubkey(1), pubkey(2), pubkey(3));
    // ordered, first match, unanchored, relative to the configuration's directory; a rule
    // without path_regex matches everything; key_groups win over flat keys; merge and
    // duplicate keys; comma strings and lists
    write(
        &d,
        ".sops.yaml",
        &format!(
            "creation_rules:\n  - path_regex: secret\n    age: {k2}\n  - path_regex: ^sub/.*\\.yaml$\n    age: [{k3}, {k1}]\n  - path_regex: groups\n    age: {k1}\n    key_groups:\n      - age: [{k2}, {k2}]\n        merge:\n          - age: [{k3}]\n      - age: [\"{k1},{k3}\"]\n  - age: {k1}, {k3}\n"
        ),
    );
    std::fs::copy(d.join(".sops.yaml"), d.join(".sops-rs.yaml")).unwrap();
    for f in [
        "my-secret.yaml",
        "sub/a.yaml",
        "sub/secret/b.yaml",
        "sub/c.json",
        "groups.yaml",
        "other.yaml",
    ] {
        write(&d, f, "k: canary-config\n");
        if f.ends_with(".json") {
            write(&d, f, "{\"k\": \"canary-config\"}\n");
        }
        let (o, s) = both(&d, f);
        assert_eq!(o, s, "{f}");
        assert!(o.is_ok(), "{f}: {o:?}");
    }
    let (o, _) = both(&d, "groups.yaml");
    assert_eq!(o.unwrap(), [pubkey(3), pubkey(2), pubkey(1), pubkey(3)]);
    // from a subdirectory, the path is still taken relative to the configuration
    let (o, s) = both(&d.join("sub"), "a.yaml");
    assert_eq!(o, s);
    assert_eq!(o.unwrap(), [pubkey(3), pubkey(1)]);
}

#[test]
fn no_matching_rule_is_an_error_and_an_empty_config_is_none() {
    let d = scratch("config-nomatch");
    write(&d, "x.yaml", "k: canary-config\n");
    write(
        &d,
        ".sops-rs.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^never$\n    age: {}\n",
            pubkey(1)
        ),
    );
    let o = ours(&["encrypt", "x.yaml"], &d, None);
    assert!(!o.status.success());
    assert!(
        err(&o).contains("no matching creation rules"),
        "{}",
        err(&o)
    );
    // keys on the command line need no rule
    let o = ours(&["encrypt", "--age", &pubkey(2), "x.yaml"], &d, None);
    assert!(o.status.success(), "{}", err(&o));
    // a configuration without creation_rules is no configuration
    write(&d, ".sops-rs.yaml", "stores:\n  yaml:\n    indent: 2\n");
    let o = ours(&["encrypt", "x.yaml"], &d, None);
    assert!(!o.status.success());
    assert!(err(&o).contains("no recipients"), "{}", err(&o));
}

#[test]
fn lookup_prefers_the_files_directory_and_sops_rs_yaml() {
    let d = scratch("config-lookup");
    write(
        &d,
        ".sops-rs.yaml",
        &format!("creation_rules:\n  - age: {}\n", pubkey(1)),
    );
    write(
        &d,
        "team/.sops.yaml",
        &format!("creation_rules:\n  - age: {}\n", pubkey(2)),
    );
    write(&d, "team/x.yaml", "k: canary-config\n");
    write(&d, "y.yaml", "k: canary-config\n");
    // sops looks only from the working directory (its issue #242); we look from the file's
    let o = ours(&["encrypt", "team/x.yaml"], &d, None);
    assert_eq!(recipients(&o.stdout), [pubkey(2)], "{}", err(&o));
    // .sops-rs.yaml wins over .sops.yaml in the same directory
    write(
        &d,
        "team/.sops-rs.yaml",
        &format!("creation_rules:\n  - age: {}\n", pubkey(3)),
    );
    let o = ours(&["encrypt", "team/x.yaml"], &d, None);
    assert_eq!(recipients(&o.stdout), [pubkey(3)], "{}", err(&o));
    // then the working directory upward
    let o = ours(&["encrypt", "y.yaml"], &d, None);
    assert_eq!(recipients(&o.stdout), [pubkey(1)]);
    // --config and SOPS_CONFIG name the file outright
    let cfg = d.join("team/.sops.yaml").display().to_string();
    let o = ours(&["--config", &cfg, "encrypt", "y.yaml"], &d, None);
    assert_eq!(recipients(&o.stdout), [pubkey(2)], "{}", err(&o));
    let o = run(
        &bin(),
        &["encrypt", "y.yaml"],
        &d,
        &[("SOPS_CONFIG", &cfg)],
        None,
    );
    assert_eq!(recipients(&o.stdout), [pubkey(2)], "{}", err(&o));
    // stdin with --filename-override is matched by the override's path
    write(
        &d,
        "team/.sops-rs.yaml",
        &format!(
            "creation_rules:\n  - path_regex: ^prod\n    age: {}\n  - age: {}\n",
            pubkey(1),
            pubkey(3)
        ),
    );
    let o = ours(
        &["encrypt", "--filename-override", "prod.yaml"],
        &d.join("team"),
        Some(b"k: canary-config\n"),
    );
    assert_eq!(recipients(&o.stdout), [pubkey(1)], "{}", err(&o));
}

#[test]
fn bad_configurations_are_explained() {
    let d = scratch("config-bad");
    write(&d, "x.yaml", "k: canary-config\n");
    // a typo gets a warning naming it (sops silently ignores it)
    write(
        &d,
        ".sops-rs.yaml",
        &format!(
            "creation_rules:\n  - path_regx: never\n    age: {}\n    encrypted_regexp: ^x$\n",
            pubkey(1)
        ),
    );
    let o = ours(&["encrypt", "x.yaml"], &d, None);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        err(&o).contains("unknown key 'path_regx' in creation rule 0"),
        "{}",
        err(&o)
    );
    assert!(err(&o).contains("'encrypted_regexp'"), "{}", err(&o));
    // malformed YAML: an error with the line
    write(
        &d,
        ".sops-rs.yaml",
        "creation_rules:\n  - age: [a\n  - x: }\n",
    );
    let o = ours(&["encrypt", "x.yaml"], &d, None);
    assert!(!o.status.success());
    assert!(err(&o).contains("line"), "{}", err(&o));
    assert!(err(&o).contains(".sops-rs.yaml"), "{}", err(&o));
    // wrong shapes
    for text in [
        "creation_rules: yes\n",
        "creation_rules:\n  - key_groups: {age: x}\n",
        "creation_rules:\n  - encrypted_regex: a\n    unencrypted_suffix: b\n",
        "- a\n- b\n",
    ] {
        write(&d, ".sops-rs.yaml", text);
        let o = ours(&["encrypt", "x.yaml"], &d, None);
        assert!(!o.status.success(), "{text}");
        assert!(!err(&o).contains("canary"));
    }
}
