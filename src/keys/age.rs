//! age master keys: the `age:` entries of sops metadata (`age/keysource.go` in getsops/sops).
//!
//! This is the library side: nothing here reads environment variables, prompts on its own,
//! or exits. The CLI (`cli::age_env`) collects identity material and hands it to
//! [`Identities`]. Anything interactive (passphrase-protected SSH keys and identity files,
//! plugin PIN/confirmation requests) goes through an optional caller-supplied [`Prompter`].
//!
//! * [`wrap`] encrypts a data key (32 bytes, or a 33-byte Shamir share) to one recipient, as
//!   sops does: one ASCII-armored age file per `age:` entry.
//! * [`Identities::unwrap`] tries every loaded identity on one armored `enc` value.
//!
//! Secret hygiene: error messages never contain key material or plaintext (line numbers and
//! origins only); every copy of secret key text made here is zeroized on drop.

use std::fmt;
use std::io::{self, BufRead, Read, Write};
use std::sync::{Arc, Mutex};

use ::age::armor::{ArmoredReader, ArmoredWriter, Format};
use ::age::secrecy::SecretString;
use base64::Engine as _;
use sha2::{Digest, Sha256, Sha512};
use zeroize::{Zeroize, Zeroizing};

/// First line of an armored age file (`enc` values start with it).
pub const ARMOR_BEGIN: &str = "-----BEGIN AGE ENCRYPTED FILE-----";
/// Last line of an armored age file (`enc` values end with it plus `\n`).
pub const ARMOR_END: &str = "-----END AGE ENCRYPTED FILE-----";

/// Errors of the age key source. Messages are lowercase and never contain key material or
/// plaintext: at most a public recipient, an origin (e.g. `SOPS_AGE_KEY_FILE=/path`) and a
/// line number.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgeError {
    /// The recipient matched none of the known forms (`age1…`, `ssh-…`).
    #[error("failed to parse input, unknown recipient type: {0:?}")]
    UnknownRecipient(String),
    /// A recipient of a known form that failed to parse (or whose plugin is missing).
    #[error("failed to parse input as {kind}: {reason}")]
    InvalidRecipient {
        /// What it was parsed as, in sops' words.
        kind: &'static str,
        /// Why it failed.
        reason: String,
    },
    /// age refused to encrypt.
    #[error("failed to encrypt sops data key with age: {0}")]
    Encrypt(String),
    /// Key text (keys.txt format) that could not be used.
    #[error("failed to parse '{origin}' age identities: {reason}")]
    InvalidIdentities {
        /// Where the text came from.
        origin: String,
        /// Why (with a line number, never the line).
        reason: String,
    },
    /// An SSH private key that could not be parsed.
    #[error("malformed ssh identity in '{origin}': {reason}")]
    InvalidSshKey {
        /// Where the key came from.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A passphrase-protected SSH key, and no [`Prompter`] to ask for the passphrase.
    #[error("ssh key '{origin}' is passphrase-protected and no passphrase prompt is available")]
    EncryptedSshKey {
        /// Where the key came from.
        origin: String,
    },
    /// An SSH key type or format that age does not support.
    #[error("unsupported ssh key in '{origin}': {reason}")]
    UnsupportedSshKey {
        /// Where the key came from.
        origin: String,
        /// Why.
        reason: String,
    },
    /// A passphrase-encrypted identity file, and no [`Prompter`].
    #[error(
        "identity file '{origin}' is passphrase-encrypted and no passphrase prompt is available"
    )]
    EncryptedIdentityFile {
        /// Where the file came from.
        origin: String,
    },
    /// No identity at all was loaded. `context` carries the load errors and the locations
    /// searched, formatted as sops does (`. Errors while loading…. Did not find keys…`).
    #[error("failed to load age identities{context}")]
    NoIdentities {
        /// Load errors / unused locations suffix (may be empty).
        context: String,
    },
    /// Decryption of the `enc` value failed (wrong identities, malformed header, …).
    #[error("failed to create reader for decrypting sops data key with age: {reason}{context}")]
    Decrypt {
        /// age's reason.
        reason: String,
        /// Load errors / unused locations suffix (may be empty).
        context: String,
    },
    /// The header decrypted but the payload did not (tampered or truncated ciphertext).
    #[error("failed to read age decrypted data: {0}")]
    Read(String),
}

// ---------------------------------------------------------------------------------------------
// Prompting hook
// ---------------------------------------------------------------------------------------------

/// User interaction hook, supplied by the CLI. The library never prompts by itself: without a
/// prompter, passphrase-protected SSH keys and identity files are load errors, and plugins
/// get no answers to their requests.
pub trait Prompter: Send + Sync {
    /// Show a message (e.g. "touch your YubiKey").
    fn display_message(&self, _message: &str) {}
    /// Ask a yes/no question; `None` when no answer can be obtained.
    fn confirm(&self, _message: &str, _yes: &str, _no: Option<&str>) -> Option<bool> {
        None
    }
    /// Ask for a non-secret string; `None` when none can be obtained.
    fn request_public_string(&self, _description: &str) -> Option<String> {
        None
    }
    /// Ask for a passphrase or PIN; `None` when none can be obtained.
    fn request_passphrase(&self, description: &str) -> Option<Zeroizing<String>>;
}

/// Adapts an optional [`Prompter`] to age's `Callbacks` (without one it behaves like
/// `age::NoCallbacks`).
#[derive(Clone)]
struct Callbacks(Option<Arc<dyn Prompter>>);

impl ::age::Callbacks for Callbacks {
    fn display_message(&self, message: &str) {
        if let Some(p) = &self.0 {
            p.display_message(message);
        }
    }

    fn confirm(&self, message: &str, yes_string: &str, no_string: Option<&str>) -> Option<bool> {
        self.0.as_ref()?.confirm(message, yes_string, no_string)
    }

    fn request_public_string(&self, description: &str) -> Option<String> {
        self.0.as_ref()?.request_public_string(description)
    }

    fn request_passphrase(&self, description: &str) -> Option<SecretString> {
        let mut pass = self.0.as_ref()?.request_passphrase(description)?;
        // Move the buffer (no copy) into the SecretString, which zeroizes it on drop.
        Some(SecretString::from(std::mem::take(&mut *pass)))
    }
}

// ---------------------------------------------------------------------------------------------
// Recipients and wrapping
// ---------------------------------------------------------------------------------------------

const KIND_X25519: &str = "Bech32-encoded age public key";
const KIND_PLUGIN: &str = "age key from age plugin";
const KIND_SSH: &str = "age-ssh public key";

/// Parse a recipient string the way sops does (`parseRecipient`), after trimming whitespace:
/// * `age1…` with more than one `1` → plugin recipient (`age1<name>1…`; the plugin binary
///   `age-plugin-<name>` must be on `PATH`). `age1tag1…`/`age1tagpq1…` use age's native
///   tag recipients instead; `age1pq1…` goes to `age-plugin-pq` (age has no native hybrid).
/// * `age1…` → X25519.
/// * `ssh-…` → `ssh-ed25519` / `ssh-rsa` public key (authorized_keys line).
pub fn parse_recipient(s: &str) -> Result<Box<dyn ::age::Recipient + Send>, AgeError> {
    let s = s.trim();
    let invalid = |kind: &'static str, reason: String| AgeError::InvalidRecipient { kind, reason };
    if s.starts_with("age1") && s.matches('1').count() > 1 {
        if s.starts_with("age1tagpq1")
            && let Ok(r) = s.parse::<::age::tagpq::Recipient>()
        {
            return Ok(Box::new(r));
        }
        if s.starts_with("age1tag1")
            && let Ok(r) = s.parse::<::age::tag::Recipient>()
        {
            return Ok(Box::new(r));
        }
        let r: ::age::plugin::Recipient = s
            .parse()
            .map_err(|e: &str| invalid(KIND_PLUGIN, e.into()))?;
        let plugin = ::age::plugin::RecipientPluginV1::new(
            r.plugin(),
            std::slice::from_ref(&r),
            &[],
            Callbacks(None),
        )
        .map_err(|e| invalid(KIND_PLUGIN, describe_resolve_error(&e)))?;
        Ok(Box::new(plugin))
    } else if s.starts_with("age1") {
        let r: ::age::x25519::Recipient = s
            .parse()
            .map_err(|e: &str| invalid(KIND_X25519, e.into()))?;
        Ok(Box::new(r))
    } else if s.starts_with("ssh-") {
        let r: ::age::ssh::Recipient =
            s.parse().map_err(|e: ::age::ssh::ParseRecipientKeyError| {
                invalid(KIND_SSH, describe_ssh_parse_error(&e))
            })?;
        Ok(Box::new(r))
    } else {
        Err(AgeError::UnknownRecipient(s.to_owned()))
    }
}

/// Encrypt `data_key` (32 bytes, or a 33-byte Shamir share) to ONE recipient as sops does:
/// an ASCII-armored age file (`-----BEGIN AGE ENCRYPTED FILE-----` … 64-column base64 …
/// `-----END AGE ENCRYPTED FILE-----\n`), always ending with a newline.
pub fn wrap(recipient: &str, data_key: &[u8]) -> Result<String, AgeError> {
    let r = parse_recipient(recipient)?;
    wrap_to(r.as_ref(), data_key)
}

/// [`wrap`] with an already parsed recipient (see [`parse_recipient`]).
pub fn wrap_to(
    recipient: &(dyn ::age::Recipient + Send),
    data_key: &[u8],
) -> Result<String, AgeError> {
    let enc_err = |e: &dyn fmt::Display| AgeError::Encrypt(e.to_string());
    let encryptor =
        ::age::Encryptor::with_recipients(std::iter::once(recipient as &dyn ::age::Recipient))
            .map_err(|e| enc_err(&e))?;
    let mut out = Vec::with_capacity(512);
    let armored =
        ArmoredWriter::wrap_output(&mut out, Format::AsciiArmor).map_err(|e| enc_err(&e))?;
    let mut w = encryptor.wrap_output(armored).map_err(|e| enc_err(&e))?;
    w.write_all(data_key).map_err(|e| enc_err(&e))?;
    w.finish()
        .and_then(|a| a.finish())
        .map_err(|e| enc_err(&e))?;
    let mut s = String::from_utf8(out).map_err(|e| enc_err(&e))?;
    if !s.ends_with('\n') {
        s.push('\n');
    }
    Ok(s)
}

// ---------------------------------------------------------------------------------------------
// Identities
// ---------------------------------------------------------------------------------------------

/// One usable identity.
enum Entry {
    X25519(::age::x25519::Identity),
    /// An unencrypted SSH key; for ed25519 also the X25519 identity derived from it the way
    /// `ssh-to-age` does (sops ≥ 3.13 decrypts for such derived `age1…` recipients too).
    Ssh {
        id: ::age::ssh::Identity,
        derived: Option<::age::x25519::Identity>,
    },
    Plugin(::age::plugin::Identity),
}

/// Something that needs a passphrase before it can be used (only with a [`Prompter`]).
enum Locked {
    Ssh {
        origin: String,
        key: ::age::ssh::EncryptedKey,
        /// Stanza type this key unwraps (`ssh-ed25519` or `ssh-rsa`).
        stanza_type: &'static str,
        /// The stanza's first argument for this key (base64 of SHA-256(pubkey)[..4]).
        tag: String,
    },
    /// A passphrase-encrypted (scrypt) age identity file.
    File { origin: String, data: Vec<u8> },
}

/// What unlocking produced so far (shared across `unwrap` calls, so each passphrase is asked
/// for at most once).
#[derive(Default)]
struct Unlocked {
    attempted: Vec<bool>,
    identities: Vec<Box<dyn ::age::Identity + Send + Sync>>,
    errors: Vec<String>,
}

/// A set of age identities, built from material the CLI collected.
///
/// Loading errors are not fatal: every `add_*` method records its error in
/// [`load_errors`](Self::load_errors) (and also returns it), and the unwrap error carries them,
/// as sops reports them only when decryption fails.
pub struct Identities {
    entries: Vec<Entry>,
    locked: Vec<Locked>,
    unlocked: Mutex<Unlocked>,
    load_errors: Vec<String>,
    unused_locations: Vec<String>,
    prompter: Option<Arc<dyn Prompter>>,
    /// Data keys (or shares) already unwrapped, by `enc` text: many files sharing one wrapped
    /// key (bulk decrypt) cost one age decryption, or one passphrase/plugin prompt.
    unwrapped: Mutex<std::collections::HashMap<String, Zeroizing<Vec<u8>>>>,
}

impl fmt::Debug for Identities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identities")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for Identities {
    fn default() -> Self {
        Self::new()
    }
}

/// What one `try_decrypt` attempt gave (the plaintext went to the caller's sink).
enum Attempt {
    Ok,
    Header(::age::DecryptError),
    Payload(io::Error),
}

/// Why [`Identities::decrypt_file`] failed, in the classes of the C2SP CCTV age test vectors.
/// Messages never contain key material or plaintext.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgeFileError {
    /// The ASCII armor is malformed (in the header or in the payload).
    #[error("invalid age armor: {0}")]
    Armor(String),
    /// The header does not parse, or a matching stanza is malformed.
    #[error("invalid age header: {0}")]
    Header(String),
    /// A file key was unwrapped but the header MAC does not verify.
    #[error("age header mac is invalid")]
    HeaderMac,
    /// No identity matched any recipient stanza.
    #[error("no identity matched any of the recipients")]
    NoMatch,
    /// The payload does not decrypt all the way to its end (tampered or truncated).
    #[error("age payload failed to decrypt: {0}")]
    Payload(String),
}

/// The armor error inside an I/O error, if that is what it is.
fn armor_error(e: &io::Error) -> Option<&::age::armor::ArmoredReadError> {
    e.get_ref()?
        .downcast_ref::<::age::armor::ArmoredReadError>()
}

impl AgeFileError {
    fn from_attempt(attempt: Attempt) -> Result<(), AgeFileError> {
        use ::age::DecryptError as D;
        match attempt {
            Attempt::Ok => Ok(()),
            Attempt::Header(D::Io(e)) => Err(match armor_error(&e) {
                Some(a) => AgeFileError::Armor(a.to_string().to_lowercase()),
                None => AgeFileError::Header(e.to_string().to_lowercase()),
            }),
            Attempt::Header(D::InvalidMac) => Err(AgeFileError::HeaderMac),
            // DecryptionFailed: a stanza body did not open under this identity (for scrypt,
            // a wrong passphrase and a bad tag are the same thing), i.e. it is not ours
            Attempt::Header(D::NoMatchingKeys | D::DecryptionFailed) => Err(AgeFileError::NoMatch),
            Attempt::Header(e) => Err(AgeFileError::Header(describe_decrypt_error(&e))),
            Attempt::Payload(e) => Err(match armor_error(&e) {
                Some(a) => AgeFileError::Armor(a.to_string().to_lowercase()),
                None => AgeFileError::Payload(e.to_string().to_lowercase()),
            }),
        }
    }
}

/// A `Write` sink that keeps the plaintext in a zeroizing buffer and never leaves an
/// unzeroized copy behind when it grows.
#[derive(Default)]
struct SecretSink(Zeroizing<Vec<u8>>);

impl Write for SecretSink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let out = &mut self.0;
        if out.len() + buf.len() > out.capacity() {
            let wanted = (out.len() + buf.len()).max(out.capacity() * 2).max(64);
            let mut bigger = Zeroizing::new(Vec::with_capacity(wanted));
            bigger.extend_from_slice(out);
            *out = bigger; // the old buffer is zeroized on drop
        }
        out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Identities {
    /// An empty set, without a prompter.
    pub fn new() -> Self {
        Identities {
            entries: Vec::new(),
            locked: Vec::new(),
            unlocked: Mutex::new(Unlocked::default()),
            load_errors: Vec::new(),
            unused_locations: Vec::new(),
            prompter: None,
            unwrapped: Mutex::default(),
        }
    }

    /// An empty set whose passphrase-protected SSH keys / identity files are unlocked on demand
    /// (only when decryption needs them) through `prompter`, which also serves plugin requests.
    pub fn with_prompter(prompter: Arc<dyn Prompter>) -> Self {
        Identities {
            prompter: Some(prompter),
            ..Self::new()
        }
    }

    /// Number of identities (keys) loaded; a passphrase-protected one counts too.
    pub fn len(&self) -> usize {
        self.entries.len() + self.locked.len()
    }

    /// No identity loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Errors met while loading, one message per failed source (no key material).
    pub fn load_errors(&self) -> &[String] {
        &self.load_errors
    }

    /// Record a loading error found by the caller (e.g. an unreadable key file).
    pub fn add_load_error(&mut self, message: impl Into<String>) {
        self.load_errors.push(message.into());
    }

    /// Locations that were searched but held no key (for sops' "Did not find keys in
    /// locations …" hint).
    pub fn unused_locations(&self) -> &[String] {
        &self.unused_locations
    }

    /// Record a location that was searched but held no key.
    pub fn add_unused_location(&mut self, location: impl Into<String>) {
        self.unused_locations.push(location.into());
    }

    fn fail<T>(&mut self, err: AgeError) -> Result<T, AgeError> {
        self.load_errors.push(err.to_string());
        Err(err)
    }

    /// Add identities from text in keys.txt format: `AGE-SECRET-KEY-1…` and `AGE-PLUGIN-…`
    /// keys; blank lines and lines starting with `#` are ignored; several keys on one line
    /// separated by whitespace are allowed (sops 3.13), and a `#` token ends the line.
    ///
    /// A token that is not a key rejects the whole source (as sops does), nothing is added.
    /// Keys of a kind this build cannot use (post-quantum `AGE-SECRET-KEY-PQ-1…`, a plugin whose
    /// binary is not on `PATH`) are skipped with a recorded error and the rest are kept.
    /// Returns the number of identities added. `origin` names the source in messages.
    /// Errors are also recorded in [`load_errors`](Self::load_errors).
    pub fn add_key_text(&mut self, text: &str, origin: &str) -> Result<usize, AgeError> {
        let mut parsed: Vec<Entry> = Vec::new();
        let mut skipped: Vec<String> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            for token in line.split_whitespace() {
                if token.starts_with('#') {
                    break;
                }
                let upper = token.get(..19).map(str::to_ascii_uppercase);
                if upper.as_deref() == Some("AGE-SECRET-KEY-PQ-1") {
                    skipped.push(format!(
                        "line {}: post-quantum identities (AGE-SECRET-KEY-PQ-1…) are not supported",
                        n + 1
                    ));
                    continue;
                }
                if let Ok(id) = token.parse::<::age::x25519::Identity>() {
                    parsed.push(Entry::X25519(id));
                } else if let Ok(id) = token.parse::<::age::plugin::Identity>() {
                    // Resolve the plugin binary now, so a missing one is reported as a load error.
                    match ::age::plugin::IdentityPluginV1::new(
                        id.plugin(),
                        std::slice::from_ref(&id),
                        Callbacks(None),
                    ) {
                        Ok(_) => parsed.push(Entry::Plugin(id)),
                        Err(e) => {
                            skipped.push(format!("line {}: {}", n + 1, describe_resolve_error(&e)))
                        }
                    }
                } else {
                    let reason = format!("unknown identity type on line {}", n + 1);
                    return self.fail(AgeError::InvalidIdentities {
                        origin: origin.to_owned(),
                        reason,
                    });
                }
            }
        }
        let added = parsed.len();
        self.entries.extend(parsed);
        let mut first_err = None;
        for reason in skipped {
            let err = AgeError::InvalidIdentities {
                origin: origin.to_owned(),
                reason,
            };
            self.load_errors.push(err.to_string());
            first_err.get_or_insert(err);
        }
        match first_err {
            Some(err) if added == 0 => Err(err),
            _ => Ok(added),
        }
    }

    /// Add identities from the raw content of a key file or command output: a plain keys.txt
    /// (must be UTF-8, see [`add_key_text`](Self::add_key_text)) or an age-encrypted identity
    /// file (binary or armored, passphrase/scrypt), which needs a [`Prompter`] and is only
    /// decrypted when an `unwrap` needs it. Returns the number of identities added.
    pub fn add_key_bytes(&mut self, data: &[u8], origin: &str) -> Result<usize, AgeError> {
        let head = &data[..data.len().min(14)];
        if head == b"age-encryption" || head == b"-----BEGIN AGE" {
            return self.add_encrypted_identity_file(data, origin);
        }
        match std::str::from_utf8(data) {
            Ok(text) => self.add_key_text(text, origin),
            Err(e) => self.fail(AgeError::InvalidIdentities {
                origin: origin.to_owned(),
                reason: format!("not valid UTF-8 (at byte {})", e.valid_up_to()),
            }),
        }
    }

    fn add_encrypted_identity_file(
        &mut self,
        data: &[u8],
        origin: &str,
    ) -> Result<usize, AgeError> {
        let invalid = |reason: String| AgeError::InvalidIdentities {
            origin: origin.to_owned(),
            reason,
        };
        let decryptor = match ::age::Decryptor::new_buffered(ArmoredReader::new(data)) {
            Ok(d) => d,
            Err(e) => {
                return self.fail(invalid(format!(
                    "invalid encrypted identity file: {}",
                    describe_decrypt_error(&e)
                )));
            }
        };
        if !decryptor.is_scrypt() {
            return self.fail(invalid(
                "age-encrypted identity file is not passphrase-encrypted".into(),
            ));
        }
        if self.prompter.is_none() {
            return self.fail(AgeError::EncryptedIdentityFile {
                origin: origin.to_owned(),
            });
        }
        self.locked.push(Locked::File {
            origin: origin.to_owned(),
            data: data.to_vec(),
        });
        Ok(1)
    }

    /// Add an OpenSSH private key (ed25519 or rsa; also unencrypted PKCS#1 RSA PEM). An ed25519
    /// key also yields the X25519 identity `ssh-to-age` derives from it, as sops ≥ 3.13 does.
    /// Passphrase-protected keys need a [`Prompter`] (they are unlocked only when an `enc`
    /// has a stanza for this very key); without one they give [`AgeError::EncryptedSshKey`].
    pub fn add_ssh_key(&mut self, pem: &[u8], origin: &str) -> Result<(), AgeError> {
        let parsed = match ::age::ssh::Identity::from_buffer(pem, Some(origin.to_owned())) {
            Ok(p) => p,
            Err(e) => {
                return self.fail(AgeError::InvalidSshKey {
                    origin: origin.to_owned(),
                    reason: e.to_string().to_lowercase(),
                });
            }
        };
        match parsed {
            ::age::ssh::Identity::Unencrypted(key) => {
                let derived = derive_x25519_from_pem(pem);
                self.entries.push(Entry::Ssh {
                    id: ::age::ssh::Identity::Unencrypted(key),
                    derived,
                });
                Ok(())
            }
            ::age::ssh::Identity::Encrypted(key) => {
                if self.prompter.is_none() {
                    return self.fail(AgeError::EncryptedSshKey {
                        origin: origin.to_owned(),
                    });
                }
                let pubkey =
                    ::age::ssh::Recipient::try_from(::age::ssh::Identity::Encrypted(key.clone()));
                let (stanza_type, blob) = match pubkey {
                    Ok(::age::ssh::Recipient::SshEd25519(blob, _)) => ("ssh-ed25519", blob),
                    Ok(::age::ssh::Recipient::SshRsa(blob, _)) => ("ssh-rsa", blob),
                    Err(e) => {
                        return self.fail(AgeError::UnsupportedSshKey {
                            origin: origin.to_owned(),
                            reason: describe_ssh_parse_error(&e),
                        });
                    }
                };
                self.locked.push(Locked::Ssh {
                    origin: origin.to_owned(),
                    key,
                    stanza_type,
                    tag: ssh_stanza_tag(&blob),
                });
                Ok(())
            }
            ::age::ssh::Identity::Unsupported(u) => self.fail(AgeError::UnsupportedSshKey {
                origin: origin.to_owned(),
                reason: UnsupportedDisplay(&u).to_string().to_lowercase(),
            }),
        }
    }

    /// The sops-style suffix for failure messages: `. Errors while loading age identities: …`
    /// and `. Did not find keys in locations '…', and '…'.` (each only when non-empty).
    fn context(&self, runtime_errors: &[String]) -> String {
        let errors: Vec<&str> = self
            .load_errors
            .iter()
            .chain(runtime_errors)
            .map(String::as_str)
            .collect();
        let mut out = String::new();
        if !errors.is_empty() {
            out.push_str(". Errors while loading age identities: ");
            out.push_str(&errors.join("; "));
        }
        let locs = &self.unused_locations;
        if !locs.is_empty() {
            let list = match locs.len() {
                1 => format!(" '{}'", locs[0]),
                2 => format!("s '{}' and '{}'", locs[0], locs[1]),
                n => format!("s '{}', and '{}'", locs[..n - 1].join("', '"), locs[n - 1]),
            };
            out.push_str(&format!(". Did not find keys in location{list}."));
        }
        out
    }

    /// Try all identities on one armored `enc` value and return the plaintext (the data key or
    /// Shamir share), zeroized on drop. Native and SSH keys are tried first, then identities
    /// unlocked earlier, then plugins; passphrase-protected keys/files are unlocked (through the
    /// prompter) only if nothing else matched.
    pub fn unwrap(&self, enc: &str) -> Result<Zeroizing<Vec<u8>>, AgeError> {
        let enc = enc.trim_start();
        if self.is_empty() {
            return Err(AgeError::NoIdentities {
                context: self.context(&[]),
            });
        }
        if let Some(k) = self
            .unwrapped
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(enc)
        {
            return Ok(k.clone());
        }
        let mut sink = SecretSink::default();
        let (attempt, runtime_errors) = self.decrypt_into(enc.as_bytes(), &[], &mut sink);
        match attempt {
            Attempt::Ok => {
                let pt = std::mem::take(&mut sink.0);
                self.unwrapped
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(enc.to_string(), pt.clone());
                Ok(pt)
            }
            Attempt::Header(e) => Err(AgeError::Decrypt {
                reason: describe_decrypt_error(&e),
                context: self.context(&runtime_errors),
            }),
            // whatever the sink holds is dropped (zeroized) here
            Attempt::Payload(e) => Err(AgeError::Read(e.to_string().to_lowercase())),
        }
    }

    /// Decrypt a whole age file (binary or ASCII-armored) with the loaded identities plus
    /// `extra` ones (e.g. an `age::scrypt::Identity`: sops never uses passphrase recipients,
    /// so `Identities` holds none), through the same path as [`unwrap`](Self::unwrap). The
    /// plaintext goes to `out` as age releases it: only authenticated STREAM chunks, so after
    /// a [`AgeFileError::Payload`] failure `out` holds the intact prefix. This is the entry
    /// point of the C2SP CCTV vector suite (`tests/age_cctv.rs`).
    pub fn decrypt_file(
        &self,
        file: &[u8],
        extra: &[&dyn ::age::Identity],
        out: &mut dyn Write,
    ) -> Result<(), AgeFileError> {
        // whitespace before the armor is allowed (age spec; `unwrap` trims it too)
        let start = file
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(file.len());
        let file = match file[start..].starts_with(b"-----BEGIN") {
            true => &file[start..],
            false => file,
        };
        let (attempt, _) = self.decrypt_into(file, extra, out);
        AgeFileError::from_attempt(attempt)
    }

    /// The common decryption path: native and SSH keys first, then identities unlocked
    /// earlier, then `extra`, then plugins; passphrase-protected keys/files are unlocked
    /// (through the prompter) only if nothing else matched. Returns the attempt and the
    /// runtime errors met (plugins, unlocking).
    fn decrypt_into(
        &self,
        input: &[u8],
        extra: &[&dyn ::age::Identity],
        sink: &mut dyn Write,
    ) -> (Attempt, Vec<String>) {
        let callbacks = Callbacks(self.prompter.clone());
        let mut unlocked = self.unlocked.lock().unwrap_or_else(|e| e.into_inner());
        unlocked.attempted.resize(self.locked.len(), false);

        let (plugins, plugin_errors) = self.plugin_identities(&callbacks);
        let mut runtime_errors = plugin_errors;

        let natives = self
            .entries
            .iter()
            .flat_map(|e| -> Vec<&dyn ::age::Identity> {
                match e {
                    Entry::X25519(id) => vec![id],
                    Entry::Ssh { id, derived } => {
                        let mut v: Vec<&dyn ::age::Identity> = vec![id];
                        if let Some(d) = derived {
                            v.push(d);
                        }
                        v
                    }
                    Entry::Plugin(_) => vec![],
                }
            });
        let earlier = unlocked
            .identities
            .iter()
            .map(|b| b.as_ref() as &dyn ::age::Identity);
        let plugin_ids = plugins.iter().map(|p| p as &dyn ::age::Identity);
        let ids = natives
            .chain(earlier)
            .chain(extra.iter().copied())
            .chain(plugin_ids);
        let mut attempt = try_decrypt(input, ids, sink);

        let pending = unlocked.attempted.iter().any(|done| !done);
        // NoMatchingKeys is decided before any plaintext is released, so the sink is empty
        if pending
            && matches!(
                attempt,
                Attempt::Header(::age::DecryptError::NoMatchingKeys)
            )
        {
            let start = unlocked.identities.len();
            self.unlock(input, &callbacks, &mut unlocked);
            if unlocked.identities.len() > start {
                let fresh = unlocked.identities[start..]
                    .iter()
                    .map(|b| b.as_ref() as &dyn ::age::Identity);
                attempt = try_decrypt(input, fresh, sink);
            }
        }
        runtime_errors.extend(unlocked.errors.iter().cloned());
        (attempt, runtime_errors)
    }

    /// One `IdentityPluginV1` per plugin name, in first-seen order.
    fn plugin_identities(
        &self,
        callbacks: &Callbacks,
    ) -> (Vec<::age::plugin::IdentityPluginV1<Callbacks>>, Vec<String>) {
        let all: Vec<::age::plugin::Identity> = self
            .entries
            .iter()
            .filter_map(|e| match e {
                Entry::Plugin(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for id in &all {
            if !names.contains(&id.plugin()) {
                names.push(id.plugin());
            }
        }
        let mut plugins = Vec::new();
        let mut errors = Vec::new();
        for name in names {
            match ::age::plugin::IdentityPluginV1::new(name, &all, callbacks.clone()) {
                Ok(p) => plugins.push(p),
                Err(e) => errors.push(describe_resolve_error(&e)),
            }
        }
        (plugins, errors)
    }

    /// Unlock the passphrase-protected items that may help with `enc`: SSH keys only when the
    /// header has a stanza for that very key; encrypted identity files always (X25519 stanzas
    /// are anonymous). Each item is attempted once per `Identities`.
    fn unlock(&self, enc: &[u8], callbacks: &Callbacks, unlocked: &mut Unlocked) {
        let stanzas = header_stanzas(enc);
        for (i, item) in self.locked.iter().enumerate() {
            if unlocked.attempted[i] {
                continue;
            }
            match item {
                Locked::Ssh {
                    origin,
                    key,
                    stanza_type,
                    tag,
                } => {
                    let wanted = stanzas
                        .iter()
                        .any(|(t, args)| t == stanza_type && args.first() == Some(tag));
                    if !wanted {
                        continue;
                    }
                    unlocked.attempted[i] = true;
                    let prompt = format!("Enter passphrase for ssh key '{origin}':");
                    let Some(pass) = ::age::Callbacks::request_passphrase(callbacks, &prompt)
                    else {
                        unlocked
                            .errors
                            .push(format!("no passphrase given for ssh key '{origin}'"));
                        continue;
                    };
                    match key.decrypt(pass) {
                        Ok(k) => unlocked
                            .identities
                            .push(Box::new(::age::ssh::Identity::Unencrypted(k))),
                        Err(::age::DecryptError::KeyDecryptionFailed) => {
                            unlocked
                                .errors
                                .push(format!("incorrect passphrase for ssh key '{origin}'"));
                        }
                        Err(e) => unlocked.errors.push(format!(
                            "failed to decrypt ssh key '{origin}': {}",
                            describe_decrypt_error(&e)
                        )),
                    }
                }
                Locked::File { origin, data } => {
                    unlocked.attempted[i] = true;
                    let result = ::age::Decryptor::new_buffered(ArmoredReader::new(&data[..]))
                        .ok()
                        .and_then(|d| {
                            ::age::encrypted::EncryptedIdentity::new(d, callbacks.clone(), None)
                        })
                        .ok_or(::age::DecryptError::InvalidHeader)
                        .and_then(|e| e.decrypt(Some(origin)))
                        .and_then(|file| file.into_identities());
                    match result {
                        Ok(ids) => unlocked.identities.extend(ids),
                        Err(::age::DecryptError::KeyDecryptionFailed) => unlocked
                            .errors
                            .push(format!("incorrect passphrase for identity file '{origin}'")),
                        Err(e) => unlocked.errors.push(format!(
                            "failed to decrypt identity file '{origin}': {}",
                            describe_decrypt_error(&e)
                        )),
                    }
                }
            }
        }
    }
}

/// Decrypt `input` (binary or armored) with the first matching identity, copying the released
/// plaintext to `sink` through a zeroized bounce buffer.
fn try_decrypt<'a>(
    input: &[u8],
    ids: impl Iterator<Item = &'a dyn ::age::Identity>,
    sink: &mut dyn Write,
) -> Attempt {
    let decryptor = match ::age::Decryptor::new_buffered(ArmoredReader::new(input)) {
        Ok(d) => d,
        Err(e) => return Attempt::Header(e),
    };
    let mut reader = match decryptor.decrypt(ids) {
        Ok(r) => r,
        Err(e) => return Attempt::Header(e),
    };
    let mut chunk = Zeroizing::new([0u8; 256]);
    loop {
        let n = match reader.read(&mut chunk[..]) {
            Ok(0) => return Attempt::Ok,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Attempt::Payload(e),
        };
        if let Err(e) = sink.write_all(&chunk[..n]) {
            return Attempt::Payload(e);
        }
    }
}

/// The recipient stanzas (`-> type args…`) of an age file's header; empty if unreadable.
fn header_stanzas(enc: &[u8]) -> Vec<(String, Vec<String>)> {
    let mut reader = io::BufReader::new(ArmoredReader::new(enc));
    let mut out = Vec::new();
    let mut line = Vec::new();
    for _ in 0..4096 {
        line.clear();
        match reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if line.starts_with(b"---") {
            break;
        }
        if let Some(rest) = line.strip_prefix(b"-> ") {
            let text = String::from_utf8_lossy(rest);
            let mut parts = text.split_whitespace().map(str::to_owned);
            if let Some(t) = parts.next() {
                out.push((t, parts.collect()));
            }
        }
    }
    out
}

/// age's SSH stanza tag: base64 (no padding) of the first 4 bytes of SHA-256(pubkey blob).
fn ssh_stanza_tag(pubkey_blob: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(&Sha256::digest(pubkey_blob)[..4])
}

/// The X25519 identity `ssh-to-age` derives from an unencrypted OpenSSH ed25519 key:
/// SHA-512(seed)[..32] (the ed25519 secret scalar before clamping), as `AGE-SECRET-KEY-1…`.
/// `None` for other key types and formats. (age does not expose the parsed key's seed, so
/// the few fields needed are read here; every buffer holding key bytes is zeroized.)
fn derive_x25519_from_pem(pem: &[u8]) -> Option<::age::x25519::Identity> {
    const BEGIN: &str = "-----BEGIN OPENSSH PRIVATE KEY-----";
    const END: &str = "-----END OPENSSH PRIVATE KEY-----";
    let text = std::str::from_utf8(pem).ok()?;
    let start = text.find(BEGIN)? + BEGIN.len();
    let end = start + text[start..].find(END)?;
    let b64: Zeroizing<String> = Zeroizing::new(
        text[start..end]
            .chars()
            .filter(|c| !c.is_ascii_whitespace())
            .collect(),
    );
    let raw = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_bytes())
            .ok()?,
    );
    let mut r = SshReader(raw.strip_prefix(b"openssh-key-v1\0")?);
    if r.string()? != b"none" || r.string()? != b"none" {
        return None; // encrypted (cipher/kdf not "none")
    }
    r.string()?; // kdf options
    if r.u32()? != 1 {
        return None;
    }
    r.string()?; // public key blob
    let mut p = SshReader(r.string()?);
    if p.u32()? != p.u32()? || p.string()? != b"ssh-ed25519" {
        return None;
    }
    p.string()?; // public key
    let sk = p.string()?; // seed || public key
    if sk.len() != 64 {
        return None;
    }
    let mut digest = Sha512::digest(&sk[..32]);
    let mut scalar = Zeroizing::new([0u8; 32]);
    scalar.copy_from_slice(&digest[..32]);
    digest.as_mut_slice().zeroize();
    let encoded = bech32_encode_upper("age-secret-key-", &scalar[..]);
    encoded.parse().ok()
}

/// Reads SSH wire-format fields.
struct SshReader<'a>(&'a [u8]);

impl<'a> SshReader<'a> {
    fn u32(&mut self) -> Option<u32> {
        let (head, rest) = self.0.split_first_chunk::<4>()?;
        self.0 = rest;
        Some(u32::from_be_bytes(*head))
    }

    fn string(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        if len > self.0.len() {
            return None;
        }
        let (s, rest) = self.0.split_at(len);
        self.0 = rest;
        Some(s)
    }
}

const BECH32_CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

fn bech32_polymod(values: impl Iterator<Item = u8>) -> u32 {
    const GEN: [u32; 5] = [
        0x3b6a_57b2,
        0x2650_8e6d,
        0x1ea1_19fa,
        0x3d42_33dd,
        0x2a14_62b3,
    ];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// Bech32 (BIP 173 checksum, no length limit, as age uses it) of `data` under the lowercase
/// `hrp`, upper-cased. The result and all intermediates are zeroized.
fn bech32_encode_upper(hrp: &str, data: &[u8]) -> Zeroizing<String> {
    let mut five = Zeroizing::new(Vec::with_capacity(data.len() * 8 / 5 + 1));
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in data {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            five.push(((acc >> bits) & 31) as u8);
        }
    }
    if bits > 0 {
        five.push(((acc << (5 - bits)) & 31) as u8);
    }
    acc.zeroize();
    let expanded = hrp
        .bytes()
        .map(|c| c >> 5)
        .chain(std::iter::once(0))
        .chain(hrp.bytes().map(|c| c & 31));
    let poly = bech32_polymod(expanded.chain(five.iter().copied()).chain([0u8; 6])) ^ 1;
    let mut out = Zeroizing::new(String::with_capacity(hrp.len() + 1 + five.len() + 6));
    out.push_str(hrp);
    out.push('1');
    for &v in five.iter() {
        out.push(char::from(BECH32_CHARSET[usize::from(v)]));
    }
    for i in 0..6 {
        out.push(char::from(
            BECH32_CHARSET[((poly >> (5 * (5 - i))) & 31) as usize],
        ));
    }
    out.make_ascii_uppercase();
    out
}

// ---------------------------------------------------------------------------------------------
// Error descriptions (lowercase, sops-like, never containing secrets)
// ---------------------------------------------------------------------------------------------

fn describe_decrypt_error(e: &::age::DecryptError) -> String {
    use ::age::DecryptError as D;
    match e {
        D::NoMatchingKeys => {
            "identity did not match any of the recipients: incorrect identity for recipient block"
                .into()
        }
        D::DecryptionFailed => "decryption failed".into(),
        D::InvalidHeader => "failed to read header: invalid header".into(),
        D::InvalidMac => "failed to read header: header mac is invalid".into(),
        D::KeyDecryptionFailed => "failed to decrypt an encrypted key".into(),
        D::UnknownFormat => "unknown age format".into(),
        D::ExcessiveWork { .. } => "excessive scrypt work factor".into(),
        D::Io(io) => format!("failed to read header: {}", io.to_string().to_lowercase()),
        D::PluginResolve(r) => describe_resolve_error(r),
        other => other.to_string(),
    }
}

fn describe_resolve_error(e: &::age::plugin::ResolveError) -> String {
    use ::age::plugin::ResolveError as R;
    match e {
        R::MissingPlugin { binary_name } => format!("could not find '{binary_name}' on the PATH"),
        R::InvalidPluginName { name } => format!("invalid plugin name {name:?}"),
        other => other.to_string(),
    }
}

fn describe_ssh_parse_error(e: &::age::ssh::ParseRecipientKeyError) -> String {
    use ::age::ssh::ParseRecipientKeyError as P;
    match e {
        P::Ignore => "unsupported ssh key".into(),
        P::Invalid(why) => why.to_lowercase(),
        P::RsaModulusTooLarge => "ssh-rsa key modulus is too large".into(),
        P::RsaModulusTooSmall => "ssh-rsa key modulus is smaller than 2048 bits".into(),
        P::Unsupported(kind) => format!("unsupported ssh key type {kind:?}"),
        other => format!("{other:?}").to_lowercase(),
    }
}

struct UnsupportedDisplay<'a>(&'a ::age::ssh::UnsupportedKey);

impl fmt::Display for UnsupportedDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.display(f, None)
    }
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;
    use ::age::secrecy::ExposeSecret;
    use std::path::{Path, PathBuf};
    use std::process::Command;

    // the repository's copy of the sops-made vectors
    const INTEROP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/sops-interop");

    fn scratch_dir(tag: &str) -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "sops-rs-age-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn generated() -> (::age::x25519::Identity, String, Zeroizing<String>) {
        let id = ::age::x25519::Identity::generate();
        let recipient = id.to_public().to_string();
        let secret = Zeroizing::new(id.to_string().expose_secret().to_owned());
        (id, recipient, secret)
    }

    /// The armored block under `sops: age: - enc: |` of a vector, with its indentation stripped.
    fn vector_enc(name: &str) -> String {
        let text = std::fs::read_to_string(format!("{INTEROP}/vectors/{name}")).unwrap();
        let mut out = String::new();
        let mut inside = false;
        for line in text.lines() {
            let t = line.trim_start();
            if t == ARMOR_BEGIN {
                inside = true;
            }
            if inside {
                out.push_str(t);
                out.push('\n');
            }
            if t == ARMOR_END {
                break;
            }
        }
        assert!(out.starts_with(ARMOR_BEGIN), "no armored block in {name}");
        out
    }

    fn key_file_ids(name: &str) -> Identities {
        let text =
            Zeroizing::new(std::fs::read_to_string(format!("{INTEROP}/keys/{name}")).unwrap());
        let mut ids = Identities::new();
        assert_eq!(ids.add_key_text(&text, name).unwrap(), 1);
        ids
    }

    fn ssh_keygen(dir: &Path, kind: &str, passphrase: &str) -> Option<(Vec<u8>, String)> {
        let path = dir.join(format!("id_{kind}"));
        let mut cmd = Command::new("ssh-keygen");
        cmd.args(["-q", "-t", kind, "-N", passphrase, "-C", "test", "-f"])
            .arg(&path);
        if kind == "rsa" {
            cmd.args(["-b", "2048"]);
        }
        match cmd.output() {
            Ok(o) if o.status.success() => {}
            // tests fail, never skip, when a part is missing
            _ => panic!("ssh-keygen is missing or failed: install openssh-client"),
        }
        let pem = std::fs::read(&path).unwrap();
        let public = std::fs::read_to_string(path.with_extension("pub")).unwrap();
        Some((pem, public.trim().to_owned()))
    }

    struct FixedPassphrase(&'static str, std::sync::atomic::AtomicUsize);

    impl Prompter for FixedPassphrase {
        fn request_passphrase(&self, _description: &str) -> Option<Zeroizing<String>> {
            self.1.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some(Zeroizing::new(self.0.to_owned()))
        }
    }

    #[test]
    fn wrap_unwrap_round_trip_x25519() {
        let (_, recipient, secret) = generated();
        let data_key = [7u8; 32];
        let enc = wrap(&recipient, &data_key).unwrap();
        assert!(enc.starts_with(&format!("{ARMOR_BEGIN}\n")));
        assert!(enc.ends_with(&format!("{ARMOR_END}\n")));
        assert!(enc.lines().all(|l| l.len() <= 64));
        let mut ids = Identities::new();
        assert_eq!(ids.add_key_text(&secret, "generated").unwrap(), 1);
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &data_key[..]);
        // A 33-byte Shamir share too.
        let share = [9u8; 33];
        let enc = wrap(&format!("  {recipient}\n"), &share).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &share[..]);
    }

    #[test]
    fn unwrap_real_sops_enc() {
        let enc = vector_enc("yaml-basic.yaml");
        let ids = key_file_ids("key1.txt");
        let key = ids.unwrap(&enc).unwrap();
        assert_eq!(key.len(), 32);
        // Same result with the identity mixed among others.
        let ids = key_file_ids("key2.txt");
        let err = ids.unwrap(&enc).unwrap_err();
        assert!(matches!(err, AgeError::Decrypt { .. }), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("failed to create reader for decrypting sops data key with age:"),
            "{msg}"
        );
        assert!(msg.contains("did not match any of the recipients"), "{msg}");
        assert!(!msg.contains("AGE-SECRET-KEY"), "{msg}");
    }

    #[test]
    fn unwrap_with_two_key_file() {
        let enc = vector_enc("yaml-basic.yaml");
        let text = Zeroizing::new(
            std::fs::read_to_string(format!("{INTEROP}/keys/key1+key2.txt")).unwrap(),
        );
        let mut ids = Identities::new();
        assert_eq!(ids.add_key_text(&text, "key1+key2.txt").unwrap(), 2);
        assert_eq!(ids.unwrap(&enc).unwrap().len(), 32);
    }

    #[test]
    fn tampered_enc_is_an_error() {
        let enc = vector_enc("yaml-tampered-age-stanza.yaml");
        let ids = key_file_ids("key1.txt");
        let err = ids.unwrap(&enc).unwrap_err();
        assert!(matches!(err, AgeError::Decrypt { .. }), "{err}");
        assert!(ids.unwrap("not an age file").is_err());
    }

    #[test]
    fn go_age_decrypts_our_wrap() {
        let age_bin = Path::new("/usr/bin/age");
        assert!(
            age_bin.exists(),
            "/usr/bin/age is missing: scripts/test-deps.sh installs it"
        );
        let (_, recipient, secret) = generated();
        let data_key: Vec<u8> = (0u8..32).collect();
        let enc = wrap(&recipient, &data_key).unwrap();
        let dir = scratch_dir("goage");
        std::fs::write(dir.join("key.txt"), format!("# test\n{}\n", &*secret)).unwrap();
        std::fs::write(dir.join("enc.age"), &enc).unwrap();
        let out = Command::new(age_bin)
            .arg("-d")
            .arg("-i")
            .arg(dir.join("key.txt"))
            .arg(dir.join("enc.age"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.stdout, data_key);

        // And the other way round: Go age's armored output decrypts here.
        let plain = dir.join("plain.bin");
        std::fs::write(&plain, &data_key).unwrap();
        let out = Command::new(age_bin)
            .args(["-e", "-a", "-r", &recipient])
            .arg(&plain)
            .output()
            .unwrap();
        assert!(out.status.success());
        let mut ids = Identities::new();
        ids.add_key_text(&secret, "generated").unwrap();
        assert_eq!(
            &ids.unwrap(&String::from_utf8(out.stdout).unwrap()).unwrap()[..],
            &data_key[..]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ssh_ed25519_round_trip() {
        let dir = scratch_dir("ssh-ed25519");
        let Some((pem, public)) = ssh_keygen(&dir, "ed25519", "") else {
            return;
        };
        let data_key = [42u8; 32];
        let enc = wrap(&public, &data_key).unwrap();
        assert!(enc.ends_with(&format!("{ARMOR_END}\n")));
        let mut ids = Identities::new();
        ids.add_ssh_key(&pem, "SOPS_AGE_SSH_PRIVATE_KEY_FILE=test")
            .unwrap();
        assert_eq!(ids.len(), 1);
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &data_key[..]);

        // Go age agrees in both directions.
        assert!(
            Path::new("/usr/bin/age").exists(),
            "/usr/bin/age is missing"
        );
        {
            std::fs::write(dir.join("enc.age"), &enc).unwrap();
            let out = Command::new("/usr/bin/age")
                .arg("-d")
                .arg("-i")
                .arg(dir.join("id_ed25519"))
                .arg(dir.join("enc.age"))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(out.stdout, data_key);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ssh_rsa_round_trip() {
        let dir = scratch_dir("ssh-rsa");
        let Some((pem, public)) = ssh_keygen(&dir, "rsa", "") else {
            return;
        };
        let enc = wrap(&public, &[1u8; 32]).unwrap();
        let mut ids = Identities::new();
        ids.add_ssh_key(&pem, "id_rsa").unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[1u8; 32][..]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn ssh_ed25519_key_also_decrypts_for_its_ssh_to_age_recipient() {
        let dir = scratch_dir("ssh-to-age");
        let Some((pem, public)) = ssh_keygen(&dir, "ed25519", "") else {
            return;
        };
        let derived = derive_x25519_from_pem(&pem).expect("ed25519 derives an x25519 identity");
        let derived_recipient = derived.to_public().to_string();

        // Cross-check the derivation: the X25519 public key must be the Montgomery form
        // u = (1 + y) / (1 - y) mod 2^255-19 of the ed25519 public key (python3 big ints).
        let blob = base64::engine::general_purpose::STANDARD
            .decode(public.split_whitespace().nth(1).unwrap())
            .unwrap();
        let ed_pub = &blob[blob.len() - 32..];
        let script = "import sys\np=2**255-19\ny=int.from_bytes(bytes.fromhex(sys.argv[1]),'little')&((1<<255)-1)\nu=(1+y)*pow(1-y,p-2,p)%p\nprint(u.to_bytes(32,'little').hex())";
        let ed_hex: String = ed_pub.iter().map(|b| format!("{b:02x}")).collect();
        {
            let out = Command::new("python3")
                .args(["-c", script, &ed_hex])
                .output()
                .expect("python3 is needed by this test");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            {
                let u_hex = String::from_utf8(out.stdout).unwrap().trim().to_owned();
                let u: Vec<u8> = (0..32)
                    .map(|i| u8::from_str_radix(&u_hex[2 * i..2 * i + 2], 16).unwrap())
                    .collect();
                let expected = bech32_encode_upper("age", &u).to_ascii_lowercase();
                assert_eq!(derived_recipient, expected);
            }
        }

        let enc = wrap(&derived_recipient, &[3u8; 32]).unwrap();
        let mut ids = Identities::new();
        ids.add_ssh_key(&pem, "id_ed25519").unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[3u8; 32][..]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn encrypted_ssh_key_without_prompter_is_a_clear_load_error() {
        let dir = scratch_dir("ssh-enc");
        let Some((pem, _)) = ssh_keygen(&dir, "ed25519", "hunter22") else {
            return;
        };
        let mut ids = Identities::new();
        let err = ids
            .add_ssh_key(&pem, "/home/u/.ssh/id_ed25519")
            .unwrap_err();
        assert!(matches!(err, AgeError::EncryptedSshKey { .. }));
        assert!(err.to_string().contains("passphrase-protected"), "{err}");
        assert_eq!(ids.load_errors().len(), 1);
        assert!(ids.load_errors()[0].contains("/home/u/.ssh/id_ed25519"));
        assert!(ids.is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn encrypted_ssh_key_is_unlocked_only_when_needed() {
        let dir = scratch_dir("ssh-enc-prompt");
        let Some((pem, public)) = ssh_keygen(&dir, "ed25519", "hunter22") else {
            return;
        };
        let prompter = Arc::new(FixedPassphrase("hunter22", Default::default()));
        let mut ids = Identities::with_prompter(prompter.clone());
        ids.add_ssh_key(&pem, "id_ed25519").unwrap();
        let (_, x_recipient, x_secret) = generated();
        ids.add_key_text(&x_secret, "SOPS_AGE_KEY").unwrap();
        assert_eq!(ids.len(), 2);

        // An X25519 enc: no prompt.
        let enc = wrap(&x_recipient, &[5u8; 32]).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[5u8; 32][..]);
        assert_eq!(prompter.1.load(std::sync::atomic::Ordering::SeqCst), 0);
        // An enc for another SSH key: no prompt either.
        let other_dir = scratch_dir("ssh-other");
        if let Some((_, other_public)) = ssh_keygen(&other_dir, "ed25519", "") {
            let enc = wrap(&other_public, &[6u8; 32]).unwrap();
            assert!(ids.unwrap(&enc).is_err());
            assert_eq!(prompter.1.load(std::sync::atomic::Ordering::SeqCst), 0);
        }
        // Its own enc: one prompt, then cached.
        let enc = wrap(&public, &[8u8; 32]).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[8u8; 32][..]);
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[8u8; 32][..]);
        assert_eq!(prompter.1.load(std::sync::atomic::Ordering::SeqCst), 1);

        // Wrong passphrase: error mentions it, no secret.
        let bad = Arc::new(FixedPassphrase("wrong", Default::default()));
        let mut ids = Identities::with_prompter(bad);
        ids.add_ssh_key(&pem, "id_ed25519").unwrap();
        let msg = ids.unwrap(&enc).unwrap_err().to_string();
        assert!(
            msg.contains("incorrect passphrase for ssh key 'id_ed25519'"),
            "{msg}"
        );
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other_dir);
    }

    #[test]
    fn passphrase_encrypted_identity_file() {
        let (_, recipient, secret) = generated();
        let pass = SecretString::from("correct horse".to_owned());
        let encryptor = ::age::Encryptor::with_user_passphrase(pass);
        let mut file = Vec::new();
        let armored = ArmoredWriter::wrap_output(&mut file, Format::AsciiArmor).unwrap();
        let mut w = encryptor.wrap_output(armored).unwrap();
        w.write_all(format!("# key\n{}\n", &*secret).as_bytes())
            .unwrap();
        w.finish().unwrap().finish().unwrap();

        let mut plain = Identities::new();
        let err = plain
            .add_key_bytes(&file, "SOPS_AGE_KEY_FILE=/k.age")
            .unwrap_err();
        assert!(
            matches!(err, AgeError::EncryptedIdentityFile { .. }),
            "{err}"
        );

        let prompter = Arc::new(FixedPassphrase("correct horse", Default::default()));
        let mut ids = Identities::with_prompter(prompter.clone());
        assert_eq!(
            ids.add_key_bytes(&file, "SOPS_AGE_KEY_FILE=/k.age")
                .unwrap(),
            1
        );
        let enc = wrap(&recipient, &[4u8; 32]).unwrap();
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[4u8; 32][..]);
        assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[4u8; 32][..]);
        assert_eq!(prompter.1.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[test]
    fn key_text_parsing() {
        let (_, r1, s1) = generated();
        let (_, r2, s2) = generated();
        let (_, r3, s3) = generated();
        let text = Zeroizing::new(format!(
            "# created: 2026-01-01\n# public key: {r1}\n\n   \n{}\r\n  # indented comment\n{}\t {}  # trailing comment\n",
            &*s1, &*s2, &*s3
        ));
        let mut ids = Identities::new();
        assert_eq!(ids.add_key_text(&text, "SOPS_AGE_KEY").unwrap(), 3);
        assert_eq!(ids.len(), 3);
        assert!(ids.load_errors().is_empty());
        for r in [&r1, &r2, &r3] {
            let enc = wrap(r, &[2u8; 32]).unwrap();
            assert_eq!(&ids.unwrap(&enc).unwrap()[..], &[2u8; 32][..]);
        }
    }

    #[test]
    fn bad_key_text_rejects_the_source_without_leaking() {
        let (_, _, s1) = generated();
        // A truncated secret key must not show up in the message.
        let broken = &s1[..s1.len() - 3];
        let text = format!("{}\n# c\n{broken}\n", &*s1);
        let mut ids = Identities::new();
        let err = ids
            .add_key_text(&text, "SOPS_AGE_KEY_FILE=/tmp/keys.txt")
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("SOPS_AGE_KEY_FILE=/tmp/keys.txt"), "{msg}");
        assert!(msg.contains("line 3"), "{msg}");
        assert!(!msg.contains(broken), "{msg}");
        assert!(
            !msg.to_ascii_uppercase().contains("AGE-SECRET-KEY-1"),
            "{msg}"
        );
        assert!(ids.is_empty(), "the whole source is rejected");
        assert_eq!(ids.load_errors(), &[msg]);

        // Unsupported-but-valid kinds are skipped; the rest is kept.
        let mut ids = Identities::new();
        let text = format!("AGE-SECRET-KEY-PQ-1QQQQQQ\n{}\n", &*s1);
        assert_eq!(ids.add_key_text(&text, "k").unwrap(), 1);
        assert_eq!(ids.load_errors().len(), 1);
        assert!(ids.load_errors()[0].contains("post-quantum"));
    }

    #[test]
    fn no_identities_error_has_sops_context() {
        let mut ids = Identities::new();
        ids.add_load_error("failed to open SOPS_AGE_KEY_FILE file: /x: no such file");
        for loc in [
            "SOPS_AGE_SSH_PRIVATE_KEY_FILE",
            "/h/.ssh/id_ed25519",
            "SOPS_AGE_KEY",
        ] {
            ids.add_unused_location(loc);
        }
        let msg = ids
            .unwrap(&vector_enc("yaml-basic.yaml"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "failed to load age identities. Errors while loading age identities: failed to open \
             SOPS_AGE_KEY_FILE file: /x: no such file. Did not find keys in locations \
             'SOPS_AGE_SSH_PRIVATE_KEY_FILE', '/h/.ssh/id_ed25519', and 'SOPS_AGE_KEY'."
        );
    }

    #[test]
    fn debug_does_not_reveal_keys() {
        let (_, _, secret) = generated();
        let mut ids = Identities::new();
        ids.add_key_text(&secret, "SOPS_AGE_KEY").unwrap();
        let dbg = format!("{ids:?} {ids:#?}");
        assert!(dbg.contains("len: 1"), "{dbg}");
        assert!(
            !dbg.to_ascii_uppercase().contains("AGE-SECRET-KEY"),
            "{dbg}"
        );
        assert!(!dbg.contains(&secret[16..40]), "{dbg}");
    }

    #[test]
    fn parse_recipient_forms() {
        let (_, r, _) = generated();
        assert!(parse_recipient(&r).is_ok());
        assert!(parse_recipient(&format!(" {r}\n")).is_ok());
        assert!(matches!(
            parse_recipient("pgp:ABC"),
            Err(AgeError::UnknownRecipient(_))
        ));
        let err = parse_recipient(&r[..r.len() - 1]).err().unwrap();
        assert!(
            matches!(
                err,
                AgeError::InvalidRecipient {
                    kind: KIND_X25519,
                    ..
                }
            ),
            "{err}"
        );
        // A plugin recipient whose binary is not installed.
        let plugin_r = bech32_encode_upper("age1nosuchplugin", &[1u8; 20]).to_ascii_lowercase();
        let err = parse_recipient(&plugin_r).err().unwrap();
        assert!(
            matches!(
                err,
                AgeError::InvalidRecipient {
                    kind: KIND_PLUGIN,
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("age-plugin-nosuchplugin"), "{err}");
        assert!(matches!(
            parse_recipient("ssh-ed25519 AAAAnotbase64!"),
            Err(AgeError::InvalidRecipient { kind: KIND_SSH, .. })
        ));
    }

    #[test]
    fn bech32_encoder_matches_age() {
        for _ in 0..8 {
            let (id, recipient, secret) = generated();
            let _ = id;
            // Decode the 5-bit data part of the secret key, convert back to bytes, re-encode.
            let lower = secret.to_ascii_lowercase();
            let (hrp, data) = lower.rsplit_once('1').unwrap();
            let values: Vec<u8> = data[..data.len() - 6]
                .bytes()
                .map(|c| BECH32_CHARSET.iter().position(|&x| x == c).unwrap() as u8)
                .collect();
            let (mut acc, mut bits, mut bytes) = (0u32, 0u32, Vec::new());
            for v in values {
                acc = (acc << 5) | u32::from(v);
                bits += 5;
                if bits >= 8 {
                    bits -= 8;
                    bytes.push((acc >> bits) as u8);
                }
            }
            assert_eq!(&*bech32_encode_upper(hrp, &bytes), &*secret);
            let _ = recipient;
        }
    }

    #[test]
    fn identities_are_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Identities>();
    }
}
