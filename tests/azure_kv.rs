//! Azure Key Vault master keys against a local fake of the token endpoint and Key Vault's
//! REST API (tests/common/azure_fake.rs), which rejects requests that do not match the
//! documented shapes. (The real sops cannot be pointed at it: its Azure SDK refuses bearer
//! tokens over plain http.)

mod common;

use std::time::Duration;

use common::azure_fake::{self, AzureFake};
use common::{SERVICE_PLAIN as PLAIN, decrypt_with as decrypt};
use sops_rs::keys::azure_kv;
use sops_rs::keys::{Backends, KeySpec};

fn backends(s: azure_kv::Settings) -> Backends {
    Backends {
        azure_kv: s,
        timeout: Duration::from_secs(10),
        ..Default::default()
    }
}

fn encrypt(url: &str, b: &Backends) -> sops_rs::Result<String> {
    common::encrypt_to(KeySpec::AzureKv(azure_kv::Key::parse(url).unwrap()), b)
}

fn entry_field(enc: &str, name: &str) -> String {
    common::entry_field(enc, "azure_kv", name)
}

#[test]
fn round_trip_with_a_versioned_key() {
    let fake = AzureFake::start();
    let b = backends(fake.settings());
    let version = azure_fake::VERSIONS[0];
    let enc = encrypt(&fake.key_url(Some(version)), &b).unwrap();
    assert!(!enc.contains("hunter2"));
    assert_eq!(entry_field(&enc, "version"), version);
    assert_eq!(entry_field(&enc, "name"), azure_fake::KEY);
    assert_eq!(entry_field(&enc, "vault_url"), fake.url());
    // sops stores the service's result as unpadded base64url
    let e = entry_field(&enc, "enc");
    assert!(
        e.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'),
        "{e}"
    );
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    assert_eq!(fake.rejections(), Vec::<String>::new());
    // a pinned version needs no key lookup
    assert!(
        !fake.http.requests().iter().any(|r| r.method == "GET"),
        "{:?}",
        fake.http.requests()
    );
}

#[test]
fn unversioned_key_pins_the_latest_version() {
    let fake = AzureFake::start();
    let b = backends(fake.settings());
    let enc = encrypt(&fake.key_url(None), &b).unwrap();
    let latest = azure_fake::VERSIONS[azure_fake::VERSIONS.len() - 1];
    assert_eq!(entry_field(&enc, "version"), latest);
    let reqs = fake.http.requests();
    assert!(
        reqs.iter()
            .any(|r| r.method == "GET" && r.path == format!("/keys/{}", azure_fake::KEY)),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .any(|r| r.path == format!("/keys/{}/{latest}/encrypt", azure_fake::KEY)),
        "{reqs:?}"
    );
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    assert_eq!(fake.rejections(), Vec::<String>::new());
}

#[test]
fn requests_match_the_documented_api() {
    let fake = AzureFake::start();
    let b = backends(fake.settings());
    let enc = encrypt(&fake.key_url(None), &b).unwrap();
    decrypt(&enc, &b).unwrap();
    let reqs = fake.http.requests();
    let token: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.contains("/oauth2/"))
        .collect();
    assert!(!token.is_empty());
    for t in &token {
        assert_eq!(t.path, format!("/{}/oauth2/v2.0/token", azure_fake::TENANT));
        let f = t.form();
        assert_eq!(f["grant_type"], "client_credentials");
        assert_eq!(f["client_id"], azure_fake::CLIENT);
        assert_eq!(f["scope"], "https://vault.azure.net/.default");
    }
    let kv: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/keys/"))
        .collect();
    assert_eq!(kv.len(), 3, "get key, encrypt, decrypt: {kv:?}");
    for r in &kv {
        assert_eq!(r.query, "api-version=7.4");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {}", azure_fake::TOKEN).as_str())
        );
    }
    for r in kv.iter().filter(|r| r.method == "POST") {
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["alg"], "RSA-OAEP-256");
        let value = v["value"].as_str().unwrap();
        assert!(!value.contains('=') && !value.contains('+') && !value.contains('/'));
    }
    // the data key travels only inside the encrypt body, base64url
    let enc_req = kv.iter().find(|r| r.path.ends_with("/encrypt")).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&enc_req.body).unwrap();
    use base64::Engine as _;
    let dk = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v["value"].as_str().unwrap())
        .unwrap();
    assert_eq!(dk.len(), 32);
    assert_eq!(fake.rejections(), Vec::<String>::new());
}

#[test]
fn wrong_client_secret_is_a_clear_error_without_secrets() {
    let fake = AzureFake::start();
    let mut s = fake.settings();
    s.client_secret = Some(zeroize::Zeroizing::new("not-the-secret-xyzzy".into()));
    let e = encrypt(&fake.key_url(Some(azure_fake::VERSIONS[1])), &backends(s))
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 401"), "{e}");
    assert!(
        e.contains("AADSTS7000215: Invalid client secret provided"),
        "{e}"
    );
    assert!(
        e.contains(azure_fake::CLIENT) && e.contains(azure_fake::TENANT),
        "{e}"
    );
    assert!(
        !e.contains("xyzzy") && !e.contains(azure_fake::SECRET),
        "{e}"
    );
    assert!(
        !e.contains("Trace ID"),
        "only the first line of the description: {e}"
    );
}

#[test]
fn decrypting_with_a_wrong_secret_reports_the_key() {
    let fake = AzureFake::start();
    let enc = encrypt(&fake.key_url(None), &backends(fake.settings())).unwrap();
    let mut s = fake.settings();
    s.client_secret = Some(zeroize::Zeroizing::new("wrong".into()));
    let e = decrypt(&enc, &backends(s)).unwrap_err().to_string();
    assert!(e.contains("Group 0: FAILED"), "{e}");
    assert!(
        e.contains(&format!(
            "azure_kv {}/keys/{}/{}",
            fake.url(),
            azure_fake::KEY,
            azure_fake::VERSIONS[1]
        )),
        "{e}"
    );
    assert!(e.contains("invalid_client"), "{e}");
}

#[test]
fn unknown_key_names_the_service_error() {
    let fake = AzureFake::start();
    let url = format!("{}/keys/nope/{}", fake.url(), azure_fake::VERSIONS[0]);
    let e = encrypt(&url, &backends(fake.settings()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("HTTP 404") && e.contains("KeyNotFound"), "{e}");
    assert!(!e.contains(azure_fake::TOKEN), "{e}");
}

#[test]
fn secret_without_tenant_is_a_config_error() {
    let fake = AzureFake::start();
    let mut s = fake.settings();
    s.tenant_id = None;
    let e = encrypt(&fake.key_url(None), &backends(s))
        .unwrap_err()
        .to_string();
    assert!(e.contains("AZURE_TENANT_ID"), "{e}");
    assert!(fake.http.requests().is_empty());
}

/// A stand-in `az` that prints a token (or fails), as `az account get-access-token` does.
fn fake_az(dir: &std::path::Path, script: &str) -> String {
    common::write_script(&dir.join("az"), script)
}

#[test]
fn without_a_secret_the_azure_cli_token_is_used() {
    let fake = AzureFake::start();
    let dir = common::scratch("azure_kv_az_cli");
    let args = dir.join("args");
    let az = fake_az(
        &dir,
        &format!(
            "echo \"$@\" > {}\necho '{{\"accessToken\": \"{}\", \"tokenType\": \"Bearer\"}}'",
            args.display(),
            azure_fake::TOKEN
        ),
    );
    let s = azure_kv::Settings {
        az_command: az,
        imds_host: azure_fake::NO_IMDS.into(),
        ..Default::default()
    };
    let b = backends(s);
    let enc = encrypt(&fake.key_url(None), &b).unwrap();
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    assert_eq!(
        std::fs::read_to_string(&args).unwrap().trim(),
        "account get-access-token --output json --resource https://vault.azure.net"
    );
    assert!(
        !fake
            .http
            .requests()
            .iter()
            .any(|r| r.path.contains("oauth2"))
    );
    assert_eq!(fake.rejections(), Vec::<String>::new());
}

#[test]
fn workload_identity_federated_token() {
    let fake = AzureFake::start();
    let dir = common::scratch("azure_kv_wi");
    let file = dir.join("azure-identity-token");
    std::fs::write(&file, format!("{}\n", azure_fake::ASSERTION)).unwrap();
    let mut s = fake.settings();
    s.client_secret = None;
    s.federated_token_file = Some(file.clone());
    let b = backends(s.clone());
    let enc = encrypt(&fake.key_url(None), &b).unwrap();
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    assert_eq!(fake.rejections(), Vec::<String>::new());
    let t = fake
        .http
        .requests()
        .into_iter()
        .find(|r| r.path.contains("oauth2"))
        .unwrap()
        .form();
    assert_eq!(t["client_assertion"], azure_fake::ASSERTION);
    assert!(!t.contains_key("client_secret"));

    // a stale assertion: the service's reason, not the token
    std::fs::write(&file, "eyJstale.jwt.xyzzy").unwrap();
    let e = encrypt(&fake.key_url(None), &backends(s.clone()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("AADSTS700024") && !e.contains("xyzzy"), "{e}");
    // an unreadable file is named
    s.federated_token_file = Some(dir.join("missing"));
    let e = encrypt(&fake.key_url(None), &backends(s))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot read AZURE_FEDERATED_TOKEN_FILE"), "{e}");
}

#[test]
fn no_credentials_at_all_says_what_to_set() {
    let fake = AzureFake::start();
    let dir = common::scratch("azure_kv_no_creds");
    let az = fake_az(
        &dir,
        "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1",
    );
    let s = azure_kv::Settings {
        az_command: az,
        imds_host: azure_fake::NO_IMDS.into(),
        ..Default::default()
    };
    let e = encrypt(&fake.key_url(None), &backends(s))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no Azure credentials"), "{e}");
    assert!(e.contains("AZURE_CLIENT_SECRET"), "{e}");
    assert!(e.contains("Please run 'az login'"), "{e}");
    // and a missing az binary says so too
    let s = azure_kv::Settings {
        az_command: dir.join("no-such-az").display().to_string(),
        imds_host: azure_fake::NO_IMDS.into(),
        ..Default::default()
    };
    let e = encrypt(&fake.key_url(None), &backends(s))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no Azure credentials") && e.contains("cannot run"),
        "{e}"
    );
}

#[test]
fn a_dead_vault_times_out() {
    // accepts connections (the backlog) but never answers
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/keys/k/v1", l.local_addr().unwrap());
    let fake = AzureFake::start();
    let mut b = backends(fake.settings());
    b.timeout = Duration::from_millis(700);
    let start = std::time::Instant::now();
    let e = encrypt(&url, &b).unwrap_err().to_string();
    assert!(e.contains("no answer within 0.7s"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn cli_round_trip_with_env_credentials_and_az_on_path() {
    let fake = AzureFake::start();
    let dir = common::isolated_scratch("azure_kv_cli");
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let authority = fake.url();
    let env = [
        ("AZURE_TENANT_ID", azure_fake::TENANT),
        ("AZURE_CLIENT_ID", azure_fake::CLIENT),
        ("AZURE_CLIENT_SECRET", azure_fake::SECRET),
        ("AZURE_AUTHORITY_HOST", authority.as_str()),
    ];
    let url = fake.key_url(None);
    let o = common::run(
        &common::bin(),
        &["encrypt", "--azure-kv", &url, "plain.yaml"],
        &dir,
        &env,
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let enc = String::from_utf8(o.stdout).unwrap();
    assert_eq!(entry_field(&enc, "version"), azure_fake::VERSIONS[1]);
    std::fs::write(dir.join("enc.yaml"), &enc).unwrap();

    // decrypt with the Azure CLI's token instead (a stand-in `az` first on PATH)
    let bin = common::scratch("azure_kv_cli_bin");
    fake_az(
        &bin,
        &format!("echo '{{\"accessToken\": \"{}\"}}'", azure_fake::TOKEN),
    );
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let o = common::run(
        &common::bin(),
        &["decrypt", "enc.yaml"],
        &dir,
        &[
            ("PATH", path.as_str()),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", azure_fake::NO_IMDS),
        ],
        None,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(String::from_utf8(o.stdout).unwrap(), PLAIN);
    assert_eq!(fake.rejections(), Vec::<String>::new());

    // a wrong secret: non-zero exit, the key and the reason named, the secret not
    let o = common::run(
        &common::bin(),
        &["decrypt", "enc.yaml"],
        &dir,
        &[
            ("AZURE_TENANT_ID", azure_fake::TENANT),
            ("AZURE_CLIENT_ID", azure_fake::CLIENT),
            ("AZURE_CLIENT_SECRET", "wrong-xyzzy"),
            ("AZURE_AUTHORITY_HOST", authority.as_str()),
        ],
        None,
    );
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("azure_kv ") && e.contains("AADSTS7000215"),
        "{e}"
    );
    assert!(!e.contains("xyzzy"), "{e}");
}

#[test]
fn an_entry_without_version_decrypts_as_the_go_sdk_asks() {
    // files from sops before 3.10 may carry `version: ""`; the Go SDK sops uses then posts
    // to `keys/NAME//decrypt`, and so does sops-rs
    let fake = AzureFake::start();
    let b = backends(fake.settings());
    let v = azure_fake::VERSIONS[1];
    let enc = encrypt(&fake.key_url(Some(v)), &b).unwrap();
    let old = enc.replace(&format!("version: {v}"), "version: \"\"");
    assert_ne!(old, enc);
    assert_eq!(decrypt(&old, &b).unwrap(), PLAIN);
    let reqs = fake.http.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path == format!("/keys/{}//decrypt", azure_fake::KEY)),
        "{reqs:?}"
    );
}

#[test]
fn app_service_managed_identity() {
    let fake = AzureFake::start();
    let endpoint = format!("{}{}", fake.url(), azure_fake::IDENTITY_PATH);
    let s = azure_kv::Settings {
        identity_endpoint: Some(endpoint.clone()),
        identity_header: Some(zeroize::Zeroizing::new(azure_fake::IDENTITY_HEADER.into())),
        imds_host: azure_fake::NO_IMDS.into(),
        az_command: "/nonexistent/az".into(),
        ..Default::default()
    };
    let b = backends(s.clone());
    let enc = encrypt(&fake.key_url(None), &b).unwrap();
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    assert_eq!(fake.rejections(), Vec::<String>::new());
    let r = fake
        .http
        .requests()
        .into_iter()
        .find(|r| r.path == azure_fake::IDENTITY_PATH)
        .unwrap();
    assert!(!r.query_form().contains_key("client_id"), "{r:?}");

    // a user-assigned identity is chosen by AZURE_CLIENT_ID; an unknown one is refused
    let mut user = s.clone();
    user.client_id = Some(azure_fake::CLIENT.into());
    assert_eq!(decrypt(&enc, &backends(user.clone())).unwrap(), PLAIN);
    user.client_id = Some("someone-else".into());
    let e = decrypt(&enc, &backends(user)).unwrap_err().to_string();
    assert!(e.contains("managed identity (IDENTITY_ENDPOINT)"), "{e}");
    assert!(e.contains("Identity not found"), "{e}");

    // a wrong or missing header: the reason, never the header's value
    let mut wrong = s.clone();
    wrong.identity_header = Some(zeroize::Zeroizing::new("wrong-xyzzy".into()));
    let e = decrypt(&enc, &backends(wrong)).unwrap_err().to_string();
    assert!(e.contains("HTTP 401") && !e.contains("xyzzy"), "{e}");
    let mut none = s;
    none.identity_header = None;
    let e = decrypt(&enc, &backends(none)).unwrap_err().to_string();
    assert!(e.contains("IDENTITY_HEADER is not"), "{e}");
}

#[test]
fn instance_metadata_managed_identity_then_the_cli() {
    let fake = AzureFake::start();
    let s = azure_kv::Settings {
        imds_host: fake.url(),
        az_command: "/nonexistent/az".into(),
        ..Default::default()
    };
    let b = backends(s.clone());
    let enc = encrypt(&fake.key_url(None), &b).unwrap();
    assert_eq!(decrypt(&enc, &b).unwrap(), PLAIN);
    assert_eq!(fake.rejections(), Vec::<String>::new());
    assert!(fake.http.requests().iter().any(
        |r| r.path == "/metadata/identity/oauth2/token" && r.header("metadata") == Some("true")
    ));

    // the metadata service refuses (no such identity): on to the Azure CLI, and when that
    // fails too, both reasons are given
    let mut other = s.clone();
    other.client_id = Some("someone-else".into());
    let e = decrypt(&enc, &backends(other.clone()))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no managed identity answered"), "{e}");
    assert!(e.contains("Identity not found"), "{e}");
    assert!(e.contains("cannot run /nonexistent/az"), "{e}");
    let dir = common::scratch("azure_kv_imds_az");
    other.az_command = fake_az(
        &dir,
        &format!("echo '{{\"accessToken\": \"{}\"}}'", azure_fake::TOKEN),
    );
    assert_eq!(decrypt(&enc, &backends(other)).unwrap(), PLAIN);

    // nothing listening: the probe gives up within a second, then the CLI is asked
    let start = std::time::Instant::now();
    let none = azure_kv::Settings {
        imds_host: azure_fake::NO_IMDS.into(),
        az_command: "/nonexistent/az".into(),
        ..Default::default()
    };
    let e = decrypt(&enc, &backends(none)).unwrap_err().to_string();
    assert!(e.contains("no managed identity answered"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn cli_managed_identity_from_the_environment() {
    let fake = AzureFake::start();
    let dir = common::isolated_scratch("azure_kv_cli_mi");
    std::fs::write(dir.join("plain.yaml"), PLAIN).unwrap();
    let endpoint = format!("{}{}", fake.url(), azure_fake::IDENTITY_PATH);
    let host = fake.url();
    let url = fake.key_url(None);
    for env in [
        vec![
            ("IDENTITY_ENDPOINT", endpoint.as_str()),
            ("IDENTITY_HEADER", azure_fake::IDENTITY_HEADER),
            ("AZURE_POD_IDENTITY_AUTHORITY_HOST", azure_fake::NO_IMDS),
        ],
        vec![("AZURE_POD_IDENTITY_AUTHORITY_HOST", host.as_str())],
    ] {
        let rs = common::bin();
        let enc = common::stdout_ok(
            &rs,
            &["encrypt", "--azure-kv", &url, "plain.yaml"],
            &dir,
            &env,
        );
        std::fs::write(dir.join("enc.yaml"), enc).unwrap();
        assert_eq!(
            common::stdout_ok(&rs, &["decrypt", "enc.yaml"], &dir, &env),
            PLAIN
        );
    }
    assert_eq!(fake.rejections(), Vec::<String>::new());
}
