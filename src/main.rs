//! The `sops-rs` binary: a thin CLI over the `sops_rs` library.

// the only exception: the start-up hygiene calls (src/cli/hygiene.rs)
#![deny(unsafe_code)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
