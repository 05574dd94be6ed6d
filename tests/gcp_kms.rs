//! The gcp_kms backend against a fake Cloud KMS REST endpoint (tests/common/gcp_fake.rs)
//! that checks each request's shape as the documented API defines it.
//!
//! Not tested here: interop with the real sops 3.11. It has no SOPS_GCP_KMS_ENDPOINT (that
//! arrived in 3.12) and always dials cloudkms.googleapis.com over TLS, so it cannot be
//! pointed at a local fake.

mod common;
#[path = "common/gcp_fake.rs"]
mod gcp_fake;

use std::time::{Duration, Instant};

use base64::Engine;
use common::*;
use gcp_fake::{DeadEndpoint, GcpFake};
use sops_rs::keys::{Backends, KeySources, KeySpec, gcp_kms};
use sops_rs::{DecryptOptions, EncryptOptions, Format};
use zeroize::Zeroizing;

const KEY: &str = "projects/p/locations/global/keyRings/r/cryptoKeys/k";
const OTHER: &str = "projects/p/locations/global/keyRings/r/cryptoKeys/other";
const TOKEN: &str = "ya29.test-token";
const PLAIN: &str = "db:\n    password: hunter2 # the secret\nport: 5432\n";

fn settings(endpoint: &str) -> gcp_kms::Settings {
    gcp_kms::Settings {
        credentials: None,
        access_token: Some(Zeroizing::new(TOKEN.into())),
        endpoint: Some(endpoint.into()),
    }
}

fn backends(s: gcp_kms::Settings, timeout: Duration) -> Backends {
    Backends {
        gcp_kms: s,
        timeout,
        ..Backends::default()
    }
}

fn key(id: &str) -> KeySpec {
    KeySpec::GcpKms(gcp_kms::Key::parse(id).unwrap())
}

fn encrypt(groups: Vec<Vec<KeySpec>>, s: gcp_kms::Settings) -> Result<Vec<u8>, sops_rs::Error> {
    let o = EncryptOptions {
        groups,
        shamir_threshold: None,
        selector: Default::default(),
        mac_only_encrypted: false,
        now: "2026-01-01T00:00:00Z".into(),
        backends: backends(s, Duration::from_secs(20)),
    };
    sops_rs::encrypt(PLAIN.as_bytes(), Format::Yaml, &o).map(|o| o.bytes)
}

fn decrypt(enc: &[u8], s: gcp_kms::Settings) -> Result<Vec<u8>, sops_rs::Error> {
    let src = KeySources {
        backends: backends(s, Duration::from_secs(20)),
        ..Default::default()
    };
    sops_rs::decrypt(enc, Format::Yaml, &src, &DecryptOptions::default()).map(|o| o.bytes)
}

#[test]
fn wrap_sends_the_documented_request_and_stores_base64() {
    let fake = GcpFake::start(&[KEY], Some(TOKEN));
    let k = gcp_kms::Key::parse(KEY).unwrap();
    let data = [9u8; 32];
    let enc = gcp_kms::wrap(
        &k,
        &data,
        &settings(&fake.endpoint()),
        Duration::from_secs(20),
    )
    .unwrap();
    // enc is base64 (std) of the service's ciphertext bytes
    let ct = base64::engine::general_purpose::STANDARD
        .decode(&enc)
        .unwrap();
    assert!(ct.starts_with(b"fakekms:0:"), "{ct:?}");

    let reqs = fake.requests();
    assert_eq!(reqs.len(), 1, "{reqs:?}");
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(
        r.target.split('?').next().unwrap(),
        format!("/v1/{KEY}:encrypt")
    );
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    assert_eq!(r.header("authorization"), Some(&*format!("Bearer {TOKEN}")));
    let b64 = base64::engine::general_purpose::STANDARD.encode(data);
    assert!(
        r.body.contains(&format!(r#""plaintext":"{b64}""#)),
        "{}",
        r.body
    );
    assert!(
        !r.body.contains("additionalAuthenticatedData"),
        "no AAD, as sops"
    );

    let back = gcp_kms::unwrap(
        &k,
        &enc,
        &settings(&fake.endpoint()),
        Duration::from_secs(20),
    )
    .unwrap();
    assert_eq!(&back[..], &data[..]);
    let reqs = fake.requests();
    assert_eq!(
        reqs[1].target.split('?').next().unwrap(),
        format!("/v1/{KEY}:decrypt")
    );
    assert!(
        reqs[1].body.contains(&format!(r#""ciphertext":"{enc}""#)),
        "{}",
        reqs[1].body
    );
}

#[test]
fn library_round_trip_writes_gcp_kms_entries() {
    let fake = GcpFake::start(&[KEY], Some(TOKEN));
    let enc = encrypt(vec![vec![key(KEY)]], settings(&fake.endpoint())).unwrap();
    let text = String::from_utf8(enc.clone()).unwrap();
    assert!(!text.contains("hunter2"));
    assert!(text.contains("    gcp_kms:\n"), "{text}");
    assert!(text.contains(&format!("resource_id: {KEY}")), "{text}");
    assert_eq!(
        decrypt(&enc, settings(&fake.endpoint())).unwrap(),
        PLAIN.as_bytes()
    );
}

#[test]
fn a_gcp_key_and_an_age_key_in_one_group_either_decrypts() {
    let fake = GcpFake::start(&[KEY], Some(TOKEN));
    let enc = encrypt(
        vec![vec![key(KEY), KeySpec::Age(KEY1_PUB.into())]],
        settings(&fake.endpoint()),
    )
    .unwrap();
    // age alone (no KMS reachable)
    let out = sops_rs::decrypt(
        &enc,
        Format::Yaml,
        &key1_sources(),
        &DecryptOptions::default(),
    )
    .unwrap();
    assert_eq!(out.bytes, PLAIN.as_bytes());
    // KMS alone
    assert_eq!(
        decrypt(&enc, settings(&fake.endpoint())).unwrap(),
        PLAIN.as_bytes()
    );
}

#[test]
fn the_wrong_key_is_a_clear_per_key_error() {
    let fake = GcpFake::start(&[KEY, OTHER], Some(TOKEN));
    let enc = encrypt(vec![vec![key(KEY)]], settings(&fake.endpoint())).unwrap();
    // the same blob claimed by another key: the service refuses
    let swapped = String::from_utf8(enc).unwrap().replace(KEY, OTHER);
    let err = decrypt(swapped.as_bytes(), settings(&fake.endpoint()))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Group 0: FAILED"), "{err}");
    assert!(err.contains(&format!("gcp_kms {OTHER}:")), "{err}");
    assert!(
        err.contains("INVALID_ARGUMENT") || err.contains("invalid"),
        "{err}"
    );
    assert!(
        err.contains("verify that 'name' refers to the correct CryptoKey"),
        "{err}"
    );

    // a key the service does not know, at encryption
    let missing = "projects/p/locations/global/keyRings/r/cryptoKeys/missing";
    let err = encrypt(vec![vec![key(missing)]], settings(&fake.endpoint()))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("gcp_kms {missing}")), "{err}");
    assert!(err.contains("not found"), "{err}");
}

#[test]
fn a_wrong_token_is_refused_and_not_echoed() {
    let fake = GcpFake::start(&[KEY], Some(TOKEN));
    let mut s = settings(&fake.endpoint());
    s.access_token = Some(Zeroizing::new("ya29.wrong-token".into()));
    let err = encrypt(vec![vec![key(KEY)]], s).unwrap_err().to_string();
    assert!(
        err.contains("UNAUTHENTICATED") || err.contains("nauthenticated"),
        "{err}"
    );
    assert!(
        !err.contains("wrong-token"),
        "the token must not appear: {err}"
    );
}

#[test]
fn a_dead_endpoint_times_out() {
    let dead = DeadEndpoint::start();
    let k = gcp_kms::Key::parse(KEY).unwrap();
    let t0 = Instant::now();
    let err = gcp_kms::wrap(
        &k,
        &[1u8; 32],
        &settings(&dead.endpoint()),
        Duration::from_secs(1),
    )
    .unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_secs(6),
        "took {:?}",
        t0.elapsed()
    );
    assert!(err.contains("did not answer within 1s"), "{err}");
    assert!(err.contains(&dead.endpoint()), "{err}");
}

#[test]
fn google_credentials_that_are_not_json_are_reported() {
    let k = gcp_kms::Key::parse(KEY).unwrap();
    let s = gcp_kms::Settings {
        credentials: Some(Zeroizing::new("not-a-file-nor-json".into())),
        access_token: None,
        endpoint: Some("http://127.0.0.1:9".into()),
    };
    let err = gcp_kms::wrap(&k, &[1u8; 32], &s, Duration::from_secs(5)).unwrap_err();
    assert!(
        err.contains("GOOGLE_CREDENTIALS is neither a file nor JSON"),
        "{err}"
    );
    assert!(!err.contains("not-a-file-nor-json"), "{err}");
}

#[test]
fn cli_decrypts_with_the_environment_settings() {
    let fake = GcpFake::start(&[KEY], Some(TOKEN));
    let enc = encrypt(vec![vec![key(KEY)]], settings(&fake.endpoint())).unwrap();
    let dir = isolated_scratch("gcp-cli");
    std::fs::write(dir.join("s.yaml"), &enc).unwrap();
    let ep = fake.endpoint();
    let out = run(
        &bin(),
        &["decrypt", "s.yaml"],
        &dir,
        &[
            ("SOPS_GCP_KMS_ENDPOINT", ep.as_str()),
            ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN),
        ],
        None,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout, PLAIN.as_bytes());
    let last = fake.requests().pop().unwrap();
    assert_eq!(
        last.header("authorization"),
        Some(&*format!("Bearer {TOKEN}"))
    );

    // without the token the fake refuses: exit 128 and the key named
    let out = run(
        &bin(),
        &["decrypt", "s.yaml"],
        &dir,
        &[
            ("SOPS_GCP_KMS_ENDPOINT", ep.as_str()),
            ("GOOGLE_OAUTH_ACCESS_TOKEN", "ya29.other"),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(128), "{stderr}");
    assert!(stderr.contains(&format!("gcp_kms {KEY}")), "{stderr}");
}

#[test]
fn cli_encrypt_with_the_gcp_kms_flag_and_env() {
    let fake = GcpFake::start(&[KEY], Some(TOKEN));
    let dir = isolated_scratch("gcp-cli-encrypt");
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let ep = fake.endpoint();
    let base = [
        ("SOPS_GCP_KMS_ENDPOINT", ep.as_str()),
        ("GOOGLE_OAUTH_ACCESS_TOKEN", TOKEN),
    ];
    let with_ids = [base[0], base[1], ("SOPS_GCP_KMS_IDS", KEY)];
    for (args, env) in [
        (vec!["encrypt", "--gcp-kms", KEY, "plain.yaml"], &base[..]),
        (vec!["encrypt", "plain.yaml"], &with_ids[..]),
    ] {
        let enc = stdout_ok(&bin(), &args, &dir, env);
        assert!(enc.contains(&format!("resource_id: {KEY}")), "{enc}");
        std::fs::write(dir.join("s.yaml"), &enc).unwrap();
        assert_eq!(
            stdout_ok(&bin(), &["decrypt", "s.yaml"], &dir, &base),
            PLAIN
        );
    }
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.target.contains(":encrypt")),
        "no encrypt call reached the fake"
    );
}
