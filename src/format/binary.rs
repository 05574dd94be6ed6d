//! The binary store: the whole file is one string value `data`, written as
//! `{"data": "ENC[...]", "sops": {...}}` in JSON with tab indentation, as sops does.

use crate::metadata::{Meta, json_string, write_json};

/// The encrypted file for a binary input.
pub fn write(token: &str, meta: &Meta) -> String {
    format!(
        "{{\n\t\"data\": {},\n\t\"sops\": {}\n}}\n",
        json_string(token),
        write_json(meta, "\t", 1)
    )
}
