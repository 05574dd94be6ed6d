//! Small helpers the key backends share to read and write their metadata entries.

use crate::metadata::Meta;

/// A string field of an entry; a missing one reads as "" as in sops (Go zero values).
pub(crate) fn field(m: &Meta, k: &str) -> Result<String, String> {
    match m.get(k) {
        None | Some(Meta::Null) => Ok(String::new()),
        Some(v) => v
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{k} is not a string")),
    }
}

/// A map entry from (field, text) pairs; the metadata writer sorts the fields.
pub(crate) fn map(fields: &[(&str, &str)]) -> Meta {
    Meta::Map(
        fields
            .iter()
            .map(|(k, v)| ((*k).to_string(), Meta::str(*v)))
            .collect(),
    )
}

/// Why a backend cannot run: the cargo feature was left out of this build.
// used only by backends whose feature is off
#[allow(dead_code)]
pub(crate) fn not_built(feature: &str) -> String {
    format!("sops-rs was built without the `{feature}` feature")
}
