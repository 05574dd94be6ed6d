//! Key management: `rotate` (a new data key), `updatekeys` (key groups synced with the
//! creation rules) and `groups add|delete`. All write atomically and keep the file's mode.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use sops_rs::document::{self, DecryptOptions, Opened};
use sops_rs::keys::KeySpec;

use super::key_flags::Lists;
use sops_rs::{Error, Format};

use super::{
    Failure, age_env, code, fail, format_of, key_sources, load_config, read_input,
    relative_to_config, sanitize,
};

#[derive(Args)]
pub(super) struct RotateArgs {
    file: PathBuf,
    /// More files, or directories (their encrypted files); these need -i
    more: Vec<PathBuf>,
    /// Write the result over the input file (atomically)
    #[arg(short = 'i', long)]
    in_place: bool,
    /// Write the result to this file (atomically)
    #[arg(long)]
    output: Option<PathBuf>,
    /// Input format (default: from the extension)
    #[arg(long)]
    input_type: Option<String>,
    /// age recipients to add to the first key group, comma-separated
    #[arg(long)]
    add_age: Vec<String>,
    /// age recipients to remove from every key group, comma-separated
    #[arg(long)]
    rm_age: Vec<String>,
    /// AWS KMS ARNs (ARN or ARN+ROLE_ARN) to add to the first key group
    #[arg(long)]
    add_kms: Vec<String>,
    /// AWS KMS ARNs to remove from every key group
    #[arg(long)]
    rm_kms: Vec<String>,
    /// PGP fingerprints to add to the first key group
    #[arg(long)]
    add_pgp: Vec<String>,
    /// PGP fingerprints to remove from every key group
    #[arg(long)]
    rm_pgp: Vec<String>,
    /// GCP KMS resource ids to add to the first key group
    #[arg(long)]
    add_gcp_kms: Vec<String>,
    /// GCP KMS resource ids to remove from every key group
    #[arg(long)]
    rm_gcp_kms: Vec<String>,
    /// Azure Key Vault key URLs to add to the first key group
    #[arg(long)]
    add_azure_kv: Vec<String>,
    /// Azure Key Vault key URLs to remove from every key group
    #[arg(long)]
    rm_azure_kv: Vec<String>,
    /// Vault transit key URIs to add to the first key group
    #[arg(long)]
    add_hc_vault_transit: Vec<String>,
    /// Vault transit key URIs to remove from every key group
    #[arg(long)]
    rm_hc_vault_transit: Vec<String>,
    /// AWS shared-config profile for the KMS keys added or removed
    #[arg(long)]
    aws_profile: Option<String>,
    /// KMS encryption context for the KMS keys added or removed: key:value,key2:value2
    #[arg(long)]
    encryption_context: Option<String>,
    /// Do not check the MAC
    #[arg(long)]
    ignore_mac: bool,
}

#[derive(Args)]
pub(super) struct UpdateKeysArgs {
    /// Files, or directories to walk for files the creation rules match
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Do not ask before changing a file
    #[arg(short = 'y', long)]
    yes: bool,
    /// Input format (default: from the extension)
    #[arg(long)]
    input_type: Option<String>,
}

#[derive(Subcommand)]
pub(super) enum GroupsCmd {
    /// Add a key group (the data key is split again across the groups)
    Add(GroupsAddArgs),
    /// Delete the key group at INDEX (0-based)
    Delete(GroupsDeleteArgs),
}

#[derive(Args)]
pub(super) struct GroupsAddArgs {
    #[arg(short = 'f', long)]
    file: PathBuf,
    /// age recipients of the new group (repeatable, or comma-separated)
    #[arg(long)]
    age: Vec<String>,
    /// AWS KMS ARNs (ARN or ARN+ROLE_ARN) of the new group
    #[arg(long)]
    kms: Vec<String>,
    /// AWS shared-config profile for the --kms keys
    #[arg(long)]
    aws_profile: Option<String>,
    /// KMS encryption context for the --kms keys: key:value,key2:value2
    #[arg(long)]
    encryption_context: Option<String>,
    /// GCP KMS resource ids of the new group
    #[arg(long)]
    gcp_kms: Vec<String>,
    /// Azure Key Vault key URLs of the new group
    #[arg(long)]
    azure_kv: Vec<String>,
    /// Vault transit key URIs of the new group
    #[arg(long)]
    hc_vault_transit: Vec<String>,
    /// PGP fingerprints of the new group
    #[arg(long)]
    pgp: Vec<String>,
    #[arg(short = 'i', long)]
    in_place: bool,
    #[arg(long)]
    shamir_secret_sharing_threshold: Option<usize>,
    #[arg(long)]
    input_type: Option<String>,
}

#[derive(Args)]
pub(super) struct GroupsDeleteArgs {
    index: usize,
    #[arg(short = 'f', long)]
    file: PathBuf,
    #[arg(short = 'i', long)]
    in_place: bool,
    #[arg(long)]
    shamir_secret_sharing_threshold: Option<usize>,
    #[arg(long)]
    input_type: Option<String>,
}

/// `--add-age a,b --add-age c` as one list.
fn recipients(flags: &[String]) -> Vec<KeySpec> {
    flags
        .iter()
        .flat_map(|f| age_env::split_recipients(f))
        .map(KeySpec::Age)
        .collect()
}

/// Read and open an encrypted file (its format from the flag, the extension or the content).
fn open(file: &Path, input_type: Option<&str>, ignore_mac: bool) -> Result<Opened, Failure> {
    let name = file.display().to_string();
    let input = read_input(Some(file))?;
    let format = detect(file, input_type, &input)?;
    let opts = DecryptOptions {
        ignore_mac,
        extract: None,
    };
    Opened::open(&input, format, &key_sources(), &opts).map_err(|e| fail(&name, e))
}

fn detect(file: &Path, input_type: Option<&str>, input: &[u8]) -> Result<Format, Failure> {
    let f = format_of(input_type, Some(file), "--input-type")?;
    Ok(if input_type.is_none() && !Format::known_extension(file) {
        Format::detect_encrypted(input)
    } else {
        f
    })
}

fn write(target: Option<&Path>, bytes: &[u8]) -> Result<(), Failure> {
    super::write_to(target, bytes, 0o644)
}

fn target<'a>(file: &'a Path, in_place: bool, output: Option<&'a Path>) -> Option<&'a Path> {
    if in_place { Some(file) } else { output }
}

pub(super) fn rotate(a: RotateArgs) -> Result<(), Failure> {
    if a.in_place && a.output.is_some() {
        return Err(Failure::new(
            code::CONFLICTING_PARAMETERS,
            "--in-place and --output cannot be used together",
        ));
    }
    if !a.more.is_empty() || a.file.is_dir() {
        if !a.in_place {
            return Err(Failure::new(
                code::CONFLICTING_PARAMETERS,
                "rotating several files (or a directory) needs -i",
            ));
        }
        let mut paths = vec![a.file.clone()];
        paths.extend(a.more.iter().cloned());
        return super::bulk::each_encrypted(&paths, "rotated", |f| rotate_one(&a, f));
    }
    rotate_one(&a, &a.file)
}

fn rotate_one(a: &RotateArgs, file: &Path) -> Result<(), Failure> {
    let name = file.display().to_string();
    let opened = open(file, a.input_type.as_deref(), a.ignore_mac)?;
    let mut groups = opened.key_groups().map_err(|e| fail(&name, e))?;
    let mut add = recipients(&a.add_age);
    add.extend(
        Lists {
            kms: &a.add_kms,
            gcp_kms: &a.add_gcp_kms,
            azure_kv: &a.add_azure_kv,
            hc_vault: &a.add_hc_vault_transit,
            pgp: &a.add_pgp,
        }
        .specs(a.aws_profile.as_deref(), a.encryption_context.as_deref())?,
    );
    let mut rm = recipients(&a.rm_age);
    rm.extend(
        Lists {
            kms: &a.rm_kms,
            gcp_kms: &a.rm_gcp_kms,
            azure_kv: &a.rm_azure_kv,
            hc_vault: &a.rm_hc_vault_transit,
            pgp: &a.rm_pgp,
        }
        .specs(a.aws_profile.as_deref(), a.encryption_context.as_deref())?,
    );
    // keys are matched as sops matches them: by type and `ToString`
    let rm: Vec<(&str, String)> = rm.iter().map(|k| (k.type_name(), k.id())).collect();
    if groups.is_empty() {
        groups.push(Vec::new());
    }
    for k in add {
        if !groups[0].contains(&k) {
            groups[0].push(k);
        }
    }
    for g in &mut groups {
        g.retain(|k| !rm.contains(&(k.type_name(), k.id())));
    }
    if groups.iter().any(Vec::is_empty) {
        return Err(Failure::new(
            code::GENERIC,
            format!("{name}: removing these keys would leave a key group empty"),
        )
        .hint("delete the group with `sops-rs groups delete`, or add a key to it first"));
    }
    let threshold = opened.metadata().shamir_threshold;
    let out = opened
        .rotate(&groups, threshold, &document::now_rfc3339())
        .map_err(|e| fail(&name, e))?;
    write(target(file, a.in_place, a.output.as_deref()), &out.bytes)
}

pub(super) fn groups(cmd: GroupsCmd) -> Result<(), Failure> {
    let (file, in_place, input_type, threshold, change) = match &cmd {
        GroupsCmd::Add(a) => (
            &a.file,
            a.in_place,
            &a.input_type,
            a.shamir_secret_sharing_threshold,
            None,
        ),
        GroupsCmd::Delete(a) => (
            &a.file,
            a.in_place,
            &a.input_type,
            a.shamir_secret_sharing_threshold,
            Some(a.index),
        ),
    };
    let name = file.display().to_string();
    let opened = open(file, input_type.as_deref(), false)?;
    let mut groups = opened.key_groups().map_err(|e| fail(&name, e))?;
    match (&cmd, change) {
        (GroupsCmd::Add(a), _) => {
            let mut g = recipients(&a.age);
            g.extend(
                Lists {
                    kms: &a.kms,
                    gcp_kms: &a.gcp_kms,
                    azure_kv: &a.azure_kv,
                    hc_vault: &a.hc_vault_transit,
                    pgp: &a.pgp,
                }
                .specs(a.aws_profile.as_deref(), a.encryption_context.as_deref())?,
            );
            if g.is_empty() {
                return Err(Failure::new(
                    code::GENERIC,
                    "a new key group needs at least one key: give --age, --kms, --pgp, …",
                ));
            }
            groups.push(g);
        }
        (_, Some(i)) if i < groups.len() => {
            groups.remove(i);
        }
        (_, i) => {
            return Err(Failure::new(
                code::GENERIC,
                format!(
                    "{name}: there is no key group {} (the file has {})",
                    i.unwrap_or_default(),
                    groups.len()
                ),
            ));
        }
    }
    let threshold = threshold.or(opened.metadata().shamir_threshold);
    let threshold = match threshold {
        Some(t) if t > groups.len() => {
            if change.is_some() {
                return Err(Failure::new(
                    code::GENERIC,
                    format!(
                        "{name}: the Shamir threshold {t} cannot be met by the {} remaining key groups",
                        groups.len()
                    ),
                )
                .hint("pass a lower --shamir-secret-sharing-threshold"));
            }
            Some(t)
        }
        t => t,
    };
    let out = opened
        .rekey(&groups, threshold)
        .map_err(|e| fail(&name, e))?;
    write(target(file, in_place, None), &out.bytes)
}

pub(super) fn updatekeys(config: &Option<PathBuf>, a: UpdateKeysArgs) -> Result<(), Failure> {
    let mut files = Vec::new();
    for f in &a.files {
        if f.is_dir() {
            walk(config, f, &mut files)?;
        } else {
            files.push(f.clone());
        }
    }
    let mut failed = Vec::new();
    for f in &files {
        if let Err(e) = update_one(config, f, &a) {
            eprintln!("error: {}", sanitize(&e.msg));
            if let Some(h) = &e.hint {
                eprintln!("hint: {}", sanitize(h));
            }
            failed.push((f.display().to_string(), e.code));
        }
    }
    match failed.as_slice() {
        [] => Ok(()),
        [(_, c)] if files.len() == 1 => Err(Failure::new(*c, "updatekeys failed")),
        _ => Err(Failure::new(
            code::GENERIC,
            format!(
                "updatekeys failed for {} of {} files: {}",
                failed.len(),
                files.len(),
                failed
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The encrypted files under `dir` that a creation rule matches (hidden entries skipped).
fn walk(config: &Option<PathBuf>, dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), Failure> {
    let mut stack = vec![dir.to_path_buf()];
    let mut found = Vec::new();
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Failure::new(
                code::COULD_NOT_READ_INPUT,
                format!("{}: could not read the directory: {e}", d.display()),
            )
        })?;
        for e in entries.flatten() {
            let p = e.path();
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => {
                    if let Some((cfg_path, cfg)) = load_config(config, Some(&p))? {
                        let rel = relative_to_config(&cfg_path, Some(&p));
                        let matched = cfg.rule_for(&rel).is_some_and(|r| r.path_regex.is_some());
                        let encrypted = std::fs::read(&p).ok().is_some_and(|b| {
                            let fmt = if Format::known_extension(&p) {
                                Format::from_path(&p)
                            } else {
                                Format::detect_encrypted(&b)
                            };
                            matches!(document::read_metadata(&b, fmt), Ok(Some(_)))
                        });
                        if matched && encrypted {
                            found.push(p);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    found.sort();
    out.extend(found);
    Ok(())
}

fn update_one(config: &Option<PathBuf>, file: &Path, a: &UpdateKeysArgs) -> Result<(), Failure> {
    let name = file.display().to_string();
    let Some((cfg_path, cfg)) = load_config(config, Some(file))? else {
        return Err(Failure::new(
            code::GENERIC,
            format!("{name}: no configuration file (.sops-rs.yaml or .sops.yaml) found"),
        )
        .hint("updatekeys takes the key groups from the matching creation rule"));
    };
    let rel = relative_to_config(&cfg_path, Some(file));
    let Some(rule) = cfg.rule_for(&rel) else {
        return Err(Failure::new(
            code::GENERIC,
            format!(
                "{name}: no matching creation rules found in {}",
                cfg_path.display()
            ),
        ));
    };
    if !rule.unsupported.is_empty() {
        return Err(Failure::new(
            code::GENERIC,
            format!(
                "{name}: the creation rule uses key types sops-rs does not support yet: {}",
                rule.unsupported.join(", ")
            ),
        ));
    }
    let input = read_input(Some(file))?;
    let format = detect(file, a.input_type.as_deref(), &input)?;
    let meta = match document::read_metadata(&input, format) {
        Ok(Some(m)) => m,
        Ok(None) => return Err(fail(&name, Error::MetadataNotFound)),
        Err(e) => return Err(fail(&name, e)),
    };
    let old = document::key_specs(&meta).map_err(|e| fail(&name, e))?;
    let new = &rule.groups;
    let new_threshold = if new.len() > 1 {
        Some(rule.shamir_threshold.unwrap_or(new.len()))
    } else {
        None
    };
    let old_threshold = if old.len() > 1 {
        meta.shamir_threshold.or(Some(old.len()))
    } else {
        None
    };
    if &old == new && old_threshold == new_threshold {
        eprintln!("File {name} already up to date");
        return Ok(());
    }
    let mut diff = String::new();
    for i in 0..old.len().max(new.len()) {
        diff.push_str(&format!("Group {}\n", i + 1));
        let o = old.get(i).map_or(&[][..], Vec::as_slice);
        let n = new.get(i).map_or(&[][..], Vec::as_slice);
        for k in o {
            let mark = if n.contains(k) { "    " } else { "--- " };
            diff.push_str(&format!("{mark}{}\n", k.id()));
        }
        for k in n.iter().filter(|k| !o.contains(k)) {
            diff.push_str(&format!("+++ {}\n", k.id()));
        }
    }
    if old_threshold != new_threshold {
        let show = |t: Option<usize>| t.map_or_else(|| "none".to_string(), |t| t.to_string());
        diff.push_str(&format!(
            "Shamir threshold: {} -> {}\n",
            show(old_threshold),
            show(new_threshold)
        ));
    }
    eprint!("The following changes will be made to the file's groups:\n{diff}");
    if !a.yes && !confirm()? {
        eprintln!("File {name} left unchanged");
        return Ok(());
    }
    let opts = DecryptOptions {
        ignore_mac: false,
        extract: None,
    };
    let opened = Opened::open(&input, format, &key_sources(), &opts).map_err(|e| fail(&name, e))?;
    let out = opened
        .rekey(new, new_threshold)
        .map_err(|e| fail(&name, e))?;
    write(Some(file), &out.bytes)?;
    eprintln!("File {name} synced with new keys");
    Ok(())
}

/// Ask y/n on stderr, reading stdin; no answer (end of input) is no.
fn confirm() -> Result<bool, Failure> {
    eprint!("Is this okay? (y/n): ");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let stdin = std::io::stdin();
    let n = stdin.lock().read_line(&mut line).unwrap_or(0);
    if n == 0 && !stdin.is_terminal() {
        eprintln!();
        return Err(Failure::new(
            code::GENERIC,
            "no answer on stdin: pass -y to change the files without asking",
        ));
    }
    Ok(matches!(line.trim(), "y" | "Y" | "yes"))
}
