//! `dashboard` and `verify-dashboard`: the dashboard from this binary, served locally
//! or compared with a server's copy (see [`crate::dashboard`]).

use std::io::Write;
use std::time::Duration;

use serde_json::json;

use super::Globals;
use crate::api::client_builder;
use crate::cli::{DashboardArgs, VerifyDashboardArgs};
use crate::dashboard::verify::{self, Outcome};
use crate::dashboard::Dashboard;
use crate::error::{CtlError, Result};
use crate::local::session::Session;
use crate::output::print_json;
use crate::server_url::ServerUrl;

const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn serve(g: &Globals, args: DashboardArgs) -> Result<i32> {
    let (server, ca_file) = match args.server {
        Some(url) => (ServerUrl::parse(&url, args.allow_http)?, args.ca_file),
        None => {
            let session = Session::load(&g.dir)?.ok_or_else(|| {
                CtlError::usage("name the server with --server URL, or log in first")
            })?;
            (session.url.clone(), args.ca_file.or(session.ca_file))
        }
    };
    let http = client_builder(ca_file.as_deref())?
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CtlError::Unavailable(format!("cannot set up HTTPS: {e}")))?;
    let dashboard = Dashboard::bind(args.port, server.clone(), http).await?;
    let url = format!("{}/", dashboard.url());
    if g.json {
        println!(
            "{}",
            json!({ "url": url, "server": server.as_str(), "version": VERSION })
        );
    } else {
        println!("Local dashboard: {url}");
        println!(
            "Served from openclaw-fleet-ctl {VERSION}; API calls go to {server}. \
             Open it in this machine's browser; Ctrl-C stops it."
        );
    }
    let _ = std::io::stdout().flush();
    // Ctrl-C ends at once: a graceful shutdown would wait for the open event streams.
    tokio::select! {
        served = dashboard.serve(std::future::pending()) => served?,
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(0)
}

pub async fn verify(g: &Globals, args: VerifyDashboardArgs) -> Result<i32> {
    let base = ServerUrl::parse(&args.url, args.allow_http)?;
    let http = client_builder(args.ca_file.as_deref())?
        .timeout(Duration::from_secs(60))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| CtlError::Unavailable(format!("cannot set up HTTPS: {e}")))?;
    let checks = verify::check(&http, &base).await?;
    let bad: Vec<&verify::FileCheck> = checks
        .iter()
        .filter(|c| c.outcome != Outcome::Same)
        .collect();
    if g.json {
        let files: Vec<_> = checks
            .iter()
            .map(|c| {
                let (status, http_status) = match c.outcome {
                    Outcome::Same => ("same", None),
                    Outcome::Differs => ("differs", None),
                    Outcome::Missing(s) => ("missing", Some(s)),
                };
                json!({
                    "path": c.path,
                    "sha256": hex::encode(c.expected),
                    "status": status,
                    "http_status": http_status,
                })
            })
            .collect();
        print_json(&json!({
            "url": base.as_str(),
            "version": VERSION,
            "files": files,
            "differing": bad.len(),
        }));
    } else {
        for c in &bad {
            match c.outcome {
                Outcome::Differs => println!("DIFFERS  {}", c.path),
                Outcome::Missing(s) => println!("MISSING  {} (HTTP {s})", c.path),
                Outcome::Same => {}
            }
        }
        if bad.is_empty() {
            println!(
                "All {} files of the dashboard served by {base} match openclaw-fleet-ctl \
                 {VERSION} (SHA-256).",
                checks.len()
            );
        }
        eprintln!(
            "Note: only the files this version ships were checked (a server cannot list \
             what else it serves), and only as served to this request."
        );
    }
    if bad.is_empty() {
        return Ok(0);
    }
    Err(CtlError::Refused(format!(
        "{} of {} dashboard files served by {base} differ from openclaw-fleet-ctl {VERSION}: {}",
        bad.len(),
        checks.len(),
        bad.iter()
            .map(|c| c.path.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )))
}
