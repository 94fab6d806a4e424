//! `openclaw-fleet-ctl verify-dashboard URL`: fetches every file of the dashboard this
//! binary embeds (and the page served for `/`) from a server and compares its SHA-256
//! with the hash compiled into this binary. A server cannot be asked what else it
//! serves, so only the files this version ships are checked; those are the files the
//! dashboard's own pages load.

use futures::{StreamExt, TryStreamExt};
use sha2::{Digest, Sha256};

use crate::error::{CtlError, Result};
use crate::server_url::ServerUrl;

/// What the server answered for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Same,
    Differs,
    /// Not served with 200 (the status it got).
    Missing(u16),
}

pub struct FileCheck {
    /// The path under `web/`, or `/` for the page served at the root.
    pub path: String,
    pub expected: [u8; 32],
    pub outcome: Outcome,
}

/// The name the root check is reported under.
pub const ROOT: &str = "/";

/// Checks every embedded file, in path order (the root page first). `http` must not
/// follow redirects. Fails only when the server cannot be reached at all.
pub async fn check(http: &reqwest::Client, base: &ServerUrl) -> Result<Vec<FileCheck>> {
    let files = openclaw_fleet_web::files();
    let index = files
        .iter()
        .find(|(p, _)| p == openclaw_fleet_web::SHELL)
        .map(|(_, h)| *h)
        .ok_or_else(|| CtlError::Refused("this binary has no dashboard built in".into()))?;
    let wanted: Vec<(String, String, [u8; 32])> = std::iter::once((ROOT.into(), "/".into(), index))
        .chain(
            files
                .into_iter()
                .map(|(p, h)| (p.clone(), format!("/{p}"), h)),
        )
        .collect();
    futures::stream::iter(wanted)
        .map(|(path, url_path, expected)| async move {
            let outcome = fetch(http, base, &url_path, &expected).await?;
            Ok::<_, CtlError>(FileCheck {
                path,
                expected,
                outcome,
            })
        })
        .buffered(4)
        .try_collect()
        .await
}

async fn fetch(
    http: &reqwest::Client,
    base: &ServerUrl,
    path: &str,
    expected: &[u8; 32],
) -> Result<Outcome> {
    let unreachable =
        || CtlError::Unavailable(format!("the server at {base} could not be reached"));
    let res = http
        .get(base.join(path))
        .send()
        .await
        .map_err(|_| unreachable())?;
    if res.status() != reqwest::StatusCode::OK {
        return Ok(Outcome::Missing(res.status().as_u16()));
    }
    let body = res.bytes().await.map_err(|_| unreachable())?;
    let got: [u8; 32] = Sha256::digest(&body).into();
    Ok(if &got == expected {
        Outcome::Same
    } else {
        Outcome::Differs
    })
}
