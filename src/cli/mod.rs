//! The command line: flags compatible with sops, environment look-ups, key discovery,
//! exit codes. Logic a library user would want lives in the library.

mod age_env;
mod output;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sops_rs::config::Config;
use sops_rs::document::{self, DecryptOptions, EncryptOptions};
use sops_rs::keys::{KeySources, KeySpec};
use sops_rs::select::Selector;
use sops_rs::{Error, Format};

/// sops' exit codes (cmd/sops/codes), kept so scripts that test them keep working.
mod code {
    pub const GENERIC: u8 = 1;
    pub const COULD_NOT_READ_INPUT: u8 = 2;
    pub const COULD_NOT_WRITE_OUTPUT: u8 = 3;
    pub const CONFLICTING_PARAMETERS: u8 = 8;
    pub const ERROR_ENCRYPTING_TREE: u8 = 23;
    pub const ERROR_DECRYPTING_TREE: u8 = 25;
    pub const MAC_MISMATCH: u8 = 51;
    pub const INVALID_TREE_PATH: u8 = 91;
    pub const NEED_AT_LEAST_ONE_DOCUMENT: u8 = 92;
    pub const NO_FILE_SPECIFIED: u8 = 100;
    pub const COULD_NOT_RETRIEVE_KEY: u8 = 128;
    pub const FILE_ALREADY_ENCRYPTED: u8 = 203;
}

const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (compatible with sops 3.13.2)");

#[derive(Parser)]
#[command(name = "sops-rs", version = VERSION, about = "Encrypt the values of YAML, JSON and binary files, compatibly with sops, keeping every other byte")]
struct Cli {
    /// Configuration file (default: .sops-rs.yaml, else .sops.yaml, looked up from the file's directory, then the working directory)
    #[arg(long, global = true, env = "SOPS_CONFIG")]
    config: Option<PathBuf>,
    /// Say more about what is done (never values)
    #[arg(long, global = true)]
    verbose: bool,
    /// Accepted for sops compatibility; sops-rs never checks for updates
    #[arg(long, global = true)]
    disable_version_check: bool,
    /// Accepted for sops compatibility (YAML indentation is preserved from the input)
    #[arg(long, global = true)]
    indent: Option<usize>,
    /// The MAC covers only encrypted values (encrypt)
    #[arg(long, global = true)]
    mac_only_encrypted: bool,
    /// Values preceded by a comment matching this regex stay in clear (encrypt)
    #[arg(long, global = true)]
    unencrypted_comment_regex: Option<String>,
    /// Only values preceded by a comment matching this regex are encrypted (encrypt)
    #[arg(long, global = true)]
    encrypted_comment_regex: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Encrypt a file (stdout unless -i or --output)
    Encrypt(EncryptArgs),
    /// Decrypt a file (stdout unless -i or --output)
    Decrypt(DecryptArgs),
    /// Print {"encrypted":true|false} for a file
    Filestatus(FileStatusArgs),
}

#[derive(Args)]
struct IoArgs {
    /// The file (stdin when absent)
    file: Option<PathBuf>,
    /// Write the result over the input file (atomically)
    #[arg(short = 'i', long)]
    in_place: bool,
    /// Write the result to this file (atomically)
    #[arg(long)]
    output: Option<PathBuf>,
    /// Input format: yaml, json or binary (default: from the extension)
    #[arg(long)]
    input_type: Option<String>,
    /// Output format (default: the input format)
    #[arg(long)]
    output_type: Option<String>,
    /// Path used for format detection and creation rules (stdin input)
    #[arg(long)]
    filename_override: Option<PathBuf>,
}

#[derive(Args)]
struct EncryptArgs {
    #[command(flatten)]
    io: IoArgs,
    /// age recipients, comma-separated
    #[arg(short = 'a', long, env = "SOPS_AGE_RECIPIENTS")]
    age: Option<String>,
    /// Values under keys with this suffix stay in clear (default _unencrypted)
    #[arg(long)]
    unencrypted_suffix: Option<String>,
    /// Only values under keys with this suffix are encrypted
    #[arg(long)]
    encrypted_suffix: Option<String>,
    /// Values under keys matching this regex stay in clear
    #[arg(long)]
    unencrypted_regex: Option<String>,
    /// Only values under keys matching this regex are encrypted
    #[arg(long)]
    encrypted_regex: Option<String>,
    /// Shamir threshold when there are several key groups
    #[arg(long)]
    shamir_secret_sharing_threshold: Option<usize>,
}

#[derive(Args)]
struct DecryptArgs {
    #[command(flatten)]
    io: IoArgs,
    /// Print only the value at this path, e.g. '["db"]["password"]'
    #[arg(long)]
    extract: Option<String>,
    /// Do not check the MAC
    #[arg(long)]
    ignore_mac: bool,
    /// Accepted for sops compatibility (only age keys are used so far)
    #[arg(long, env = "SOPS_DECRYPTION_ORDER")]
    decryption_order: Option<String>,
}

#[derive(Args)]
struct FileStatusArgs {
    file: PathBuf,
    #[arg(long)]
    input_type: Option<String>,
}

/// An error for the user: the message, sops' exit code and an optional hint.
struct Failure {
    msg: String,
    code: u8,
    hint: Option<String>,
}

impl Failure {
    fn new(code: u8, msg: impl Into<String>) -> Self {
        Failure {
            msg: msg.into(),
            code,
            hint: None,
        }
    }

    fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
        self
    }
}

/// Map a library error to sops' exit code, naming the file.
fn fail(file: &str, e: Error) -> Failure {
    let code = match &e {
        Error::Read { .. } => code::COULD_NOT_READ_INPUT,
        Error::Write { .. } => code::COULD_NOT_WRITE_OUTPUT,
        Error::AlreadyEncrypted => code::FILE_ALREADY_ENCRYPTED,
        Error::Empty => code::NEED_AT_LEAST_ONE_DOCUMENT,
        Error::IntegerTooLarge(_) | Error::NonStringKey(_) => code::ERROR_ENCRYPTING_TREE,
        Error::Value { .. } | Error::NotAString(_) | Error::Authentication | Error::Token(_) => {
            code::ERROR_DECRYPTING_TREE
        }
        Error::DataKey(_) => code::COULD_NOT_RETRIEVE_KEY,
        Error::MacDecrypt(_) | Error::MacMismatch | Error::MacMissing => code::MAC_MISMATCH,
        Error::BadTreePath(_) => code::INVALID_TREE_PATH,
        _ => code::GENERIC,
    };
    let hint = match &e {
        Error::MetadataNotFound => {
            Some("the file is not encrypted, or its format was mis-detected: try --input-type")
        }
        Error::AlreadyEncrypted => Some("decrypt it first, or use `sops-rs edit`"),
        Error::MacMismatch => Some(
            "if the change was intended, re-encrypt the plaintext; --ignore-mac skips this check",
        ),
        Error::NoKeys => Some(
            "pass --age RECIPIENT, set SOPS_AGE_RECIPIENTS, or add a creation rule to .sops-rs.yaml",
        ),
        _ => None,
    };
    let mut f = Failure::new(code, format!("{file}: {e}"));
    f.hint = hint.map(String::from);
    f
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "error: {}", sanitize(&f.msg));
            if let Some(h) = f.hint {
                let _ = writeln!(err, "hint: {}", sanitize(&h));
            }
            ExitCode::from(f.code)
        }
    }
}

/// Strip terminal control characters from messages (key names come from the file).
fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{FFFD}'
            } else {
                c
            }
        })
        .collect()
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    match cli.cmd {
        Some(Cmd::Encrypt(a)) => {
            let g = GlobalEncrypt {
                mac_only_encrypted: cli.mac_only_encrypted,
                unencrypted_comment_regex: cli.unencrypted_comment_regex,
                encrypted_comment_regex: cli.encrypted_comment_regex,
            };
            encrypt(&cli.config, cli.verbose, a, g)
        }
        Some(Cmd::Decrypt(a)) => decrypt(a, cli.verbose),
        Some(Cmd::Filestatus(a)) => filestatus(a),
        None => Err(Failure::new(code::GENERIC, "no command given")
            .hint("use `sops-rs encrypt FILE` or `sops-rs decrypt FILE` (edit mode comes with the editing issue); see --help")),
    }
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn format_of(name: Option<&str>, path: Option<&Path>, flag: &str) -> Result<Format, Failure> {
    match name {
        Some(n) => Format::from_name(n).ok_or_else(|| {
            Failure::new(code::GENERIC, format!("unknown {flag} '{n}'"))
                .hint("use yaml, json or binary")
        }),
        None => Ok(path.map_or(Format::Binary, Format::from_path)),
    }
}

/// Read the input: a file, or stdin. A missing file is sops' exit 100.
fn read_input(file: Option<&Path>) -> Result<Vec<u8>, Failure> {
    match file {
        Some(p) => std::fs::read(p).map_err(|e| {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                code::NO_FILE_SPECIFIED
            } else {
                code::COULD_NOT_READ_INPUT
            };
            Failure::new(
                code,
                format!("{}: could not read the file: {e}", p.display()),
            )
        }),
        None => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .map_err(|e| Failure::new(code::COULD_NOT_READ_INPUT, format!("stdin: {e}")))?;
            Ok(buf)
        }
    }
}

fn write_output(io: &IoArgs, bytes: &[u8], new_mode: u32) -> Result<(), Failure> {
    let target = if io.in_place {
        io.file.clone()
    } else {
        io.output.clone()
    };
    match target {
        Some(t) => output::write_atomic(&t, bytes, new_mode).map_err(|e| {
            Failure::new(
                code::COULD_NOT_WRITE_OUTPUT,
                format!("{}: could not write: {e}", t.display()),
            )
            .hint("the original file is unchanged")
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(bytes)
                .and_then(|()| out.flush())
                .map_err(|e| Failure::new(code::COULD_NOT_WRITE_OUTPUT, format!("stdout: {e}")))
        }
    }
}

fn check_io(io: &IoArgs) -> Result<(), Failure> {
    if io.in_place && io.output.is_some() {
        return Err(Failure::new(
            code::CONFLICTING_PARAMETERS,
            "--in-place and --output cannot be used together",
        ));
    }
    if io.in_place && io.file.is_none() {
        return Err(Failure::new(
            code::CONFLICTING_PARAMETERS,
            "--in-place needs a file, not stdin",
        ));
    }
    Ok(())
}

fn display_name(io: &IoArgs) -> String {
    io.file
        .as_deref()
        .or(io.filename_override.as_deref())
        .map_or_else(|| "stdin".to_string(), |p| p.display().to_string())
}

/// Find the configuration: `--config`/`SOPS_CONFIG`, else `.sops-rs.yaml` then `.sops.yaml`
/// from the file's directory upward, then from the working directory upward.
fn find_config(explicit: &Option<PathBuf>, file: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.clone());
    }
    let mut starts = Vec::new();
    if let Some(f) = file
        && let Ok(abs) = std::path::absolute(f)
        && let Some(d) = abs.parent()
    {
        starts.push(d.to_path_buf());
    }
    if let Ok(cwd) = std::env::current_dir() {
        starts.push(cwd);
    }
    for start in starts {
        for dir in start.ancestors().take(100) {
            for name in [".sops-rs.yaml", ".sops.yaml"] {
                let p = dir.join(name);
                if p.is_file() {
                    return Some(p);
                }
            }
        }
    }
    None
}

/// Encrypt options sops takes as global flags.
struct GlobalEncrypt {
    mac_only_encrypted: bool,
    unencrypted_comment_regex: Option<String>,
    encrypted_comment_regex: Option<String>,
}

fn encrypt(
    config: &Option<PathBuf>,
    verbose: bool,
    a: EncryptArgs,
    g: GlobalEncrypt,
) -> Result<(), Failure> {
    check_io(&a.io)?;
    if a.io.file.is_none() && a.io.filename_override.is_none() {
        return Err(Failure::new(
            code::CONFLICTING_PARAMETERS,
            "encrypting stdin needs --filename-override",
        )
        .hint("the override names the format and the creation rule to use"));
    }
    let name_path = a.io.filename_override.as_deref().or(a.io.file.as_deref());
    let format = format_of(a.io.input_type.as_deref(), name_path, "--input-type")?;
    let output_format = match a.io.output_type.as_deref() {
        Some(out) => format_of(Some(out), None, "--output-type")?,
        None => format,
    };
    let name = display_name(&a.io);

    // selectors from flags; creation rule keys and selectors from the configuration
    let flag_pairs: Vec<(&'static str, Option<&str>)> = vec![
        ("unencrypted_suffix", a.unencrypted_suffix.as_deref()),
        ("encrypted_suffix", a.encrypted_suffix.as_deref()),
        ("unencrypted_regex", a.unencrypted_regex.as_deref()),
        ("encrypted_regex", a.encrypted_regex.as_deref()),
        (
            "unencrypted_comment_regex",
            g.unencrypted_comment_regex.as_deref(),
        ),
        (
            "encrypted_comment_regex",
            g.encrypted_comment_regex.as_deref(),
        ),
    ];
    let flag_selector = sops_rs::select::at_most_one(&flag_pairs)
        .map_err(|e| Failure::new(code::CONFLICTING_PARAMETERS, e.to_string()))?;
    let mut groups: Vec<Vec<KeySpec>> = Vec::new();
    if let Some(r) = a.age.as_deref() {
        let keys: Vec<KeySpec> = age_env::split_recipients(r)
            .into_iter()
            .map(KeySpec::Age)
            .collect();
        if !keys.is_empty() {
            groups.push(keys);
        }
    }
    let mut selector = flag_selector;
    let mut threshold = a.shamir_secret_sharing_threshold;
    let mut mac_only = g.mac_only_encrypted;
    if let Some(cfg_path) = find_config(config, name_path) {
        let text = std::fs::read_to_string(&cfg_path)
            .map_err(|e| Failure::new(code::GENERIC, format!("{}: {e}", cfg_path.display())))?;
        let cfg = Config::parse(&text, &cfg_path.display().to_string())
            .map_err(|e| Failure::new(code::GENERIC, e.to_string()))?;
        if !cfg.creation_rules.is_empty() {
            let rel = relative_to_config(&cfg_path, name_path);
            match cfg.rule_for(&rel) {
                Some(rule) => {
                    if verbose {
                        eprintln!("sops-rs: using a creation rule from {}", cfg_path.display());
                    }
                    if groups.is_empty() {
                        if !rule.unsupported.is_empty() && rule.groups.iter().all(|g| g.is_empty())
                        {
                            return Err(Failure::new(
                                code::GENERIC,
                                format!(
                                    "the creation rule uses key types sops-rs does not support yet: {}",
                                    rule.unsupported.join(", ")
                                ),
                            ));
                        }
                        groups = rule.groups.clone();
                        threshold = threshold.or(rule.shamir_threshold);
                    }
                    if selector.is_none() {
                        selector = rule.selector.clone();
                    }
                    mac_only |= rule.mac_only_encrypted;
                }
                None if groups.is_empty() => {
                    return Err(Failure::new(
                        code::GENERIC,
                        format!(
                            "{name}: no matching creation rules found in {}",
                            cfg_path.display()
                        ),
                    )
                    .hint(
                        "pass --age RECIPIENT, or add a rule whose path_regex matches this file",
                    ));
                }
                None => {}
            }
        }
    }
    let opts = EncryptOptions {
        groups,
        shamir_threshold: threshold,
        selector: selector.unwrap_or_else(Selector::default),
        mac_only_encrypted: mac_only,
        now: document::now_rfc3339(),
    };
    let input = read_input(a.io.file.as_deref())?;
    // a name that says nothing (`secrets.yaml.enc`): the content tells (sops would say binary)
    let (format, output_format) = if a.io.input_type.is_none()
        && name_path.is_none_or(|p| Format::from_path(p) == Format::Binary)
    {
        let (f, why) = Format::detect_plain(&input);
        if verbose {
            eprintln!(
                "sops-rs: {name}: the file name does not tell the format; {why}: encrypting it as {f:?}"
            );
            let t = format!("{f:?}").to_lowercase();
            match f {
                Format::Binary => {}
                Format::Toml => eprintln!(
                    "sops-rs: hint: sops has no TOML store and cannot read this file; pass --input-type binary to encrypt it as sops would"
                ),
                _ => eprintln!(
                    "sops-rs: hint: sops would encrypt this file as binary; to decrypt it with sops, pass `--input-type {t} --output-type {t}` (or pass --input-type binary here to encrypt it as sops would)"
                ),
            }
        }
        (
            f,
            if a.io.output_type.is_none() {
                f
            } else {
                output_format
            },
        )
    } else {
        (format, output_format)
    };
    // `--output-type`: convert the plaintext's data first (comments do not carry over)
    let input = if output_format == format {
        input
    } else {
        document::convert(&input, format, output_format).map_err(|e| fail(&name, e))?
    };
    let format = output_format;
    let out = sops_rs::encrypt(&input, format, &opts).map_err(|e| {
        // sops: "Error unmarshalling file" when encrypting is exit 2 (1 when decrypting)
        let syntax = matches!(e, Error::Syntax { .. });
        let mut f = fail(&name, e);
        if syntax {
            f.code = code::COULD_NOT_READ_INPUT;
        }
        f
    })?;
    for w in &out.warnings {
        eprintln!("warning: {name}: {}", sanitize(w));
    }
    write_output(&a.io, &out.bytes, 0o644)
}

fn relative_to_config(cfg: &Path, file: Option<&Path>) -> String {
    let Some(file) = file else {
        return String::new();
    };
    let abs = std::path::absolute(file).unwrap_or_else(|_| file.to_path_buf());
    let dir = std::path::absolute(cfg)
        .ok()
        .and_then(|c| c.parent().map(Path::to_path_buf));
    match dir.and_then(|d| abs.strip_prefix(&d).ok().map(Path::to_path_buf)) {
        Some(rel) => rel.to_string_lossy().into_owned(),
        None => abs.to_string_lossy().into_owned(),
    }
}

fn decrypt(a: DecryptArgs, verbose: bool) -> Result<(), Failure> {
    check_io(&a.io)?;
    let name_path = a.io.filename_override.as_deref().or(a.io.file.as_deref());
    let format = format_of(a.io.input_type.as_deref(), name_path, "--input-type")?;
    let name = display_name(&a.io);
    let mut extract = match a.extract.as_deref() {
        Some(p) => Some(document::parse_tree_path(p).map_err(|e| fail(&name, e))?),
        None => None,
    };
    let mut convert_to = None;
    if let Some(out) = a.io.output_type.as_deref() {
        let of = format_of(Some(out), None, "--output-type")?;
        if of == Format::Binary && format != Format::Binary && extract.is_none() {
            // a binary file wrapped in YAML/JSON: its `data` value, byte for byte
            extract = Some(vec![sops_rs::format::PathSeg::Key("data".into())]);
        } else if of != format && extract.is_none() {
            convert_to = Some(of);
        }
    }
    let input = read_input(a.io.file.as_deref())?;
    // a name that says nothing (`secrets.yaml.enc`): the encrypted content tells
    let format = if a.io.input_type.is_none() && !name_path.is_some_and(Format::known_extension) {
        let f = Format::detect_encrypted(&input);
        if verbose {
            eprintln!(
                "sops-rs: {name}: the file name does not tell the format; the content reads as {f:?}"
            );
        }
        f
    } else {
        format
    };
    let sources = KeySources {
        age: age_env::load_identities(&env, None),
    };
    let opts = DecryptOptions {
        ignore_mac: a.ignore_mac,
        extract,
    };
    let mut out = sops_rs::decrypt(&input, format, &sources, &opts).map_err(|e| fail(&name, e))?;
    if let Some(to) = convert_to {
        out.bytes = document::convert(&out.bytes, format, to).map_err(|e| fail(&name, e))?;
    }
    // decrypted files are plaintext: new ones are private to the user
    write_output(&a.io, &out.bytes, 0o600)
}

fn filestatus(a: FileStatusArgs) -> Result<(), Failure> {
    let format = format_of(a.input_type.as_deref(), Some(&a.file), "--input-type")?;
    let input = read_input(Some(&a.file))?;
    let encrypted = matches!(
        document::read_metadata(&input, format),
        Ok(Some(m)) if !m.version.is_empty() && !m.mac.is_empty()
    );
    println!("{{\"encrypted\":{encrypted}}}");
    Ok(())
}
