//! `INTERNAL_ENCRYPTION_KEY`: where it comes from, and the rules that keep it from being
//! lost or silently replaced.
//!
//! Sources, first match wins: the `INTERNAL_ENCRYPTION_KEY` environment variable (64 hex
//! characters), a key file named by `INTERNAL_ENCRYPTION_KEY_FILE` / the settings, or
//! `<data dir>/internal.key`. Only that last one is ever generated, with mode 0600, and
//! only while the database has never held data under any key: the database records the
//! key id it was written with, and a start with a different key is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rand::RngCore;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The server's 32-byte at-rest key. Not `Debug`, not `Clone`, zeroized on drop.
pub struct InternalKey {
    bytes: Zeroizing<[u8; 32]>,
    id: String,
}

impl InternalKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"openclaw-fleet/key-id/v1|")
            .chain_update(bytes)
            .finalize();
        Self {
            bytes: Zeroizing::new(bytes),
            id: hex::encode(&digest[..8]),
        }
    }

    /// Parses 64 hex characters (surrounding whitespace ignored). The error never
    /// repeats the input.
    pub fn parse_hex(text: &str) -> anyhow::Result<Self> {
        let text = text.trim();
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "INTERNAL_ENCRYPTION_KEY must be exactly 64 hexadecimal characters (32 bytes); \
                 generate one with `openssl rand -hex 32`"
            );
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text, &mut bytes[..]).context("INTERNAL_ENCRYPTION_KEY is not hex")?;
        Ok(Self::from_bytes(*bytes))
    }

    pub fn generate() -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand::rngs::OsRng.fill_bytes(&mut bytes[..]);
        Self::from_bytes(*bytes)
    }

    /// A public fingerprint of the key (not secret): the first 8 bytes of a SHA-256.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }
}

/// How the key was found, for the start-up log line (never the key itself).
#[derive(Debug, Clone)]
pub enum KeyOrigin {
    Environment,
    File(PathBuf),
    Generated(PathBuf),
}

impl std::fmt::Display for KeyOrigin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyOrigin::Environment => write!(f, "the INTERNAL_ENCRYPTION_KEY environment variable"),
            KeyOrigin::File(p) => write!(f, "key file {}", p.display()),
            KeyOrigin::Generated(p) => write!(f, "new key file {} (mode 0600)", p.display()),
        }
    }
}

/// Environment variables that may hold the key (the bare name is the documented one).
const ENV_NAMES: [&str; 2] = [
    "INTERNAL_ENCRYPTION_KEY",
    "OPENCLAW_FLEET_INTERNAL_ENCRYPTION_KEY",
];
const FILE_ENV_NAMES: [&str; 2] = [
    "INTERNAL_ENCRYPTION_KEY_FILE",
    "OPENCLAW_FLEET_INTERNAL_ENCRYPTION_KEY_FILE",
];

/// The key file in the data dir, and the two a rotation adds beside it.
pub const KEY_FILE: &str = "internal.key";
pub const NEXT_KEY_FILE: &str = "internal.key.next";
pub const RETIRED_KEY_FILE: &str = "internal.key.retired";

/// Whether the key is configured outside the data dir (environment or a named file).
pub fn configured_outside(key_file: Option<&Path>) -> bool {
    key_file.is_some()
        || ENV_NAMES
            .iter()
            .chain(&FILE_ENV_NAMES)
            .any(|n| std::env::var_os(n).is_some())
}

/// Finds the key. `stored_key_id` is the id the database recorded, if any.
pub fn resolve(
    data_dir: &Path,
    key_file: Option<&Path>,
    stored_key_id: Option<&str>,
) -> anyhow::Result<(InternalKey, KeyOrigin)> {
    let from_env = ENV_NAMES
        .iter()
        .find_map(|n| std::env::var(n).ok().map(Zeroizing::new));
    let file_env = FILE_ENV_NAMES
        .iter()
        .find_map(|n| std::env::var_os(n).map(PathBuf::from));
    let (key, origin) = if let Some(text) = from_env {
        (InternalKey::parse_hex(&text)?, KeyOrigin::Environment)
    } else if let Some(path) = key_file.map(Path::to_path_buf).or(file_env) {
        (read_key_file(&path)?, KeyOrigin::File(path))
    } else {
        let path = data_dir.join(KEY_FILE);
        if path.exists() {
            (read_key_file(&path)?, KeyOrigin::File(path))
        } else if let Some(id) = stored_key_id {
            bail!(
                "{} is missing, but the database holds data sealed under key id {id}. \
                 Restore the key file (or set INTERNAL_ENCRYPTION_KEY); refusing to generate \
                 a new key over existing data",
                path.display()
            );
        } else {
            let key = InternalKey::generate();
            write_key_file(&path, &key)?;
            (key, KeyOrigin::Generated(path))
        }
    };
    if let Some(id) = stored_key_id {
        if id != key.id() {
            bail!(
                "the configured internal key (id {}, from {origin}) is not the one this database \
                 was written with (id {id}); refusing to start",
                key.id()
            );
        }
    }
    Ok((key, origin))
}

pub fn read_key_file(path: &Path) -> anyhow::Result<InternalKey> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the internal key file {}", path.display()))?,
    );
    InternalKey::parse_hex(&text).with_context(|| format!("in key file {}", path.display()))
}

/// Writes a new key file (mode 0600); never replaces an existing one.
pub fn write_key_file(path: &Path, key: &InternalKey) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create key file {}", path.display()))?;
    let text = Zeroizing::new(format!("{}\n", hex::encode(key.expose_bytes())));
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn generates_once_with_mode_0600_then_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let (k1, o1) = resolve(dir.path(), None, None).unwrap();
        assert!(matches!(o1, KeyOrigin::Generated(_)));
        let mode = std::fs::metadata(dir.path().join("internal.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let (k2, o2) = resolve(dir.path(), None, Some(k1.id())).unwrap();
        assert!(matches!(o2, KeyOrigin::File(_)));
        assert_eq!(k1.expose_bytes(), k2.expose_bytes());
    }

    #[test]
    fn refuses_to_replace_a_lost_key_or_use_another() {
        let dir = tempfile::tempdir().unwrap();
        let err = resolve(dir.path(), None, Some("0011223344556677"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("refusing to generate"));
        assert!(!dir.path().join("internal.key").exists());
        std::fs::write(dir.path().join("internal.key"), "ab".repeat(32)).unwrap();
        let err = resolve(dir.path(), None, Some("0011223344556677"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("refusing to start"));
    }

    #[test]
    fn malformed_key_is_refused_without_echo() {
        let err = InternalKey::parse_hex("zz-not-a-key-zz").err().unwrap();
        assert!(!err.to_string().contains("zz-not-a-key-zz"));
        assert!(InternalKey::parse_hex(&"0".repeat(63)).is_err());
    }
}
