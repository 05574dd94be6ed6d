//! Library errors. No variant carries a plaintext value or key material: paths and file
//! names only. The CLI maps each to sops' exit code.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("could not read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("could not write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} at line {line}, column {col}: {msg}")]
    Syntax {
        what: &'static str,
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("{0}")]
    Unsupported(String),
    #[error("sops metadata not found")]
    MetadataNotFound,
    #[error("invalid sops metadata: {0}")]
    BadMetadata(String),
    #[error(
        "the file already contains a top-level entry called 'sops'; it may already be encrypted"
    )]
    AlreadyEncrypted,
    #[error("the file is empty: there is nothing to encrypt")]
    Empty,
    #[error(
        "integer at {0} is too large (Cannot walk value, unknown type: uint64): sops cannot encrypt integers above 2^63-1"
    )]
    IntegerTooLarge(String),
    #[error("map keys must be strings: key at {0} is not")]
    NonStringKey(String),
    #[error("no recipients: give --age or a creation rule with keys")]
    NoKeys,
    #[error("could not decrypt {path}: {source}")]
    Value { path: String, source: Box<Error> },
    #[error("cipher: message authentication failed")]
    Authentication,
    #[error("the decrypted {0} value does not parse as its type")]
    BadPlaintext(String),
    #[error("unknown datatype in an encrypted value")]
    UnknownType,
    #[error("{0}")]
    Token(#[from] crate::crypto::leaf::TokenError),
    #[error("encrypted value at {0} is not a string")]
    NotAString(String),
    #[error("the data key has a bad length")]
    BadDataKey,
    #[error("Failed to get the data key required to decrypt the SOPS file.\n{0}")]
    DataKey(String),
    #[error("Cannot decrypt MAC: {0}")]
    MacDecrypt(Box<Error>),
    #[error("MAC mismatch: the file was modified outside sops, or is corrupt")]
    MacMismatch,
    #[error("MAC mismatch: the file has no MAC")]
    MacMissing,
    #[error("invalid tree path format: {0}")]
    BadTreePath(String),
    #[error("the path {0} was not found in the file")]
    PathNotFound(String),
    #[error("{0}")]
    Config(String),
    /// A key service refused or failed to wrap a new data key (sops: "Could not generate
    /// data key", exit 1).
    #[error("could not wrap the data key: {0}")]
    KeyService(String),
    /// The value of `set` (never quoted: it may be a secret).
    #[error("invalid value for set: {0}")]
    BadSetValue(&'static str),
    #[error("internal error: {0}")]
    Internal(&'static str),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
