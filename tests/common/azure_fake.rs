//! A fake Azure: the Entra ID token endpoint and Key Vault's get-key, encrypt and decrypt
//! operations, on the shared [`HttpFake`]. It checks each request against the documented
//! REST shapes (method, path, `api-version`, `Authorization: Bearer`, JSON body with
//! `alg: RSA-OAEP-256` and an unpadded base64url `value`) and rejects anything else; every
//! rejection is also recorded so tests can assert there were none.
//!
//! "Encryption" is a reversible transform, not RSA: the fake checks protocol, not crypto.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::http_fake::{HttpFake, Request, Response};

pub const TENANT: &str = "tenant-0000";
pub const CLIENT: &str = "client-1111";
pub const SECRET: &str = "fake-client-secret-do-not-print";
/// The workload-identity JWT the platform would mount (any text will do for the fake).
pub const ASSERTION: &str = "eyJfake.federated.jwt";
pub const TOKEN: &str = "fake-access-token-do-not-print";
pub const KEY: &str = "sops-key";
/// The key's versions, oldest first; the last one is "the latest".
pub const VERSIONS: [&str; 2] = ["0f0e0d0c0b0a", "1a2b3c4d5e6f"];
pub const API_VERSION: &str = "7.4";
/// App Service's `IDENTITY_HEADER` secret, which the identity endpoint requires.
pub const IDENTITY_HEADER: &str = "fake-identity-header-do-not-print";
/// The path of the App Service identity endpoint on the fake (`IDENTITY_ENDPOINT`).
pub const IDENTITY_PATH: &str = "/msi/token";
/// An instance metadata service that is not there (connection refused at once), so tests
/// that fall through to the Azure CLI never ask the machine's real 169.254.169.254.
pub const NO_IMDS: &str = "http://127.0.0.1:1";

pub struct AzureFake {
    pub http: HttpFake,
    rejections: Arc<Mutex<Vec<String>>>,
}

impl AzureFake {
    pub fn start() -> AzureFake {
        let rejections = Arc::new(Mutex::new(Vec::new()));
        let rej = rejections.clone();
        let base = Arc::new(Mutex::new(String::new()));
        let b = base.clone();
        let http = HttpFake::start(move |r| {
            let base = b.lock().unwrap().clone();
            match handle(r, &base) {
                Ok(resp) => resp,
                Err((status, code, msg)) => {
                    rej.lock()
                        .unwrap()
                        .push(format!("{} {}: {msg}", r.method, r.path));
                    if r.path.contains("/oauth2/") || r.path == IDENTITY_PATH {
                        Response::json(
                            status,
                            &json!({"error": code, "error_description": format!("{msg}\r\nTrace ID: 0")})
                                .to_string(),
                        )
                    } else {
                        Response::json(
                            status,
                            &json!({"error": {"code": code, "message": msg}}).to_string(),
                        )
                    }
                }
            }
        });
        *base.lock().unwrap() = http.url();
        AzureFake { http, rejections }
    }

    /// The vault URL (also the authority host: both live on this one server).
    pub fn url(&self) -> String {
        self.http.url()
    }

    /// `{vault}/keys/sops-key[/VERSION]`
    pub fn key_url(&self, version: Option<&str>) -> String {
        match version {
            Some(v) => format!("{}/keys/{KEY}/{v}", self.url()),
            None => format!("{}/keys/{KEY}", self.url()),
        }
    }

    /// Requests the fake refused as malformed or unauthorized.
    pub fn rejections(&self) -> Vec<String> {
        self.rejections.lock().unwrap().clone()
    }

    /// Settings that authenticate with the client secret against this fake.
    pub fn settings(&self) -> sops_rs::keys::azure_kv::Settings {
        sops_rs::keys::azure_kv::Settings {
            tenant_id: Some(TENANT.into()),
            client_id: Some(CLIENT.into()),
            client_secret: Some(zeroize::Zeroizing::new(SECRET.into())),
            authority_host: Some(self.url()),
            ..Default::default()
        }
    }
}

type Reject = (u16, &'static str, String);

fn bad(msg: impl Into<String>) -> Reject {
    (400, "BadParameter", msg.into())
}

fn handle(r: &Request, base: &str) -> Result<Response, Reject> {
    if r.path == format!("/{TENANT}/oauth2/v2.0/token") {
        return token(r);
    }
    if r.path == IDENTITY_PATH || r.path == "/metadata/identity/oauth2/token" {
        return managed_identity(r);
    }
    let rest = r
        .path
        .strip_prefix("/keys/")
        .ok_or_else(|| (404, "NotFound", format!("no route {}", r.path)))?;
    if r.query_param("api-version") != Some(API_VERSION) {
        return Err(bad(format!(
            "api-version must be {API_VERSION}, got {:?}",
            r.query
        )));
    }
    if r.header("authorization") != Some(&format!("Bearer {TOKEN}")) {
        return Err((401, "Unauthorized", "missing or wrong bearer token".into()));
    }
    let parts: Vec<&str> = rest.split('/').collect();
    match (r.method.as_str(), parts.as_slice()) {
        ("GET", [name]) | ("GET", [name, ""]) => {
            known_key(name)?;
            let latest = VERSIONS[VERSIONS.len() - 1];
            Ok(Response::json(
                200,
                &json!({
                    "key": {"kid": format!("{base}/keys/{name}/{latest}"), "kty": "RSA", "key_ops": ["encrypt", "decrypt"]},
                    "attributes": {"enabled": true}
                })
                .to_string(),
            ))
        }
        ("POST", [name, version, op @ ("encrypt" | "decrypt")]) => {
            known_key(name)?;
            if *op == "encrypt" && !VERSIONS.contains(version) {
                return Err((404, "KeyNotFound", format!("no version {version:?}")));
            }
            if r.header("content-type")
                .is_none_or(|c| !c.starts_with("application/json"))
            {
                return Err(bad("Content-Type must be application/json"));
            }
            let v: Value = serde_json::from_slice(&r.body).map_err(|_| bad("body is not JSON"))?;
            let obj = v.as_object().ok_or_else(|| bad("body is not an object"))?;
            if obj.len() != 2 || obj.get("alg") != Some(&json!("RSA-OAEP-256")) {
                return Err(bad("body must be exactly {alg: RSA-OAEP-256, value}"));
            }
            let value = obj["value"]
                .as_str()
                .ok_or_else(|| bad("value is not a string"))?;
            if !value
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            {
                return Err(bad("value is not unpadded base64url"));
            }
            let data = URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| bad("value is not base64url"))?;
            let out = if *op == "encrypt" {
                seal(version, &data)
            } else {
                open(version, &data).ok_or_else(|| bad("ciphertext does not decrypt"))?
            };
            Ok(Response::json(
                200,
                &json!({"kid": format!("{base}/keys/{name}/{version}"), "value": URL_SAFE_NO_PAD.encode(out)})
                    .to_string(),
            ))
        }
        _ => Err((
            405,
            "BadRequest",
            format!("no operation {} {}", r.method, r.path),
        )),
    }
}

fn known_key(name: &str) -> Result<(), Reject> {
    if name == KEY {
        Ok(())
    } else {
        Err((
            404,
            "KeyNotFound",
            format!("A key with (name/id) {name} was not found in this key vault."),
        ))
    }
}

fn token(r: &Request) -> Result<Response, Reject> {
    if r.method != "POST" {
        return Err(bad("token requests are POSTs"));
    }
    if r.header("content-type") != Some("application/x-www-form-urlencoded") {
        return Err(bad("token requests are form-encoded"));
    }
    let f = r.form();
    let get = |k: &str| f.get(k).map(String::as_str);
    if get("grant_type") != Some("client_credentials")
        || get("scope") != Some("https://vault.azure.net/.default")
    {
        return Err(bad(
            "grant_type=client_credentials and scope=https://vault.azure.net/.default expected",
        ));
    }
    if get("client_id") != Some(CLIENT) {
        return Err((
            400,
            "unauthorized_client",
            "AADSTS700016: Application not found in the directory.".into(),
        ));
    }
    let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
    match (
        get("client_secret"),
        get("client_assertion_type"),
        get("client_assertion"),
    ) {
        (Some(SECRET), None, None) => {}
        (Some(_), None, None) => {
            return Err((
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided.".into(),
            ));
        }
        (None, Some(t), Some(ASSERTION)) if t == jwt_bearer => {}
        (None, Some(t), Some(_)) if t == jwt_bearer => {
            return Err((
                400,
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range.".into(),
            ));
        }
        _ => {
            return Err(bad(
                "a client_secret or a jwt-bearer client_assertion expected",
            ));
        }
    }
    Ok(Response::json(
        200,
        &json!({"token_type": "Bearer", "expires_in": 3599, "access_token": TOKEN}).to_string(),
    ))
}

/// A managed identity's token, from App Service's endpoint (`X-IDENTITY-HEADER`, api-version
/// 2019-08-01) or the instance metadata service (`Metadata: true`, api-version 2018-02-01).
/// The resource is a query parameter; `client_id`, when given, must be [`CLIENT`] (the
/// user-assigned identity), else the answer is IMDS's "Identity not found".
fn managed_identity(r: &Request) -> Result<Response, Reject> {
    if r.method != "GET" {
        return Err(bad("managed identity token requests are GETs"));
    }
    let q = r.query_form();
    let app_service = r.path == IDENTITY_PATH;
    let (version, ok) = if app_service {
        (
            "2019-08-01",
            r.header("x-identity-header") == Some(IDENTITY_HEADER),
        )
    } else {
        ("2018-02-01", r.header("metadata") == Some("true"))
    };
    if !ok {
        return Err((
            401,
            "unauthorized",
            "missing or wrong identity header".into(),
        ));
    }
    if q.get("api-version").map(String::as_str) != Some(version)
        || q.get("resource").map(String::as_str) != Some("https://vault.azure.net")
    {
        return Err(bad(format!(
            "api-version={version} and resource=https://vault.azure.net expected, got {:?}",
            r.query
        )));
    }
    if q.get("client_id").is_some_and(|c| c != CLIENT) {
        return Err((400, "invalid_request", "Identity not found".into()));
    }
    Ok(Response::json(
        200,
        &json!({"access_token": TOKEN, "expires_on": "1795699999", "resource": "https://vault.azure.net", "token_type": "Bearer"})
            .to_string(),
    ))
}

/// The fake "RSA": `FAKE`, the version, `:`, the data XOR 0x5a.
fn seal(version: &str, data: &[u8]) -> Vec<u8> {
    let mut out = format!("FAKE{version}:").into_bytes();
    out.extend(data.iter().map(|b| b ^ 0x5a));
    out
}

/// Reverses [`seal`]; an empty version (sops' unversioned entries) decrypts with any.
fn open(version: &str, data: &[u8]) -> Option<Vec<u8>> {
    let rest = data.strip_prefix(b"FAKE")?;
    let colon = rest.iter().position(|b| *b == b':')?;
    let (v, body) = (&rest[..colon], &rest[colon + 1..]);
    if !version.is_empty() && v != version.as_bytes() {
        return None;
    }
    Some(body.iter().map(|b| b ^ 0x5a).collect())
}
