//! The pgp backend: the data key wrapped and unwrapped through the gpg binary, as sops does,
//! against throw-away GnuPG homes; interop with the real sops both ways.

mod common;
#[path = "common/gpg.rs"]
mod gpg;

use std::time::{Duration, Instant};

use common::*;
use gpg::GpgHome;
use sops_rs::keys::{Backends, KeySources, KeySpec, pgp};
use sops_rs::{DecryptOptions, EncryptOptions, Format};

const PLAIN: &str = "db:\n    user: admin\n    password: hunter2 # the secret\nport: 5432\n";

fn backends(s: pgp::Settings) -> Backends {
    Backends {
        pgp: s,
        timeout: Duration::from_secs(30),
        ..Backends::default()
    }
}

fn options(groups: Vec<Vec<KeySpec>>, s: pgp::Settings) -> EncryptOptions {
    EncryptOptions {
        groups,
        shamir_threshold: None,
        selector: Default::default(),
        mac_only_encrypted: false,
        now: "2026-01-01T00:00:00Z".into(),
        backends: backends(s),
    }
}

fn sources(s: pgp::Settings) -> KeySources {
    KeySources {
        backends: backends(s),
        ..Default::default()
    }
}

fn key(fp: &str) -> KeySpec {
    KeySpec::Pgp(pgp::Key::parse(fp).unwrap())
}

fn encrypt_yaml(home: &GpgHome, groups: Vec<Vec<KeySpec>>) -> Vec<u8> {
    sops_rs::encrypt(
        PLAIN.as_bytes(),
        Format::Yaml,
        &options(groups, home.settings()),
    )
    .expect("encrypt with a pgp key")
    .bytes
}

fn decrypt_yaml(enc: &[u8], s: pgp::Settings) -> Result<Vec<u8>, sops_rs::Error> {
    sops_rs::decrypt(enc, Format::Yaml, &sources(s), &DecryptOptions::default()).map(|o| o.bytes)
}

#[test]
fn wrap_then_unwrap_gives_the_data_key_back() {
    let home = GpgHome::new();
    let fp = home.gen_key("sops-rs test <t@example.com>");
    let k = pgp::Key::parse(&fp).unwrap();
    let data = [7u8; 32];
    let enc = pgp::wrap(&k, &data, &home.settings(), Duration::from_secs(30)).unwrap();
    // sops stores the armored message trimmed
    assert!(enc.starts_with("-----BEGIN PGP MESSAGE-----\n"), "{enc}");
    assert!(enc.ends_with("-----END PGP MESSAGE-----"), "{enc}");
    let back = pgp::unwrap(&k, &enc, &home.settings(), Duration::from_secs(30)).unwrap();
    assert_eq!(&back[..], &data[..]);
}

#[test]
fn library_round_trip_writes_sops_pgp_entries() {
    let home = GpgHome::new();
    let fp = home.gen_key("sops-rs test <t@example.com>");
    let enc = encrypt_yaml(&home, vec![vec![key(&fp)]]);
    let text = String::from_utf8(enc.clone()).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(text.contains("    pgp:\n"), "{text}");
    assert!(text.contains(&format!("fp: {fp}")), "{text}");
    assert!(text.contains("-----BEGIN PGP MESSAGE-----"), "{text}");
    assert!(text.contains("created_at: \"2026-"), "{text}");
    assert_eq!(
        decrypt_yaml(&enc, home.settings()).unwrap(),
        PLAIN.as_bytes()
    );
}

#[test]
fn a_subkey_fingerprint_with_bang_encrypts_to_that_subkey() {
    // gpg's `FP!` syntax; `--trusted-key` must get the long key id without the `!` (gpg
    // rejects it: "not a valid long keyID")
    let home = GpgHome::new();
    home.gen_key("sub <s@example.com>");
    let fps = home.fingerprints("sub <s@example.com>");
    assert_eq!(fps.len(), 2, "a primary key and an encryption subkey");
    let sub = format!("{}!", fps[1]);
    let enc = encrypt_yaml(&home, vec![vec![key(&sub)]]);
    let text = String::from_utf8(enc.clone()).unwrap();
    assert!(text.contains(&format!("fp: {sub}")), "{text}");
    assert_eq!(
        decrypt_yaml(&enc, home.settings()).unwrap(),
        PLAIN.as_bytes()
    );
}

#[test]
fn a_missing_secret_key_is_a_per_key_failure_report() {
    let owner = GpgHome::new();
    let fp = owner.gen_key("owner <o@example.com>");
    let enc = encrypt_yaml(&owner, vec![vec![key(&fp)]]);

    // another home that knows only the public key
    let other = GpgHome::new();
    other.import(&owner.export_public(&fp));
    let err = decrypt_yaml(&enc, other.settings())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Group 0: FAILED"), "{err}");
    assert!(err.contains(&format!("pgp {fp}:")), "{err}");
    assert!(
        err.contains("No secret key"),
        "gpg's reason is summarized: {err}"
    );
    assert!(!err.contains("hunter2"));

    // the CLI: sops' exit code for "could not retrieve the data key"
    let dir = isolated_scratch("pgp-missing");
    std::fs::write(dir.join("s.yaml"), &enc).unwrap();
    let out = run(
        &bin(),
        &["decrypt", "s.yaml"],
        &dir,
        &[("GNUPGHOME", &other.path_str())],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{stderr}");
    assert!(stderr.contains(&format!("pgp {fp}")), "{stderr}");
    assert!(stderr.contains("No secret key"), "{stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn sops_gpg_exec_names_the_gpg_to_run() {
    let home = GpgHome::new();
    let fp = home.gen_key("wrapped <w@example.com>");
    let dir = scratch("pgp-wrapper");
    let log = dir.join("calls.log");
    let wrapper = home.wrapper_script(&dir, &log);

    // library: Settings.gpg_exec
    let s = pgp::Settings {
        gpg_exec: Some(wrapper.display().to_string()),
        gnupg_home: Some(home.path_str()),
    };
    let enc = sops_rs::encrypt(
        PLAIN.as_bytes(),
        Format::Yaml,
        &options(vec![vec![key(&fp)]], s.clone()),
    )
    .unwrap()
    .bytes;
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("--encrypt"), "{calls}");
    assert!(
        calls.contains(&format!("--homedir {}", home.path_str())),
        "{calls}"
    );
    std::fs::remove_file(&log).unwrap();

    // CLI: the SOPS_GPG_EXEC variable (and GNUPGHOME)
    std::fs::write(dir.join("s.yaml"), &enc).unwrap();
    let out = run(
        &bin(),
        &["decrypt", "s.yaml"],
        &dir,
        &[
            ("GNUPGHOME", &home.path_str()),
            ("SOPS_GPG_EXEC", &wrapper.display().to_string()),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, PLAIN.as_bytes());
    let calls = std::fs::read_to_string(&log).unwrap();
    assert!(calls.contains("-d"), "{calls}");
}

#[test]
fn a_gpg_that_hangs_is_stopped_after_the_timeout() {
    let home = GpgHome::new();
    let dir = scratch("pgp-hang");
    let hang = dir.join("hang.sh");
    // the sleeping grandchild keeps gpg's pipes open after the script is killed
    std::fs::write(&hang, "#!/bin/sh\nsleep 30\n").unwrap();
    gpg::make_executable(&hang);
    let s = pgp::Settings {
        gpg_exec: Some(hang.display().to_string()),
        gnupg_home: Some(home.path_str()),
    };
    let k = pgp::Key::parse("0123456789ABCDEF0123456789ABCDEF01234567").unwrap();
    let t0 = Instant::now();
    let err = pgp::wrap(&k, &[1u8; 32], &s, Duration::from_millis(500)).unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_secs(5),
        "took {:?}",
        t0.elapsed()
    );
    assert!(err.contains("did not finish within 0.5s"), "{err}");
    let err = pgp::unwrap(&k, "x", &s, Duration::from_millis(500)).unwrap_err();
    assert!(err.contains("did not finish"), "{err}");
}

#[test]
fn a_missing_gpg_binary_is_named() {
    let s = pgp::Settings {
        gpg_exec: Some("/nonexistent/gpg".into()),
        gnupg_home: None,
    };
    let k = pgp::Key::parse("0123456789ABCDEF0123456789ABCDEF01234567").unwrap();
    let err = pgp::wrap(&k, &[1u8; 32], &s, Duration::from_secs(5)).unwrap_err();
    assert!(err.contains("cannot run \"/nonexistent/gpg\""), "{err}");
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn an_unknown_recipient_fails_encryption_with_gpgs_reason() {
    let home = GpgHome::new();
    let err = sops_rs::encrypt(
        PLAIN.as_bytes(),
        Format::Yaml,
        &options(
            vec![vec![key("0123456789ABCDEF0123456789ABCDEF01234567")]],
            home.settings(),
        ),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("pgp 0123456789ABCDEF0123456789ABCDEF01234567"),
        "{err}"
    );
    assert!(err.contains("No public key"), "{err}");
}

#[test]
fn shamir_groups_of_pgp_keys_need_the_threshold() {
    let a = GpgHome::new();
    let fa = a.gen_key("a <a@example.com>");
    let fb = a.gen_key("b <b@example.com>");
    let enc = encrypt_yaml(&a, vec![vec![key(&fa)], vec![key(&fb)]]);
    assert_eq!(decrypt_yaml(&enc, a.settings()).unwrap(), PLAIN.as_bytes());

    // a home with only a's secret key (b's public key only): one of two shares
    let other = GpgHome::new();
    other.import(
        &a.gpg(&["--armor", "--export-secret-keys", &fa], None)
            .stdout,
    );
    other.import(&a.export_public(&fb));
    let err = decrypt_yaml(&enc, other.settings())
        .unwrap_err()
        .to_string();
    assert!(err.contains("Group 0: SUCCESS"), "{err}");
    assert!(err.contains("Group 1: FAILED"), "{err}");
    assert!(err.contains("Shamir threshold of 2"), "{err}");
}

// ---- interop with the real sops ----

#[test]
fn sops_encrypts_sops_rs_decrypts() {
    let home = GpgHome::new();
    let fp = home.gen_key("interop <i@example.com>");
    let dir = isolated_scratch("pgp-sops-to-rs");
    std::fs::write(dir.join("s.yaml"), PLAIN).unwrap();
    let gh = home.path_str();
    let env = [("GNUPGHOME", gh.as_str())];
    let out = run(
        &sops(),
        &["--disable-version-check", "encrypt", "--pgp", &fp, "s.yaml"],
        &dir,
        &env,
        None,
    );
    assert!(
        out.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let enc = out.stdout;
    assert!(String::from_utf8_lossy(&enc).contains(&fp));
    std::fs::write(dir.join("s.enc.yaml"), &enc).unwrap();

    // library
    let want = run(
        &sops(),
        &["--disable-version-check", "decrypt", "s.enc.yaml"],
        &dir,
        &env,
        None,
    );
    assert!(want.status.success());
    assert_eq!(decrypt_yaml(&enc, home.settings()).unwrap(), want.stdout);
    // CLI
    let out = run(&bin(), &["decrypt", "s.enc.yaml"], &dir, &env, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, want.stdout);
}

#[test]
fn sops_rs_encrypts_sops_decrypts() {
    let home = GpgHome::new();
    let fp = home.gen_key("interop <i@example.com>");
    let dir = isolated_scratch("pgp-rs-to-sops");
    std::fs::write(
        dir.join("s.yaml"),
        encrypt_yaml(&home, vec![vec![key(&fp)]]),
    )
    .unwrap();
    let gh = home.path_str();
    let out = run(
        &sops(),
        &["--disable-version-check", "decrypt", "s.yaml"],
        &dir,
        &[("GNUPGHOME", gh.as_str())],
        None,
    );
    assert!(
        out.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // sops re-emits YAML with its own layout; the values are what matter
    let got = String::from_utf8(out.stdout).unwrap();
    assert!(got.contains("password: hunter2"), "{got}");
    assert!(got.contains("port: 5432"), "{got}");
}

#[test]
fn cli_encrypt_with_pgp_flag_and_env_for_the_real_sops() {
    let home = GpgHome::new();
    let fp = home.gen_key("cli <c@example.com>");
    let dir = isolated_scratch("pgp-cli-encrypt");
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let gh = home.path_str();
    for (args, env) in [
        (
            vec!["encrypt", "--pgp", fp.as_str(), "plain.yaml"],
            vec![("GNUPGHOME", gh.as_str())],
        ),
        (
            vec!["encrypt", "plain.yaml"],
            vec![("GNUPGHOME", gh.as_str()), ("SOPS_PGP_FP", fp.as_str())],
        ),
    ] {
        let enc = stdout_ok(&bin(), &args, &dir, &env);
        assert!(enc.contains(&format!("fp: {fp}")), "{enc}");
        std::fs::write(dir.join("s.yaml"), &enc).unwrap();
        // ours gives back the bytes; the real sops decrypts the same file
        assert_eq!(stdout_ok(&bin(), &["decrypt", "s.yaml"], &dir, &env), PLAIN);
        let theirs = stdout_ok(&sops(), &["decrypt", "s.yaml"], &dir, &env);
        assert!(theirs.contains("password: hunter2"), "{theirs}");
    }
}
