//! Every row of the sops interop manifest (testdata/sops-interop/manifest.tsv): files made by
//! the real sops 3.11.0, decrypted by sops-rs to the exact bytes sops prints, and the failure
//! rows failing with sops' exit code. Failing runs must not print any plaintext value.

mod common;

use common::*;

/// Rows of formats not implemented yet (none: every row runs).
const PENDING_FORMATS: [&str; 0] = [];

/// Plaintext values of the fixtures that must never appear in a failing run's output.
const CANARIES: [&str; 6] = [
    "s3cr3t-Pa55w0rd!",
    "demo-service",
    "db1.internal",
    "hunter2",
    "payments",
    "Grüße aus Köln",
];

#[test]
fn manifest_rows() {
    let dir = interop_dir();
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let (mut passed, mut failed, mut pending) = (0, Vec::new(), 0);
    for line in manifest.lines().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let (id, op, input, format, key, args, expected, result, code) =
            (f[0], f[1], f[2], f[3], f[4], f[5], f[6], f[7], f[8]);
        if PENDING_FORMATS.contains(&format) {
            pending += 1;
            continue;
        }
        let mut argv: Vec<&str> = vec![op];
        if args != "-" {
            argv.extend(args.split(' '));
        }
        argv.push(input);
        let envs: Vec<(&str, &str)> = if key == "-" {
            vec![]
        } else {
            vec![("SOPS_AGE_KEY_FILE", key)]
        };
        let out = run(&bin(), &argv, &dir, &envs, None);
        let rc = out.status.code().unwrap_or(-1);
        let why = if result == "ok" {
            let want = std::fs::read(dir.join(expected)).unwrap();
            if rc != 0 {
                Some(format!(
                    "exit {rc}: {}",
                    String::from_utf8_lossy(&out.stderr)
                ))
            } else if out.stdout != want {
                Some(format!(
                    "stdout differs from {expected}:\n--- got\n{}\n--- want\n{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&want)
                ))
            } else {
                None
            }
        } else if rc.to_string() != code {
            Some(format!(
                "exit {rc}, sops exits {code}: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        } else {
            let all = [out.stdout.as_slice(), out.stderr.as_slice()].concat();
            let text = String::from_utf8_lossy(&all);
            CANARIES
                .iter()
                .find(|c| text.contains(*c))
                .map(|c| format!("failing run printed the value {c:?}"))
        };
        match why {
            None => passed += 1,
            Some(w) => failed.push(format!("{id}: {w}")),
        }
    }
    println!(
        "{passed} passed, {} failed, {pending} pending",
        failed.len()
    );
    assert!(
        failed.is_empty(),
        "{} rows failed:\n{}",
        failed.len(),
        failed.join("\n\n")
    );
    assert!(passed >= 42, "too few rows ran: {passed}");
}
