//! Safe writes: a temp file in the target's directory, fsynced, renamed over the target.
//! The mode of an existing file is kept; a symlink stays a link and its target is replaced.
//!
//! A run killed with SIGKILL (or a power loss) cannot remove its temp file: it stays as
//! `.sops-rs-<pid>-<random>.tmp`, mode 0600, beside the target, and the next write in that
//! directory removes it once process `<pid>` is gone (tests/crash.rs checks both).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Write `bytes` to `target` atomically. `new_mode` applies when the file does not exist yet.
///
/// # Errors
/// Any I/O failure; the target is then unchanged and no temp file is left.
pub fn write_atomic(target: &Path, bytes: &[u8], new_mode: u32) -> io::Result<()> {
    let target = resolve_link(target)?;
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mode = match fs::metadata(&target) {
        Ok(m) if m.is_file() => {
            // rename() would replace a file we may not write (0444 in a writable directory);
            // sops opens the target for writing and fails there (exit 3), and so do we. Opening
            // without truncating changes nothing.
            fs::OpenOptions::new().write(true).open(&target)?;
            m.permissions().mode() & 0o7777
        }
        Ok(_) => return Err(io::Error::other("not a regular file")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => new_mode,
        Err(e) => return Err(e),
    };
    // created 0600 (O_EXCL); the pid in the name lets a later run tell a dead writer's temp
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".sops-rs-{}-", std::process::id()))
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    remove_stale_temps(&dir, tmp.path());
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    // the final mode only now: a temp orphaned mid-write stays private to the user
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.persist(&target).map_err(|e| e.error)?;
    // make the rename itself durable
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Remove the temps of killed runs from `dir`: our name pattern, a regular file with the owner
/// of our own temp `own`, and no process with its pid. A live writer's temp is never touched
/// (if a writer in another pid namespace loses its temp, its rename fails and its target stays).
fn remove_stale_temps(dir: &Path, own: &Path) {
    use std::os::unix::fs::MetadataExt;
    let proc_ok = cfg!(target_os = "linux") && Path::new("/proc/self").exists();
    let Ok(uid) = fs::metadata(own).map(|m| m.uid()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(temp_pid) else {
            continue;
        };
        let p = e.path();
        if !proc_ok || p == own || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        if fs::symlink_metadata(&p).is_ok_and(|m| m.is_file() && m.uid() == uid) {
            let _ = fs::remove_file(&p);
        }
    }
}

/// The writer's pid in a temp name `.sops-rs-<pid>-<random>.tmp`.
fn temp_pid(name: &str) -> Option<u32> {
    let rest = name.strip_prefix(".sops-rs-")?.strip_suffix(".tmp")?;
    let (pid, random) = rest.split_once('-')?;
    let ok = !random.is_empty() && random.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok { pid.parse().ok() } else { None }
}

/// Follow symlinks so the link survives and its target is replaced.
fn resolve_link(p: &Path) -> io::Result<PathBuf> {
    let mut cur = p.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                let next = fs::read_link(&cur)?;
                cur = if next.is_absolute() {
                    next
                } else {
                    cur.parent().unwrap_or(Path::new(".")).join(next)
                };
            }
            _ => return Ok(cur),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_mode_and_links() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.yaml");
        fs::write(&f, "old").unwrap();
        fs::set_permissions(&f, fs::Permissions::from_mode(0o640)).unwrap();
        let l = dir.path().join("link.yaml");
        std::os::unix::fs::symlink("a.yaml", &l).unwrap();
        write_atomic(&l, b"new", 0o600).unwrap();
        assert!(fs::symlink_metadata(&l).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&f).unwrap(), b"new");
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        let n = dir.path().join("new.yaml");
        write_atomic(&n, b"x", 0o600).unwrap();
        assert_eq!(
            fs::metadata(&n).unwrap().permissions().mode() & 0o777,
            0o600
        );
        // no temp files left behind
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 3);
    }

    #[test]
    fn removes_only_dead_writers_temps() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // pid 0 never names a process dir; our own pid is alive
        let dead = d.join(".sops-rs-0-abc123.tmp");
        let live = d.join(format!(".sops-rs-{}-abc123.tmp", std::process::id()));
        let other = d.join(".sops-rs-0-abc123.tmp.bak");
        let link = d.join(".sops-rs-0-zzz999.tmp");
        for p in [&dead, &live, &other] {
            fs::write(p, "x").unwrap();
        }
        std::os::unix::fs::symlink(&other, &link).unwrap();
        write_atomic(&d.join("t.yaml"), b"new", 0o600).unwrap();
        assert!(!dead.exists(), "a dead writer's temp is removed");
        assert!(live.exists() && other.exists(), "others are kept");
        assert!(fs::symlink_metadata(&link).is_ok(), "a symlink is not ours");
        assert_eq!(temp_pid(".sops-rs-123-aB9xyZ.tmp"), Some(123));
        assert_eq!(temp_pid(".sops-rs-x-aB9xyZ.tmp"), None);
        assert_eq!(temp_pid(".sops-rs-12-.tmp"), None);
    }
}
