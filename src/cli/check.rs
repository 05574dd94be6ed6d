//! `check`, for pre-commit hooks and CI: every file a creation rule matches must be encrypted
//! with well-formed metadata; where a key is at hand its MAC must verify; a data key older
//! than the rule's `rotate_after` is flagged.

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::Args;
use sops_rs::config::CreationRule;
use sops_rs::document::{self, DecryptOptions};
use sops_rs::{Error, Format};

use super::{Failure, code, key_sources, load_config, relative_to_config, sanitize};

#[derive(Args)]
pub(super) struct CheckArgs {
    /// Files to check (those no creation rule matches are skipped); default: every file in
    /// the repository (`git ls-files`) or under the configuration's directory
    files: Vec<PathBuf>,
    /// Check the files staged in git's index, as they are staged
    #[arg(long)]
    staged: bool,
    /// Fail when a file's MAC cannot be verified for lack of a key (default: verify where a
    /// key is at hand)
    #[arg(long)]
    verify: bool,
}

struct Target {
    /// As shown to the user and matched against the rules
    path: PathBuf,
    bytes: Vec<u8>,
}

pub(super) fn check(config: &Option<PathBuf>, verbose: bool, a: CheckArgs) -> Result<(), Failure> {
    let targets = if a.staged {
        staged()?
    } else if a.files.is_empty() {
        let root = match load_config(config, None)? {
            Some((p, _)) => std::path::absolute(&p)
                .ok()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .unwrap_or_else(|| PathBuf::from(".")),
            None => {
                return Err(Failure::new(
                    code::GENERIC,
                    "no configuration file (.sops-rs.yaml or .sops.yaml) found",
                )
                .hint("check compares files with the creation rules; pass --config"));
            }
        };
        repository_files(&root)?
    } else {
        a.files
            .iter()
            .filter(|p| p.is_file())
            .map(|p| Target {
                path: p.clone(),
                bytes: std::fs::read(p).unwrap_or_default(),
            })
            .collect()
    };
    let sources = key_sources();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (mut checked, mut failed) = (0, 0);
    for t in &targets {
        let Some((cfg_path, cfg)) = load_config(config, Some(&t.path))? else {
            continue;
        };
        let rel = relative_to_config(&cfg_path, Some(&t.path));
        let Some(rule) = cfg.rule_for(&rel).filter(|r| r.path_regex.is_some()) else {
            if verbose {
                eprintln!("skip     {} (no creation rule matches)", t.path.display());
            }
            continue;
        };
        checked += 1;
        let name = t.path.display().to_string();
        match check_one(t, rule, &sources, a.verify, now) {
            Ok(note) => println!("ok       {name} ({note})"),
            Err(why) => {
                failed += 1;
                println!("FAIL     {name}: {}", sanitize(&why));
            }
        }
    }
    eprintln!("sops-rs check: {checked} files checked, {failed} failed");
    if failed > 0 {
        return Err(Failure::new(
            code::GENERIC,
            format!("{failed} of {checked} files failed the check"),
        )
        .hint("encrypt plaintext files with `sops-rs encrypt -i FILE`; rotate old keys with `sops-rs rotate -i FILE`"));
    }
    Ok(())
}

fn check_one(
    t: &Target,
    rule: &CreationRule,
    sources: &sops_rs::keys::KeySources,
    require_verify: bool,
    now: i64,
) -> Result<String, String> {
    let format = if Format::known_extension(&t.path) {
        Format::from_path(&t.path)
    } else {
        Format::detect_encrypted(&t.bytes)
    };
    let meta = match document::read_metadata(&t.bytes, format) {
        Ok(Some(m)) => m,
        Ok(None) | Err(Error::MetadataNotFound) => {
            return Err("not encrypted: a creation rule says it must be".into());
        }
        Err(e) => return Err(format!("bad metadata: {e}")),
    };
    if meta.version.is_empty() || meta.mac.is_empty() {
        return Err("bad metadata: no version or no mac".into());
    }
    let mut notes = Vec::new();
    let opts = DecryptOptions::default();
    match document::decrypt(&t.bytes, format, sources, &opts) {
        Ok(_) => notes.push("MAC verified".to_string()),
        Err(Error::DataKey(_)) if !require_verify => notes.push("not verified: no key".into()),
        Err(Error::DataKey(_)) => return Err("cannot verify the MAC: no key for this file".into()),
        Err(e) => return Err(format!("does not verify: {e}")),
    }
    match document::unix_from_rfc3339(&meta.lastmodified) {
        Some(t) => {
            let age = (now - t).max(0) as u64;
            let days = age / 86_400;
            notes.push(format!("last written {days} days ago"));
            if let Some(limit) = rule.rotate_after
                && age > limit
            {
                return Err(format!(
                    "the data key was last written {days} days ago, more than the rule's rotate_after ({} days): rotate it",
                    limit / 86_400
                ));
            }
        }
        None if rule.rotate_after.is_some() => {
            return Err("lastmodified is not a time: the data key's age is unknown".into());
        }
        None => {}
    }
    Ok(notes.join("; "))
}

fn git(args: &[&str]) -> Result<Vec<u8>, Failure> {
    let out = Command::new("git")
        .args(args)
        .output()
        .map_err(|e| Failure::new(code::GENERIC, format!("could not run git: {e}")))?;
    if !out.status.success() {
        return Err(Failure::new(
            code::GENERIC,
            format!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        ));
    }
    Ok(out.stdout)
}

/// The files staged for commit (added, copied, modified, renamed), with their staged bytes.
fn staged() -> Result<Vec<Target>, Failure> {
    let top = String::from_utf8_lossy(&git(&["rev-parse", "--show-toplevel"])?)
        .trim()
        .to_string();
    let names = git(&[
        "diff",
        "--cached",
        "--name-only",
        "--diff-filter=ACMR",
        "-z",
    ])?;
    let mut out = Vec::new();
    for n in names.split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let rel = String::from_utf8_lossy(n).into_owned();
        let bytes = git(&["show", &format!(":{rel}")])?;
        out.push(Target {
            path: Path::new(&top).join(&rel),
            bytes,
        });
    }
    Ok(out)
}

/// Tracked and untracked-but-not-ignored files when `root` is a git repository's top (where
/// the configuration usually lives), else every file under it with hidden entries skipped.
fn repository_files(root: &Path) -> Result<Vec<Target>, Failure> {
    let listed = root
        .join(".git")
        .exists()
        .then(|| {
            Command::new("git")
                .args([
                    "ls-files",
                    "-z",
                    "--cached",
                    "--others",
                    "--exclude-standard",
                ])
                .current_dir(root)
                .output()
                .ok()
                .filter(|o| o.status.success())
        })
        .flatten();
    let mut paths: Vec<PathBuf> = match listed {
        Some(o) => o
            .stdout
            .split(|b| *b == 0)
            .filter(|n| !n.is_empty())
            .map(|n| root.join(String::from_utf8_lossy(n).as_ref()))
            .collect(),
        None => {
            let mut v = Vec::new();
            let mut stack = vec![root.to_path_buf()];
            while let Some(d) = stack.pop() {
                for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                    if e.file_name().to_string_lossy().starts_with('.') {
                        continue;
                    }
                    match e.file_type() {
                        Ok(t) if t.is_dir() => stack.push(e.path()),
                        Ok(t) if t.is_file() => v.push(e.path()),
                        _ => {}
                    }
                }
            }
            v
        }
    };
    paths.sort();
    Ok(paths
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| Target {
            bytes: std::fs::read(&p).unwrap_or_default(),
            path: p,
        })
        .collect())
}
