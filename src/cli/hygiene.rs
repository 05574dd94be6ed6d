//! Process hygiene, first thing at start-up: a crash must not write the keys and plaintext in
//! memory to a core file, and another process of the same user must not read them.
//!
//! On Linux: `PR_SET_DUMPABLE` 0 (no core dump; no same-user `ptrace` attach, and
//! `/proc/<pid>/{mem,environ,…}` become root's) and a soft `RLIMIT_CORE` of 0 (core(5): no dump
//! at all; the hard limit stays, so a child that wants dumps can raise it again). Best effort:
//! a failure here is ignored, as it must not stop the user's work. `execve` resets dumpability,
//! so children (`SOPS_AGE_KEY_CMD`, an editor) are not covered by the first part.
//!
//! The environment is left as it is: `SOPS_AGE_KEY` is not removed after reading it. Removing
//! would not help (`/proc/<pid>/environ` shows the block given at exec, which `unsetenv` does
//! not touch; with dumpable 0 only root can read it), and children rely on inheriting it, as
//! with sops (a nested `sops-rs decrypt` under `exec-env`, a key command). We never add a
//! secret to our own environment.

/// Disable core dumps and ptrace attach for this process (Linux; elsewhere nothing).
pub fn harden() {
    #[cfg(target_os = "linux")]
    // SAFETY: both calls take plain integers or a pointer to a live, initialized local, and
    // change only this process' attributes; neither touches Rust-managed memory.
    #[allow(unsafe_code)]
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0 as libc::c_ulong, 0, 0, 0);
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_CORE, &mut lim) == 0 {
            lim.rlim_cur = 0;
            libc::setrlimit(libc::RLIMIT_CORE, &lim);
        }
    }
}
