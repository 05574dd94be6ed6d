//! The command line: flags compatible with sops, environment look-ups, key discovery,
//! exit codes. Logic a library user would want lives in the library.

mod age_env;
mod bulk;
mod check;
mod completion;
mod edit;
mod exec;
mod git;
mod hygiene;
mod key_flags;
mod output;
mod rekey;
mod set;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use sops_rs::config::Config;
use sops_rs::document::{self, DecryptOptions, EncryptOptions};
use sops_rs::keys::{Backends, KeySources, KeySpec};
use sops_rs::select::Selector;
use sops_rs::{Error, Format};

/// sops' exit codes (cmd/sops/codes), kept so scripts that test them keep working.
mod code {
    pub const GENERIC: u8 = 1;
    pub const COULD_NOT_READ_INPUT: u8 = 2;
    pub const COULD_NOT_WRITE_OUTPUT: u8 = 3;
    pub const INVALID_KMS_ENCRYPTION_CONTEXT: u8 = 6;
    pub const CONFLICTING_PARAMETERS: u8 = 8;
    pub const ERROR_ENCRYPTING_TREE: u8 = 23;
    pub const ERROR_DECRYPTING_TREE: u8 = 25;
    pub const MAC_MISMATCH: u8 = 51;
    pub const INVALID_TREE_PATH: u8 = 91;
    pub const NEED_AT_LEAST_ONE_DOCUMENT: u8 = 92;
    pub const NO_FILE_SPECIFIED: u8 = 100;
    pub const DUPLICATE_DECRYPTION_KEY_TYPE: u8 = 112;
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
    /// Key types to try first when decrypting, e.g. age,pgp,kms (default: age,pgp)
    #[arg(long, global = true, env = "SOPS_DECRYPTION_ORDER")]
    decryption_order: Option<String>,
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// A file to edit (as `sops-rs edit FILE`)
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// Encrypt a file (stdout unless -i or --output)
    Encrypt(EncryptArgs),
    /// Decrypt a file (stdout unless -i or --output)
    Decrypt(DecryptArgs),
    /// Print {"encrypted":true|false} for a file
    Filestatus(FileStatusArgs),
    /// Edit a file in $SOPS_EDITOR / $EDITOR; re-encrypted on save (`sops-rs FILE` too)
    Edit(edit::EditArgs),
    /// Generate a new data key and re-encrypt every value (optionally adding/removing keys)
    Rotate(rekey::RotateArgs),
    /// Sync the files' key groups with their creation rules (same data key)
    Updatekeys(rekey::UpdateKeysArgs),
    /// Set one value in place: FILE '["a"]["b"]' JSON
    Set(set::SetArgs),
    /// Remove one value in place: FILE '["a"]["b"]'
    Unset(set::UnsetArgs),
    /// Add or delete key groups
    #[command(subcommand)]
    Groups(rekey::GroupsCmd),
    /// Check that the files the creation rules match are encrypted, verify and are not stale
    Check(check::CheckArgs),
    /// Run a command with the file's top-level values in its environment
    ExecEnv(exec::ExecEnvArgs),
    /// Run a command with the decrypted file at a temporary path (`{}` in the command)
    ExecFile(exec::ExecFileArgs),
    /// Git integration: plaintext diffs and value merges of encrypted files (`git setup`, `git textconv`, `git merge`)
    Git(git::GitArgs),
    /// Print a shell completion script (bash, zsh or fish)
    Completion(completion::CompletionArgs),
    /// Print the man page (roff)
    Man,
}

#[derive(Args, Clone)]
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
    #[command(flatten)]
    bulk: bulk::BulkArgs,
    #[command(flatten)]
    keys: NewFileArgs,
}

/// What a new file is encrypted with (`encrypt`, and `edit` of a file that does not exist).
#[derive(Args, Clone, Default)]
struct NewFileArgs {
    /// age recipients, comma-separated
    #[arg(short = 'a', long, env = "SOPS_AGE_RECIPIENTS")]
    age: Option<String>,
    #[command(flatten)]
    keys: key_flags::KeyFlags,
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
    #[command(flatten)]
    bulk: bulk::BulkArgs,
    /// Print only the value at this path, e.g. '["db"]["password"]'
    #[arg(long)]
    extract: Option<String>,
    /// Do not check the MAC
    #[arg(long)]
    ignore_mac: bool,
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
        Error::BadSetValue(_) => 7,
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
            "pass --age RECIPIENT (or --kms, --gcp-kms, --azure-kv, --hc-vault-transit, --pgp), or add a creation rule to .sops-rs.yaml",
        ),
        _ => None,
    };
    let mut f = Failure::new(code, format!("{file}: {e}"));
    f.hint = hint.map(String::from);
    f
}

pub fn run() -> ExitCode {
    hygiene::harden();
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

fn dispatch(mut cli: Cli) -> Result<(), Failure> {
    if let (Some(f), Some(_)) = (&cli.file, &cli.cmd) {
        return Err(Failure::new(
            code::GENERIC,
            format!("unexpected argument '{}' before the command", f.display()),
        )
        .hint("flags and files come after the command: `sops-rs decrypt FILE`"));
    }
    key_flags::set_decryption_order(cli.decryption_order.as_deref())?;
    match cli.cmd.take() {
        Some(Cmd::Encrypt(a)) => {
            let g = global_encrypt(&cli);
            encrypt(&cli.config, cli.verbose, a, g)
        }
        Some(Cmd::Decrypt(a)) => decrypt(&cli.config, a, cli.verbose),
        Some(Cmd::Filestatus(a)) => filestatus(a),
        Some(Cmd::Edit(a)) => {
            let g = global_encrypt(&cli);
            edit::edit(&cli.config, cli.verbose, a, g)
        }
        Some(Cmd::Rotate(a)) => rekey::rotate(a),
        Some(Cmd::Updatekeys(a)) => rekey::updatekeys(&cli.config, a),
        Some(Cmd::Groups(a)) => rekey::groups(a),
        Some(Cmd::Set(a)) => set::set(a),
        Some(Cmd::Unset(a)) => set::unset(a),
        Some(Cmd::Check(a)) => check::check(&cli.config, cli.verbose, a),
        Some(Cmd::ExecEnv(a)) => exec::exec_env(a, cli.verbose),
        Some(Cmd::ExecFile(a)) => exec::exec_file(a, cli.verbose),
        Some(Cmd::Git(a)) => git::run(a, &cli.config),
        Some(Cmd::Completion(a)) => completion::completion(a),
        Some(Cmd::Man) => completion::man(),
        None => match cli.file.clone() {
            Some(file) => {
                let g = global_encrypt(&cli);
                let a = edit::EditArgs {
                    file,
                    keys: NewFileArgs::default(),
                    input_type: None,
                    ignore_mac: false,
                };
                edit::edit(&cli.config, cli.verbose, a, g)
            }
            None => Err(Failure::new(code::NO_FILE_SPECIFIED, "no command or file given")
                .hint("use `sops-rs edit FILE`, `sops-rs encrypt FILE` or `sops-rs decrypt FILE`; see --help")),
        },
    }
}

fn global_encrypt(cli: &Cli) -> GlobalEncrypt {
    GlobalEncrypt {
        mac_only_encrypted: cli.mac_only_encrypted,
        unencrypted_comment_regex: cli.unencrypted_comment_regex.clone(),
        encrypted_comment_regex: cli.encrypted_comment_regex.clone(),
    }
}

/// Every identity and key service the environment offers.
fn key_sources() -> KeySources {
    KeySources {
        age: age_env::load_identities(&env, None),
        backends: Backends::from_env(&env),
        decryption_order: key_flags::decryption_order(),
        ..KeySources::default()
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
        io.file.as_deref()
    } else {
        io.output.as_deref()
    };
    write_to(target, bytes, new_mode)
}

/// Write `bytes` atomically to `target` (`new_mode` for a file that does not exist yet), or
/// to stdout.
fn write_to(target: Option<&Path>, bytes: &[u8], new_mode: u32) -> Result<(), Failure> {
    if let Some(t) = target
        && let Ok(m) = std::fs::metadata(t)
        && std::os::unix::fs::MetadataExt::nlink(&m) > 1
    {
        // the atomic rename gives this name a new file: the other names keep the old bytes
        // (after `encrypt -i`, the plaintext)
        eprintln!(
            "warning: {}: the file has {} hard links; only this name gets the new content, the other names keep the old one",
            t.display(),
            std::os::unix::fs::MetadataExt::nlink(&m)
        );
    }
    match target {
        Some(t) => output::write_atomic(t, bytes, new_mode).map_err(|e| {
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
            if dir.join(".sops.yml").is_file() {
                // sops 3.10 warns about this name too: it is never read
                eprintln!(
                    "warning: {}: ignored; the configuration must be named .sops.yaml (or .sops-rs.yaml)",
                    dir.join(".sops.yml").display()
                );
            }
        }
    }
    None
}

/// Encrypt options sops takes as global flags.
#[derive(Clone)]
struct GlobalEncrypt {
    mac_only_encrypted: bool,
    unencrypted_comment_regex: Option<String>,
    encrypted_comment_regex: Option<String>,
}

/// Load the configuration that applies to `file`, if there is one.
fn load_config(
    explicit: &Option<PathBuf>,
    file: Option<&Path>,
) -> Result<Option<(PathBuf, Config)>, Failure> {
    let Some(cfg_path) = find_config(explicit, file) else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(&cfg_path)
        .map_err(|e| Failure::new(code::GENERIC, format!("{}: {e}", cfg_path.display())))?;
    let cfg = Config::parse(&text, &cfg_path.display().to_string())
        .map_err(|e| Failure::new(code::GENERIC, e.to_string()))?;
    for w in &cfg.warnings {
        eprintln!("warning: {}: {}", cfg_path.display(), sanitize(w));
    }
    Ok(Some((cfg_path, cfg)))
}

/// The keys, selector and MAC mode for a new file: flags first, then the creation rule.
fn new_file_options(
    config: &Option<PathBuf>,
    verbose: bool,
    name_path: Option<&Path>,
    name: &str,
    a: &NewFileArgs,
    g: &GlobalEncrypt,
) -> Result<EncryptOptions, Failure> {
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
    // every key flag together makes one group, as in sops
    let mut keys: Vec<KeySpec> = a
        .age
        .as_deref()
        .map(age_env::split_recipients)
        .unwrap_or_default()
        .into_iter()
        .map(KeySpec::Age)
        .collect();
    keys.extend(a.keys.specs()?);
    if !keys.is_empty() {
        groups.push(keys);
    }
    let mut selector = flag_selector;
    let mut threshold = a.shamir_secret_sharing_threshold;
    let mut mac_only = g.mac_only_encrypted;
    if let Some((cfg_path, cfg)) = load_config(config, name_path)?
        && !cfg.creation_rules.is_empty()
    {
        let rel = relative_to_config(&cfg_path, name_path);
        match cfg.rule_for(&rel) {
            Some(rule) => {
                if verbose {
                    eprintln!("sops-rs: using a creation rule from {}", cfg_path.display());
                }
                if groups.is_empty() {
                    if !rule.unsupported.is_empty() && rule.groups.iter().all(|g| g.is_empty()) {
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
                .hint("pass --age RECIPIENT, or add a rule whose path_regex matches this file"));
            }
            None => {}
        }
    }
    Ok(EncryptOptions {
        groups,
        shamir_threshold: threshold,
        selector: selector.unwrap_or_else(Selector::default),
        mac_only_encrypted: mac_only,
        now: document::now_rfc3339(),
        backends: Backends::from_env(&env),
    })
}

fn encrypt(
    config: &Option<PathBuf>,
    verbose: bool,
    a: EncryptArgs,
    g: GlobalEncrypt,
) -> Result<(), Failure> {
    if a.bulk.is_bulk() {
        return bulk::encrypt_many(config, verbose, a, g);
    }
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
    let opts = new_file_options(config, verbose, name_path, &name, &a.keys, &g)?;
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

/// How to decrypt: the parts of `decrypt`'s flags that apply to every file.
struct DecryptPlan {
    input_type: Option<String>,
    extract: Option<Vec<sops_rs::format::PathSeg>>,
    convert_to: Option<Format>,
    ignore_mac: bool,
}

impl DecryptPlan {
    /// The input's format: the flag, else the name, else (a name that says nothing, such as
    /// `secrets.yaml.enc`) the encrypted content.
    fn format(
        &self,
        input: &[u8],
        name_path: Option<&Path>,
        name: &str,
        verbose: bool,
    ) -> Result<Format, Failure> {
        let format = format_of(self.input_type.as_deref(), name_path, "--input-type")?;
        Ok(
            if self.input_type.is_none() && !name_path.is_some_and(Format::known_extension) {
                let f = Format::detect_encrypted(input);
                if verbose {
                    eprintln!(
                        "sops-rs: {name}: the file name does not tell the format; the content reads as {f:?}"
                    );
                }
                f
            } else {
                format
            },
        )
    }

    fn new(a: &DecryptArgs, name: &str) -> Result<DecryptPlan, Failure> {
        let extract = match a.extract.as_deref() {
            Some(p) => Some(document::parse_tree_path(p).map_err(|e| fail(name, e))?),
            None => None,
        };
        let convert_to = match a.io.output_type.as_deref() {
            Some(out) => Some(format_of(Some(out), None, "--output-type")?),
            None => None,
        };
        Ok(DecryptPlan {
            input_type: a.io.input_type.clone(),
            extract,
            convert_to,
            ignore_mac: a.ignore_mac,
        })
    }

    /// Decrypt one input whose name (for the format and messages) is `name_path`.
    fn run(
        &self,
        input: &[u8],
        name_path: Option<&Path>,
        name: &str,
        sources: &KeySources,
        verbose: bool,
    ) -> Result<Vec<u8>, Failure> {
        let format = self.format(input, name_path, name, verbose)?;
        let mut extract = self.extract.clone();
        let mut convert_to = None;
        if let Some(of) = self.convert_to {
            if of == Format::Binary && format != Format::Binary && extract.is_none() {
                // a binary file wrapped in YAML/JSON: its `data` value, byte for byte
                extract = Some(vec![sops_rs::format::PathSeg::Key("data".into())]);
            } else if of != format && extract.is_none() {
                convert_to = Some(of);
            }
        }
        let opts = DecryptOptions {
            ignore_mac: self.ignore_mac,
            extract,
        };
        let mut out = sops_rs::decrypt(input, format, sources, &opts).map_err(|e| fail(name, e))?;
        if let Some(to) = convert_to {
            out.bytes = document::convert(&out.bytes, format, to).map_err(|e| fail(name, e))?;
        }
        Ok(out.bytes)
    }
}

fn decrypt(config: &Option<PathBuf>, a: DecryptArgs, verbose: bool) -> Result<(), Failure> {
    if a.bulk.is_bulk() {
        return bulk::decrypt_many(a, verbose);
    }
    check_io(&a.io)?;
    let name_path = a.io.filename_override.as_deref().or(a.io.file.as_deref());
    let name = display_name(&a.io);
    let plan = DecryptPlan::new(&a, &name)?;
    // flags are checked before the input is read
    format_of(a.io.input_type.as_deref(), name_path, "--input-type")?;
    let input = read_input(a.io.file.as_deref())?;
    let bytes = plan.run(&input, name_path, &name, &key_sources(), verbose)?;
    let format = plan.format(&input, name_path, &name, false)?;
    warn_unknown_recipients(&input, format, config, name_path, &name);
    // decrypted files are plaintext: new ones are private to the user
    write_output(&a.io, &bytes, 0o600)
}

/// security.md F7: the recipient list is not authenticated, so anyone who can commit can add
/// an age recipient to a sops file; it still decrypts, and the next rotation would wrap the
/// new data key for that recipient too. When a creation rule covers the file, name every age
/// recipient the file lists that the rule does not. Best effort and warning-only (sops says
/// nothing): without a configuration or a matching rule nothing can be compared.
fn warn_unknown_recipients(
    input: &[u8],
    format: Format,
    config: &Option<PathBuf>,
    name_path: Option<&Path>,
    name: &str,
) {
    let Some(cfg_path) = find_config(config, name_path) else {
        return;
    };
    let Some(cfg) = std::fs::read_to_string(&cfg_path)
        .ok()
        .and_then(|t| Config::parse(&t, &cfg_path.display().to_string()).ok())
    else {
        return;
    };
    let Some(rule) = cfg.rule_for(&relative_to_config(&cfg_path, name_path)) else {
        return;
    };
    // the binary store is JSON
    let meta_format = if format == Format::Binary {
        Format::Json
    } else {
        format
    };
    let Ok(Some(meta)) = document::read_metadata(input, meta_format) else {
        return;
    };
    let known: Vec<&str> = rule
        .groups
        .iter()
        .flatten()
        .filter_map(|k| match k {
            KeySpec::Age(r) => Some(r.trim()),
            _ => None,
        })
        .collect();
    let mut warned: Vec<&str> = Vec::new();
    for a in meta.groups.iter().flat_map(|g| &g.age) {
        let r = a.recipient.trim();
        if !r.is_empty() && !known.contains(&r) && !warned.contains(&r) {
            warned.push(r);
            eprintln!(
                "warning: {name}: the file lists age recipient {} which the creation rule in {} does not: anyone can add a recipient to a sops file, and the next rotation would give it the new data key",
                sanitize(r),
                cfg_path.display()
            );
        }
    }
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
