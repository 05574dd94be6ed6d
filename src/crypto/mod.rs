//! Cryptography exactly as sops does it: the data key, the `ENC[...]` leaf cipher and the MAC.

pub mod data_key;
pub mod leaf;
pub mod mac;

pub use data_key::DataKey;
pub use leaf::{Cipher, Token};
pub use mac::Mac;

/// Fill a buffer from the OS random source.
///
/// # Panics
/// Only when the operating system cannot supply randomness, where continuing would be unsafe.
pub(crate) fn random_bytes(buf: &mut [u8]) {
    getrandom::fill(buf).expect("the operating system random source failed");
}
