//! The fuzz targets on stable: every target body in `sops_rs::fuzzing` (the same code the
//! cargo-fuzz targets in `fuzz/` run on nightly) over its seed corpus `fuzz/corpus/<target>/`
//! (valid and broken files, and every crash the fuzzers found, kept as regressions), then over
//! proptest inputs: random bytes, random text over each format's punctuation, and mutations
//! (flips, inserts, deletions, splices) of the corpus files. A panic anywhere fails the test.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use sops_rs::fuzzing;

mod common;

/// Cases per target beyond the corpus (the decrypt target unwraps an age stanza per case, so
/// it gets fewer).
const CASES: u32 = 300;
const DECRYPT_CASES: u32 = 200;

fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (the seed corpus is checked in)", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        files.len() >= 4,
        "{}: a seed corpus needs a handful of files",
        dir.display()
    );
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    /// Copy a range of the input over another place (duplicates keys, tokens, lines).
    Splice(usize, usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (
            any::<usize>(),
            prop_oneof![
                proptest::collection::vec(any::<u8>(), 1..8),
                "[\\[\\]{}:,\"'#=\\-\n\r\t &*!|>\\\\]{1,4}".prop_map(String::into_bytes),
            ]
        )
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), any::<usize>(), 1usize..64)
            .prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

fn apply(mut data: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = data.len();
        match m {
            Mutation::Flip(p, b) if len > 0 => data[p % len] ^= b | 1,
            Mutation::Insert(p, b) => {
                let at = p % (len + 1);
                data.splice(at..at, b.iter().copied());
            }
            Mutation::Delete(p, n) if len > 0 => {
                let at = p % len;
                data.drain(at..(at + n).min(len));
            }
            Mutation::Splice(a, b, n) if len > 0 => {
                let from = a % len;
                let chunk = data[from..(from + n).min(len)].to_vec();
                let at = b % (len + 1);
                data.splice(at..at, chunk);
            }
            _ => {}
        }
    }
    data
}

/// Corpus files, then `cases` generated inputs; returns how many inputs ran.
fn run(target: &str, cases: u32, f: impl Fn(&[u8])) -> usize {
    let seeds = corpus(target);
    for s in &seeds {
        f(s);
    }
    let n = seeds.len();
    // random bytes, random text, or a corpus file with a few mutations
    let input = (
        input_bytes_or_seed(),
        0..n,
        proptest::collection::vec(mutation(), 1..6),
    );
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&input, |(kind, i, muts)| {
            let data = match kind {
                Kind::Bytes(b) => b,
                Kind::Mutate => apply(seeds[i].clone(), &muts),
            };
            f(&data);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    println!("fuzz target {target}: {n} corpus files + {cases} generated inputs, no panic");
    n + cases as usize
}

#[derive(Debug, Clone)]
enum Kind {
    Bytes(Vec<u8>),
    Mutate,
}

fn input_bytes_or_seed() -> impl Strategy<Value = Kind> {
    prop_oneof![
        1 => proptest::collection::vec(any::<u8>(), 0..256).prop_map(Kind::Bytes),
        1 => "[a-c0-9 \n\t:\\-\\[\\]{},\"'#=.&*!|>%@]{0,200}"
            .prop_map(|s| Kind::Bytes(s.into_bytes())),
        3 => Just(Kind::Mutate),
    ]
}

#[test]
fn yaml() {
    run("yaml", CASES, fuzzing::yaml);
}

#[test]
fn json() {
    run("json", CASES, fuzzing::json);
}

#[test]
fn dotenv() {
    run("dotenv", CASES, fuzzing::dotenv);
}

#[test]
fn ini() {
    run("ini", CASES, fuzzing::ini);
}

#[test]
fn toml() {
    run("toml", CASES, fuzzing::toml);
}

#[test]
fn enc_token() {
    run("enc_token", CASES, fuzzing::enc_token);
}

#[test]
fn metadata() {
    run("metadata", CASES, fuzzing::metadata);
}

#[test]
fn pathedit() {
    run("pathedit", CASES, fuzzing::pathedit);
}

#[test]
fn decrypt() {
    let sources = common::key1_sources();
    run("decrypt", DECRYPT_CASES, |d| fuzzing::decrypt(&sources, d));
}

/// The decrypt seeds must really decrypt with the test key, or the target only ever sees
/// key errors.
#[test]
fn decrypt_seeds_are_valid() {
    let sources = common::key1_sources();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decrypt");
    let mut ok = 0;
    for name in [
        "yaml-basic.yaml",
        "json-basic.json",
        "dotenv-basic.env",
        "ini-basic.ini",
    ] {
        let data = std::fs::read(dir.join(name)).unwrap();
        let f = sops_rs::Format::from_path(Path::new(name));
        sops_rs::decrypt(&data, f, &sources, &Default::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        ok += 1;
    }
    assert_eq!(ok, 4);
}
