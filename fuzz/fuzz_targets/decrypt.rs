#![no_main]

use std::sync::LazyLock;

use sops_rs::keys::{KeySources, age::Identities};

// The public test key of testdata/sops-interop (the decrypt seeds are encrypted to it).
static SOURCES: LazyLock<KeySources> = LazyLock::new(|| {
    let mut age = Identities::new();
    age.add_key_text(
        include_str!("../../testdata/sops-interop/keys/key1.txt"),
        "test",
    )
    .expect("the test key loads");
    KeySources { age, ..Default::default() }
});

libfuzzer_sys::fuzz_target!(|data: &[u8]| sops_rs::fuzzing::decrypt(&SOURCES, data));
