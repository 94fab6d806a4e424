//! Agent delivery: `GET /downloads/` lists what a host can fetch from this server, each
//! with its SHA-256; `GET /downloads/SHA256SUMS` is the same list in `sha256sum` format;
//! `GET /install.sh` is the POSIX installer that uses them.
//!
//! The Python monitor is always there (embedded in the binary). With `agent_dist` (what
//! `scripts/package.sh` wrote to `dist/`), the Rust agent's binaries, tarballs and `.deb`
//! files found there at start are served too: regular files named `openclaw-fleet-agent…`,
//! hashed once at start. Only names in that list are served, so no path from a request
//! ever reaches the file system. The installer carries the one systemd unit of the agent
//! (`packaging/systemd/openclaw-fleet-agent.service`, also in the `.deb`).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::extract::Path as UrlPath;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use sha2::{Digest, Sha256};

/// The Python monitor's file name, as served and as installed.
pub const MONITOR_NAME: &str = "openclaw_fleet_monitor.py";
const MONITOR: &[u8] = include_bytes!("../../../python/openclaw_fleet_monitor.py");
const INSTALLER: &str = include_str!("../assets/install.sh");
const AGENT_UNIT: &str = include_str!("../../../packaging/systemd/openclaw-fleet-agent.service");
/// Files of `agent_dist` that are served: the agent's artifacts only.
const AGENT_PREFIX: &str = "openclaw-fleet-agent";

enum Source {
    Embedded(&'static [u8]),
    File(PathBuf),
}

struct Entry {
    source: Source,
    size: u64,
    sha256: String,
}

/// What `/downloads/` serves, fixed at start.
pub struct Downloads {
    files: BTreeMap<String, Entry>,
    sums: String,
    installer: String,
}

impl Downloads {
    /// The monitor, plus the agent artifacts in `agent_dist` when given.
    pub fn load(agent_dist: Option<&Path>) -> anyhow::Result<Self> {
        let mut files = BTreeMap::new();
        files.insert(
            MONITOR_NAME.to_owned(),
            Entry {
                source: Source::Embedded(MONITOR),
                size: MONITOR.len() as u64,
                sha256: hex::encode(Sha256::digest(MONITOR)),
            },
        );
        if let Some(dir) = agent_dist {
            let listing = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read agent_dist {}", dir.display()))?;
            for item in listing {
                let item =
                    item.with_context(|| format!("cannot read agent_dist {}", dir.display()))?;
                let Some(name) = item.file_name().to_str().map(str::to_owned) else {
                    continue;
                };
                let path = item.path();
                if !servable_name(&name) || !path.is_file() {
                    continue;
                }
                let (size, sha256) = hash_file(&path)?;
                files.insert(
                    name,
                    Entry {
                        source: Source::File(path),
                        size,
                        sha256,
                    },
                );
            }
        }
        let sums = files
            .iter()
            .map(|(name, e)| format!("{}  {name}\n", e.sha256))
            .collect();
        let installer = INSTALLER.replace("@AGENT_UNIT@", AGENT_UNIT.trim_end());
        Ok(Self {
            files,
            sums,
            installer,
        })
    }

    /// The served names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// The routes, with this list.
    pub fn routes<S: Clone + Send + Sync + 'static>(self: Arc<Self>) -> Router<S> {
        Router::new()
            .route("/install.sh", axum::routing::get(install_sh))
            .route("/downloads", axum::routing::get(index))
            .route("/downloads/", axum::routing::get(index))
            .route("/downloads/SHA256SUMS", axum::routing::get(sums))
            .route("/downloads/{name}", axum::routing::get(file))
            .layer(Extension(self))
    }
}

/// `openclaw-fleet-agent` followed by plain file-name characters.
fn servable_name(name: &str) -> bool {
    name.starts_with(AGENT_PREFIX)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '~'))
}

fn hash_file(path: &Path) -> anyhow::Result<(u64, String)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buf[..n]);
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn text(body: String, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn install_sh(Extension(d): Extension<Arc<Downloads>>) -> Response {
    text(d.installer.clone(), "text/plain; charset=utf-8")
}

async fn sums(Extension(d): Extension<Arc<Downloads>>) -> Response {
    text(d.sums.clone(), "text/plain; charset=utf-8")
}

async fn index(Extension(d): Extension<Arc<Downloads>>) -> Response {
    let files: Vec<_> = d
        .files
        .iter()
        .map(|(name, e)| {
            serde_json::json!({
                "name": name,
                "size": e.size,
                "sha256": e.sha256,
                "url": format!("/downloads/{name}"),
            })
        })
        .collect();
    let mut response = Json(serde_json::json!({
        "files": files,
        "sha256sums": "/downloads/SHA256SUMS",
        "installer": "/install.sh",
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn file(Extension(d): Extension<Arc<Downloads>>, UrlPath(name): UrlPath<String>) -> Response {
    let Some(entry) = d.files.get(&name) else {
        return crate::error::ApiError::NotFound.into_response();
    };
    let body = match &entry.source {
        Source::Embedded(bytes) => bytes.to_vec(),
        Source::File(path) => match tokio::fs::read(path).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::error!(file = %path.display(), error = %e, "a download vanished from agent_dist");
                return StatusCode::SERVICE_UNAVAILABLE.into_response();
            }
        },
    };
    let content_type = if name.ends_with(".py") {
        "text/x-python; charset=utf-8"
    } else if name.ends_with(".deb") {
        "application/vnd.debian.binary-package"
    } else if name.ends_with(".tar.gz") {
        "application/gzip"
    } else {
        "application/octet-stream"
    };
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    let digest =
        HeaderValue::from_str(&entry.sha256).unwrap_or_else(|_| HeaderValue::from_static(""));
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (header::HeaderName::from_static("x-checksum-sha256"), digest),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_agent_artifacts_with_plain_names_are_served() {
        for ok in [
            "openclaw-fleet-agent-0.1.0-x86_64-linux",
            "openclaw-fleet-agent_0.1.0-1_amd64.deb",
            "openclaw-fleet-agent-0.1.0-x86_64-linux.tar.gz",
        ] {
            assert!(servable_name(ok), "{ok}");
        }
        for bad in [
            "openclaw-fleet_0.1.0-1_amd64.deb",
            "SHA256SUMS",
            "openclaw-fleet-agent/../x",
            "openclaw-fleet-agent x",
            "internal.key",
        ] {
            assert!(!servable_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_installer_carries_the_packaged_unit_and_the_sums_list_every_file() {
        let d = Downloads::load(None).unwrap();
        assert!(!d.installer.contains("@AGENT_UNIT@"));
        assert!(d
            .installer
            .contains("ExecStart=/usr/bin/openclaw-fleet-agent run"));
        let line = format!("{}  {MONITOR_NAME}\n", hex::encode(Sha256::digest(MONITOR)));
        assert_eq!(d.sums, line);
    }
}
