//! Many files at once (pipelines): `decrypt`/`encrypt` with several files or `--recursive`
//! directories, in place or into `--output-dir`, in parallel. Every file is attempted; the
//! run fails naming each file that failed, and a summary ends it.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use clap::Args;
use sops_rs::{Format, document};

use super::{
    DecryptArgs, DecryptPlan, EncryptArgs, Failure, GlobalEncrypt, code, key_sources, load_config,
    output, read_input, relative_to_config, sanitize,
};

#[derive(Args, Clone, Default)]
pub(super) struct BulkArgs {
    /// More files (or, with --recursive, directories)
    #[arg(value_name = "MORE")]
    more: Vec<PathBuf>,
    /// Walk directories: decrypt the encrypted files in them, or encrypt the plaintext files
    /// a creation rule matches
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Write each result under this directory (same relative path) instead of in place
    #[arg(long)]
    output_dir: Option<PathBuf>,
}

impl BulkArgs {
    pub(super) fn is_bulk(&self) -> bool {
        !self.more.is_empty() || self.recursive || self.output_dir.is_some()
    }
}

/// One input and where its result goes.
struct Job {
    input: PathBuf,
    output: PathBuf,
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Encrypt,
    Decrypt,
}

/// The inputs, with directories walked (hidden entries skipped), and their outputs.
fn plan(
    first: Option<&Path>,
    b: &BulkArgs,
    in_place: bool,
    has_output: bool,
    kind: Kind,
    config: &Option<PathBuf>,
) -> Result<Vec<Job>, Failure> {
    if has_output {
        return Err(Failure::new(
            code::CONFLICTING_PARAMETERS,
            "--output names one file: with several files use --output-dir or -i",
        ));
    }
    if in_place == b.output_dir.is_some() {
        return Err(Failure::new(
            code::CONFLICTING_PARAMETERS,
            "several files need exactly one of -i (in place) and --output-dir",
        ));
    }
    let mut jobs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for arg in first.into_iter().chain(b.more.iter().map(PathBuf::as_path)) {
        let found: Vec<(PathBuf, PathBuf)> = if arg.is_dir() {
            if !b.recursive {
                return Err(Failure::new(
                    code::NO_FILE_SPECIFIED,
                    format!("{} is a directory", arg.display()),
                )
                .hint("add --recursive to process the files in it"));
            }
            walk(arg, kind, config)?
        } else {
            let rel = if arg.is_relative() {
                arg.to_path_buf()
            } else {
                PathBuf::from(arg.file_name().unwrap_or_default())
            };
            vec![(arg.to_path_buf(), rel)]
        };
        for (input, rel) in found {
            let output = match &b.output_dir {
                Some(d) => d.join(&rel),
                None => input.clone(),
            };
            if !seen.insert(output.clone()) {
                return Err(Failure::new(
                    code::CONFLICTING_PARAMETERS,
                    format!("two inputs would be written to {}", output.display()),
                ));
            }
            jobs.push(Job { input, output });
        }
    }
    Ok(jobs)
}

/// Files under `dir` to process, with their paths relative to `dir`.
fn walk(
    dir: &Path,
    kind: Kind,
    config: &Option<PathBuf>,
) -> Result<Vec<(PathBuf, PathBuf)>, Failure> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| {
            Failure::new(
                code::COULD_NOT_READ_INPUT,
                format!("{}: could not read the directory: {e}", d.display()),
            )
        })?;
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(t) if t.is_file() => {
                    let Ok(bytes) = std::fs::read(&p) else {
                        continue;
                    };
                    let fmt = if Format::known_extension(&p) {
                        Format::from_path(&p)
                    } else {
                        Format::detect_encrypted(&bytes)
                    };
                    let encrypted = matches!(document::read_metadata(&bytes, fmt), Ok(Some(_)));
                    let wanted = match kind {
                        Kind::Decrypt => encrypted,
                        Kind::Encrypt => !encrypted && matched_by_rule(config, &p)?,
                    };
                    if wanted {
                        let rel = p.strip_prefix(dir).unwrap_or(&p).to_path_buf();
                        out.push((p, rel));
                    }
                }
                _ => {}
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Whether a creation rule with a `path_regex` matches `p` (a catch-all rule does not pick
/// files out of a directory).
fn matched_by_rule(config: &Option<PathBuf>, p: &Path) -> Result<bool, Failure> {
    Ok(match load_config(config, Some(p))? {
        Some((cfg_path, cfg)) => {
            let rel = relative_to_config(&cfg_path, Some(p));
            cfg.rule_for(&rel).is_some_and(|r| r.path_regex.is_some())
        }
        None => false,
    })
}

/// Run `work` over the jobs on a few threads; a progress line on a terminal; then the
/// summary and the failures by name.
fn run_all(
    jobs: &[Job],
    verb: &str,
    work: impl Fn(&Job) -> Result<(), Failure> + Sync,
) -> Result<(), Failure> {
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let failures: Mutex<Vec<(usize, Failure)>> = Mutex::new(Vec::new());
    let progress = std::io::stderr().is_terminal();
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(8)
        .min(jobs.len().max(1));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(job) = jobs.get(i) else { break };
                    if let Err(f) = work(job) {
                        failures
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .push((i, f));
                    }
                    let n = done.fetch_add(1, Ordering::SeqCst) + 1;
                    if progress {
                        eprint!("\r{verb} {n}/{}", jobs.len());
                    }
                }
            });
        }
    });
    if progress {
        eprintln!();
    }
    let mut failures = failures.into_inner().unwrap_or_else(|e| e.into_inner());
    failures.sort_by_key(|(i, _)| *i);
    // the first failure in full; the others by their first line (often the same cause)
    for (n, (_, f)) in failures.iter().enumerate() {
        let msg = sanitize(&f.msg);
        match n {
            0 => {
                eprintln!("error: {msg}");
                if let Some(h) = &f.hint {
                    eprintln!("hint: {}", sanitize(h));
                }
            }
            _ => eprintln!("error: {}", msg.lines().next().unwrap_or_default()),
        }
    }
    let ok = jobs.len() - failures.len();
    eprintln!("sops-rs: {verb} {ok} of {} files", jobs.len());
    match failures.first() {
        None => Ok(()),
        Some((_, first)) => Err(Failure::new(
            first.code,
            format!(
                "{} of {} files failed: {}",
                failures.len(),
                jobs.len(),
                named(failures.iter().map(|(i, _)| &jobs[*i].input))
            ),
        )),
    }
}

/// Up to 20 names, then how many more.
fn named<'a>(paths: impl ExactSizeIterator<Item = &'a PathBuf>) -> String {
    let n = paths.len();
    let mut s: Vec<String> = paths.take(20).map(|p| p.display().to_string()).collect();
    if n > 20 {
        s.push(format!("and {} more", n - 20));
    }
    s.join(", ")
}

fn write(job: &Job, bytes: &[u8], new_mode: u32) -> Result<(), Failure> {
    if let Some(d) = job.output.parent()
        && !d.as_os_str().is_empty()
    {
        std::fs::create_dir_all(d).map_err(|e| {
            Failure::new(
                code::COULD_NOT_WRITE_OUTPUT,
                format!("{}: could not create the directory: {e}", d.display()),
            )
        })?;
    }
    output::write_atomic(&job.output, bytes, new_mode).map_err(|e| {
        Failure::new(
            code::COULD_NOT_WRITE_OUTPUT,
            format!("{}: could not write: {e}", job.output.display()),
        )
    })
}

/// Run `work` on every file named, and on the encrypted files under the directories named
/// (`rotate` of many files), in place, in parallel, every file attempted.
pub(super) fn each_encrypted(
    paths: &[PathBuf],
    verb: &str,
    work: impl Fn(&Path) -> Result<(), Failure> + Sync,
) -> Result<(), Failure> {
    let mut jobs = Vec::new();
    for p in paths {
        let found = if p.is_dir() {
            walk(p, Kind::Decrypt, &None)?
                .into_iter()
                .map(|(f, _)| f)
                .collect()
        } else {
            vec![p.clone()]
        };
        jobs.extend(found.into_iter().map(|f| Job {
            output: f.clone(),
            input: f,
        }));
    }
    run_all(&jobs, verb, |job| work(&job.input))
}

pub(super) fn decrypt_many(a: DecryptArgs, verbose: bool) -> Result<(), Failure> {
    let jobs = plan(
        a.io.file.as_deref(),
        &a.bulk,
        a.io.in_place,
        a.io.output.is_some(),
        Kind::Decrypt,
        &None,
    )?;
    let plan = DecryptPlan::new(&a, "")?;
    // one set of identities for every file: each distinct wrapped key is unwrapped once
    let sources = key_sources();
    run_all(&jobs, "decrypted", |job| {
        let name = job.input.display().to_string();
        let input = read_input(Some(&job.input))?;
        let bytes = plan.run(&input, Some(&job.input), &name, &sources, verbose)?;
        write(job, &bytes, 0o600)
    })
}

pub(super) fn encrypt_many(
    config: &Option<PathBuf>,
    verbose: bool,
    a: EncryptArgs,
    g: GlobalEncrypt,
) -> Result<(), Failure> {
    let jobs = plan(
        a.io.file.as_deref(),
        &a.bulk,
        a.io.in_place,
        a.io.output.is_some(),
        Kind::Encrypt,
        config,
    )?;
    run_all(&jobs, "encrypted", |job| {
        // each file is one ordinary `encrypt`: its own creation rule, format and checks
        let mut one = EncryptArgs {
            io: a.io.clone(),
            bulk: BulkArgs::default(),
            keys: a.keys.clone(),
        };
        one.io.file = Some(job.input.clone());
        one.io.in_place = job.output == job.input;
        one.io.output = (job.output != job.input).then(|| job.output.clone());
        if let Some(d) = job.output.parent()
            && !d.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(d);
        }
        super::encrypt(config, verbose, one, g.clone())
    })
}
