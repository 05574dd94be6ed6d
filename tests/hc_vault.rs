//! HashiCorp Vault / OpenBao transit master keys against a real OpenBao dev server
//! (tests/common/openbao.rs), and interop with the real sops both ways.

mod common;

use std::time::Duration;

use common::openbao::{self, OpenBao};
use common::{SERVICE_PLAIN as PLAIN, decrypt_with as decrypt, stdout_ok};
use sops_rs::keys::hc_vault;
use sops_rs::keys::{Backends, KeySpec};
use zeroize::Zeroizing;

fn backends(token: Option<&str>) -> Backends {
    Backends {
        hc_vault: hc_vault::Settings {
            token: token.map(|t| Zeroizing::new(t.to_string())),
            ..Default::default()
        },
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

fn encrypt(uri: &str, b: &Backends) -> sops_rs::Result<String> {
    common::encrypt_to(KeySpec::HcVault(hc_vault::Key::parse(uri).unwrap()), b)
}

fn entry_field(enc: &str, name: &str) -> String {
    common::entry_field(enc, "hc_vault", name)
}

#[test]
fn round_trip() {
    let bao = OpenBao::start();
    let b = backends(Some(openbao::ROOT_TOKEN));
    let enc = encrypt(&bao.key_uri(openbao::KEY), &b).unwrap();
    assert!(!enc.contains("hunter2"));
    assert!(entry_field(&enc, "enc").starts_with("vault:v1:"), "{enc}");
    assert_eq!(entry_field(&enc, "vault_address"), bao.addr);
    assert_eq!(entry_field(&enc, "engine_path"), openbao::ENGINE);
    assert_eq!(entry_field(&enc, "key_name"), openbao::KEY);
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
}

#[test]
fn wrong_or_missing_token_is_a_clear_error_without_the_token() {
    let bao = OpenBao::start();
    let uri = bao.key_uri(openbao::KEY);
    let e = encrypt(&uri, &backends(Some("s.wrong-token-xyzzy")))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 403") && e.contains("permission denied"),
        "{e}"
    );
    assert!(
        e.contains(&format!("{}/v1/sops/encrypt/firstkey", bao.addr)),
        "{e}"
    );
    assert!(!e.contains("xyzzy"), "{e}");

    let e = encrypt(&uri, &backends(None)).unwrap_err().to_string();
    assert!(e.contains("no Vault token was given"), "{e}");

    // decryption names the key in the per-group report
    let enc = encrypt(&uri, &backends(Some(openbao::ROOT_TOKEN))).unwrap();
    let e = decrypt(&enc, &backends(Some("s.wrong-token-xyzzy")))
        .unwrap_err()
        .to_string();
    assert!(e.contains("Group 0: FAILED"), "{e}");
    assert!(e.contains(&format!("hc_vault {uri}")), "{e}");
    assert!(
        e.contains("permission denied") && !e.contains("xyzzy"),
        "{e}"
    );
}

#[test]
fn a_key_that_does_not_exist() {
    let bao = OpenBao::start();
    let b = backends(Some(openbao::ROOT_TOKEN));
    // encrypting creates it (transit's upsert, with a token allowed to): as with sops
    let enc = encrypt(&bao.key_uri("brand-new"), &b).unwrap();
    bao.cli_ok(&["read", "sops/keys/brand-new"]);
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);

    // decrypting with a key the engine does not have fails with Vault's reason
    let ghost = enc.replace("key_name: brand-new", "key_name: ghost");
    assert_ne!(ghost, enc);
    let e = decrypt(&ghost, &b).unwrap_err().to_string();
    assert!(
        e.contains("HTTP 400") && e.contains("encryption key not found"),
        "{e}"
    );

    // an engine path with nothing mounted
    let e = encrypt(&format!("{}/v1/nomount/keys/k", bao.addr), &b)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 404") && e.contains("no handler for route"),
        "{e}"
    );
}

#[test]
fn a_dead_address_times_out() {
    // a listener that never accepts: connections queue, no answer comes
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}/v1/sops/keys/k", l.local_addr().unwrap());
    let mut b = backends(Some(openbao::ROOT_TOKEN));
    b.timeout = Duration::from_millis(700);
    let start = std::time::Instant::now();
    let e = encrypt(&uri, &b).unwrap_err().to_string();
    assert!(e.contains("no answer within 0.7s"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));

    // nothing listening at all: refused at once
    let port = l.local_addr().unwrap().port();
    drop(l);
    let e = encrypt(&format!("http://127.0.0.1:{port}/v1/sops/keys/k"), &b)
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot connect to"), "{e}");
}

#[test]
fn token_from_env_or_vault_token_file() {
    let home = common::scratch("hc_vault_home");
    std::fs::write(home.join(".vault-token"), "s.from-file\n").unwrap();
    let h = home.display().to_string();
    let env = |vars: &'static [(&'static str, &'static str)]| {
        let h = h.clone();
        move |k: &str| {
            if k == "HOME" {
                return Some(h.clone());
            }
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let s = hc_vault::Settings::from_env(&env(&[("VAULT_TOKEN", "s.env")]));
    assert_eq!(s.token.as_deref().map(String::as_str), Some("s.env"));
    let s = hc_vault::Settings::from_env(&env(&[]));
    assert_eq!(s.token.as_deref().map(String::as_str), Some("s.from-file"));
    // an empty VAULT_TOKEN counts as unset, as in the Vault client sops uses
    let s = hc_vault::Settings::from_env(&env(&[("VAULT_TOKEN", ""), ("VAULT_NAMESPACE", "team")]));
    assert_eq!(s.token.as_deref().map(String::as_str), Some("s.from-file"));
    assert_eq!(s.namespace.as_deref(), Some("team"));
    assert!(!format!("{s:?}").contains("from-file"));
}

#[test]
fn interop_with_the_real_sops() {
    let bao = OpenBao::start();
    let dir = common::isolated_scratch("hc_vault_interop");
    let uri = bao.key_uri(openbao::KEY);
    let b = backends(Some(openbao::ROOT_TOKEN));
    let env = [
        ("VAULT_ADDR", bao.addr.as_str()),
        ("VAULT_TOKEN", openbao::ROOT_TOKEN),
    ];

    // sops encrypts, sops-rs decrypts
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let o = common::run_sops(
        &["encrypt", "--hc-vault-transit", &uri, "plain.yaml"],
        &dir,
        &env,
    );
    assert!(
        o.status.success(),
        "sops encrypt: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let by_sops = String::from_utf8(o.stdout).unwrap();
    assert!(entry_field(&by_sops, "enc").starts_with("vault:v1:"));
    assert_eq!(decrypt(&by_sops, &b).unwrap(), PLAIN);

    // sops-rs encrypts, sops decrypts
    let ours = encrypt(&uri, &b).unwrap();
    std::fs::write(dir.join("ours.yaml"), &ours).unwrap();
    let o = common::run_sops(&["decrypt", "ours.yaml"], &dir, &env);
    assert!(
        o.status.success(),
        "sops decrypt: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert_eq!(String::from_utf8(o.stdout).unwrap(), PLAIN);
}

#[test]
fn cli_round_trip_and_interop() {
    let bao = OpenBao::start();
    let dir = common::isolated_scratch("hc_vault_cli");
    let uri = bao.key_uri(openbao::KEY);
    let env = [
        ("VAULT_ADDR", bao.addr.as_str()),
        ("VAULT_TOKEN", openbao::ROOT_TOKEN),
    ];
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let ours = common::run(
        &common::bin(),
        &["encrypt", "--hc-vault-transit", &uri, "plain.yaml"],
        &dir,
        &env,
        None,
    );
    assert!(
        ours.status.success(),
        "sops-rs encrypt: {}",
        String::from_utf8_lossy(&ours.stderr)
    );
    std::fs::write(dir.join("ours.yaml"), &ours.stdout).unwrap();
    for (prog, name) in [(common::bin(), "sops-rs"), (common::sops(), "sops")] {
        let mut args = vec!["decrypt", "ours.yaml"];
        if name == "sops" {
            args.insert(0, "--disable-version-check");
        }
        let o = common::run(&prog, &args, &dir, &env, None);
        assert!(
            o.status.success(),
            "{name} decrypt: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(String::from_utf8(o.stdout).unwrap(), PLAIN, "{name}");
    }

    // sops encrypts (keys from SOPS_VAULT_URIS), sops-rs decrypts with the token from
    // ~/.vault-token
    let o = common::run_sops(
        &["encrypt", "plain.yaml"],
        &dir,
        &[
            ("VAULT_ADDR", bao.addr.as_str()),
            ("VAULT_TOKEN", openbao::ROOT_TOKEN),
            ("SOPS_VAULT_URIS", uri.as_str()),
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(dir.join("theirs.yaml"), &o.stdout).unwrap();
    let home = common::scratch("hc_vault_cli_home");
    std::fs::write(
        home.join(".vault-token"),
        format!("{}\n", openbao::ROOT_TOKEN),
    )
    .unwrap();
    let h = home.display().to_string();
    let o = common::run(
        &common::bin(),
        &["decrypt", "theirs.yaml"],
        &dir,
        &[("HOME", h.as_str())],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), PLAIN);

    // no token anywhere: the failure report says what to set, and exits non-zero
    let o = common::run(&common::bin(), &["decrypt", "theirs.yaml"], &dir, &[], None);
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains(&format!("hc_vault {uri}")), "{e}");
    assert!(e.contains("no Vault token was given"), "{e}");
}

#[test]
fn rotate_adds_and_removes_a_vault_key() {
    let bao = OpenBao::start();
    let dir = common::isolated_scratch("hc_vault_rotate");
    let uri = bao.key_uri(openbao::KEY);
    let key_file = common::key1_file();
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let o = common::run(&common::bin(), args, &dir, env, None);
        assert!(
            o.status.success(),
            "sops-rs {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let age_env = [("SOPS_AGE_KEY_FILE", key_file.as_str())];
    let enc = run(
        &["encrypt", "--age", common::KEY1_PUB, "plain.yaml"],
        &age_env,
    );
    std::fs::write(dir.join("f.yaml"), enc).unwrap();
    let both = [
        ("SOPS_AGE_KEY_FILE", key_file.as_str()),
        ("VAULT_TOKEN", openbao::ROOT_TOKEN),
    ];
    run(
        &["rotate", "-i", "--add-hc-vault-transit", &uri, "f.yaml"],
        &both,
    );
    let f = std::fs::read_to_string(dir.join("f.yaml")).unwrap();
    assert!(entry_field(&f, "enc").starts_with("vault:v1:"), "{f}");
    // the Vault key alone now opens it (no age identity), with sops too
    let vault_only = [("VAULT_TOKEN", openbao::ROOT_TOKEN)];
    assert_eq!(run(&["decrypt", "f.yaml"], &vault_only), PLAIN);
    let o = common::run_sops(&["decrypt", "f.yaml"], &dir, &vault_only);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // and removing it leaves an age-only file
    run(
        &["rotate", "-i", "--rm-hc-vault-transit", &uri, "f.yaml"],
        &both,
    );
    let f = std::fs::read_to_string(dir.join("f.yaml")).unwrap();
    assert!(!f.contains("hc_vault"), "{f}");
    assert_eq!(run(&["decrypt", "f.yaml"], &age_env), PLAIN);
}

#[test]
fn tls_settings_are_read_as_the_vault_client_reads_them() {
    let env = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    let s = hc_vault::Settings::from_env(&env(&[
        ("VAULT_CACERT", "/etc/ca.pem"),
        ("VAULT_CAPATH", "/etc/cas"),
        ("VAULT_SKIP_VERIFY", "T"),
    ]));
    assert_eq!(
        s.ca_cert.as_deref(),
        Some(std::path::Path::new("/etc/ca.pem"))
    );
    assert_eq!(s.ca_path.as_deref(), Some(std::path::Path::new("/etc/cas")));
    assert!(s.skip_verify && s.invalid.is_none());
    let s = hc_vault::Settings::from_env(&env(&[("VAULT_SKIP_VERIFY", "0"), ("VAULT_CACERT", "")]));
    assert!(!s.skip_verify && s.invalid.is_none() && s.ca_cert.is_none());
    // Go's ParseBool refuses "yes": the Vault client then refuses to start, and so do we
    let s = hc_vault::Settings::from_env(&env(&[("VAULT_SKIP_VERIFY", "yes")]));
    let b = Backends {
        hc_vault: s,
        ..Default::default()
    };
    let e = encrypt("https://127.0.0.1:1/v1/sops/keys/k", &b)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("VAULT_SKIP_VERIFY=\"yes\" is not a boolean"),
        "{e}"
    );
}

#[test]
fn https_with_the_servers_ca_or_without_verification() {
    let bao = OpenBao::start_tls();
    let ca = bao.ca.clone().unwrap();
    let uri = bao.key_uri(openbao::KEY);
    assert!(uri.starts_with("https://"), "{uri}");
    let with = |f: &dyn Fn(&mut hc_vault::Settings)| {
        let mut b = backends(Some(openbao::ROOT_TOKEN));
        f(&mut b.hc_vault);
        b
    };

    // the dev server's own CA is not a system root: refused, with the reason
    let e = encrypt(&uri, &with(&|_| {})).unwrap_err().to_string();
    assert!(e.contains("invalid peer certificate"), "{e}");
    assert!(e.contains("set VAULT_CACERT"), "{e}");

    // VAULT_CACERT: trusted, both ways
    let b = with(&|s| s.ca_cert = Some(ca.clone()));
    let enc = encrypt(&uri, &b).unwrap();
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);

    // VAULT_CAPATH: a directory holding the CA
    let cas = common::scratch("hc_vault_capath");
    std::fs::copy(&ca, cas.join("ca.pem")).unwrap();
    assert_eq!(
        decrypt(&enc, &with(&|s| s.ca_path = Some(cas.clone()))).unwrap(),
        PLAIN
    );

    // VAULT_SKIP_VERIFY
    assert_eq!(
        decrypt(&enc, &with(&|s| s.skip_verify = true)).unwrap(),
        PLAIN
    );

    // a VAULT_CACERT that is missing or not PEM is named, and nothing is sent
    let missing = cas.join("missing.pem");
    let e = decrypt(&enc, &with(&|s| s.ca_cert = Some(missing.clone())))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("VAULT_CACERT") && e.contains("missing.pem"),
        "{e}"
    );
    let junk = cas.join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let e = decrypt(&enc, &with(&|s| s.ca_cert = Some(junk.clone())))
        .unwrap_err()
        .to_string();
    assert!(e.contains("junk.pem"), "{e}");
}

#[test]
fn https_interop_with_the_real_sops_through_vault_cacert() {
    let bao = OpenBao::start_tls();
    let ca = bao.ca.clone().unwrap().display().to_string();
    let dir = common::isolated_scratch("hc_vault_tls_interop");
    let uri = bao.key_uri(openbao::KEY);
    let env = [
        ("VAULT_TOKEN", openbao::ROOT_TOKEN),
        ("VAULT_CACERT", ca.as_str()),
    ];
    let (rs, go) = (common::bin(), common::sops());
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let encrypt_args = ["encrypt", "--hc-vault-transit", &uri, "plain.yaml"];
    let ours = stdout_ok(&rs, &encrypt_args, &dir, &env);
    std::fs::write(dir.join("ours.yaml"), ours).unwrap();
    assert_eq!(stdout_ok(&go, &["decrypt", "ours.yaml"], &dir, &env), PLAIN);
    let theirs = stdout_ok(&go, &encrypt_args, &dir, &env);
    std::fs::write(dir.join("theirs.yaml"), theirs).unwrap();
    assert_eq!(
        stdout_ok(&rs, &["decrypt", "theirs.yaml"], &dir, &env),
        PLAIN
    );

    // without the CA the server is refused
    let o = common::run(
        &common::bin(),
        &["decrypt", "theirs.yaml"],
        &dir,
        &[("VAULT_TOKEN", openbao::ROOT_TOKEN)],
        None,
    );
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.to_lowercase().contains("certificate"), "{e}");
}
