//! AWS KMS master keys (`kms:` entries) against a local moto server (KMS + STS): round trip,
//! encryption context, AssumeRole, shared-config profiles, Shamir over two KMS keys,
//! outages and timeouts, and interop with the real sops both ways.

mod common;

use std::path::Path;
use std::sync::Once;
use std::time::{Duration, Instant};

use common::moto::{FAKE_CREDS, Moto, silent_server, switchable_proxy};
use common::*;
use sops_rs::keys::{Backends, KeySources, KeySpec, kms};
use sops_rs::{DecryptOptions, EncryptOptions, Format};

const PLAIN: &str = "db:\n    user: admin\n    password: canary-kms-7f3a\nport: 5432\n";

/// The library tests run the AWS SDK in this process: it reads its credentials from the
/// environment. Every test calls this first, so the variables are set once, before any test
/// thread gets past it (the SDK and `std::env` readers of this binary all come after).
fn process_env() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let vars = FAKE_CREDS.iter().copied().chain([
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("AWS_CONFIG_FILE", "/nonexistent/config"),
            ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ]);
        for (k, v) in vars {
            // SAFETY: see above: no other thread of this binary reads the environment yet
            unsafe { std::env::set_var(k, v) };
        }
        // never an endpoint from the outside environment: each test names its own server
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_ENDPOINT_URL_KMS",
            "AWS_ENDPOINT_URL_STS",
        ] {
            // SAFETY: as above
            unsafe { std::env::remove_var(k) };
        }
    });
}

fn backends(url: &str, timeout: Duration) -> Backends {
    Backends {
        kms: kms::Settings {
            endpoint: Some(url.to_string()),
        },
        timeout,
        ..Backends::default()
    }
}

fn kms_key(arn: &str) -> kms::Key {
    kms::Key::parse(arn).unwrap()
}

fn options(groups: Vec<Vec<KeySpec>>, threshold: Option<usize>, b: &Backends) -> EncryptOptions {
    EncryptOptions {
        groups,
        shamir_threshold: threshold,
        selector: Default::default(),
        mac_only_encrypted: false,
        now: "2026-01-01T00:00:00Z".into(),
        backends: b.clone(),
    }
}

fn encrypt(groups: Vec<Vec<KeySpec>>, threshold: Option<usize>, b: &Backends) -> String {
    let out = sops_rs::encrypt(
        PLAIN.as_bytes(),
        Format::Yaml,
        &options(groups, threshold, b),
    )
    .unwrap_or_else(|e| panic!("encrypt: {e}"));
    String::from_utf8(out.bytes).unwrap()
}

fn decrypt(enc: &str, b: &Backends) -> Result<String, String> {
    let sources = KeySources {
        backends: b.clone(),
        ..Default::default()
    };
    sops_rs::decrypt(
        enc.as_bytes(),
        Format::Yaml,
        &sources,
        &DecryptOptions::default(),
    )
    .map(|o| String::from_utf8(o.bytes).unwrap())
    .map_err(|e| e.to_string())
}

/// The `enc` values of the file's kms entries.
fn kms_encs(enc: &str) -> Vec<String> {
    let meta = sops_rs::document::read_metadata(enc.as_bytes(), Format::Yaml)
        .unwrap()
        .expect("metadata");
    meta.groups
        .iter()
        .flat_map(|g| g.others.iter())
        .filter(|(t, _)| t == "kms")
        .map(|(_, m)| {
            m.get("enc")
                .and_then(|v| v.as_str())
                .expect("enc")
                .to_string()
        })
        .collect()
}

fn assert_no_secrets(err: &str, enc: &str) {
    assert!(!err.contains("canary-kms"), "plaintext in error: {err}");
    for e in kms_encs(enc) {
        assert!(!err.contains(&e), "wrapped key in error: {err}");
    }
}

// ---- library level ----

#[test]
fn round_trip_writes_sops_entry_and_decrypts() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let enc = encrypt(vec![vec![KeySpec::Kms(kms_key(&arn))]], None, &b);
    assert!(!enc.contains("canary-kms"), "{enc}");
    // the entry as sops writes it: arn, created_at, enc, aws_profile (always, even empty)
    let entry_at = enc.find("kms:").expect("a kms list");
    let entry = &enc[entry_at..];
    assert!(entry.contains(&format!("arn: {arn}")), "{entry}");
    assert!(entry.contains("aws_profile: \"\""), "{entry}");
    assert!(
        !entry.contains("role:") && !entry.contains("context:"),
        "{entry}"
    );
    // enc is base64 of the KMS ciphertext blob
    let encs = kms_encs(&enc);
    assert_eq!(encs.len(), 1);
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(&encs[0])
        .expect("enc is base64-std");
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
}

#[test]
fn a_key_in_another_region_uses_the_region_of_its_arn() {
    process_env();
    let moto = Moto::start();
    // moto keeps keys per region: the call only finds the key in the region the ARN names
    let arn = moto.create_key("eu-west-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let enc = encrypt(vec![vec![KeySpec::Kms(kms_key(&arn))]], None, &b);
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    // the same key id under another region's ARN does not exist there
    let wrong = arn.replace("eu-west-1", "us-east-1");
    let err = decrypt(&enc.replace(&arn, &wrong), &b).unwrap_err();
    assert!(err.contains("NotFoundException"), "{err}");
}

#[test]
fn encryption_context_is_bound_to_the_ciphertext() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let mut key = kms_key(&arn);
    key.context
        .insert("Environment".into(), "production".into());
    key.context.insert("Team".into(), "payments".into());
    let enc = encrypt(vec![vec![KeySpec::Kms(key)]], None, &b);
    assert!(
        enc.contains("context:") && enc.contains("Environment: production"),
        "{enc}"
    );
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);

    // a changed value, or no context at all: KMS refuses
    let wrong = enc.replace("Environment: production", "Environment: staging");
    let err = decrypt(&wrong, &b).unwrap_err();
    assert!(err.contains("InvalidCiphertextException"), "{err}");
    assert!(err.contains(&arn), "the failing key is named: {err}");
    assert_no_secrets(&err, &enc);

    let start = enc.find("        context:").expect("context block");
    let end = enc[start..].find("        created_at:").unwrap() + start;
    let missing = format!("{}{}", &enc[..start], &enc[end..]);
    assert!(!missing.contains("context:"), "{missing}");
    let err = decrypt(&missing, &b).unwrap_err();
    assert!(err.contains("InvalidCiphertextException"), "{err}");
}

#[test]
fn a_role_is_assumed_through_sts() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    // moto's default account owns the key: a role of that account reaches it
    let key = kms_key(&format!("{arn}+arn:aws:iam::123456789012:role/sops-ci"));
    assert_eq!(key.role, "arn:aws:iam::123456789012:role/sops-ci");
    let enc = encrypt(vec![vec![KeySpec::Kms(key)]], None, &b);
    assert!(
        enc.contains("role: arn:aws:iam::123456789012:role/sops-ci"),
        "{enc}"
    );
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    // the KMS call really ran with the role's credentials: moto gives credentials of a role
    // in another account that account's (empty) KMS, where the key does not exist
    let other = enc.replace(
        "role: arn:aws:iam::123456789012:role/sops-ci",
        "role: arn:aws:iam::111111111111:role/sops-ci",
    );
    let err = decrypt(&other, &b).unwrap_err();
    assert!(err.contains("NotFoundException"), "{err}");
}

#[test]
fn shamir_over_two_kms_keys_in_two_groups() {
    process_env();
    let moto = Moto::start();
    let a = moto.create_key("us-east-1");
    let bk = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let groups = || {
        vec![
            vec![KeySpec::Kms(kms_key(&a))],
            vec![KeySpec::Kms(kms_key(&bk))],
        ]
    };
    // moto 5.2.5 still decrypts with a disabled key (checked), so "B is unusable" is a B entry
    // naming a key that does not exist: KMS answers NotFoundException, as for a deleted key
    let gone = |enc: &str| {
        let id = bk.rsplit('/').next().unwrap();
        enc.replace(id, "00000000-0000-0000-0000-000000000000")
    };

    let two = encrypt(groups(), Some(2), &b);
    assert!(two.contains("shamir_threshold: 2"), "{two}");
    assert_eq!(decrypt(&two, &b).unwrap(), PLAIN);
    let err = decrypt(&gone(&two), &b).unwrap_err();
    assert!(err.contains("NotFoundException"), "{err}");

    // Shamir needs a threshold of at least 2 (sops too), so "any 1 of 2 keys" is a group of
    // two keys, and "survives one unusable key" is 2 of 3 groups
    let either = encrypt(
        vec![vec![KeySpec::Kms(kms_key(&bk)), KeySpec::Kms(kms_key(&a))]],
        None,
        &b,
    );
    assert_eq!(decrypt(&gone(&either), &b).unwrap(), PLAIN);
    let c = moto.create_key("us-east-1");
    let mut three = groups();
    three.push(vec![KeySpec::Kms(kms_key(&c))]);
    let two_of_three = encrypt(three, Some(2), &b);
    assert!(
        two_of_three.contains("shamir_threshold: 2"),
        "{two_of_three}"
    );
    assert_eq!(decrypt(&gone(&two_of_three), &b).unwrap(), PLAIN);
}

#[test]
fn a_hung_endpoint_fails_within_the_timeout() {
    process_env();
    let port = silent_server();
    let b = backends(&format!("http://127.0.0.1:{port}"), Duration::from_secs(2));
    let arn = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555";
    let t0 = Instant::now();
    let err = sops_rs::encrypt(
        PLAIN.as_bytes(),
        Format::Yaml,
        &options(vec![vec![KeySpec::Kms(kms_key(arn))]], None, &b),
    )
    .unwrap_err()
    .to_string();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(8), "took {took:?}: {err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(err.contains(arn), "{err}");
    assert!(!err.contains("canary-kms"), "{err}");
}

#[test]
fn a_dead_endpoint_is_a_clear_error() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(10));
    let enc = encrypt(vec![vec![KeySpec::Kms(kms_key(&arn))]], None, &b);
    drop(moto);
    let t0 = Instant::now();
    let err = decrypt(&enc, &b).unwrap_err();
    assert!(t0.elapsed() < Duration::from_secs(12), "{err}");
    assert!(err.contains(&arn), "{err}");
    assert!(
        err.contains("dispatch failure") || err.contains("onnect"),
        "names the connection failure: {err}"
    );
    assert_no_secrets(&err, &enc);
}

// ---- the CLI and the real sops ----

fn envs_of(v: &[(String, String)]) -> Vec<(&str, &str)> {
    v.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).unwrap();
    name.to_string()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn the_cli_decrypts_with_the_sdk_environment() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let enc = encrypt(vec![vec![KeySpec::Kms(kms_key(&arn))]], None, &b);
    let dir = isolated_scratch("kms-cli");
    let f = write(&dir, "s.yaml", &enc);
    // the service-specific variable alone is enough
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
        .collect();
    env.push(("AWS_ENDPOINT_URL_KMS".into(), moto.url.clone()));
    let out = run(&bin(), &["decrypt", &f], &dir, &envs_of(&env), None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
    // no credentials at all: a clear failure naming the key
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .collect();
    let out = run(&bin(), &["decrypt", &f], &dir, &envs_of(&env), None);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains(&arn), "{err}");
    assert!(err.to_lowercase().contains("credentials"), "{err}");
    assert_no_secrets(&err, &enc);
}

#[test]
fn aws_profile_takes_credentials_from_the_shared_config() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let mut key = kms_key(&arn);
    key.aws_profile = "sops-test".into();
    let enc = encrypt(vec![vec![KeySpec::Kms(key)]], None, &b);
    assert!(enc.contains("aws_profile: sops-test"), "{enc}");

    let dir = isolated_scratch("kms-profile");
    let f = write(&dir, "s.yaml", &enc);
    let config = dir.join("aws-config");
    let creds = dir.join("aws-credentials");
    // the default profile has no credentials; only the named one does
    std::fs::write(
        &config,
        "[default]\nregion = us-west-2\n\n[profile sops-test]\nregion = us-east-1\n",
    )
    .unwrap();
    std::fs::write(
        &creds,
        "[sops-test]\naws_access_key_id = profilekey\naws_secret_access_key = profilesecret\n",
    )
    .unwrap();
    let (config, creds) = (config.display().to_string(), creds.display().to_string());
    let env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| !k.starts_with("AWS_ACCESS") && !k.starts_with("AWS_SECRET"))
        .filter(|(k, _)| k != "AWS_CONFIG_FILE" && k != "AWS_SHARED_CREDENTIALS_FILE")
        .chain([
            ("AWS_CONFIG_FILE".to_string(), config),
            ("AWS_SHARED_CREDENTIALS_FILE".to_string(), creds),
        ])
        .collect();
    let out = run(&bin(), &["decrypt", &f], &dir, &envs_of(&env), None);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);

    // without the profile the default chain has no credentials
    let f2 = write(
        &dir,
        "s2.yaml",
        &enc.replace("aws_profile: sops-test", "aws_profile: \"\""),
    );
    let out = run(&bin(), &["decrypt", &f2], &dir, &envs_of(&env), None);
    assert!(!out.status.success(), "decrypted without the profile");
    assert!(stderr(&out).contains(&arn), "{}", stderr(&out));
}

#[test]
fn rotate_with_kms_down_leaves_the_file_untouched() {
    process_env();
    let mut moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    // age and kms in one group: the file still opens with the age key while KMS is down, so
    // rotate gets as far as wrapping the new data key, which must fail
    let enc = encrypt(
        vec![vec![
            KeySpec::Age(KEY1_PUB.into()),
            KeySpec::Kms(kms_key(&arn)),
        ]],
        None,
        &b,
    );
    let dir = isolated_scratch("kms-outage");
    let f = write(&dir, "s.yaml", &enc);
    let mut env = moto.env();
    env.push(("SOPS_AGE_KEY_FILE".into(), key1_file()));
    moto.stop();
    let out = run(&bin(), &["rotate", "-i", &f], &dir, &envs_of(&env), None);
    assert!(!out.status.success(), "rotate succeeded with KMS down");
    let err = stderr(&out);
    assert!(err.contains(&arn), "{err}");
    assert_no_secrets(&err, &enc);
    assert_eq!(
        std::fs::read_to_string(dir.join(&f)).unwrap(),
        enc,
        "the file changed"
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "s.yaml" && n != ".sops-rs.yaml")
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn interop_sops_rs_to_real_sops() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let mut key = kms_key(&arn);
    key.context.insert("app".into(), "billing".into());
    let enc = encrypt(vec![vec![KeySpec::Kms(key)]], None, &b);
    let dir = isolated_scratch("kms-interop-a");
    let f = write(&dir, "s.yaml", &enc);
    let env = moto.env();
    let out = run_sops(&["decrypt", &f], &dir, &envs_of(&env));
    assert!(out.status.success(), "real sops: {}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
}

#[test]
fn interop_real_sops_to_sops_rs() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let dir = isolated_scratch("kms-interop-b");
    let f = write(&dir, "s.yaml", PLAIN);
    let env = moto.env();
    for (args, ctx) in [
        (vec!["encrypt", "--kms", arn.as_str(), &f], false),
        (
            vec![
                "encrypt",
                "--kms",
                arn.as_str(),
                "--encryption-context",
                "app:billing,tier:1",
                &f,
            ],
            true,
        ),
    ] {
        let out = run_sops(&args, &dir, &envs_of(&env));
        assert!(out.status.success(), "real sops: {}", stderr(&out));
        let enc = String::from_utf8(out.stdout).unwrap();
        assert_eq!(enc.contains("context:"), ctx, "{enc}");
        let g = write(&dir, "from-sops.yaml", &enc);
        let out = run(&bin(), &["decrypt", &g], &dir, &envs_of(&env), None);
        assert!(out.status.success(), "sops-rs: {}", stderr(&out));
        assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
    }
}

#[test]
fn cli_flags_encrypt_for_the_real_sops() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let dir = isolated_scratch("kms-cli-flags");
    let f = write(&dir, "s.yaml", PLAIN);
    let env = moto.env();
    let out = run(
        &bin(),
        &[
            "encrypt",
            "--kms",
            &arn,
            "--encryption-context",
            "app:billing,tier:1",
            &f,
        ],
        &dir,
        &envs_of(&env),
        None,
    );
    assert!(out.status.success(), "sops-rs: {}", stderr(&out));
    let enc = String::from_utf8(out.stdout).unwrap();
    assert!(
        enc.contains("app: billing") && enc.contains("tier: \"1\""),
        "{enc}"
    );
    let g = write(&dir, "enc.yaml", &enc);
    let out = run_sops(&["decrypt", &g], &dir, &envs_of(&env));
    assert!(out.status.success(), "real sops: {}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
    // and rotate keeps it readable by both
    let out = run(&bin(), &["rotate", "-i", &g], &dir, &envs_of(&env), None);
    assert!(out.status.success(), "rotate: {}", stderr(&out));
    let out = run_sops(&["decrypt", &g], &dir, &envs_of(&env));
    assert!(out.status.success(), "real sops: {}", stderr(&out));
    assert_eq!(String::from_utf8(out.stdout).unwrap(), PLAIN);
}

#[test]
fn a_new_file_with_kms_down_fails_before_the_editor_opens() {
    process_env();
    let mut moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let env = moto.env();
    moto.stop();
    let dir = isolated_scratch("kms-edit-down");
    let run_dir = dir.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let marker = dir.join("editor-opened");
    let ed = write_script(
        &dir.join("ed.sh"),
        &format!(
            "touch '{}'\nprintf 'token: canary-kms-typed\\n' > \"$1\"",
            marker.display()
        ),
    );
    let mut env = env;
    env.push(("EDITOR".into(), ed));
    env.push(("XDG_RUNTIME_DIR".into(), run_dir.display().to_string()));
    let out = run(
        &bin(),
        &["edit", "--kms", &arn, "new.yaml"],
        &dir,
        &envs_of(&env),
        None,
    );
    assert!(!out.status.success(), "edit succeeded with KMS down");
    assert!(stderr(&out).contains(&arn), "{}", stderr(&out));
    assert!(
        !marker.exists(),
        "the editor opened before the key was wrapped"
    );
    assert!(!dir.join("new.yaml").exists());
    let left: Vec<_> = std::fs::read_dir(&run_dir).unwrap().collect();
    assert!(left.is_empty(), "temp left behind: {left:?}");
}

#[test]
fn cli_keyservice_timeout_bounds_a_hung_endpoint() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let b = backends(&moto.url, Duration::from_secs(30));
    let enc = encrypt(vec![vec![KeySpec::Kms(kms_key(&arn))]], None, &b);
    drop(moto);
    let dir = isolated_scratch("kms-cli-timeout");
    let f = write(&dir, "s.yaml", &enc);
    let silent = format!("http://127.0.0.1:{}", silent_server());
    let env: Vec<(String, String)> = [
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_CONFIG_FILE", "/nonexistent/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials"),
        ("AWS_ENDPOINT_URL_KMS", silent.as_str()),
        ("SOPS_RS_KEYSERVICE_TIMEOUT", "2s"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let t0 = Instant::now();
    let out = run(&bin(), &["decrypt", &f], &dir, &envs_of(&env), None);
    let took = t0.elapsed();
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(took < Duration::from_secs(10), "took {took:?}: {err}");
    assert!(err.contains("timed out after 2s"), "{err}");
    assert!(err.contains(&arn), "{err}");
    assert_no_secrets(&err, &enc);
}

#[test]
fn kms_down_while_the_editor_is_open_loses_nothing() {
    process_env();
    let moto = Moto::start();
    let arn = moto.create_key("us-east-1");
    let dir = isolated_scratch("kms-edit-outage");
    let down = dir.join("kms-down");
    let (port, refused) = switchable_proxy(moto.port, down.clone());
    let proxy = format!("http://127.0.0.1:{port}");
    let enc = encrypt(
        vec![vec![KeySpec::Kms(kms_key(&arn))]],
        None,
        &backends(&proxy, Duration::from_secs(30)),
    );
    let f = write(&dir, "s.yaml", &enc);

    // the editor: KMS goes down, then the user changes a value and saves
    let ed = write_script(
        &dir.join("ed.sh"),
        &format!(
            "touch '{}'\nsed -i 's/canary-kms-7f3a/canary-kms-edited/' \"$1\"",
            down.display()
        ),
    );
    let run_dir = dir.join("run");
    std::fs::create_dir(&run_dir).unwrap();
    let mut env: Vec<(String, String)> = moto
        .env()
        .into_iter()
        .filter(|(k, _)| k != "AWS_ENDPOINT_URL")
        .collect();
    env.push(("AWS_ENDPOINT_URL".into(), proxy.clone()));
    env.push(("EDITOR".into(), ed));
    env.push(("XDG_RUNTIME_DIR".into(), run_dir.display().to_string()));
    let out = run(&bin(), &["edit", &f], &dir, &envs_of(&env), None);
    assert!(out.status.success(), "edit: {}", stderr(&out));
    assert!(down.exists(), "the editor did not run");
    // saving re-encrypts with the data key already unwrapped: no KMS call was needed
    assert_eq!(refused.load(std::sync::atomic::Ordering::SeqCst), 0);
    let left: Vec<_> = std::fs::read_dir(&run_dir).unwrap().collect();
    assert!(left.is_empty(), "temp left behind: {left:?}");

    // KMS back: the saved file holds the edit, and only that value's line and the MAC moved
    std::fs::remove_file(&down).unwrap();
    let saved = std::fs::read_to_string(dir.join("s.yaml")).unwrap();
    let plain = decrypt(&saved, &backends(&moto.url, Duration::from_secs(30))).unwrap();
    assert_eq!(plain, PLAIN.replace("canary-kms-7f3a", "canary-kms-edited"));
    let changed: Vec<_> = enc
        .lines()
        .zip(saved.lines())
        .filter(|(a, b)| a != b)
        .map(|(_, b)| b.trim_start().split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(changed, ["password", "lastmodified", "mac"], "{saved}");
}
