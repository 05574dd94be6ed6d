//! Shell completions and the man page, generated from the clap definitions (so they never
//! drift from the flags).

use std::io::Write;

use clap::{Args, CommandFactory, ValueEnum};

use super::{Cli, Failure, code};

#[derive(Clone, Copy, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args)]
pub struct CompletionArgs {
    /// The shell to complete for
    pub shell: Shell,
}

pub fn completion(a: CompletionArgs) -> Result<(), Failure> {
    let shell = match a.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "sops-rs", &mut buf);
    emit(&buf)
}

/// One page: the command, its flags and a SUBCOMMANDS section listing every subcommand.
pub fn man() -> Result<(), Failure> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut buf)
        .map_err(|e| Failure::new(code::GENERIC, format!("man page: {e}")))?;
    emit(&buf)
}

fn emit(bytes: &[u8]) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .map_err(|e| Failure::new(code::COULD_NOT_WRITE_OUTPUT, format!("stdout: {e}")))
}
