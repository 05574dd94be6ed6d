//! sops-rs: a SOPS-compatible, format-preserving tool for encrypted secrets-as-code.
//!
//! # Design
//! A file gets a fresh 32-byte **data key**. Every leaf value that the selector says to
//! encrypt becomes an `ENC[AES256_GCM,…]` token: AES-256-GCM with a 32-byte IV, the AAD
//! being the value's key path (`db:password:`). A SHA-512 **MAC** over the canonical bytes
//! of all values (in document order) is stored encrypted with the data key, bound to
//! `lastmodified`. The data key is wrapped by each master key (age recipients today),
//! split across key groups with Shamir secret sharing when there are several groups. This
//! is byte-compatible with Go sops 3.x.
//!
//! Unlike sops, we never re-serialize: a [`format`] module finds each leaf's exact byte
//! span and [`format::splice`] builds the output from the original bytes, so comments,
//! order, quoting and blank lines survive, and `decrypt(encrypt(x)) == x`.
//!
//! The library never reads environment variables, prompts, or exits; the CLI (`cli`)
//! gathers keys and options and calls [`document`].
//!
//! # Limitations
//! - YAML aliases whose copies contain encrypted values are written expanded in the encrypted
//!   file (sops reads aliases as copies, each copy's values encrypted under its own path); our
//!   decrypt puts the alias back. An alias that copies a secret to a path that stays in clear
//!   is expanded in clear, as sops would read it, and not put back.
//! - A block scalar header's trailing comment is kept only inside the encrypted record.
//! - A top-level YAML mapping in flow style (`{a: 1}`) cannot hold the metadata.
//! - HuaweiCloud KMS (`hckms`) entries are kept in the metadata but cannot unwrap the data key.
//!
//! # Security
//! Data keys and decrypted values are zeroized on drop; `Debug` of secret types prints
//! `[REDACTED]`; no error variant carries a value.

pub mod config;
pub mod convert;
pub mod crypto;
pub mod document;
pub mod error;
pub mod format;
#[doc(hidden)]
pub mod fuzzing;
pub mod keys;
pub mod merge;
pub mod metadata;
pub mod pathedit;
pub mod select;
pub mod value;

pub use document::{DecryptOptions, EncryptOptions, decrypt, encrypt, reencrypt};
pub use error::{Error, Result};
pub use format::Format;
