//! `sops-rs completion bash|zsh|fish` and `sops-rs man` come from the clap definitions: each
//! prints a non-empty script or page that knows the subcommands.

mod common;

use common::{bin, run, scratch};

const SUBCOMMANDS: &[&str] = &[
    "encrypt",
    "decrypt",
    "filestatus",
    "exec-env",
    "exec-file",
    "git",
    "completion",
];

fn output(args: &[&str]) -> String {
    let dir = scratch("completion");
    let o = run(&bin(), args, &dir, &[], None);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).expect("UTF-8 output")
}

#[test]
fn completions_know_the_subcommands() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef sops-rs"),
        ("fish", "complete -c sops-rs"),
    ] {
        let s = output(&["completion", shell]);
        assert!(s.contains(marker), "{shell}: {marker:?} missing");
        for sub in SUBCOMMANDS {
            assert!(s.contains(sub), "{shell}: {sub} missing");
        }
        // flags of a subcommand too
        assert!(
            s.contains("no-fifo"),
            "{shell}: exec-file's --no-fifo missing"
        );
    }
    let o = run(
        &bin(),
        &["completion", "powershell-9"],
        &scratch("completion"),
        &[],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown shell is a usage error"
    );
}

#[test]
fn man_page_lists_the_subcommands() {
    // roff writes a hyphen as `\-`
    let m = output(&["man"]).replace("\\-", "-");
    assert!(
        m.contains(".TH sops-rs"),
        "roff: {}",
        &m[..m.len().min(200)]
    );
    assert!(m.contains(".SH SUBCOMMANDS"));
    for sub in SUBCOMMANDS {
        assert!(m.contains(sub), "man: {sub} missing");
    }
}
