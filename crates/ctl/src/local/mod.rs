//! What the CLI keeps on the operator's machine, in one private directory
//! (mode 0700): the session (`session.json`, mode 0600) and the highest config
//! version seen per server and agent (`seen-versions.json`), the memory behind
//! the rollback check. Files are replaced atomically (temporary file, fsync,
//! rename) so an interrupted write never leaves half a session behind.

pub mod seen;
pub mod session;

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{CtlError, Result};

/// Environment variable naming the directory instead of the default.
pub const CONFIG_ENV: &str = "OPENCLAW_FLEET_CTL_CONFIG";

/// The CLI's private directory.
#[derive(Debug, Clone)]
pub struct ConfigDir {
    path: PathBuf,
}

impl ConfigDir {
    /// `explicit` (the flag or `OPENCLAW_FLEET_CTL_CONFIG`), else
    /// `openclaw-fleet` under the user's config directory
    /// (`$XDG_CONFIG_HOME`, usually `~/.config`).
    pub fn resolve(explicit: Option<PathBuf>) -> Result<Self> {
        let path = match explicit {
            Some(p) => p,
            None => dirs::config_dir()
                .ok_or_else(|| {
                    CtlError::usage(format!(
                        "cannot find your config directory: set {CONFIG_ENV}"
                    ))
                })?
                .join("openclaw-fleet"),
        };
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Creates the directory with mode 0700, or tightens an existing one.
    pub(crate) fn ensure(&self) -> Result<()> {
        if !self.path.exists() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&self.path)
                .map_err(|e| CtlError::file(&self.path, "create", e))?;
        }
        let meta = fs::metadata(&self.path).map_err(|e| CtlError::file(&self.path, "read", e))?;
        if meta.permissions().mode() & 0o077 != 0 {
            fs::set_permissions(&self.path, fs::Permissions::from_mode(0o700))
                .map_err(|e| CtlError::file(&self.path, "restrict", e))?;
        }
        Ok(())
    }

    /// Writes `bytes` to `name` with mode 0600, atomically.
    pub(crate) fn write_private(&self, name: &str, bytes: &[u8]) -> Result<()> {
        self.ensure()?;
        let target = self.file(name);
        let tmp = self.file(&format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::rename(&tmp, &target)
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(CtlError::file(&target, "write", e));
        }
        Ok(())
    }

    /// Reads `name` if it exists, refusing a file others can read or write
    /// (a session another user can read is a session they can use).
    pub(crate) fn read_private(&self, name: &str) -> Result<Option<Vec<u8>>> {
        let path = self.file(name);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(CtlError::file(&path, "read", e)),
        };
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(CtlError::Refused(format!(
                "{} is readable or writable by other users: delete it and log in again",
                path.display()
            )));
        }
        fs::read(&path)
            .map(Some)
            .map_err(|e| CtlError::file(&path, "read", e))
    }

    pub(crate) fn remove(&self, name: &str) -> Result<bool> {
        let path = self.file(name);
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(CtlError::file(&path, "delete", e)),
        }
    }
}
