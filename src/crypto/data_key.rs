//! The per-file 32-byte data key.

use std::fmt;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A data key (32 bytes for a file; sops also accepts what key groups recombine to).
///
/// # Security
/// Zeroized on drop; `Debug` prints `[REDACTED]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop, PartialEq, Eq)]
pub struct DataKey(Vec<u8>);

impl DataKey {
    /// A fresh random 32-byte key, as sops' `GenerateDataKey`.
    pub fn generate() -> Self {
        let mut k = vec![0u8; 32];
        super::random_bytes(&mut k);
        DataKey(k)
    }

    pub fn from_bytes(bytes: &[u8]) -> Self {
        DataKey(bytes.to_vec())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}
