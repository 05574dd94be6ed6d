//! `set` and `unset`, as sops has them: one value changed in place, the rest of the file
//! (other values' ciphertext included) untouched.

use std::io::Read;
use std::path::PathBuf;

use clap::Args;
use sops_rs::document::{self, DecryptOptions, Opened};
use sops_rs::{Format, pathedit};

use super::{Failure, code, fail, format_of, key_sources, read_input};

#[derive(Args)]
pub(super) struct SetArgs {
    file: PathBuf,
    /// The path, e.g. '["database"]["password"]'
    path: String,
    /// The value as JSON, e.g. '"secret"', 5 or '{"a": 1}' (or, with --value-file, a file
    /// holding it; absent with --value-stdin)
    value: Option<String>,
    /// Read the value from the file named by VALUE (keeps it out of process listings)
    #[arg(long, conflicts_with = "value_stdin")]
    value_file: bool,
    /// Read the value from stdin
    #[arg(long)]
    value_stdin: bool,
    /// Do not write the file when the value is already there
    #[arg(long)]
    idempotent: bool,
    /// Input format (default: from the extension)
    #[arg(long)]
    input_type: Option<String>,
    /// Do not check the MAC
    #[arg(long)]
    ignore_mac: bool,
}

#[derive(Args)]
pub(super) struct UnsetArgs {
    file: PathBuf,
    /// The path, e.g. '["database"]["old_token"]'
    path: String,
    /// A path that is not there is not an error
    #[arg(long)]
    idempotent: bool,
    /// Input format (default: from the extension)
    #[arg(long)]
    input_type: Option<String>,
    /// Do not check the MAC
    #[arg(long)]
    ignore_mac: bool,
}

/// sops' ErrorInvalidSetFormat.
const INVALID_SET_FORMAT: u8 = 7;

fn open(
    file: &std::path::Path,
    input_type: Option<&str>,
    ignore_mac: bool,
) -> Result<(Opened, Format), Failure> {
    let name = file.display().to_string();
    let input = read_input(Some(file))?;
    let mut format = format_of(input_type, Some(file), "--input-type")?;
    if input_type.is_none() && !Format::known_extension(file) {
        format = Format::detect_encrypted(&input);
    }
    let opts = DecryptOptions {
        ignore_mac,
        extract: None,
    };
    let o = Opened::open(&input, format, &key_sources(), &opts).map_err(|e| fail(&name, e))?;
    Ok((o, format))
}

fn save(file: &std::path::Path, opened: &Opened, plain: &[u8]) -> Result<(), Failure> {
    let name = file.display().to_string();
    let out = opened
        .reseal(plain, &document::now_rfc3339())
        .map_err(|e| fail(&name, e))?;
    super::write_to(Some(file), &out.bytes, 0o644)
}

pub(super) fn set(a: SetArgs) -> Result<(), Failure> {
    let name = a.file.display().to_string();
    let value = zeroize::Zeroizing::new(match (a.value_stdin, a.value_file, &a.value) {
        (true, _, None) => {
            let mut s = String::new();
            std::io::stdin()
                .read_to_string(&mut s)
                .map_err(|e| Failure::new(code::COULD_NOT_READ_INPUT, format!("stdin: {e}")))?;
            s
        }
        (true, _, Some(_)) => {
            return Err(Failure::new(
                code::CONFLICTING_PARAMETERS,
                "--value-stdin takes the value from stdin: give no VALUE argument",
            ));
        }
        (false, true, Some(p)) => std::fs::read_to_string(p).map_err(|e| {
            Failure::new(
                code::COULD_NOT_READ_INPUT,
                format!("{p}: could not read the value file: {e}"),
            )
        })?,
        (false, false, Some(v)) => v.clone(),
        (false, _, None) => {
            return Err(
                Failure::new(INVALID_SET_FORMAT, "set needs a value (or --value-stdin)")
                    .hint("e.g. sops-rs set secrets.yaml '[\"db\"][\"password\"]' '\"n3w\"'"),
            );
        }
    });
    let path = document::parse_tree_path(&a.path).map_err(|e| fail(&name, e))?;
    // a bad value is reported before any key is asked for
    let parsed = pathedit::parse_value(&value).map_err(|e| {
        let mut f = fail(&name, e);
        f.code = INVALID_SET_FORMAT;
        f
    })?;
    let (opened, format) = open(&a.file, a.input_type.as_deref(), a.ignore_mac)?;
    match pathedit::set_value(opened.plaintext(), format, &path, &parsed)
        .map_err(|e| fail(&name, e))?
    {
        Some(new) => save(&a.file, &opened, &zeroize::Zeroizing::new(new)),
        None if a.idempotent => {
            eprintln!("{name}: the value is already set; the file is unchanged");
            Ok(())
        }
        // sops re-writes the file anyway (a new lastmodified and MAC; values keep their
        // ciphertext)
        None => save(&a.file, &opened, opened.plaintext()),
    }
}

pub(super) fn unset(a: UnsetArgs) -> Result<(), Failure> {
    let name = a.file.display().to_string();
    let path = document::parse_tree_path(&a.path).map_err(|e| fail(&name, e))?;
    let (opened, format) = open(&a.file, a.input_type.as_deref(), a.ignore_mac)?;
    match pathedit::unset(opened.plaintext(), format, &path).map_err(|e| fail(&name, e))? {
        Some(new) => save(&a.file, &opened, &zeroize::Zeroizing::new(new)),
        None if a.idempotent => Ok(()),
        None => Err(Failure::new(
            code::GENERIC,
            format!("{name}: the path {} was not found", a.path),
        )
        .hint("--idempotent makes a missing path not an error")),
    }
}
