//! Library use: decrypt a sops file with an age identity.
//! `cargo run --example decrypt -- examples/secrets.enc.yaml examples/key.txt`
use sops_rs::keys::{KeySources, age::Identities};
use sops_rs::{DecryptOptions, Format, decrypt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let (file, key) = (&args[1], &args[2]);
    let mut age = Identities::new();
    age.add_key_text(&std::fs::read_to_string(key)?, key)?;
    let input = std::fs::read(file)?;
    let format = Format::from_path(file.as_ref());
    let out = decrypt(
        &input,
        format,
        &KeySources {
            age,
            ..Default::default()
        },
        &DecryptOptions::default(),
    )?;
    print!("{}", String::from_utf8_lossy(&out.bytes));
    Ok(())
}
