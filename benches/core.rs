//! Criterion benches: parse + encrypt, and decrypt, of generated YAML, JSON, TOML, dotenv and
//! INI documents.
//! The side-by-side comparison with the real sops is scripts/bench.sh.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sops_rs::keys::{KeySources, KeySpec, age::Identities};
use sops_rs::{DecryptOptions, EncryptOptions, Format};

const KEY: &str = "AGE-SECRET-KEY-1A69ZTU7QH6GJVPDDM8HTXU2LR85JML64KYNUEGE245UNEQ53T5JQZ7T6SH";
const RECIPIENT: &str = "age1pqxs528gah2fyxdv3guh2ctgkcmk9d9zs3qc75jw55a0krdgv4tsmufh66";

fn yaml(leaves: usize) -> String {
    let mut s = String::from("# generated\n");
    for i in 0..leaves / 4 {
        s.push_str(&format!(
            "service{i}:\n    name: svc-{i} # inline\n    port: {}\n    ratio: {}.5\n    password: \"s3cret-{i}\"\n",
            1000 + i,
            i
        ));
    }
    s
}

fn json(leaves: usize) -> String {
    let items: Vec<String> = (0..leaves / 4)
        .map(|i| format!("  \"service{i}\": {{\"name\": \"svc-{i}\", \"port\": {}, \"ratio\": {i}.5, \"enabled\": true}}", 1000 + i))
        .collect();
    format!("{{\n{}\n}}\n", items.join(",\n"))
}

fn toml(leaves: usize) -> String {
    let mut s = String::from("# generated\n");
    for i in 0..leaves / 4 {
        s.push_str(&format!(
            "\n[service{i}]\nname = \"svc-{i}\" # inline\nport = {}\nratio = {i}.5\nenabled = true\n",
            1000 + i
        ));
    }
    s
}

fn dotenv(leaves: usize) -> String {
    let mut s = String::from("# generated\n");
    for i in 0..leaves {
        s.push_str(&format!("SERVICE_{i}_SECRET=s3cret-{i}\n"));
    }
    s
}

fn ini(leaves: usize) -> String {
    let mut s = String::from("; generated\n");
    for i in 0..leaves / 4 {
        s.push_str(&format!(
            "\n[service{i}]\nname = svc-{i}\nport = {}\nratio = {i}.5\npassword = s3cret-{i}\n",
            1000 + i
        ));
    }
    s
}

fn bench(c: &mut Criterion) {
    let opts = EncryptOptions {
        groups: vec![vec![KeySpec::Age(RECIPIENT.into())]],
        shamir_threshold: None,
        selector: Default::default(),
        mac_only_encrypted: false,
        now: "2026-01-01T00:00:00Z".into(),
        backends: Default::default(),
    };
    let mut age = Identities::new();
    age.add_key_text(KEY, "bench").unwrap();
    let sources = KeySources {
        age,
        ..Default::default()
    };
    for (name, fmt, make) in [
        ("yaml", Format::Yaml, yaml as fn(usize) -> String),
        ("json", Format::Json, json),
        ("toml", Format::Toml, toml),
        ("dotenv", Format::Dotenv, dotenv),
        ("ini", Format::Ini, ini),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        for leaves in [1_000usize, 10_000] {
            let plain = make(leaves);
            g.throughput(Throughput::Bytes(plain.len() as u64));
            g.bench_with_input(BenchmarkId::new("encrypt", leaves), &plain, |b, p| {
                b.iter(|| sops_rs::encrypt(p.as_bytes(), fmt, &opts).unwrap())
            });
            let enc = sops_rs::encrypt(plain.as_bytes(), fmt, &opts)
                .unwrap()
                .bytes;
            g.bench_with_input(BenchmarkId::new("decrypt", leaves), &enc, |b, e| {
                b.iter(|| sops_rs::decrypt(e, fmt, &sources, &DecryptOptions::default()).unwrap())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
