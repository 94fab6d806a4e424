//! The highest config version this CLI has seen for each agent of each
//! server. A server that later hands out an older envelope (or claims a lower
//! stored version) is replaying the past, and the CLI refuses it, as the agent
//! does with its own state file. Updates take an exclusive lock on the file
//! and keep the maximum, so concurrent CLI processes never lower a record.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;

use openclaw_fleet_protocol::AgentId;

use super::ConfigDir;
use crate::error::{CtlError, Result};
use crate::server_url::ServerUrl;

const FILE: &str = "seen-versions.json";
const LOCK: &str = "seen-versions.lock";

type Records = BTreeMap<String, u64>;

fn key(server: &ServerUrl, agent: &AgentId) -> String {
    format!("{server}|{agent}")
}

/// The per-agent high-water marks of one config directory.
#[derive(Debug, Clone)]
pub struct SeenVersions {
    dir: ConfigDir,
}

impl SeenVersions {
    pub fn new(dir: ConfigDir) -> Self {
        Self { dir }
    }

    fn read(&self) -> Result<Records> {
        match self.dir.read_private(FILE)? {
            None => Ok(Records::new()),
            Some(bytes) => serde_json::from_slice(&bytes).map_err(|_| {
                CtlError::Refused(format!(
                    "{} is damaged; it guards against rollbacks, so it is not replaced \
                     silently: inspect or delete it",
                    self.dir.file(FILE).display()
                ))
            }),
        }
    }

    fn lock(&self) -> Result<File> {
        self.dir.ensure()?;
        let path = self.dir.file(LOCK);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&path)
            .map_err(|e| CtlError::file(&path, "open", e))?;
        file.lock().map_err(|e| CtlError::file(&path, "lock", e))?;
        Ok(file)
    }

    /// The highest version seen for `agent` on `server` (0: none).
    pub fn get(&self, server: &ServerUrl, agent: &AgentId) -> Result<u64> {
        Ok(self.read()?.get(&key(server, agent)).copied().unwrap_or(0))
    }

    /// Raises the record to `version` (never lowers it).
    pub fn record(&self, server: &ServerUrl, agent: &AgentId, version: u64) -> Result<()> {
        let _lock = self.lock()?;
        let mut records = self.read()?;
        let entry = records.entry(key(server, agent)).or_insert(0);
        if *entry >= version {
            return Ok(());
        }
        *entry = version;
        let bytes = serde_json::to_vec_pretty(&records).expect("JSON");
        self.dir.write_private(FILE, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_maximum_per_server_and_agent() {
        let tmp = tempfile::tempdir().unwrap();
        let seen = SeenVersions::new(ConfigDir::resolve(Some(tmp.path().join("c"))).unwrap());
        let a = AgentId::new_v4();
        let s1 = ServerUrl::parse("https://one.example", false).unwrap();
        let s2 = ServerUrl::parse("https://two.example", false).unwrap();
        assert_eq!(seen.get(&s1, &a).unwrap(), 0);
        seen.record(&s1, &a, 5).unwrap();
        seen.record(&s1, &a, 3).unwrap();
        assert_eq!(seen.get(&s1, &a).unwrap(), 5);
        assert_eq!(seen.get(&s2, &a).unwrap(), 0);
        let mode = std::fs::metadata(tmp.path().join("c").join(FILE))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }
}
