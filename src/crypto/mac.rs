//! The sops MAC: SHA-512 over the canonical bytes of the leaf values, in document order.
//!
//! Not an HMAC: its integrity comes from being stored AES-GCM-encrypted with the data key,
//! with `lastmodified` as the AAD.

use sha2::{Digest, Sha512};

use crate::value::Value;

/// sha256("sops"): the seed written first when `mac_only_encrypted` is set.
const MAC_ONLY_ENCRYPTED_INIT: [u8; 32] = [
    0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
    0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
];

pub struct Mac {
    hash: Sha512,
    mac_only_encrypted: bool,
}

impl Mac {
    pub fn new(mac_only_encrypted: bool) -> Self {
        let mut hash = Sha512::new();
        if mac_only_encrypted {
            hash.update(MAC_ONLY_ENCRYPTED_INIT);
        }
        Mac {
            hash,
            mac_only_encrypted,
        }
    }

    /// Feed one leaf. Comments are never hashed; unencrypted values only without
    /// `mac_only_encrypted`.
    pub fn add(&mut self, v: &Value, encrypted: bool) {
        if v.is_comment() || (self.mac_only_encrypted && !encrypted) {
            return;
        }
        self.hash.update(zeroize::Zeroizing::new(v.to_bytes()));
    }

    /// Feed raw bytes (the binary store's single value).
    pub fn add_bytes(&mut self, b: &[u8]) {
        self.hash.update(b);
    }

    /// 128 uppercase hex characters, as Go's `%X`.
    pub fn finish(self) -> String {
        self.hash
            .finalize()
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_sha256_of_sops() {
        use sha2::Sha256;
        assert_eq!(Sha256::digest(b"sops").as_slice(), &MAC_ONLY_ENCRYPTED_INIT);
    }

    #[test]
    fn hashes_canonical_bytes_and_skips_comments() {
        let mut a = Mac::new(false);
        a.add(&Value::Bool(true), true);
        a.add(&Value::Comment("x".into()), true);
        a.add(&Value::Float(1.0), false);
        let mut b = Mac::new(false);
        b.add_bytes(b"True1");
        assert_eq!(a.finish(), b.finish());
    }
}
