//! Git integration: `git setup` installs a diff driver whose textconv is `git textconv`, so
//! that `git diff`, `git log -p` and `git show` print encrypted files as plaintext while only
//! ciphertext is ever stored.
//!
//! The driver is named `sopsrs`. `git setup` writes `diff.sopsrs.textconv` (and an explicit
//! `diff.sopsrs.cachetextconv = false`) and, in a repository, a managed block of
//! `.gitattributes` lines. The command is `sops-rs git textconv` when the `sops-rs` found on
//! `PATH` is this very executable, else this executable's absolute path (quoted for the
//! shell git runs it with), so that a build outside `PATH` still works.
//!
//! The merge driver (`merge.sopsrs.driver`, `merge=sopsrs`) is `git merge`: see [`merge`].
//! Other drivers are added by extending [`config_entries`] and [`ATTRIBUTES`]: re-running
//! `git setup` rewrites the managed block with the new attributes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, Subcommand};
use sops_rs::config::Config;
use sops_rs::document::{self, DecryptOptions};
use sops_rs::{Error, Format};

use super::{Failure, code, relative_to_config};

/// The driver's name in git's config and in `.gitattributes`.
pub const DRIVER: &str = "sopsrs";
/// The attributes each managed `.gitattributes` line sets.
pub const ATTRIBUTES: &[&str] = &["diff=sopsrs", "merge=sopsrs"];
/// Written when there is no configuration to say which files are encrypted.
const COMMON_PATTERNS: &[&str] = &[
    "*.enc.yaml",
    "*.enc.yml",
    "*.enc.json",
    "*.enc.env",
    "*.enc.ini",
    "*.enc.toml",
];
const BLOCK_START: &str =
    "# >>> sops-rs: written by `sops-rs git setup` (re-run it after adding encrypted files)";
const BLOCK_END: &str = "# <<< sops-rs";

#[derive(Args)]
pub struct GitArgs {
    #[command(subcommand)]
    pub cmd: GitCmd,
}

#[derive(Subcommand)]
pub enum GitCmd {
    /// Configure git to show encrypted files as plaintext in diffs (config and .gitattributes)
    Setup(SetupArgs),
    /// The diff driver's textconv: print an encrypted file's plaintext, any other file as it
    /// is; never fails
    Textconv(TextconvArgs),
    /// The merge driver: merge the values of an encrypted file three ways (git passes
    /// %O %A %B); the result replaces OURS; exit 1 on conflict, naming the key paths
    Merge(MergeArgs),
}

#[derive(Args)]
pub struct MergeArgs {
    /// Conflict marker size for a textual merge (git's %L)
    #[arg(long, default_value_t = 7)]
    pub marker_size: usize,
    /// The common ancestor's version (%O)
    pub base: PathBuf,
    /// Our version (%A): the result is written here
    pub ours: PathBuf,
    /// Their version (%B)
    pub theirs: PathBuf,
    /// The path in the repository (%P), for the format and messages
    pub path: Option<String>,
}

#[derive(Args)]
pub struct SetupArgs {
    /// Write the user's git config (~/.gitconfig) instead of the repository's; no
    /// .gitattributes is written
    #[arg(long)]
    pub global: bool,
}

#[derive(Args)]
pub struct TextconvArgs {
    /// The file git hands over
    pub file: PathBuf,
}

pub fn run(a: GitArgs, config: &Option<PathBuf>) -> Result<(), Failure> {
    match a.cmd {
        GitCmd::Setup(s) => setup(s, config),
        GitCmd::Textconv(t) => {
            textconv(&t.file);
            Ok(())
        }
        GitCmd::Merge(m) => merge(&m),
    }
}

// ---- setup ---------------------------------------------------------------------------

fn git(args: &[&str], cwd: Option<&Path>) -> Result<std::process::Output, Failure> {
    let mut c = Command::new("git");
    c.args(args);
    if let Some(d) = cwd {
        c.current_dir(d);
    }
    c.output().map_err(|e| {
        Failure::new(code::GENERIC, format!("could not run git: {e}"))
            .hint("install git, or put it on PATH")
    })
}

fn git_ok(args: &[&str], cwd: Option<&Path>) -> Result<String, Failure> {
    let out = git(args, cwd)?;
    if !out.status.success() {
        return Err(Failure::new(
            code::GENERIC,
            format!(
                "`git {}` failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_string())
}

/// The textconv command: `sops-rs` when `PATH` leads to this executable, else its absolute
/// path, quoted for the shell.
fn self_command() -> Result<String, Failure> {
    let exe = std::env::current_exe()
        .map_err(|e| Failure::new(code::GENERIC, format!("cannot find this executable: {e}")))?;
    let exe = exe.canonicalize().unwrap_or(exe);
    let on_path = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            d.is_absolute()
                && d.join("sops-rs")
                    .canonicalize()
                    .is_ok_and(|found| found == exe)
        })
    });
    if on_path {
        return Ok("sops-rs".into());
    }
    let s = exe.to_str().ok_or_else(|| {
        Failure::new(
            code::GENERIC,
            "the path of this executable is not UTF-8: install sops-rs on PATH",
        )
    })?;
    Ok(shell_words::quote(s).into_owned())
}

/// The git config entries `git setup` writes.
pub fn config_entries(cmd: &str) -> Vec<(String, String)> {
    vec![
        (
            format!("diff.{DRIVER}.textconv"),
            format!("{cmd} git textconv"),
        ),
        // stated, so that a `true` set later at a wider scope does not apply here
        (format!("diff.{DRIVER}.cachetextconv"), "false".into()),
        (
            format!("merge.{DRIVER}.name"),
            "sops-rs: merge the values of encrypted files".into(),
        ),
        // %L marker size, %O base, %A ours (the result goes there), %B theirs, %P the path
        (
            format!("merge.{DRIVER}.driver"),
            format!("{cmd} git merge --marker-size=%L %O %A %B %P"),
        ),
    ]
}

fn setup(a: SetupArgs, config: &Option<PathBuf>) -> Result<(), Failure> {
    let root = if a.global {
        None
    } else {
        let top = git_ok(&["rev-parse", "--show-toplevel"], None).map_err(|_| {
            Failure::new(code::GENERIC, "not inside a git repository")
                .hint("run this in the repository, or use `sops-rs git setup --global`")
        })?;
        Some(PathBuf::from(top))
    };
    // a cached textconv is stored in git notes: the plaintext would enter the repository
    let key = format!("diff.{DRIVER}.cachetextconv");
    let cached = git(&["config", "--type=bool", "--get", &key], root.as_deref())?;
    if String::from_utf8_lossy(&cached.stdout).trim() == "true" {
        return Err(Failure::new(
            code::GENERIC,
            format!(
                "{key} is true: git would store the decrypted text of every encrypted file in refs/notes/textconv/{DRIVER}, inside the repository"
            ),
        )
        .hint(format!(
            "unset it (`git config --unset {key}`, and with --global), delete any cache with `git update-ref -d refs/notes/textconv/{DRIVER}`, then run setup again"
        )));
    }
    let scope = if a.global { "--global" } else { "--local" };
    let cmd = self_command()?;
    for (k, v) in config_entries(&cmd) {
        git_ok(&["config", scope, &k, &v], root.as_deref())?;
    }
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "git config {scope}: diff.{DRIVER}.textconv = {cmd} git textconv"
    );
    let _ = writeln!(
        out,
        "git config {scope}: merge.{DRIVER}.driver = {cmd} git merge --marker-size=%L %O %A %B %P"
    );
    let Some(root) = root else {
        let _ = writeln!(
            out,
            "In each repository, mark the encrypted files in .gitattributes (`secrets.enc.yaml diff={DRIVER} merge={DRIVER}`), or run `sops-rs git setup` there."
        );
        return Ok(());
    };
    let patterns = patterns(&root, config)?;
    let path = root.join(".gitattributes");
    let old = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => {
            return Err(Failure::new(
                code::COULD_NOT_READ_INPUT,
                format!("{}: {e}", path.display()),
            ));
        }
    };
    let (text, added) = merge_block(&old, &patterns);
    if text != old {
        super::output::write_atomic(&path, text.as_bytes(), 0o644).map_err(|e| {
            Failure::new(
                code::COULD_NOT_WRITE_OUTPUT,
                format!("{}: could not write: {e}", path.display()),
            )
        })?;
    }
    let _ = writeln!(
        out,
        ".gitattributes: {} pattern(s) marked {} ({added} new)",
        patterns.len(),
        ATTRIBUTES.join(" ")
    );
    Ok(())
}

/// Which paths to mark: the repository's files (tracked, or untracked and not ignored) that
/// a creation rule with a `path_regex` matches, else (no configuration at the repository's
/// root nor `--config`, or no rule) the common `*.enc.*` patterns.
fn patterns(root: &Path, config: &Option<PathBuf>) -> Result<Vec<String>, Failure> {
    // the repository's own configuration (patterns are relative to its root), or --config
    let cfg_path = config.clone().or_else(|| {
        [".sops-rs.yaml", ".sops.yaml"]
            .iter()
            .map(|n| root.join(n))
            .find(|p| p.is_file())
    });
    let cfg = match &cfg_path {
        Some(p) => {
            let text = std::fs::read_to_string(p)
                .map_err(|e| Failure::new(code::GENERIC, format!("{}: {e}", p.display())))?;
            Some(
                Config::parse(&text, &p.display().to_string())
                    .map_err(|e| Failure::new(code::GENERIC, e.to_string()))?,
            )
        }
        None => None,
    };
    let (Some(cfg), Some(cfg_path)) = (cfg, cfg_path) else {
        return Ok(COMMON_PATTERNS.iter().map(|s| s.to_string()).collect());
    };
    if cfg.creation_rules.is_empty() {
        return Ok(COMMON_PATTERNS.iter().map(|s| s.to_string()).collect());
    }
    let listed = git_ok(
        &[
            "ls-files",
            "-z",
            "--cached",
            "--others",
            "--exclude-standard",
        ],
        Some(root),
    )?;
    let mut out = Vec::new();
    for rel in listed.split('\0').filter(|s| !s.is_empty()) {
        let abs = root.join(rel);
        if abs == cfg_path || rel.chars().any(char::is_control) {
            continue;
        }
        let to_cfg = relative_to_config(&cfg_path, Some(&abs));
        // a rule without path_regex matches every file: it says nothing about this one
        if cfg
            .rule_for(&to_cfg)
            .is_some_and(|r| r.path_regex.is_some())
        {
            out.push(format!("/{}", escape_pattern(rel)));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A path as a `.gitattributes` pattern: glob characters escaped, blanks as `?` (git splits
/// the line at blanks before it reads the pattern, so `[ ]` or `\ ` would not survive; `?`
/// also matches other names of that shape, which is harmless: other files pass through).
fn escape_pattern(p: &str) -> String {
    let mut s = String::with_capacity(p.len());
    for c in p.chars() {
        match c {
            '*' | '?' | '[' | ']' | '\\' | '!' | '#' => {
                s.push('\\');
                s.push(c);
            }
            c if c.is_whitespace() => s.push('?'),
            c => s.push(c),
        }
    }
    s
}

/// Replace the managed block of `.gitattributes` with one holding its old patterns and the
/// new ones (each with [`ATTRIBUTES`]); everything outside the block is kept as it is.
/// Returns the text and how many patterns are new.
fn merge_block(old: &str, new: &[String]) -> (String, usize) {
    let mut outside = String::new();
    let mut kept: Vec<String> = Vec::new();
    let mut inside = false;
    for line in old.split_inclusive('\n') {
        let t = line.trim_end_matches(['\n', '\r']);
        if t.starts_with("# >>> sops-rs") {
            inside = true;
        } else if inside && t == BLOCK_END {
            inside = false;
        } else if inside {
            if let Some(p) = t.split_whitespace().next()
                && !p.starts_with('#')
            {
                kept.push(p.to_string());
            }
        } else {
            outside.push_str(line);
        }
    }
    let before = kept.len();
    for p in new {
        if !kept.contains(p) {
            kept.push(p.clone());
        }
    }
    let added = kept.len() - before;
    if !outside.is_empty() && !outside.ends_with('\n') {
        outside.push('\n');
    }
    let attrs = ATTRIBUTES.join(" ");
    outside.push_str(BLOCK_START);
    outside.push('\n');
    for p in &kept {
        outside.push_str(&format!("{p} {attrs}\n"));
    }
    outside.push_str(BLOCK_END);
    outside.push('\n');
    (outside, added)
}

// ---- textconv ------------------------------------------------------------------------

/// Why a file is shown as stored.
fn reason(e: &Error) -> &'static str {
    match e {
        Error::DataKey(_) | Error::NoKeys | Error::BadDataKey => {
            "no key: none of the available keys can decrypt this file"
        }
        Error::MacMismatch
        | Error::MacMissing
        | Error::MacDecrypt(_)
        | Error::Value { .. }
        | Error::Authentication
        | Error::Token(_)
        | Error::NotAString(_)
        | Error::BadPlaintext(_)
        | Error::UnknownType => "tampered: a value or the MAC does not verify",
        Error::BadMetadata(_) | Error::MetadataNotFound => {
            "bad metadata: the sops block cannot be read"
        }
        _ => "cannot decrypt",
    }
}

fn marker(why: &str) -> String {
    format!("*** sops-rs: NOT DECRYPTED ({why}); shown as stored ***\n")
}

/// What to print for `input`: its plaintext, the input itself, or a marker line and the
/// input. Never an error: a diff must not fail.
fn show(file: &Path, input: &[u8]) -> Vec<u8> {
    let format = if Format::known_extension(file) {
        Format::from_path(file)
    } else {
        // git's temporary copies keep the name; a name that says nothing: the content tells
        Format::detect_encrypted(input)
    };
    match document::read_metadata(input, format) {
        Ok(Some(_)) => {}
        // not a sops file (or one no format reads): as it is
        Ok(None) | Err(Error::Syntax { .. } | Error::Unsupported(_) | Error::Read { .. }) => {
            return input.to_vec();
        }
        Err(e) => {
            let mut out = marker(reason(&e)).into_bytes();
            out.extend_from_slice(input);
            return out;
        }
    }
    let sources = super::key_sources();
    match sops_rs::decrypt(input, format, &sources, &DecryptOptions::default()) {
        Ok(out) => out.bytes,
        Err(e) => {
            let mut out = marker(reason(&e)).into_bytes();
            out.extend_from_slice(input);
            out
        }
    }
}

fn textconv(file: &Path) {
    let bytes = match std::fs::read(file) {
        Ok(input) => std::panic::catch_unwind(|| show(file, &input))
            .unwrap_or_else(|_| [marker("internal error").as_bytes(), &input].concat()),
        Err(e) => marker(&format!("cannot read the file: {}", e.kind())).into_bytes(),
    };
    // git may stop reading early; that is not a failure either
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&bytes).and_then(|()| out.flush());
}

// ---- merge ---------------------------------------------------------------------------

/// Why the values of a file cannot be merged (the caller merges it as text instead).
enum Unmergeable {
    /// Not a sops file, or a format without values (binary): git's own merge applies.
    NotSops,
    /// A reason to name (no key, tampered, a change the format's editor cannot write).
    Because(String),
}

/// The merge driver. Decrypts base, ours and theirs with the environment's keys, applies
/// their value changes to our plaintext ([`sops_rs::merge`]) and re-encrypts it with our data
/// key and key groups (unchanged values keep their ciphertext). A value conflict leaves OURS
/// as it is and names the key paths (never values): exit 1. A file that cannot be decrypted
/// or merged by value is merged as text by `git merge-file`, as git would without the driver
/// (for an encrypted file that conflicts, at least on the `mac` line).
fn merge(a: &MergeArgs) -> Result<(), Failure> {
    let name = a
        .path
        .clone()
        .unwrap_or_else(|| a.ours.display().to_string());
    let read = |p: &Path| {
        std::fs::read(p).map_err(|e| {
            Failure::new(
                code::COULD_NOT_READ_INPUT,
                format!("{}: could not read: {e}", p.display()),
            )
        })
    };
    let (base, ours, theirs) = (read(&a.base)?, read(&a.ours)?, read(&a.theirs)?);
    let format = match a.path.as_deref().map(Path::new) {
        Some(p) if Format::known_extension(p) => Format::from_path(p),
        _ => Format::detect_encrypted(&ours),
    };
    let why = match merge_values(&name, &base, &ours, &theirs, format) {
        Ok(Some(bytes)) => {
            return super::output::write_atomic(&a.ours, &bytes, 0o600).map_err(|e| {
                Failure::new(
                    code::COULD_NOT_WRITE_OUTPUT,
                    format!("{name}: could not write the merged file: {e}"),
                )
            });
        }
        Ok(None) => {
            return Err(Failure::new(
                code::GENERIC,
                format!("{name}: merge conflict in the values listed above; the file is left as it is on this branch"),
            )
            .hint(format!("resolve it with `sops-rs edit {name}`, then `git add {name}`")));
        }
        Err(Unmergeable::NotSops) => None,
        Err(Unmergeable::Because(why)) => Some(why),
    };
    if let Some(why) = why {
        eprintln!("sops-rs: {name}: {why}; merging it as text");
    }
    merge_as_text(a, &name)
}

/// `Ok(Some(bytes))` merged, `Ok(None)` conflicts (printed).
fn merge_values(
    name: &str,
    base: &[u8],
    ours: &[u8],
    theirs: &[u8],
    format: Format,
) -> Result<Option<Vec<u8>>, Unmergeable> {
    use sops_rs::merge::Outcome;
    if format == Format::Binary {
        return Err(Unmergeable::NotSops);
    }
    for (side, bytes) in [("base", base), ("ours", ours), ("theirs", theirs)] {
        match document::read_metadata(bytes, format) {
            Ok(Some(_)) => {}
            Ok(None) | Err(Error::Syntax { .. } | Error::Unsupported(_) | Error::Read { .. }) => {
                return Err(if side == "base" && bytes.is_empty() {
                    Unmergeable::Because("added on both branches".into())
                } else {
                    Unmergeable::NotSops
                });
            }
            Err(e) => return Err(Unmergeable::Because(format!("{side}: {}", reason(&e)))),
        }
    }
    let sources = super::key_sources();
    let open = |side: &str, bytes: &[u8]| {
        document::Opened::open(bytes, format, &sources, &DecryptOptions::default())
            .map_err(|e| Unmergeable::Because(format!("{side}: {}", reason(&e))))
    };
    let (b, o, t) = (
        open("base", base)?,
        open("ours", ours)?,
        open("theirs", theirs)?,
    );
    if recipients(o.metadata()) != recipients(t.metadata()) {
        eprintln!(
            "sops-rs: {name}: the key groups differ between the branches; the merged file keeps this branch's (run `sops-rs updatekeys {name}` if theirs were meant)"
        );
    }
    let outcome = sops_rs::merge::merge(b.plaintext(), o.plaintext(), t.plaintext(), format)
        .map_err(|e| Unmergeable::Because(format!("the values cannot be merged: {e}")))?;
    match outcome {
        Outcome::Merged(plain) => o
            .reseal(&plain, &document::now_rfc3339())
            .map(|out| Some(out.bytes))
            .map_err(|e| Unmergeable::Because(format!("cannot re-encrypt: {e}"))),
        Outcome::Conflicts(list) => {
            let mut err = std::io::stderr().lock();
            for c in &list {
                let _ = writeln!(
                    err,
                    "CONFLICT (sops-rs): {name}: {}",
                    super::sanitize(&c.to_string())
                );
            }
            Ok(None)
        }
    }
}

/// Each key group's age recipients (sorted) and how many keys of other types it has.
fn recipients(m: &sops_rs::metadata::Metadata) -> Vec<(Vec<&str>, usize)> {
    m.groups
        .iter()
        .map(|g| {
            let mut r: Vec<&str> = g.age.iter().map(|k| k.recipient.as_str()).collect();
            r.sort_unstable();
            (r, g.others.len())
        })
        .collect()
}

/// git's own textual merge, into OURS; its exit status (the number of conflicts) passed on.
fn merge_as_text(a: &MergeArgs, name: &str) -> Result<(), Failure> {
    let marker = format!("--marker-size={}", a.marker_size);
    let (lo, lb, lt) = (
        format!("{name} (ours)"),
        format!("{name} (base)"),
        format!("{name} (theirs)"),
    );
    let (po, pb, pt) = (
        a.ours.to_string_lossy(),
        a.base.to_string_lossy(),
        a.theirs.to_string_lossy(),
    );
    let out = git(
        &[
            "merge-file",
            &marker,
            "-L",
            &lo,
            "-L",
            &lb,
            "-L",
            &lt,
            "--",
            &po,
            &pb,
            &pt,
        ],
        None,
    )?;
    let _ = std::io::stderr().write_all(&out.stderr);
    match out.status.code() {
        Some(0) => Ok(()),
        Some(n) if n > 0 => Err(Failure::new(
            code::GENERIC,
            format!("{name}: {n} conflict(s) in the textual merge"),
        )),
        _ => Err(Failure::new(
            code::GENERIC,
            format!("{name}: `git merge-file` failed"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_is_merged_and_idempotent() {
        let (t, n) = merge_block("*.png binary\n", &["/a.enc.yaml".into()]);
        assert_eq!(n, 1);
        assert!(t.starts_with("*.png binary\n# >>> sops-rs"));
        assert!(t.contains("\n/a.enc.yaml diff=sopsrs merge=sopsrs\n# <<< sops-rs\n"));
        let (t2, n2) = merge_block(&t, &["/a.enc.yaml".into(), "/b.enc.json".into()]);
        assert_eq!(n2, 1);
        assert_eq!(t2.matches("/a.enc.yaml").count(), 1);
        let (t3, n3) = merge_block(&t2, &["/b.enc.json".into()]);
        assert_eq!((t3.as_str(), n3), (t2.as_str(), 0));
    }

    #[test]
    fn patterns_are_literal() {
        assert_eq!(escape_pattern("a b/[x]*.yaml"), "a?b/\\[x\\]\\*.yaml");
    }
}
