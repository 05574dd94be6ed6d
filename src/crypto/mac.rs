//! The sops MAC: SHA-512 over the canonical bytes of the leaf values, in document order.
//!
//! Not an HMAC: its integrity comes from being stored AES-GCM-encrypted with the data key,
//! with `lastmodified` as the AAD.

use sha2::{Digest, Sha512};

use crate::value::Value;

/// Tampering that the sops format cannot detect **by design** (docs security.md §2.3): each
/// of these leaves a file that real sops decrypts without complaint, and so must sops-rs. The
/// MAC is SHA-512 over the leaf *values* only (no keys, types, separators, comments or
/// metadata), and the recipient list is not authenticated. Making sops-rs "detect" any of
/// these would reject files sops accepts, or break the byte-compatible MAC; warnings are fine.
///
/// Names are the mutation names of `tests/tamper.rs`, which checks every entry against the
/// real sops (and that nothing else slips through both tools). Detected, for the record:
/// flipping any bit of data/iv/tag/mac, moving or swapping values between keys, deleting or
/// adding an encrypted value, reordering keys (the MAC is order-sensitive), changing or
/// dropping `lastmodified`/`mac`, flipping `mac_only_encrypted`.
///
/// This example is run by `cargo test --doc`; it applies every mutation to a file written by
/// sops-rs and asserts that it still decrypts:
///
/// ```
/// use age::secrecy::ExposeSecret;
/// use sops_rs::crypto::mac::UNDETECTABLE;
/// use sops_rs::keys::{age::Identities, KeySources, KeySpec};
/// use sops_rs::{decrypt, encrypt, DecryptOptions, EncryptOptions, Format};
///
/// let id = age::x25519::Identity::generate();
/// let me = id.to_public().to_string();
/// let other = age::x25519::Identity::generate().to_public().to_string();
/// let stranger = age::x25519::Identity::generate().to_public().to_string();
/// let mut ids = Identities::new();
/// ids.add_key_text(id.to_string().expose_secret(), "doc").unwrap();
/// let keys = KeySources { age: ids, ..Default::default() };
///
/// let enc = |plain: &str, groups: Vec<Vec<KeySpec>>, threshold, mac_only| {
///     let opts = EncryptOptions {
///         groups,
///         shamir_threshold: threshold,
///         selector: Default::default(),
///         mac_only_encrypted: mac_only,
///         now: "2026-01-01T00:00:00Z".into(),
///         backends: Default::default(),
///     };
///     let out = encrypt(plain.as_bytes(), Format::Yaml, &opts).unwrap();
///     String::from_utf8(out.bytes).unwrap()
/// };
/// let plain = "count: 5432\nsecret: s3cr3t\na_unencrypted: ab\nb_unencrypted: c\n";
/// let two = || vec![vec![KeySpec::Age(me.clone()), KeySpec::Age(other.clone())]];
/// let file = enc(plain, two(), None, false);
/// let mac_only = enc(plain, two(), None, true);
/// let one = || vec![KeySpec::Age(me.clone())];
/// let shamir = enc(plain, vec![one(), one()], Some(2), false);
/// let multi = enc("a: x\n---\nb: y\n", two(), None, false);
///
/// // the lines of the age entry holding `recipient` (sops-rs writes `- enc: |` first)
/// let without_entry = |text: &str, recipient: &str| {
///     let lines: Vec<&str> = text.split_inclusive('\n').collect();
///     let r = lines.iter().position(|l| l.contains(recipient)).unwrap();
///     let start = (0..=r).rev().find(|&i| lines[i].starts_with("        - ")).unwrap();
///     let end = (r + 1..lines.len()).find(|&i| !lines[i].starts_with("          ")).unwrap();
///     [&lines[..start], &lines[end..]].concat().concat()
/// };
///
/// for (name, _why) in UNDETECTABLE {
///     let (source, tampered) = match *name {
///         "add-comment" => (&file, format!("# added\n{file}")),
///         "add-null-leaf" => (&file, format!("added:\n{file}")),
///         "rename-unencrypted-key" => (&file, file.replace("a_unencrypted", "z_unencrypted")),
///         "shift-unencrypted-boundary" => (
///             &file,
///             file.replace("a_unencrypted: ab", "a_unencrypted: a")
///                 .replace("b_unencrypted: c", "b_unencrypted: bc"),
///         ),
///         "change-unencrypted-value" => {
///             (&mac_only, mac_only.replace("b_unencrypted: c", "b_unencrypted: changed"))
///         }
///         "type-int-to-str" => (&file, file.replacen(",type:int]", ",type:str]", 1)),
///         "recipient-add-unknown" => {
///             let armor = sops_rs::keys::age::wrap(&stranger, &[0u8; 32]).unwrap();
///             let body: String = armor.lines().map(|l| format!("            {l}\n")).collect();
///             let entry = format!("        - recipient: {stranger}\n          enc: |\n{body}");
///             (&file, file.replacen("    age:\n", &format!("    age:\n{entry}"), 1))
///         }
///         "recipient-drop-other" => (&file, without_entry(&file, &other)),
///         "recipient-field-remove" => {
///             (&file, file.replace(&format!("          recipient: {me}\n"), ""))
///         }
///         "shamir-threshold-1" => {
///             (&shamir, shamir.replace("shamir_threshold: 2", "shamir_threshold: 1"))
///         }
///         "later-document-metadata" => {
///             // the copy of the metadata in the second document is never read
///             let at = multi.rfind("mac: ENC[AES256_GCM,data:").unwrap() + 26;
///             let flip = if &multi[at..at + 1] == "A" { "B" } else { "A" };
///             (&multi, format!("{}{flip}{}", &multi[..at], &multi[at + 1..]))
///         }
///         other => panic!("UNDETECTABLE entry {other} has no example here"),
///     };
///     assert_ne!(source, &tampered, "{name}: the mutation changed nothing");
///     decrypt(tampered.as_bytes(), Format::Yaml, &keys, &DecryptOptions::default())
///         .unwrap_or_else(|e| panic!("{name} was detected ({e}): sops does not detect it"));
/// }
/// ```
pub const UNDETECTABLE: &[(&str, &str)] = &[
    (
        "add-comment",
        "comments never enter the MAC (and a plain comment reads as a legacy unencrypted one)",
    ),
    (
        "add-null-leaf",
        "null and empty values are neither encrypted nor hashed",
    ),
    (
        "rename-unencrypted-key",
        "keys are not in the MAC, and an unencrypted value has no AAD",
    ),
    (
        "shift-unencrypted-boundary",
        "the MAC hashes the values back to back, without separators",
    ),
    (
        "change-unencrypted-value",
        "with mac_only_encrypted the MAC skips unencrypted values",
    ),
    (
        "type-int-to-str",
        "the type is outside the AAD and the MAC; a canonical int reads the same as a string",
    ),
    (
        "recipient-add-unknown",
        "the recipient list is not authenticated (security.md F7: harvested at the next rotate)",
    ),
    (
        "recipient-drop-other",
        "the recipient list is not authenticated: dropping another key only denies it access",
    ),
    (
        "recipient-field-remove",
        "the recipient string is not needed to decrypt an age entry",
    ),
    (
        "shamir-threshold-1",
        "shamir_threshold is not authenticated; lowering it works while enough shares decrypt",
    ),
    (
        "later-document-metadata",
        "in multi-document YAML only the first document's copy of the metadata is read",
    ),
];

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
