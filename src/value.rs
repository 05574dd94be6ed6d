//! Typed leaf values as sops sees them, and their canonical plaintext bytes.
//!
//! The canonical bytes are what sops encrypts and what it feeds into the MAC
//! (`ToBytes` in sops.go): strings raw, ints via `strconv.Itoa`, floats via
//! `FormatFloat(v, 'f', -1, 64)`, bools as `True`/`False`, times as RFC 3339 with
//! nanoseconds. Comments are never hashed.

use std::fmt;
use zeroize::Zeroize;

/// A leaf value. `Debug` never prints the content.
#[derive(Clone, PartialEq)]
pub enum Value {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    /// A YAML timestamp, held as its canonical RFC 3339 (nanosecond) text.
    Time(String),
    /// A comment's text (without the leading `#`).
    Comment(String),
}

impl Value {
    /// The `type:` tag sops writes for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "str",
            Value::Int(_) => "int",
            Value::Float(_) => "float",
            Value::Bool(_) => "bool",
            Value::Time(_) => "time",
            Value::Comment(_) => "comment",
        }
    }

    /// The canonical plaintext bytes (sops' `ToBytes`).
    pub fn to_bytes(&self) -> Vec<u8> {
        match self {
            Value::Str(s) | Value::Time(s) | Value::Comment(s) => s.as_bytes().to_vec(),
            Value::Int(i) => i.to_string().into_bytes(),
            Value::Float(f) => go_format_float_f(*f).into_bytes(),
            Value::Bool(true) => b"True".to_vec(),
            Value::Bool(false) => b"False".to_vec(),
        }
    }

    /// True for values sops leaves as they are: the empty string and the empty comment.
    pub fn is_empty(&self) -> bool {
        matches!(self, Value::Str(s) | Value::Comment(s) if s.is_empty())
    }

    pub fn is_comment(&self) -> bool {
        matches!(self, Value::Comment(_))
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Value::{}([REDACTED])", self.type_name())
    }
}

impl Drop for Value {
    fn drop(&mut self) {
        match self {
            Value::Str(s) | Value::Time(s) | Value::Comment(s) => s.zeroize(),
            Value::Int(i) => i.zeroize(),
            Value::Float(x) => x.zeroize(),
            Value::Bool(b) => b.zeroize(),
        }
    }
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: shortest round-trip digits, never an
/// exponent; `+Inf`, `-Inf`, `NaN` for the specials.
pub fn go_format_float_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        // Rust's Display is the shortest round-trip form and never uses an exponent.
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_forms_match_go() {
        assert_eq!(go_format_float_f(1.0), "1");
        assert_eq!(go_format_float_f(-0.0), "-0");
        assert_eq!(go_format_float_f(1e21), "1000000000000000000000");
        assert_eq!(go_format_float_f(1e-7), "0.0000001");
        assert_eq!(go_format_float_f(-1.5e-3), "-0.0015");
        assert_eq!(go_format_float_f(f64::INFINITY), "+Inf");
        assert_eq!(go_format_float_f(f64::NAN), "NaN");
    }

    #[test]
    fn debug_redacts() {
        assert_eq!(
            format!("{:?}", Value::Str("hunter2".into())),
            "Value::str([REDACTED])"
        );
    }
}
