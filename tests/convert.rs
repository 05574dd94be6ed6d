//! `--output-type`: converting between formats gives the same data as real sops' conversion
//! (comments and layout do not carry over, in sops either).

mod common;

use common::*;

#[test]
fn conversions_match_sops() {
    let dir = interop_dir();
    let k = key1_file();
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    let mut failures = Vec::new();
    // decrypt with conversion: compare with what sops prints for the same command
    for (vector, to) in [
        ("vectors/yaml-basic.yaml", "json"),
        // (not json-basic → yaml: sops 3.11 typed its integers as floats, we read them as
        // integers like sops 3.13.2, so `9007199254740992` prints as an integer here)
        ("vectors/dotenv-basic.env", "json"),
        ("vectors/dotenv-basic.env", "yaml"),
        ("vectors/k8s-basic.yaml", "json"),
        ("vectors/json-unencrypted-regex.json", "yaml"),
    ] {
        let args = ["decrypt", "--output-type", to, vector];
        let ours = run(&bin(), &args, &dir, &env, None);
        let theirs = run_sops(&args, &dir, &env);
        if !ours.status.success() || ours.stdout != theirs.stdout {
            failures.push(format!(
                "decrypt {vector} → {to}: differs from sops\n--- ours ({})\n{}\n--- sops\n{}",
                String::from_utf8_lossy(&ours.stderr).trim_end(),
                String::from_utf8_lossy(&ours.stdout),
                String::from_utf8_lossy(&theirs.stdout)
            ));
        }
    }
    // encrypt with conversion: sops reads our JSON as it reads its own yaml-to-json vector
    let d = isolated_scratch("convert");
    std::fs::copy(dir.join("plaintext/app.yaml"), d.join("app.yaml")).unwrap();
    let enc = run(
        &bin(),
        &[
            "encrypt",
            "--output-type",
            "json",
            "--age",
            KEY1_PUB,
            "app.yaml",
        ],
        &d,
        &[],
        None,
    );
    assert!(
        enc.status.success(),
        "{}",
        String::from_utf8_lossy(&enc.stderr)
    );
    std::fs::write(d.join("app.json"), &enc.stdout).unwrap();
    let back = run_sops(&["decrypt", "app.json"], &d, &env);
    let want = std::fs::read(dir.join("expected/yaml-to-json.out")).unwrap();
    if back.stdout != want {
        failures.push(format!(
            "encrypt app.yaml → json: sops reads other data\n--- sops on ours\n{}\n--- expected\n{}",
            String::from_utf8_lossy(&back.stdout),
            String::from_utf8_lossy(&want)
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
