//! dotenv, INI and TOML: decrypt(encrypt(x)) == x byte for byte (also with CRLF line ends and
//! without a final newline), no secret left in clear, and real sops reads our dotenv and INI
//! files as it reads its own (sops has no TOML store: it encrypts `.toml` files as binary).

mod common;

use common::*;

fn variants(name: &str, bytes: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let (stem, ext) = name.rsplit_once('.').unwrap();
    vec![
        (name.to_string(), bytes.to_vec()),
        // sops' dotenv refuses a line holding only `\r`: that variant has no blank line
        (
            format!("{stem}-crlf.{ext}"),
            if ext == "env" {
                text.replace("\n\n", "\n")
            } else {
                text.clone()
            }
            .replace('\n', "\r\n")
            .into_bytes(),
        ),
        (
            format!("{stem}-nofinal.{ext}"),
            text.trim_end_matches('\n').as_bytes().to_vec(),
        ),
    ]
}

#[test]
fn formats_round_trip_and_interoperate() {
    let d = isolated_scratch("formats");
    let k = key1_file();
    let env = [("SOPS_AGE_KEY_FILE", k.as_str())];
    let mut failures = Vec::new();
    for name in ["dotenv/app.env", "ini/app.ini", "toml/app.toml"] {
        let bytes = std::fs::read(root().join("testdata/formats").join(name)).unwrap();
        let name = name.rsplit_once('/').map_or(name, |(_, n)| n);
        for (file, plain) in variants(name, &bytes) {
            // sops' dotenv keeps a `\r` in values; INI and TOML treat CRLF as line ends
            std::fs::write(d.join(&file), &plain).unwrap();
            let enc = run(
                &bin(),
                &["encrypt", "--age", KEY1_PUB, &file],
                &d,
                &[],
                None,
            );
            if !enc.status.success() {
                failures.push(format!(
                    "{file}: encrypt failed: {}",
                    String::from_utf8_lossy(&enc.stderr)
                ));
                continue;
            }
            let text = String::from_utf8_lossy(&enc.stdout);
            if text.contains("canary-") {
                failures.push(format!("{file}: a secret is left in clear"));
            }
            let ext = file.rsplit_once('.').unwrap().1;
            let enc_file = format!("enc-{file}");
            std::fs::write(d.join(&enc_file), &enc.stdout).unwrap();
            let dec = run(&bin(), &["decrypt", &enc_file], &d, &env, None);
            if dec.stdout != plain {
                failures.push(format!(
                    "{file}: decrypt(encrypt(x)) != x: {}",
                    String::from_utf8_lossy(&dec.stderr)
                ));
            }
            if ext == "toml" || file.contains("crlf") {
                continue;
            }
            // sops reads our file as it reads its own encryption of the same plaintext
            let ours = run_sops(&["decrypt", &enc_file], &d, &env);
            let theirs_enc = run_sops(&["encrypt", "--age", KEY1_PUB, &file], &d, &[]);
            std::fs::write(d.join(format!("sops-{file}")), &theirs_enc.stdout).unwrap();
            let theirs = run_sops(&["decrypt", &format!("sops-{file}")], &d, &env);
            if !ours.status.success() || ours.stdout != theirs.stdout {
                failures.push(format!(
                    "{file}: sops reads other data from ours: {}",
                    String::from_utf8_lossy(&ours.stderr)
                ));
            }
            let mine = run(
                &bin(),
                &["decrypt", &format!("sops-{file}")],
                &d,
                &env,
                None,
            );
            if mine.stdout != theirs.stdout {
                failures.push(format!(
                    "{file}: sops-rs prints sops' file differently from sops"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
