//! Atomic, private file writes. Every file the agent writes may hold a secret
//! (API keys in `.env`, tokens in `openclaw.json`), so each write goes to a
//! fresh 0600 temp file created exclusively in the same directory, is
//! fsynced, renamed over the target and the directory fsynced: a crash
//! leaves the old or the new file, never a torn one, and never a
//! world-readable one. A name that is a symbolic link is never followed,
//! for reading or writing: it is refused and the link's target is left as
//! it was. Run as root in a directory that belongs to another user (the
//! OpenClaw user's `~/.openclaw`), files are given to that user before the
//! rename, so OpenClaw can still read what the agent wrote. A file that
//! must never be replaced (the identity key) is created with [`create_new`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rand::Rng;

/// Mode of every file the agent writes.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of a directory the agent creates.
pub const PRIVATE_DIR_MODE: u32 = 0o700;

/// The error for a name that is a symbolic link (`ErrorKind::InvalidInput`).
fn symlink_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{} is a symbolic link; refusing to follow it (replace it with a regular file)",
            path.display()
        ),
    )
}

/// Replaces `path` with `contents` atomically, leaving it with mode 0600.
pub fn write_atomic(path: &Path, contents: &[u8]) -> io::Result<()> {
    write_atomic_mode(path, contents, PRIVATE_FILE_MODE)
}

/// As [`write_atomic`] with another mode (a systemd unit is not secret).
pub fn write_atomic_mode(path: &Path, contents: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => return Err(symlink_refused(path)),
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let tmp = write_temp(dir, name, contents, mode)?;
    let result = fs::rename(&tmp, path).and_then(|()| sync_dir(dir));
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes a file that must not exist yet (an identity key): `Ok(false)`, and
/// nothing written, when anything is at `path`. The contents go to an
/// exclusively created temp file, which is then hard-linked to `path`:
/// link(2) neither follows nor replaces what is there (a file, a symbolic
/// link, even a dangling one), so a racing writer or a planted link can be
/// neither overwritten nor written through, and no reader sees a torn file.
pub fn create_new(path: &Path, contents: &[u8]) -> io::Result<bool> {
    let dir = parent_dir(path);
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp = write_temp(dir, name, contents, PRIVATE_FILE_MODE)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(dir).map(|()| true),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// A fresh temp file beside `name` in `dir` holding `contents` with `mode`,
/// fsynced and, run as root in another user's directory, owned by that user.
fn write_temp(
    dir: &Path,
    name: &std::ffi::OsStr,
    contents: &[u8],
    mode: u32,
) -> io::Result<PathBuf> {
    let owner = owner_for_new_files(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{:016x}",
        name.to_string_lossy(),
        rand::thread_rng().gen::<u64>()
    ));
    let result = (|| {
        // create_new is O_CREAT|O_EXCL: a planted file or link at the temp
        // name fails the write instead of being written through.
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PRIVATE_FILE_MODE)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::fchown(&file, Some(uid), Some(gid))?;
        }
        // The umask may have narrowed the mode given at creation; set it exactly.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.write_all(contents)?;
        file.sync_all()
    })();
    match result {
        Ok(()) => Ok(tmp),
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Who a new file in `dir` should belong to: `dir`'s owner when the agent
/// runs as root and `dir` belongs to someone else; otherwise the agent.
fn owner_for_new_files(dir: &Path) -> io::Result<Option<(u32, u32)>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    let meta = fs::metadata(dir)?;
    Ok((meta.uid() != 0 || meta.gid() != 0).then_some((meta.uid(), meta.gid())))
}

/// Reads `path`, or `None` when it does not exist. A symbolic link or
/// anything but a regular file is refused, never followed or waited on.
pub fn read_optional(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC | libc::O_NONBLOCK)
        .open(path);
    let mut file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => return Err(symlink_refused(path)),
        Err(e) => return Err(e),
    };
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is not a regular file", path.display()),
        ));
    }
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Creates `dir` (and its parents) with mode 0700 when it does not exist;
/// run as root, each created directory belongs to its parent's owner.
pub fn ensure_private_dir(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = parent_dir(dir);
    if parent != dir && parent != Path::new(".") {
        ensure_private_dir(parent)?;
    }
    match fs::DirBuilder::new().mode(PRIVATE_DIR_MODE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Some((uid, gid)) = owner_for_new_files(parent)? {
        std::os::unix::fs::chown(dir, Some(uid), Some(gid))?;
    }
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_content_with_mode_0600_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, b"old").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp file left behind");
    }

    /// A file outside the state directory that a planted link points at.
    fn victim(dir: &Path) -> std::path::PathBuf {
        let outside = dir.join("outside");
        fs::create_dir_all(&outside).unwrap();
        let path = outside.join("victim");
        fs::write(&path, b"precious\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        path
    }

    fn assert_untouched(path: &Path) {
        assert_eq!(fs::read(path).unwrap(), b"precious\n");
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "the link's target changed mode");
    }

    #[test]
    fn a_symlink_is_refused_for_writing_and_its_target_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let target = victim(dir.path());
        let state = dir.path().join("openclaw");
        fs::create_dir(&state).unwrap();
        let link = state.join(".env");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = write_atomic(&link, b"ATTACKER=1\n").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_untouched(&target);
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(fs::read_dir(&state).unwrap().count(), 1, "temp file left");
    }

    #[test]
    fn a_symlink_or_a_fifo_is_refused_for_reading() {
        let dir = tempfile::tempdir().unwrap();
        let target = victim(dir.path());
        let link = dir.path().join("openclaw.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        let err = read_optional(&link).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(read_optional(&fifo).is_err(), "a FIFO must not be read");
        assert_eq!(read_optional(&target).unwrap().unwrap(), b"precious\n");
    }

    #[test]
    fn applying_a_config_through_a_symlinked_file_is_refused() {
        use openclaw_fleet_protocol::{AgentId, EncryptionSecret, Envelope};
        for name in [".env", "openclaw.json", crate::state::STATE_FILE] {
            let dir = tempfile::tempdir().unwrap();
            let target = victim(dir.path());
            let state = dir.path().join("openclaw");
            fs::create_dir(&state).unwrap();
            std::os::unix::fs::symlink(&target, state.join(name)).unwrap();
            let (es, agent) = (EncryptionSecret::generate(), AgentId::new_v4());
            let doc = br#"{"schema":1,"env":{"A":"1"},"openclaw":{"b":2}}"#;
            let envelope = Envelope::seal(&es, &agent, 1, doc).unwrap().to_json();
            let validator = crate::apply::Validator::detect();
            let err = crate::apply::apply_envelope(&state, &envelope, &agent, &es, &validator)
                .unwrap_err();
            assert!(err.to_string().contains("symbolic link"), "{name}: {err}");
            assert_untouched(&target);
        }
    }

    #[test]
    fn as_root_files_in_another_users_directory_belong_to_that_user() {
        // SAFETY: geteuid cannot fail.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: changing a file's owner needs root");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home-of-12345");
        fs::create_dir(&home).unwrap();
        std::os::unix::fs::chown(&home, Some(12345), Some(12345)).unwrap();
        let state = home.join("openclaw");
        ensure_private_dir(&state).unwrap();
        write_atomic(&state.join(".env"), b"A=1\n").unwrap();
        write_atomic(&state.join(".env"), b"A=2\n").unwrap();
        for path in [state.clone(), state.join(".env")] {
            let meta = fs::metadata(&path).unwrap();
            let want = if path == state { 0o700 } else { 0o600 };
            assert_eq!(
                (meta.uid(), meta.gid(), meta.permissions().mode() & 0o777),
                (12345, 12345, want),
                "{}",
                path.display()
            );
        }
        write_atomic(&dir.path().join("mine"), b"x").unwrap();
        assert_eq!(fs::metadata(dir.path().join("mine")).unwrap().uid(), 0);
    }

    #[test]
    fn create_new_never_replaces_or_follows_what_is_there() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        assert!(create_new(&path, b"one").unwrap());
        assert!(!create_new(&path, b"two").unwrap());
        assert_eq!(fs::read(&path).unwrap(), b"one");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // A dangling link would be created through by open(O_CREAT) without O_EXCL.
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(dir.path().join("elsewhere"), &link).unwrap();
        assert!(!create_new(&link, b"three").unwrap());
        assert!(!dir.path().join("elsewhere").exists());
        let target = victim(dir.path());
        let planted = dir.path().join("planted");
        std::os::unix::fs::symlink(&target, &planted).unwrap();
        assert!(!create_new(&planted, b"four").unwrap());
        assert_untouched(&target);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["key", "link", "outside", "planted"],
            "temp file left"
        );
    }

    #[test]
    fn creates_private_dirs() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        ensure_private_dir(&nested).unwrap();
        let mode = fs::metadata(&nested).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        assert_eq!(read_optional(&nested.join("missing")).unwrap(), None);
    }
}
