//! Safe writes: a temp file in the target's directory, fsynced, renamed over the target.
//! The mode of an existing file is kept; a symlink stays a link and its target is replaced.

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
    let mut tmp = tempfile::Builder::new()
        .prefix(".sops-rs-")
        .suffix(".tmp")
        .tempfile_in(&dir)?;
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(mode))?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map_err(|e| e.error)?;
    // make the rename itself durable
    if let Ok(d) = fs::File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
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
}
