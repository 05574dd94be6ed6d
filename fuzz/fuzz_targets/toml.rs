#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sops_rs::fuzzing::toml(data));
