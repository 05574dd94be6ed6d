//! Shared helpers for the integration tests: the binary under test, the real sops oracle,
//! and running commands in a clean environment.

#![allow(dead_code)]

pub mod azure_fake;
pub mod git_repo;
pub mod http_fake;
pub mod openbao;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sops-rs"))
}

/// The real Go sops, installed by scripts/test-deps.sh. Tests fail (never skip) without it.
pub fn sops() -> PathBuf {
    if let Ok(p) = std::env::var("SOPS_RS_ORACLE") {
        return PathBuf::from(p);
    }
    let p = root().join("target/tools/bin/sops");
    assert!(
        p.exists(),
        "the real sops binary is missing at {}: run scripts/test-deps.sh (the README's test command does)",
        p.display()
    );
    p
}

pub fn interop_dir() -> PathBuf {
    root().join("testdata/sops-interop")
}

/// Run a program with a clean environment: PATH, HOME=/nonexistent, and `envs`.
pub fn run(
    prog: &Path,
    args: &[&str],
    cwd: &Path,
    envs: &[(&str, &str)],
    stdin: Option<&[u8]>,
) -> Output {
    let mut c = Command::new(prog);
    c.args(args)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", "/nonexistent")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut child = c
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", prog.display()));
    if let Some(input) = stdin {
        use std::io::Write;
        // the program may exit before reading its input (a usage error): that is not a failure
        let _ = child.stdin.take().unwrap().write_all(input);
    }
    child.wait_with_output().unwrap()
}

/// git in `dir` (which is also its HOME), no system config, a fixed identity; must succeed.
#[track_caller]
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A `#!/bin/sh` script running `body`, written at `path` and made executable; its path.
pub fn write_script(path: &Path, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

/// Run the real sops (version check off).
pub fn run_sops(args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Output {
    let mut a = vec!["--disable-version-check"];
    a.extend_from_slice(args);
    run(&sops(), &a, cwd, envs, None)
}

pub const KEY1_PUB: &str = "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66";

pub fn key1_file() -> String {
    interop_dir().join("keys/key1.txt").display().to_string()
}

/// A fresh, empty directory under target/ (no config files above it that matter:
/// tests pass `--config /dev/null`-free commands with explicit keys).
pub fn scratch(name: &str) -> PathBuf {
    // a counter too: two tests of one binary asking for the same name must not share (and
    // remove) each other's directory
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = root()
        .join("target/test-scratch")
        .join(format!("{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

// ---- Fixture corpus of tests/roundtrip.rs and tests/differential.rs ----

/// The format-preservation corpus: small, focused plaintext files.
pub fn roundtrip_dir() -> PathBuf {
    root().join("testdata/roundtrip")
}

/// One plaintext fixture of `testdata/roundtrip`.
pub struct Fixture {
    /// File name, e.g. `comments.yaml`; its extension picks the format.
    pub name: String,
    pub bytes: Vec<u8>,
}

impl Fixture {
    pub fn is_json(&self) -> bool {
        self.name.ends_with(".json")
    }

    /// `<stem>.<tag>.<ext>`: a derived file name with the same extension (so the same format).
    pub fn derived(&self, tag: &str) -> String {
        let (stem, ext) = self
            .name
            .rsplit_once('.')
            .expect("fixtures have an extension");
        format!("{stem}.{tag}.{ext}")
    }
}

/// Every `.yaml`/`.yml`/`.json` fixture of `testdata/roundtrip`, sorted by name.
pub fn roundtrip_fixtures() -> Vec<Fixture> {
    let mut out: Vec<Fixture> = std::fs::read_dir(roundtrip_dir())
        .expect("testdata/roundtrip exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .map(|p| Fixture {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(&p).unwrap(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    assert!(
        out.len() >= 20,
        "too few fixtures in {}",
        roundtrip_dir().display()
    );
    out
}

/// A scratch directory with an empty `.sops-rs.yaml`, so that no configuration file above it
/// (the repository's own `.sops-rs.yaml`, found by walking up from target/) changes what
/// `sops-rs encrypt --age` does. Real sops only reads `.sops.yaml`, and there is none above.
pub fn isolated_scratch(name: &str) -> PathBuf {
    let d = scratch(name);
    std::fs::write(
        d.join(".sops-rs.yaml"),
        "# isolates the tests from configuration files above\ncreation_rules: []\n",
    )
    .unwrap();
    d
}

/// The environment that lets both tools decrypt with the test key.
pub fn key1_env() -> [(&'static str, String); 1] {
    [("SOPS_AGE_KEY_FILE", key1_file())]
}

/// Run `prog args` in `dir` with the test key in the environment; Ok(stdout) on exit 0, else
/// Err with the exit code and stderr.
pub fn run_ok(prog: &Path, args: &[&str], dir: &Path) -> Result<Output, String> {
    let env = key1_env();
    let envs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(prog, args, dir, &envs, None);
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "`{} {}` exited {:?}: {}",
            prog.file_name().unwrap().to_string_lossy(),
            args.join(" "),
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).trim_end()
        ))
    }
}

/// Run `prog args` in `dir` with only `envs` (see [`run`]); its stdout, which must come with
/// exit 0 (else the test fails showing stderr).
#[track_caller]
pub fn stdout_ok(prog: &Path, args: &[&str], dir: &Path, envs: &[(&str, &str)]) -> String {
    let mut a: Vec<&str> = Vec::new();
    if prog == sops() {
        a.push("--disable-version-check");
    }
    a.extend_from_slice(args);
    let out = run(prog, &a, dir, envs, None);
    assert!(
        out.status.success(),
        "`{} {}` exited {:?}: {}",
        prog.file_name().unwrap().to_string_lossy(),
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).trim_end()
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Like [`run_ok`] for the real sops (version check off).
pub fn run_sops_ok(args: &[&str], dir: &Path) -> Result<Output, String> {
    let mut a = vec!["--disable-version-check"];
    a.extend_from_slice(args);
    run_ok(&sops(), &a, dir)
}

/// Apply `f` to every item on a few threads; results in input order.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map_or(4, |n| n.get())
        .clamp(1, 8);
    let mut results: Vec<(usize, R)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= items.len() {
                            break mine;
                        }
                        mine.push((i, f(&items[i])));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("worker panicked"))
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// Where two byte strings first differ, as a short readable report (line number, both lines).
pub fn first_difference(got: &[u8], want: &[u8]) -> String {
    let pos = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    let line = want[..pos].iter().filter(|b| **b == b'\n').count() + 1;
    let around = |b: &[u8]| {
        let start = b[..pos.min(b.len())]
            .iter()
            .rposition(|c| *c == b'\n')
            .map_or(0, |i| i + 1);
        let end = b[start..]
            .iter()
            .position(|c| *c == b'\n')
            .map_or(b.len(), |i| start + i + 1);
        let end = end.min(start + 300);
        format!("{:?}", String::from_utf8_lossy(&b[start..end]))
    };
    format!(
        "first difference at byte {pos} (line {line}; got {} bytes, want {}):\n      got:  {}\n      want: {}",
        got.len(),
        want.len(),
        around(got),
        around(want)
    )
}

/// Random small YAML documents for property tests: maps of random keys to scalars in every
/// quoting style (block scalars with every chomping), nested maps, sequences and flow
/// collections, with comments (also dedented ones), blank lines, 2/4-space indent, optional
/// CRLF and an optional final newline.
pub mod random_yaml {
    use proptest::prelude::*;
    use proptest::sample::select;
    use proptest::test_runner::RngSeed;

    #[derive(Debug, Clone)]
    pub enum Scalar {
        /// Plain text (empty: a null, written `key:`).
        Plain(String),
        /// The value; rendered with `''` for each quote.
        Single(String),
        /// Escaped pieces, already valid inside double quotes.
        Double(Vec<&'static str>),
        /// Header (`|`, `>-`, …) and lines (empty ones are blank lines).
        Block(&'static str, Vec<String>),
    }

    #[derive(Debug, Clone)]
    pub enum Node {
        Scalar(Scalar, Option<String>),
        Map(Vec<Entry>),
        /// Items, each with an optional comment line before it.
        Seq(Vec<(Scalar, Option<String>, Option<String>)>),
        /// A flow sequence (`[a, 'b']`) or, when `true`, a flow map (`{k0: a}`); an inline comment.
        Flow(bool, Vec<Scalar>, Option<String>),
    }

    #[derive(Debug, Clone)]
    pub struct Entry {
        pub key: String,
        pub blank_before: bool,
        pub comment_before: Option<String>,
        /// Write `comment_before` at column 0 (a commented-out line), not at the key's column.
        pub dedent_comment: bool,
        pub node: Node,
    }

    #[derive(Debug, Clone)]
    pub struct Doc {
        pub head: Option<String>,
        pub entries: Vec<Entry>,
        pub foot: Option<String>,
        pub indent: usize,
        pub crlf: bool,
        pub final_newline: bool,
    }

    const PLAIN_SPECIAL: [&str; 24] = [
        "",
        "true",
        "True",
        "yes",
        "No",
        "on",
        "~",
        "null",
        "0x1F",
        "0o17",
        "1e3",
        "-0.0",
        ".inf",
        "1.0",
        ".5",
        "42",
        "-7",
        "2024-01-15",
        "2024-01-15T10:00:00Z",
        "9223372036854775807",
        "café crème",
        "日本語",
        "🔑 key",
        "a b  c",
    ];
    const SINGLE_CHARS: [char; 20] = [
        'a', 'Z', '0', ' ', '#', ':', ',', '[', '{', '&', '*', '!', '"', '\\', '\'', '\t', 'é',
        '日', '🔑', '-',
    ];
    const DOUBLE_PIECES: [&str; 18] = [
        "a", "Z", "0", " ", "#", ": ", "'", "\\n", "\\t", "\\\"", "\\\\", "\\u00e9", "\\x41", "é",
        "日", "🔑", "-", "\t",
    ];
    const BLOCK_HEADERS: [&str; 6] = ["|", "|-", "|+", ">", ">-", ">+"];

    fn scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            3 => "[a-zA-Z][a-zA-Z0-9 ._/@-]{0,14}[a-zA-Z0-9]".prop_map(Scalar::Plain),
            2 => select(&PLAIN_SPECIAL[..]).prop_map(|s| Scalar::Plain(s.to_string())),
            2 => prop::collection::vec(select(&SINGLE_CHARS[..]), 0..10).prop_map(|c| Scalar::Single(c.into_iter().collect())),
            2 => prop::collection::vec(select(&DOUBLE_PIECES[..]), 0..8).prop_map(Scalar::Double),
            2 => (select(&BLOCK_HEADERS[..]), prop::collection::vec(prop_oneof![4 => "[a-zA-Z0-9][a-zA-Z0-9 ]{0,10}", 1 => Just(String::new())], 1..4))
                .prop_map(|(h, mut lines)| {
                    if lines[0].is_empty() {
                        lines[0] = "x".into(); // a first blank line is fine YAML, but keep the header's indent detection simple
                    }
                    Scalar::Block(h, lines)
                }),
        ]
    }

    fn comment() -> impl Strategy<Value = Option<String>> {
        prop::option::weighted(0.3, "[a-zA-Z0-9 :#'\"é-]{0,12}")
    }

    fn leaf() -> impl Strategy<Value = Node> {
        (scalar(), comment()).prop_map(|(s, c)| Node::Scalar(s, c))
    }

    fn node() -> impl Strategy<Value = Node> {
        prop_oneof![
            6 => leaf(),
            1 => prop::collection::vec(entry(leaf()), 1..4).prop_map(Node::Map),
            1 => prop::collection::vec((scalar(), comment(), prop::option::weighted(0.2, "[a-zA-Z0-9 -]{0,8}")), 1..4).prop_map(Node::Seq),
            1 => (any::<bool>(), prop::collection::vec(flow_scalar(), 0..4), comment()).prop_map(|(m, v, c)| Node::Flow(m, v, c)),
        ]
    }

    /// Scalars that can sit inside a flow collection.
    fn flow_scalar() -> impl Strategy<Value = Scalar> {
        prop_oneof![
            "[a-zA-Z][a-zA-Z0-9 ._/@-]{0,10}[a-zA-Z0-9]".prop_map(Scalar::Plain),
            prop::collection::vec(select(&SINGLE_CHARS[..]), 0..6)
                .prop_map(|c| Scalar::Single(c.into_iter().collect())),
            prop::collection::vec(select(&DOUBLE_PIECES[..]), 0..5).prop_map(Scalar::Double),
        ]
    }

    fn entry(value: impl Strategy<Value = Node>) -> impl Strategy<Value = Entry> {
        (
            "[a-z][a-z0-9_]{0,6}",
            prop::bool::weighted(0.1),
            any::<bool>(),
            prop::bool::weighted(0.2),
            comment(),
            prop::bool::weighted(0.3),
            value,
        )
            .prop_map(
                |(key, unencrypted, blank_before, has_comment, c, dedent_comment, node)| Entry {
                    key: if unencrypted {
                        format!("{key}_unencrypted")
                    } else {
                        key
                    },
                    blank_before,
                    comment_before: if has_comment { c } else { None },
                    dedent_comment,
                    node,
                },
            )
    }

    pub fn doc() -> impl Strategy<Value = Doc> {
        (
            comment(),
            prop::collection::vec(entry(node()), 1..6),
            comment(),
            prop_oneof![Just(2usize), Just(4usize)],
            prop::bool::weighted(0.25),
            prop::bool::weighted(0.85),
        )
            .prop_map(|(head, entries, foot, indent, crlf, final_newline)| Doc {
                head,
                entries,
                foot,
                indent,
                crlf,
                final_newline,
            })
    }

    /// ` value[ # comment]\n` after `key:` or `-`; `indent` is the block scalar content's column.
    fn render_scalar(out: &mut String, s: &Scalar, c: &Option<String>, indent: usize) {
        let comment = |out: &mut String| {
            if let Some(c) = c {
                out.push_str(&format!(" # {c}"));
            }
        };
        match s {
            Scalar::Plain(p) if p.is_empty() => {}
            Scalar::Plain(p) => {
                out.push_str(&format!(" {p}"));
                comment(out);
            }
            Scalar::Single(v) => {
                out.push_str(&format!(" '{}'", v.replace('\'', "''")));
                comment(out);
            }
            Scalar::Double(pieces) => {
                out.push_str(&format!(" \"{}\"", pieces.concat()));
                comment(out);
            }
            Scalar::Block(h, lines) => {
                out.push_str(&format!(" {h}"));
                comment(out);
                for l in lines {
                    out.push('\n');
                    if !l.is_empty() {
                        out.push_str(&" ".repeat(indent));
                        out.push_str(l);
                    }
                }
            }
        }
        out.push('\n');
    }

    fn render_entries(out: &mut String, entries: &[Entry], col: usize, unit: usize) {
        let pad = " ".repeat(col);
        for (i, e) in entries.iter().enumerate() {
            if e.blank_before {
                out.push('\n');
            }
            if let Some(c) = &e.comment_before {
                let at = if e.dedent_comment { "" } else { pad.as_str() };
                out.push_str(&format!("{at}# {c}\n"));
            }
            // keys are made unique by their position
            out.push_str(&format!("{pad}{}{i}:", e.key));
            match &e.node {
                Node::Scalar(s, c) => render_scalar(out, s, c, col + unit),
                Node::Map(children) => {
                    out.push('\n');
                    render_entries(out, children, col + unit, unit);
                }
                Node::Seq(items) => {
                    out.push('\n');
                    for (s, c, before) in items {
                        let dash = format!("{pad}{}", " ".repeat(unit));
                        if let Some(b) = before {
                            // alternately at the dashes' column and at column 0
                            let at = if b.len() % 2 == 0 { dash.as_str() } else { "" };
                            out.push_str(&format!("{at}# {b}\n"));
                        }
                        out.push_str(&format!("{dash}-"));
                        render_scalar(out, s, c, col + unit + 2);
                    }
                }
                Node::Flow(is_map, items, c) => {
                    let parts: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(k, s)| {
                            let mut one = String::new();
                            render_scalar(&mut one, s, &None, 0);
                            let v = one.trim_matches(['\n', ' ']).to_string();
                            if *is_map { format!("k{k}: {v}") } else { v }
                        })
                        .collect();
                    let (open, close) = if *is_map { ('{', '}') } else { ('[', ']') };
                    out.push_str(&format!(" {open}{}{close}", parts.join(", ")));
                    // sops quirk, not generated: an EMPTY flow collection with a comment
                    // (`k: [] # c`) becomes a list holding only a comment, which sops prints as
                    // `k: []` (dropping the comment) while sops-rs prints the comment line
                    if let Some(c) = c
                        && !items.is_empty()
                    {
                        out.push_str(&format!(" # {c}"));
                    }
                    out.push('\n');
                }
            }
        }
    }

    pub fn render(d: &Doc) -> String {
        let mut out = String::new();
        if let Some(h) = &d.head {
            out.push_str(&format!("# {h}\n"));
        }
        render_entries(&mut out, &d.entries, 0, d.indent);
        if let Some(f) = &d.foot {
            out.push_str(&format!("# {f}\n"));
        }
        if !d.final_newline {
            out.pop();
        }
        if d.crlf {
            out.replace('\n', "\r\n")
        } else {
            out
        }
    }

    impl Doc {
        /// Make every double-quoted string that starts with a tab and has a line break
        /// (`"\t\n"`, `"\ta\n"`) start with `a` instead: sops 3.11 (its YAML emitter) prints
        /// such a string as `null`, and corrupts its own files with it (MAC mismatch) when it
        /// stays in clear.
        pub fn without_tab_newline_strings(mut self) -> Doc {
            fn fix_scalar(s: &mut Scalar) {
                if let Scalar::Double(p) = s {
                    let tab_first = matches!(p.first(), Some(&"\\t") | Some(&"\t"));
                    if tab_first && p.contains(&"\\n") {
                        p.insert(0, "a");
                    }
                }
            }
            fn fix(entries: &mut [Entry]) {
                for e in entries {
                    match &mut e.node {
                        Node::Scalar(s, _) => fix_scalar(s),
                        Node::Map(children) => fix(children),
                        Node::Seq(items) => items.iter_mut().for_each(|(s, _, _)| fix_scalar(s)),
                        Node::Flow(_, items, _) => items.iter_mut().for_each(fix_scalar),
                    }
                }
            }
            fix(&mut self.entries);
            self
        }

        /// Drop the comment lines before null sequence items (`- `): sops 3.11 loses such a
        /// comment when it encrypts (its own output has none), while sops-rs keeps it.
        pub fn without_comments_before_null_items(mut self) -> Doc {
            fn fix(entries: &mut [Entry]) {
                for e in entries {
                    match &mut e.node {
                        Node::Map(children) => fix(children),
                        Node::Seq(items) => {
                            for (s, _, before) in items {
                                if matches!(s, Scalar::Plain(p) if p.is_empty()) {
                                    *before = None;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            fix(&mut self.entries);
            self
        }

        /// Drop the comments after block scalar headers (`key: | # c`).
        pub fn without_block_header_comments(mut self) -> Doc {
            fn fix(entries: &mut [Entry]) {
                for e in entries {
                    match &mut e.node {
                        Node::Scalar(Scalar::Block(..), c) => *c = None,
                        Node::Map(children) => fix(children),
                        Node::Seq(items) => {
                            for (s, c, _) in items {
                                if matches!(s, Scalar::Block(..)) {
                                    *c = None;
                                }
                            }
                        }
                        _ => {}
                    }
                }
            }
            fix(&mut self.entries);
            self
        }
    }

    /// `default_cases` cases from a fixed seed, so every run tries the same documents and reports the
    /// same failures. For a longer hunt set
    /// `PROPTEST_CASES=N` and `PROPTEST_RNG_SEED=<u64>` or `PROPTEST_RNG_SEED=random`.
    pub fn config(default_cases: u32) -> ProptestConfig {
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default_cases);
        let rng_seed = match std::env::var("PROPTEST_RNG_SEED").ok().as_deref() {
            Some("random") => RngSeed::Random,
            Some(n) => RngSeed::Fixed(n.parse().expect("PROPTEST_RNG_SEED: a u64 or `random`")),
            None => RngSeed::Fixed(0x5eed_5095),
        };
        ProptestConfig {
            cases,
            rng_seed,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }
}

/// The test key as library key sources (for tests that call the library directly).
pub fn key1_sources() -> sops_rs::keys::KeySources {
    let mut age = sops_rs::keys::age::Identities::new();
    age.add_key_text(&std::fs::read_to_string(key1_file()).unwrap(), "test")
        .unwrap();
    sops_rs::keys::KeySources {
        age,
        ..Default::default()
    }
}

/// Library encrypt options for the test key, with a fixed `lastmodified`.
pub fn key1_encrypt_options() -> sops_rs::EncryptOptions {
    sops_rs::EncryptOptions {
        groups: vec![vec![sops_rs::keys::KeySpec::Age(KEY1_PUB.into())]],
        shamir_threshold: None,
        selector: Default::default(),
        mac_only_encrypted: false,
        now: "2026-01-01T00:00:00Z".into(),
        backends: Default::default(),
    }
}

/// The YAML that the key-service tests (azure_kv, hc_vault) encrypt.
pub const SERVICE_PLAIN: &str = "db:\n    password: hunter2\n    port: 5432\n";

/// [`SERVICE_PLAIN`] encrypted as YAML to the one master key `key`.
pub fn encrypt_to(
    key: sops_rs::keys::KeySpec,
    b: &sops_rs::keys::Backends,
) -> sops_rs::Result<String> {
    let opts = sops_rs::EncryptOptions {
        groups: vec![vec![key]],
        backends: b.clone(),
        ..key1_encrypt_options()
    };
    sops_rs::encrypt(SERVICE_PLAIN.as_bytes(), sops_rs::Format::Yaml, &opts)
        .map(|o| String::from_utf8(o.bytes).unwrap())
}

/// An encrypted YAML file decrypted with the key services `b` only (no age identity).
pub fn decrypt_with(enc: &str, b: &sops_rs::keys::Backends) -> sops_rs::Result<String> {
    let sources = sops_rs::keys::KeySources {
        backends: b.clone(),
        ..Default::default()
    };
    sops_rs::decrypt(
        enc.as_bytes(),
        sops_rs::Format::Yaml,
        &sources,
        &Default::default(),
    )
    .map(|o| String::from_utf8(o.bytes).unwrap())
}

/// The field `name` of the first `section` entry (`azure_kv`, `hc_vault`, …) in an
/// encrypted YAML file's metadata.
pub fn entry_field(enc: &str, section: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    enc.lines()
        .skip_while(|l| !l.contains(&format!("{section}:")))
        .find_map(|l| {
            l.trim_start()
                .trim_start_matches("- ")
                .strip_prefix(&prefix)
                .map(str::to_string)
        })
        .unwrap_or_else(|| panic!("no {name} in the {section} entry:\n{enc}"))
}

/// A local AWS (moto) for tests/kms.rs.
pub mod moto;
