//! The `sops-rs` binary: a thin CLI over the `sops_rs` library.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
