//! Building and running the server: open storage (with the internal key rules), bind,
//! serve until SIGTERM or Ctrl-C, and run the housekeeping and offline-sweep tasks.

use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::access::AppState;
use crate::clock::{SharedClock, SystemClock};
use crate::crypto::internal_key::{self, KeyOrigin};
use crate::crypto::AtRest;
use crate::settings::Settings;
use crate::store::{self, SharedStore};

/// Opens the database named by the settings and the key that seals its secrets.
pub async fn open_storage(settings: &Settings) -> anyhow::Result<(SharedStore, AtRest)> {
    create_private_dir(&settings.data_dir)?;
    let url = settings.database_url();
    let store = store::connect(&url).await?;
    let stored_id = store.meta("key_id").await?;
    let (key, origin) = internal_key::resolve(
        &settings.data_dir,
        settings.internal_encryption_key_file.as_deref(),
        stored_id.as_deref(),
    )
    .map_err(|e| {
        if settings.data_dir.join(internal_key::NEXT_KEY_FILE).exists() {
            e.context("a rotation of the internal key was interrupted: run `openclaw-fleet rotate-internal-key` to finish it")
        } else {
            e
        }
    })?;
    if stored_id.is_none() {
        // Another replica may be starting on this empty database right now: the first key
        // recorded wins, and a replica holding another one must not write a row with it.
        let recorded = store.claim_meta("key_id", key.id()).await?;
        if recorded != key.id() {
            let mut hint = String::new();
            if let KeyOrigin::Generated(path) = &origin {
                // Made moments ago and never used: leave the data dir as it was.
                if std::fs::remove_file(path).is_ok() {
                    hint = format!(" ({} removed again)", path.display());
                }
            }
            anyhow::bail!(
                "another server initialised this database at the same moment with internal key \
                 id {recorded}; this one has key id {}, from {origin}{hint}. Every replica \
                 must use the same key: give this one the first one's INTERNAL_ENCRYPTION_KEY \
                 (or key file) and start it again",
                key.id()
            );
        }
    }
    tracing::info!(key_id = key.id(), "internal key from {origin}");
    tracing::info!(database = %store::redact_url(&url), "database ready");
    Ok((store, AtRest::new(key, Vec::new())))
}

pub(crate) fn create_private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create data dir {}", dir.display()))?;
    }
    Ok(())
}

/// A bound, ready-to-run server.
pub struct Server {
    _lock: crate::store::DbLock,
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    tls: Option<(
        Arc<crate::tls::CertStore>,
        Arc<tokio_rustls::rustls::ServerConfig>,
    )>,
    downloads: Arc<crate::downloads::Downloads>,
    state: AppState,
}

impl Server {
    /// Opens storage and binds the listener. `clock` replaces the wall clock in tests.
    pub async fn build(settings: Settings, clock: Option<SharedClock>) -> anyhow::Result<Self> {
        let (store, at_rest) = open_storage(&settings).await?;
        let lock = store.server_lock().await?.context(
            "a maintenance command (restore, rotate-internal-key) is running on this database; \
             start the server once it has finished",
        )?;
        if let Some(to) = store.meta("rotation_to").await? {
            anyhow::bail!(
                "a rotation of the internal key to id {to} is not finished: run \
                 `openclaw-fleet rotate-internal-key` again to finish it, then start the server"
            );
        }
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let tls = match settings.tls_files() {
            Some(files) => {
                let store = crate::tls::CertStore::load(files)?;
                let config = store.server_config()?;
                Some((store, config))
            }
            None => None,
        };
        let downloads = Arc::new(crate::downloads::Downloads::load(
            settings.agent_dist.as_deref(),
        )?);
        tracing::info!(
            files = downloads.names().collect::<Vec<_>>().join(", "),
            "downloads ready at /downloads/"
        );
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("cannot listen on {addr} for metrics"))?,
            ),
            None => None,
        };
        if settings.metrics_enabled() {
            crate::telemetry::install()?;
        }
        let state = AppState::new(store, at_rest, clock, settings);
        Ok(Self {
            _lock: lock,
            listener,
            metrics_listener,
            tls,
            downloads,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The metrics-only address, when `--metrics-listen` was given.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// `https` when the server speaks TLS itself, else `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` completes, then drains (see `access::drain`): the listener
    /// closes, event streams and long-polls end at once, in-flight requests get
    /// `shutdown_drain_secs` to finish, what is left is then closed, and everything
    /// acknowledged is flushed before this returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let state = self.state;
        // TLS first: what can fail here fails before any task is started.
        let (listener, store) = match self.tls {
            None => (Bound::Plain(self.listener), None),
            Some((store, config)) => {
                let listener =
                    crate::tls::TlsListener::new(self.listener, config).context("TLS listener")?;
                (Bound::Tls(listener), Some(store))
            }
        };
        let reloader = crate::tls::on_sighup(store)?;
        let housekeeping = tokio::spawn(housekeeping(state.clone()));
        let sweeper = tokio::spawn(state.clone().sweep_offline_forever());
        let replicas = {
            let state = state.clone();
            tokio::spawn(async move { state.listen_to_replicas().await })
        };
        let alerts = {
            let state = state.clone();
            tokio::spawn(async move { state.run_alerts().await })
        };
        let metrics = self.metrics_listener.map(|listener| {
            let app = crate::router::metrics_only(state.clone());
            tokio::spawn(async move { axum::serve(listener, app).await })
        });
        let app = crate::router::build(state.clone(), self.downloads);
        let drain = Duration::from_secs(state.settings().shutdown_drain_secs);
        let (stopping, stop_seen) = tokio::sync::oneshot::channel::<()>();
        let drain_state = state.clone();
        let graceful = async move {
            shutdown.await;
            drain_state.begin_drain();
            let _ = stopping.send(());
        };
        let make_service = app.into_make_service_with_connect_info::<SocketAddr>();
        let serve: std::pin::Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>> =
            match listener {
                Bound::Plain(tcp) => Box::pin(
                    axum::serve(tcp, make_service)
                        .with_graceful_shutdown(graceful)
                        .into_future(),
                ),
                Bound::Tls(tls) => {
                    use axum::serve::ListenerExt;
                    // `tap_io` gives the TLS listener axum's `ConnectInfo<SocketAddr>`.
                    Box::pin(
                        axum::serve(tls.tap_io(|_| {}), make_service)
                            .with_graceful_shutdown(graceful)
                            .into_future(),
                    )
                }
            };
        let drain_over = async move {
            if stop_seen.await.is_err() {
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(drain).await;
        };
        let result = tokio::select! {
            r = serve => r.context("server error"),
            () = drain_over => {
                tracing::warn!(drain_secs = drain.as_secs(), "drain time is over; closing the connections still open");
                Ok(())
            }
        };
        housekeeping.abort();
        sweeper.abort();
        replicas.abort();
        alerts.abort();
        reloader.abort();
        if let Some(task) = metrics {
            task.abort();
        }
        let flush_bound = drain.max(Duration::from_secs(1));
        if tokio::time::timeout(flush_bound, state.flush_on_shutdown())
            .await
            .is_err()
        {
            tracing::error!(
                "the final flush did not finish in time; unacknowledged writes were dropped"
            );
        }
        tracing::info!("stopped");
        result
    }
}

/// The main address's listener: plain TCP, or TLS over it.
enum Bound {
    Plain(TcpListener),
    Tls(crate::tls::TlsListener),
}

/// Every minute: roll the heartbeat history up; every ten minutes: prune (after a last
/// roll-up). Offline agents are the sweeper's (`access::sweep`).
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    let mut last_prune: Option<i64> = None;
    let mut last_rollup = state.now();
    loop {
        tick.tick().await;
        let now = state.now();
        if last_prune.is_none_or(|t| now - t >= 600) {
            match state.maintain().await {
                Ok(()) => {
                    last_prune = Some(now);
                    last_rollup = now;
                }
                Err(e) => tracing::warn!(error = e.status().1, "housekeeping failed; will retry"),
            }
        }
        if now - last_rollup >= crate::access::rollups::ROLLUP_EVERY_SECS {
            match state.roll_up_history().await {
                Ok(_) => last_rollup = now,
                Err(e) => {
                    tracing::warn!(error = e.status().1, "history roll-up failed; will retry")
                }
            }
        }
    }
}

/// Resolves on SIGTERM (what `systemctl stop` and `restart` send) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
