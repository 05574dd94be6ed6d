//! `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]` tokens: a strict parser and the cipher.
//!
//! AES-256-GCM with a 32-byte IV (sops' `NewGCMWithNonceSize(…, 32)`), the AAD being the
//! key path (`a:b:`), the tag stored apart from the ciphertext, standard padded base64.
//! Like sops' `Cipher`, we remember the IV of every value we decrypt, so re-encrypting the same
//! (plaintext, AAD) pair gives the same ciphertext and an edit changes only what changed.

use std::collections::HashMap;

use aes_gcm::aead::consts::U32;
use aes_gcm::aead::generic_array::GenericArray;
use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{AesGcm, aes::Aes256};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::{Zeroize, Zeroizing};

use crate::crypto::DataKey;
use crate::error::Error;
use crate::value::Value;

type SopsGcm = AesGcm<Aes256, U32>;

/// A parsed `ENC[...]` token. It holds only ciphertext.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token {
    pub data: Vec<u8>,
    pub iv: Vec<u8>,
    pub tag: Vec<u8>,
    pub ty: String,
}

impl Token {
    /// Parse a token with sops' rule: `^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`
    /// (no end anchor, greedy groups). Returns `None` when the text is not a token at all, and an
    /// error when it looks like one but is malformed.
    pub fn parse(s: &str) -> Option<Result<Token, TokenError>> {
        if !s.starts_with("ENC[") {
            return None;
        }
        Some(Self::parse_strict(s))
    }

    fn parse_strict(s: &str) -> Result<Token, TokenError> {
        let rest = s
            .strip_prefix("ENC[AES256_GCM,")
            .ok_or(TokenError::Format)?;
        // The fields never contain ',' (base64 and type names), so a split is exact for
        // every token sops writes; the greedy regex accepts odd extras we reject as malformed.
        // (an INI comment token may be followed by further comment lines: only the first counts)
        let line = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
        // nothing may follow the closing bracket (sops' regex would ignore it; we refuse)
        let body = line.strip_suffix(']').ok_or(TokenError::Format)?;
        let mut parts = body.splitn(4, ',');
        let mut field = |name: &str| -> Result<&str, TokenError> {
            let p = parts.next().ok_or(TokenError::Format)?;
            p.strip_prefix(name).ok_or(TokenError::Format)
        };
        let data = field("data:")?;
        let iv = field("iv:")?;
        let tag = field("tag:")?;
        let ty = field("type:")?;
        if data.is_empty() || iv.is_empty() || tag.is_empty() || ty.is_empty() {
            return Err(TokenError::Format);
        }
        let dec = |v: &str| B64.decode(v).map_err(|_| TokenError::Base64);
        Ok(Token {
            data: dec(data)?,
            iv: dec(iv)?,
            tag: dec(tag)?,
            ty: ty.to_string(),
        })
    }

    /// The text form, exactly as sops writes it.
    pub fn to_text(&self) -> String {
        format!(
            "ENC[AES256_GCM,data:{},iv:{},tag:{},type:{}]",
            B64.encode(&self.data),
            B64.encode(&self.iv),
            B64.encode(&self.tag),
            self.ty
        )
    }

    /// A short, stable handle for this token (used to key format-preservation records).
    pub fn id(&self) -> String {
        let s = B64.encode(&self.iv);
        s[..s.len().min(22)].to_string()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("value does not match sops' data format")]
    Format,
    #[error("value has invalid base64")]
    Base64,
}

/// (AAD, type, SHA-512 of the plaintext) of a decrypted value.
type StashKey = (String, String, [u8; 64]);
/// The IVs such values were decrypted with, in order, and how many this pass has used.
type Remembered = (Vec<Vec<u8>>, usize);

/// The leaf cipher, bound to one data key.
pub struct Cipher {
    key: DataKey,
    /// (aad, type, SHA-512 of the plaintext) → the IVs of the values decrypted with this
    /// cipher, in document order, and how many of them this encryption pass has used: equal
    /// values at one path (list items, documents of a stream) each get their own IV back.
    stash: std::cell::RefCell<HashMap<StashKey, Remembered>>,
    /// OS randomness fetched in blocks: one system call per 128 IVs, not one per value.
    pool: std::cell::RefCell<Vec<u8>>,
    /// Whether decryption records IVs (only re-encryption needs them).
    remember: bool,
    /// The AES key schedule and GHASH key, computed once per file rather than per value.
    gcm: SopsGcm,
}

impl Cipher {
    pub fn new(key: DataKey) -> Self {
        // a data key of another length cannot decrypt anything: fall back to an all-zero
        // schedule that fails every authentication check, and report BadDataKey on use
        let gcm = SopsGcm::new_from_slice(key.as_bytes()).unwrap_or_else(|_| {
            SopsGcm::new_from_slice(&[0u8; 32]).expect("32 bytes is a valid key")
        });
        Cipher {
            gcm,
            key,
            stash: std::cell::RefCell::new(HashMap::new()),
            pool: std::cell::RefCell::new(Vec::new()),
            remember: false,
        }
    }

    /// A cipher that records the IV of every value it decrypts, so that re-encrypting the
    /// same value at the same path gives the same ciphertext (sops' stash).
    pub fn remembering(key: DataKey) -> Self {
        Cipher {
            remember: true,
            ..Cipher::new(key)
        }
    }

    fn fresh_iv(&self) -> Vec<u8> {
        let mut pool = self.pool.borrow_mut();
        if pool.len() < 32 {
            pool.resize(32 * 128, 0);
            super::random_bytes(&mut pool);
        }
        let at = pool.len() - 32;
        let iv = pool[at..].to_vec();
        // used bytes are wiped and dropped so an IV is never handed out twice
        pool[at..].zeroize();
        pool.truncate(at);
        iv
    }

    pub fn data_key(&self) -> &DataKey {
        &self.key
    }

    /// Start a new encryption pass: remembered IVs are handed out again from the first.
    pub fn rewind(&self) {
        for (_, used) in self.stash.borrow_mut().values_mut() {
            *used = 0;
        }
    }

    /// Encrypt raw bytes with a type tag. Reuses the IV of an identical earlier decryption.
    pub fn encrypt_bytes(&self, plain: &[u8], ty: &str, aad: &str) -> Result<Token, Error> {
        let reused = {
            let mut stash = self.stash.borrow_mut();
            if stash.is_empty() {
                None
            } else {
                stash
                    .get_mut(&(aad.to_string(), ty.to_string(), digest(plain)))
                    .and_then(|(ivs, used)| {
                        let iv = ivs.get(*used).cloned();
                        *used += 1;
                        iv
                    })
            }
        };
        let iv = match reused {
            Some(iv) => iv,
            None => self.fresh_iv(),
        };
        if self.key.as_bytes().len() != 32 {
            return Err(Error::BadDataKey);
        }
        let gcm = &self.gcm;
        let mut buf = Zeroizing::new(plain.to_vec());
        let tag = gcm
            .encrypt_in_place_detached(GenericArray::from_slice(&iv), aad.as_bytes(), &mut buf)
            .map_err(|_| Error::Internal("encryption failed"))?;
        Ok(Token {
            data: buf.to_vec(),
            iv,
            tag: tag.to_vec(),
            ty: ty.to_string(),
        })
    }

    /// Encrypt a typed value (sops' `Cipher.Encrypt`).
    pub fn encrypt(&self, v: &Value, aad: &str) -> Result<Token, Error> {
        let bytes = Zeroizing::new(v.to_bytes());
        self.encrypt_bytes(&bytes, v.type_name(), aad)
    }

    /// Decrypt to raw bytes, checking the tag with the AAD. Records the IV for re-use.
    pub fn decrypt_bytes(&mut self, t: &Token, aad: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
        if t.iv.is_empty() || t.tag.len() != 16 {
            return Err(Error::Authentication);
        }
        if self.key.as_bytes().len() != 32 {
            return Err(Error::BadDataKey);
        }
        let gcm = &self.gcm;
        let mut buf = Zeroizing::new(t.data.clone());
        // sops accepts any IV length on decrypt; aes-gcm is generic over the nonce size, so
        // only the 32 bytes sops writes are supported here (others fail authentication).
        if t.iv.len() != 32 {
            return Err(Error::Authentication);
        }
        gcm.decrypt_in_place_detached(
            GenericArray::from_slice(&t.iv),
            aad.as_bytes(),
            &mut buf,
            GenericArray::from_slice(&t.tag),
        )
        .map_err(|_| Error::Authentication)?;
        if self.remember {
            self.stash
                .get_mut()
                .entry((aad.to_string(), t.ty.clone(), digest(&buf)))
                .or_default()
                .0
                .push(t.iv.clone());
        }
        Ok(buf)
    }

    /// Decrypt to a typed value, parsing the plaintext as sops does for its `type:`.
    pub fn decrypt(&mut self, t: &Token, aad: &str) -> Result<Value, Error> {
        let plain = self.decrypt_bytes(t, aad)?;
        parse_typed(&plain, &t.ty)
    }
}

fn digest(b: &[u8]) -> [u8; 64] {
    use sha2::{Digest, Sha512};
    Sha512::digest(b).into()
}

/// sops' typed parse of a decrypted plaintext.
pub fn parse_typed(plain: &[u8], ty: &str) -> Result<Value, Error> {
    let s = || String::from_utf8(plain.to_vec()).map_err(|_| Error::BadPlaintext(ty.to_string()));
    Ok(match ty {
        "str" => Value::Str(s()?),
        "comment" => Value::Comment(s()?),
        // Go's time.UnmarshalText: RFC 3339, else an error (a str flipped to time must fail);
        // our TOML also types local dates and times as `time`
        "time" => {
            let t = s()?;
            if !is_rfc3339(&t) && !is_local_date_time(&t) {
                return Err(Error::BadPlaintext(ty.to_string()));
            }
            Value::Time(t)
        }
        "int" => Value::Int(
            s()?.parse::<i64>()
                .map_err(|_| Error::BadPlaintext(ty.to_string()))?,
        ),
        "float" => Value::Float(parse_go_float(&s()?).ok_or(Error::BadPlaintext(ty.to_string()))?),
        "bool" => Value::Bool(match s()?.as_str() {
            "1" | "t" | "T" | "TRUE" | "true" | "True" => true,
            "0" | "f" | "F" | "FALSE" | "false" | "False" => false,
            _ => return Err(Error::BadPlaintext(ty.to_string())),
        }),
        "bytes" => Value::Str(s()?),
        _ => return Err(Error::UnknownType),
    })
}

/// RFC 3339 as Go's `time.Parse(time.RFC3339Nano, …)` accepts it:
/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
pub(crate) fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .is_some_and(|x| x.iter().all(u8::is_ascii_digit))
    };
    if b.len() < 20
        || !digits(0..4)
        || b[4] != b'-'
        || !digits(5..7)
        || b[7] != b'-'
        || !digits(8..10)
        || !matches!(b[10], b'T' | b't')
        || !digits(11..13)
        || b[13] != b':'
        || !digits(14..16)
        || b[16] != b':'
        || !digits(17..19)
    {
        return false;
    }
    let mut i = 19;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
    }
    match &b[i..] {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// TOML's local forms: `YYYY-MM-DD`, `HH:MM:SS[.frac]`, and the two joined by `T` or a space.
fn is_local_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |x: &[u8]| !x.is_empty() && x.iter().all(u8::is_ascii_digit);
    let date = |x: &[u8]| {
        x.len() == 10
            && digits(&x[0..4])
            && x[4] == b'-'
            && digits(&x[5..7])
            && x[7] == b'-'
            && digits(&x[8..10])
    };
    let time = |x: &[u8]| {
        x.len() >= 8
            && digits(&x[0..2])
            && x[2] == b':'
            && digits(&x[3..5])
            && x[5] == b':'
            && digits(&x[6..8])
            && (x.len() == 8 || (x[8] == b'.' && digits(&x[9..])))
    };
    date(b)
        || time(b)
        || (b.len() > 11 && date(&b[..10]) && matches!(b[10], b'T' | b't' | b' ') && time(&b[11..]))
}

/// Go `strconv.ParseFloat(s, 64)` for the forms sops writes (decimal, `+Inf`, `-Inf`, `NaN`).
pub fn parse_go_float(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" | "+inf" | "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Inf" | "-inf" | "-Infinity" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ => s.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sops_test_vector_decrypts() {
        // aes/cipher_test.go TestDecrypt
        let mut c = Cipher::new(DataKey::from_bytes(&[b'f'; 32]));
        let t = Token::parse("ENC[AES256_GCM,data:oYyi,iv:MyIDYbT718JRr11QtBkcj3Dwm4k1aCGZBVeZf0EyV8o=,tag:t5z2Z023Up0kxwCgw1gNxg==,type:str]")
            .unwrap()
            .unwrap();
        assert_eq!(c.decrypt(&t, "bar:").unwrap(), Value::Str("foo".into()));
        assert!(matches!(c.decrypt(&t, "baz:"), Err(Error::Authentication)));
    }

    #[test]
    fn round_trip_and_iv_reuse() {
        let mut c = Cipher::remembering(DataKey::generate());
        let t = c.encrypt(&Value::Int(-12), "a:b:").unwrap();
        assert_eq!(t.iv.len(), 32);
        let text = t.to_text();
        let back = Token::parse(&text).unwrap().unwrap();
        assert_eq!(c.decrypt(&back, "a:b:").unwrap(), Value::Int(-12));
        // the same value at the same path re-encrypts identically after a decrypt
        assert_eq!(c.encrypt(&Value::Int(-12), "a:b:").unwrap().to_text(), text);
        assert_ne!(c.encrypt(&Value::Int(-12), "a:c:").unwrap().to_text(), text);
    }

    #[test]
    fn time_values_must_be_rfc3339() {
        assert!(is_rfc3339("2024-01-01T00:00:00Z"));
        assert!(is_rfc3339("2024-01-01T10:00:00.5+02:00"));
        for bad in ["hunter2", "2024-01-01T00:00:00+0200", "24-01-01", "10:00"] {
            assert!(!is_rfc3339(bad), "{bad}");
            assert!(parse_typed(bad.as_bytes(), "time").is_err());
        }
    }

    #[test]
    fn strict_parser() {
        assert!(Token::parse("hello").is_none());
        for bad in [
            "ENC[AES256_GCM,data:,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==]",
            "ENC[CHACHA,data:AA==,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:A!==,iv:AA==,tag:AA==,type:str]",
            "ENC[AES256_GCM,data:AA==,iv:AA==,tag:AA==,type:str]xyz",
        ] {
            assert!(Token::parse(bad).unwrap().is_err(), "{bad}");
        }
    }
}
