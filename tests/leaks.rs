//! Canary redaction (docs security.md §7 rows T6 and T7): every secret in every fixture is a
//! unique canary string. The files are encrypted with sops-rs, then broken in many ways and fed
//! to every command; on each of these FAILING runs neither stdout nor stderr may contain a
//! canary, its base64, its hex, or any run of 64+ hex characters (which would include the
//! 128-character MAC hash of the plaintext, leak F2). A flipped `type:` must give an error that
//! names the path (leak F1 was sops printing the plaintext in the parse error).
//! All violations are collected and reported together.

mod common;

use common::*;
use std::fs;

const TAG: &str = "7f3c9e1a";

fn canary(fmt: &str, n: usize) -> String {
    format!("CANARY-{fmt}-{n}-{TAG}")
}

struct Fixture {
    name: &'static str,
    plain: String,
    canaries: Vec<String>,
    /// `--extract` path of one secret, and its key's name (for the type-flip check)
    extract: &'static str,
}

fn fixtures() -> Vec<Fixture> {
    let c = |f: &str, n| canary(f, n);
    vec![
        Fixture {
            name: "secrets.yaml",
            plain: format!(
                "# {}\ndb:\n    user: {}\n    password: {} # {}\nlist:\n    - {}\n    - '{}'\nblock: |\n    {}\n",
                c("yaml", 0),
                c("yaml", 1),
                c("yaml", 2),
                c("yaml", 3),
                c("yaml", 4),
                c("yaml", 5),
                c("yaml", 6)
            ),
            canaries: (0..7).map(|n| c("yaml", n)).collect(),
            extract: "[\"db\"][\"password\"]",
        },
        Fixture {
            name: "secrets.json",
            plain: format!(
                "{{\n\t\"db\": {{\n\t\t\"user\": \"{}\",\n\t\t\"password\": \"{}\"\n\t}},\n\t\"list\": [\"{}\", \"{}\"]\n}}\n",
                c("json", 0),
                c("json", 1),
                c("json", 2),
                c("json", 3)
            ),
            canaries: (0..4).map(|n| c("json", n)).collect(),
            extract: "[\"db\"][\"password\"]",
        },
        Fixture {
            name: "secrets.env",
            plain: format!(
                "USER={}\nPASSWORD={}\n# {}\nTOKEN={}\n",
                c("env", 0),
                c("env", 1),
                c("env", 2),
                c("env", 3)
            ),
            canaries: (0..4).map(|n| c("env", n)).collect(),
            extract: "[\"PASSWORD\"]",
        },
        Fixture {
            name: "secrets.ini",
            plain: format!(
                "[db]\nuser = {}\npassword = {}\n\n[api]\ntoken = {}\n",
                c("ini", 0),
                c("ini", 1),
                c("ini", 2)
            ),
            canaries: (0..3).map(|n| c("ini", n)).collect(),
            extract: "[\"db\"][\"password\"]",
        },
        Fixture {
            name: "secrets.bin",
            plain: format!("{}\n{}\n", c("bin", 0), c("bin", 1)),
            canaries: (0..2).map(|n| c("bin", n)).collect(),
            extract: "[\"data\"]",
        },
    ]
}

// ---- encodings of a canary that must not appear either ----

fn b64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for ch in bytes.chunks(3) {
        let n = ch
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (*b as u32) << (16 - 8 * i));
        for i in 0..=ch.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        for _ in ch.len()..3 {
            out.push('=');
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The forbidden strings for one canary: itself, its base64 (without the padding, so a
/// longer base64 run that starts with it is caught too), its hex in both cases. The unique
/// part (`…-N-7f3c9e1a`) alone is also forbidden, in case a message truncates the prefix.
fn forbidden(c: &str) -> Vec<String> {
    let mut v = vec![
        c.to_string(),
        b64(c.as_bytes()).trim_end_matches('=').to_string(),
        hex(c.as_bytes()),
        hex(c.as_bytes()).to_uppercase(),
    ];
    let unique = &c[c.find('-').unwrap() + 1..];
    v.push(unique.to_string());
    v
}

/// The longest run of hex digits in `s`.
fn longest_hex_run(s: &str) -> usize {
    let (mut best, mut cur) = (0, 0);
    for ch in s.chars() {
        if ch.is_ascii_hexdigit() {
            cur += 1;
            best = best.max(cur);
        } else {
            cur = 0;
        }
    }
    best
}

// ---- mutations of an encrypted file ----

/// Byte ranges of the `ENC[...]` tokens of the data (the MAC, which sits in the sops block, is
/// excluded), with the field spans inside each.
struct Token {
    start: usize,
    end: usize,
}

fn data_tokens(text: &str) -> Vec<Token> {
    let mac_at = text.find("mac").map_or(usize::MAX, |i| i);
    let sops_at = ["\nsops:", "\"sops\":", "\nsops_", "[sops]"]
        .iter()
        .filter_map(|m| text.find(m))
        .min()
        .unwrap_or(mac_at);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = text[from..].find("ENC[AES256_GCM,") {
        let start = from + i;
        let end = start + text[start..].find(']').unwrap() + 1;
        if start < sops_at {
            out.push(Token { start, end });
        }
        from = end;
    }
    out
}

/// Flip one base64 character of field `field` (`data`, `iv`, `tag`) in the token.
fn flip_field(text: &str, t: &Token, field: &str) -> String {
    let tok = &text[t.start..t.end];
    let f = tok.find(&format!("{field}:")).unwrap() + field.len() + 1;
    let at = t.start + f;
    let mut b = text.as_bytes().to_vec();
    if b[at] == b',' {
        // an empty field (an empty value's data): make it non-empty
        b.insert(at, b'A');
    } else {
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    }
    String::from_utf8(b).unwrap()
}

fn set_type(text: &str, t: &Token, ty: &str) -> Option<String> {
    let tok = &text[t.start..t.end];
    let i = tok.find(",type:")?;
    let old = &tok[i + 6..tok.len() - 1];
    if old == ty || old == "comment" {
        return None;
    }
    Some(format!(
        "{}{},type:{ty}]{}",
        &text[..t.start],
        &tok[..i],
        &text[t.end..]
    ))
}

/// The metadata line starting with `needle` (after indentation/quotes), replaced by `f(line)`.
fn edit_line(text: &str, needle: &str, f: impl Fn(&str) -> String) -> Option<String> {
    let mut out = String::new();
    let mut hit = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start().trim_start_matches('"');
        if !hit && t.starts_with(needle) {
            out.push_str(&f(line));
            hit = true;
        } else {
            out.push_str(line);
        }
    }
    hit.then_some(out)
}

/// (name, mutated text, the key name a type-flip error must mention)
fn mutations(text: &str) -> Vec<(String, String, Option<String>)> {
    let mut m = Vec::new();
    for (k, t) in data_tokens(text).iter().enumerate() {
        for field in ["data", "iv", "tag"] {
            m.push((
                format!("value{k}-{field}"),
                flip_field(text, t, field),
                None,
            ));
        }
        for ty in ["int", "float", "bool", "time"] {
            if let Some(x) = set_type(text, t, ty) {
                // the key owning the value: the last word before the token on its line
                let line_start = text[..t.start].rfind('\n').map_or(0, |i| i + 1);
                let prefix = &text[line_start..t.start];
                // in a flow list the key stands before the list's first token
                let prefix = prefix.find("ENC[").map_or(prefix, |i| &prefix[..i]);
                let key = prefix
                    .trim()
                    .trim_matches(|c: char| !c.is_alphanumeric())
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .rfind(|s| !s.is_empty())
                    .map(str::to_string);
                m.push((format!("value{k}-type-{ty}"), x, key));
            }
        }
    }
    let mac_flip = edit_line(text, "mac", |l| {
        let i = l.find("data:").unwrap() + 5;
        let mut b = l.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    });
    m.extend(mac_flip.map(|x| ("mac-data".into(), x, None)));
    let mac_tag = edit_line(text, "mac", |l| {
        let i = l.find("tag:").unwrap() + 4;
        let mut b = l.as_bytes().to_vec();
        b[i] = if b[i] == b'A' { b'B' } else { b'A' };
        String::from_utf8(b).unwrap()
    });
    m.extend(mac_tag.map(|x| ("mac-tag".into(), x, None)));
    let mac_gone = edit_line(text, "mac", |_| String::new());
    m.extend(mac_gone.map(|x| ("mac-missing".into(), x, None)));
    let lm = edit_line(text, "lastmodified", |l| l.replace("20", "19"));
    m.extend(lm.map(|x| ("lastmodified".into(), x, None)));
    let lm_bad = edit_line(text, "lastmodified", |l| {
        let i = l.find(|c: char| c.is_ascii_digit()).unwrap();
        format!("{}yesterday{}", &l[..i], &l[i + 20..])
    });
    m.extend(lm_bad.map(|x| ("lastmodified-garbage".into(), x, None)));
    // the age stanza's armor: one body character flipped
    if let Some(i) = text.find("-----BEGIN AGE ENCRYPTED FILE-----") {
        let at = i + 60;
        let mut b = text.as_bytes().to_vec();
        b[at] = if b[at] == b'A' { b'B' } else { b'A' };
        m.push(("age-armor".into(), String::from_utf8(b).unwrap(), None));
    }
    m.push((
        "truncated-90".into(),
        text[..text.len() * 9 / 10].into(),
        None,
    ));
    m.push((
        "truncated-60".into(),
        text[..text.len() * 6 / 10].into(),
        None,
    ));
    m.push((
        "truncated-30".into(),
        text[..text.len() * 3 / 10].into(),
        None,
    ));
    // two values swapped (same types, different paths: caught by the AAD)
    let toks = data_tokens(text);
    if toks.len() >= 2 {
        let (a, b) = (&toks[0], &toks[1]);
        let swapped = format!(
            "{}{}{}{}{}",
            &text[..a.start],
            &text[b.start..b.end],
            &text[a.end..b.start],
            &text[a.start..a.end],
            &text[b.end..]
        );
        m.push(("swap-values".into(), swapped, None));
    }
    m
}

// ---- the runs ----

struct Run {
    label: String,
    args: Vec<String>,
    envs: Vec<(&'static str, String)>,
    dir_file: String,
    content: String,
    /// filestatus may succeed
    may_succeed: bool,
    type_flip_key: Option<String>,
}

fn commands(file: &str, extract: &str) -> Vec<(Vec<String>, bool)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let binary = file.ends_with(".bin");
    vec![
        (s(&["decrypt", file]), false),
        (s(&["decrypt", "--verbose", file]), false),
        (
            s(&["--verbose", "decrypt", "--extract", extract, file]),
            false,
        ),
        (s(&["decrypt", "--extract", extract, file]), false),
        (s(&["decrypt", "-i", file]), false),
        (s(&["decrypt", "--output", "out.txt", file]), false),
        // binary: sops wraps any bytes, an encrypted file too, so encrypting again succeeds
        // (real sops 3.11 does the same); the run still must not show a canary
        (s(&["encrypt", "--age", KEY1_PUB, file]), binary),
        (
            s(&["encrypt", "--verbose", "-i", "--age", KEY1_PUB, file]),
            binary,
        ),
        (s(&["filestatus", file]), true),
    ]
}

#[test]
fn failing_runs_never_show_secrets() {
    let started = std::time::Instant::now();
    let d = isolated_scratch("leaks");
    let key1 = key1_file();
    let key2 = interop_dir().join("keys/key2.txt").display().to_string();
    let fx = fixtures();
    let mut all_canaries: Vec<String> = Vec::new();
    let mut runs: Vec<Run> = Vec::new();
    for f in &fx {
        all_canaries.extend(f.canaries.iter().cloned());
        fs::write(d.join(f.name), &f.plain).unwrap();
        let enc = run_ok(&bin(), &["encrypt", "--age", KEY1_PUB, f.name], &d)
            .unwrap_or_else(|e| panic!("cannot encrypt the fixture {}: {e}", f.name));
        let enc = String::from_utf8(enc.stdout).unwrap();
        for c in &f.canaries {
            assert!(
                !enc.contains(c.as_str()),
                "{}: the encrypted file holds a canary in clear: {c}",
                f.name
            );
        }
        let ext = f.name.rsplit_once('.').unwrap().1;
        let key_envs: [(&str, Vec<(&'static str, String)>); 3] = [
            ("key1", vec![("SOPS_AGE_KEY_FILE", key1.clone())]),
            ("wrong-key", vec![("SOPS_AGE_KEY_FILE", key2.clone())]),
            ("no-key", vec![]),
        ];
        // the intact file with a wrong key and with no key
        for (kn, env) in &key_envs[1..] {
            let file = format!("intact-{kn}.{ext}");
            for (args, may) in commands(&file, f.extract) {
                runs.push(Run {
                    label: format!("{} {kn}", f.name),
                    args,
                    envs: env.clone(),
                    dir_file: file.clone(),
                    content: enc.clone(),
                    may_succeed: may,
                    type_flip_key: None,
                });
            }
        }
        // every mutation with the right key; the first few also with RUST_LOG=trace
        for (i, (mname, text, flip_key)) in mutations(&enc).into_iter().enumerate() {
            let file = format!("{mname}.{ext}");
            // a truncation that cut the whole sops block leaves a plaintext file (holding
            // ENC tokens as strings): encrypting it is legitimate
            let no_meta = !text.contains("lastmodified");
            // the last tenth of a file may hold only metadata lines that nobody needs (the
            // `version`, the default selector): a file cut there can still be complete
            let tail_only = mname == "truncated-90";
            for (args, may) in commands(&file, f.extract) {
                let may = may || (no_meta && args[0] == "encrypt") || tail_only;
                let mut envs = key_envs[0].1.clone();
                if i % 4 == 0 {
                    envs.push(("RUST_LOG", "trace".into()));
                    envs.push(("RUST_BACKTRACE", "1".into()));
                }
                runs.push(Run {
                    label: format!("{} {mname}", f.name),
                    args,
                    envs,
                    dir_file: file.clone(),
                    content: text.clone(),
                    may_succeed: may,
                    type_flip_key: flip_key.clone(),
                });
            }
        }
    }
    let forbidden_all: Vec<(String, String)> = all_canaries
        .iter()
        .flat_map(|c| forbidden(c).into_iter().map(move |f| (c.clone(), f)))
        .collect();
    let root = d.clone();
    let results = parallel_map(&runs, |r| {
        let dir = root.join(format!("r-{}", std::ptr::from_ref(r) as usize));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join(".sops-rs.yaml"),
            "# isolates the tests from configuration files above\ncreation_rules: []\n",
        )
        .unwrap();
        fs::write(dir.join(&r.dir_file), &r.content).unwrap();
        let args: Vec<&str> = r.args.iter().map(String::as_str).collect();
        let envs: Vec<(&str, &str)> = r.envs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let out = run(&bin(), &args, &dir, &envs, None);
        let what = format!("[{}] `sops-rs {}`", r.label, args.join(" "));
        let mut errs = Vec::new();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if !r.may_succeed && out.status.success() {
            errs.push(format!(
                "{what}: exit 0 (stdout {} bytes), expected an error",
                out.stdout.len()
            ));
        }
        if out.status.code() == Some(101) || stderr.contains("panicked at") {
            errs.push(format!("{what}: PANIC: {}", stderr.trim_end()));
        }
        // files written by the run (-i, --output) count as output too
        let written = fs::read(dir.join(&r.dir_file)).unwrap_or_default();
        let written = if written == r.content.as_bytes() {
            String::new()
        } else {
            String::from_utf8_lossy(&written).into_owned()
        };
        let side = fs::read(dir.join("out.txt")).unwrap_or_default();
        let side = String::from_utf8_lossy(&side);
        // on success the output is the decryption the user asked for: only the exit code is
        // wrong then, and that is reported above
        let outputs: &[(&str, &str)] = if out.status.success() {
            &[("stderr", &*stderr)]
        } else {
            &[
                ("stdout", &*stdout),
                ("stderr", &*stderr),
                ("the input file after the run", written.as_str()),
                ("out.txt", &*side),
            ]
        };
        for &(stream, s) in outputs {
            if let Some((c, f)) = forbidden_all.iter().find(|(_, f)| s.contains(f.as_str())) {
                let form = if f == c {
                    "itself".to_string()
                } else {
                    format!("as {f}")
                };
                errs.push(format!("{what}: {stream} shows the canary {c} ({form})"));
            }
            // the armor and ENC tokens are base64, not hex, so 64+ hex chars is a hash
            let run = longest_hex_run(s);
            if run >= 64 {
                errs.push(format!(
                    "{what}: {stream} has a run of {run} hex characters (a MAC hash?)"
                ));
            }
        }
        if let Some(key) = &r.type_flip_key
            && !out.status.success()
            && args[0] == "decrypt"
            && !stderr.contains(key.as_str())
        {
            errs.push(format!(
                "{what}: a flipped type's error does not name the path ({key}): {}",
                stderr.trim_end()
            ));
        }
        if !out.status.success() && !stdout.is_empty() {
            errs.push(format!(
                "{what}: failed but printed {} bytes on stdout",
                stdout.len()
            ));
        }
        let _ = fs::remove_dir_all(&dir);
        errs
    });
    let failures: Vec<String> = results.into_iter().flatten().collect();
    let _ = fs::remove_dir_all(&d);
    eprintln!(
        "leaks: {} runs, {} violations, {:.1?}",
        runs.len(),
        failures.len(),
        started.elapsed()
    );
    assert!(
        runs.len() >= 300,
        "only {} failing runs, the plan asks for 300",
        runs.len()
    );
    assert!(
        failures.is_empty(),
        "{} violations in {} runs:\n  {}",
        failures.len(),
        runs.len(),
        failures.join("\n  ")
    );
}
