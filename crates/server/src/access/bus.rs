//! What one replica tells the others. Every replica delivers its own notices in process
//! (the dashboard's event streams, config long-polls, the token cache). On PostgreSQL it
//! also publishes them with `NOTIFY` and listens for the other replicas' with sqlx's
//! `PgListener`, so a heartbeat through replica A (once A flushed it: see `latest`) shows
//! on a dashboard connected to B, a
//! config saved through A wakes an agent long-polling B, and a rotation through A drops
//! B's cached token at once (the change log stays the bound when a notice is lost: see
//! `cache`).
//!
//! A payload carries ids and a one-letter kind only, never a secret: NOTIFY payloads are
//! visible to every session of the database and may be logged. Its first line is the
//! sending replica's random id (a replica skips its own notices), then one notice a line:
//! `c <owner> <agent>[,<agent>…]` agents changed (a flush or a sweep sends one line per
//! owner and up to [`IDS_PER_LINE`] agents), `d <owner> <agent>` agent deleted, `f <owner>
//! <fleet>` fleet changed, `g <owner> <fleet>` fleet deleted, `i - <agent>` the agent's row
//! or tokens changed (cached copies are dropped and its long-polls re-read); for alerts
//! (see `alerts`): `h <owner> <agent> <fleet|-> <facts>` a heartbeat's facts, `p <owner>
//! <agent>` a plaintext secret seen, `r <owner> rules` the owner's alert rules changed.
//!
//! When the listener's connection is lost, notices sent meanwhile are gone; once it
//! listens again the replica re-reads instead: it clears the whole token cache, wakes
//! every long-poll (each re-reads its agent's config and token) and tells every event
//! stream to `resync`. The listener ends when the server drains (see `drain`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::PgPool;
use tokio::sync::mpsc;

use super::AppState;

/// The NOTIFY channel every replica listens on.
pub const CHANNEL: &str = "openclaw_fleet";
/// The config-save channel's "every agent" wake-up (no agent id looks like it).
pub const WAKE_ALL: &str = "*";
/// PostgreSQL refuses payloads of 8000 bytes or more; a batch stays below this.
const MAX_PAYLOAD: usize = 7000;
/// Most agent ids in one `c` line (about 37 bytes each: a line stays far below
/// [`MAX_PAYLOAD`]).
const IDS_PER_LINE: usize = 64;
/// How long the listener waits before connecting again after a failure.
const RECONNECT_DELAY: Duration = Duration::from_secs(1);

/// One notice, as it travels between replicas.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notice {
    kind: char,
    owner: String,
    /// One id (`c`: one or more, comma-separated).
    id: String,
    /// `h` only: the fleet and the facts, space-separated.
    extra: String,
}

impl Notice {
    /// The notice's line in a payload.
    fn line(&self) -> String {
        let mut line = format!("{} {} {}", self.kind, self.owner, self.id);
        if !self.extra.is_empty() {
            line.push(' ');
            line.push_str(&self.extra);
        }
        line
    }
}

/// This replica's side of the bus.
pub(super) struct Bus {
    /// This replica's random id, the first line of its payloads.
    origin: String,
    /// Notices to publish (PostgreSQL only).
    outbox: Option<mpsc::Sender<Notice>>,
    pool: Option<PgPool>,
    /// Whether the listener currently listens (no notice can be missed).
    live: AtomicBool,
}

impl Bus {
    /// A bus over `pool` (PostgreSQL), or the in-process path only (`None`). Spawns the
    /// publisher; the listener starts with [`AppState::listen_to_replicas`].
    pub fn new(pool: Option<PgPool>) -> Self {
        let origin = uuid::Uuid::new_v4().simple().to_string();
        let outbox = pool.clone().map(|pool| {
            let (tx, rx) = mpsc::channel(8192);
            tokio::spawn(publish(pool, origin.clone(), rx));
            tx
        });
        Self {
            origin,
            outbox,
            pool,
            live: AtomicBool::new(false),
        }
    }

    pub fn send(&self, kind: char, owner: &str, id: &str) {
        if let Some(outbox) = &self.outbox {
            let notice = Notice {
                kind,
                owner: if owner.is_empty() { "-" } else { owner }.into(),
                id: id.into(),
                extra: String::new(),
            };
            // A full outbox drops the notice: the change log (see `cache`) and the re-read
            // still bound how late another replica sees the change.
            if outbox.try_send(notice).is_err() {
                tracing::debug!("replica notice dropped: outbox full");
            }
        }
    }

    /// Many of an owner's agents changed: one `c` line per [`IDS_PER_LINE`] of them.
    pub fn send_changes(&self, owner: &str, ids: &[&str]) {
        if self.outbox.is_some() {
            for chunk in ids.chunks(IDS_PER_LINE) {
                self.send('c', owner, &chunk.join(","));
            }
        }
    }

    /// A heartbeat's alert facts for the other replicas' evaluators (see `alerts`).
    pub fn send_alert_heartbeat(&self, owner: &str, agent: &str, fleet: &str, facts: &str) {
        if let Some(outbox) = &self.outbox {
            let notice = Notice {
                kind: 'h',
                owner: owner.into(),
                id: agent.into(),
                extra: format!("{fleet} {facts}"),
            };
            if outbox.try_send(notice).is_err() {
                tracing::debug!("replica notice dropped: outbox full");
            }
        }
    }

    /// Whether notices from other replicas currently arrive (always false on SQLite).
    pub fn live(&self) -> bool {
        self.live.load(Ordering::Relaxed)
    }
}

/// Sends what is queued, batched into as few NOTIFYs as fit.
async fn publish(pool: PgPool, origin: String, mut rx: mpsc::Receiver<Notice>) {
    let mut carried: Option<String> = None;
    loop {
        let first = match carried.take() {
            Some(line) => line,
            None => match rx.recv().await {
                Some(n) => n.line(),
                None => return,
            },
        };
        let mut payload = format!("{origin}\n{first}");
        while let Ok(n) = rx.try_recv() {
            let line = n.line();
            if payload.len() + 1 + line.len() > MAX_PAYLOAD {
                carried = Some(line);
                break;
            }
            payload.push('\n');
            payload.push_str(&line);
        }
        if let Err(e) = sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&pool)
            .await
        {
            tracing::warn!(error = %e, "could not notify the other replicas");
        }
    }
}

/// The notices of a payload, or nothing when it is this replica's own or malformed.
fn parse(payload: &str, origin: &str) -> Vec<Notice> {
    let mut lines = payload.lines();
    if lines.next().is_none_or(|o| o == origin) {
        return Vec::new();
    }
    lines
        .filter_map(|line| {
            let mut parts = line.split(' ');
            let kind = parts.next()?;
            let (owner, id) = (parts.next()?, parts.next()?);
            let kind = match kind {
                "c" | "d" | "f" | "g" | "i" | "h" | "p" | "r" => kind.chars().next()?,
                _ => return None,
            };
            let ok = |s: &str| !s.is_empty() && s.len() <= 64 && s != WAKE_ALL && !s.contains(',');
            let ids_ok = if kind == 'c' {
                id.split(',').all(ok)
            } else {
                ok(id)
            };
            let extra = if kind == 'h' {
                let (fleet, facts) = (parts.next()?, parts.next()?);
                if !ok(fleet) || !ok(facts) {
                    return None;
                }
                format!("{fleet} {facts}")
            } else {
                String::new()
            };
            (parts.next().is_none() && ok(owner) && ids_ok).then(|| Notice {
                kind,
                owner: owner.into(),
                id: id.into(),
                extra,
            })
        })
        .collect()
}

impl AppState {
    /// Listens to the other replicas until the server drains (PostgreSQL; returns at once
    /// on SQLite). Reconnects after a lost connection and then re-reads (module docs).
    pub async fn listen_to_replicas(&self) {
        let Some(pool) = self.0.bus.pool.clone() else {
            return;
        };
        let mut first = true;
        loop {
            let connected = tokio::select! {
                _ = self.until_draining() => return,
                l = connect(&pool) => l,
            };
            let mut listener = match connected {
                Ok(l) => l,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot listen to the other replicas; retrying");
                    tokio::select! {
                        _ = self.until_draining() => return,
                        _ = tokio::time::sleep(RECONNECT_DELAY) => continue,
                    }
                }
            };
            self.0.bus.live.store(true, Ordering::Relaxed);
            if !first {
                tracing::info!("listening to the other replicas again; re-reading");
                self.resync_after_gap();
            }
            first = false;
            loop {
                let received = tokio::select! {
                    _ = self.until_draining() => {
                        self.0.bus.live.store(false, Ordering::Relaxed);
                        return;
                    }
                    r = listener.try_recv() => r,
                };
                match received {
                    Ok(Some(n)) => {
                        for notice in parse(n.payload(), &self.0.bus.origin) {
                            self.deliver(&notice);
                        }
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            self.0.bus.live.store(false, Ordering::Relaxed);
            tracing::warn!("lost the connection that listens to the other replicas");
        }
    }

    /// Acts on another replica's notice in this one.
    fn deliver(&self, n: &Notice) {
        match n.kind {
            'c' => self.0.streams.push(&n.owner, n.id.split(','), false, false),
            'd' => {
                self.wake_agent(&n.id);
                self.notify_local(&n.owner, &n.id, true, false);
            }
            'f' => self.notify_local(&n.owner, &n.id, false, true),
            'g' => self.notify_local(&n.owner, &n.id, true, true),
            'h' => {
                if let Some((fleet, facts)) = n.extra.split_once(' ') {
                    self.alert_remote_heartbeat(&n.owner, &n.id, fleet, facts);
                }
            }
            'p' => self.alert_plaintext(&n.owner, &n.id, true),
            'r' => {
                let (state, owner) = (self.clone(), n.owner.clone());
                tokio::spawn(async move {
                    if let Err(e) = state.reload_alert_rules(&owner).await {
                        tracing::warn!(error = e.status().1, "cannot reload alert rules");
                    }
                });
            }
            _ => self.wake_agent(&n.id),
        }
    }

    /// Drops what this replica cached of an agent and wakes its long-polls.
    fn wake_agent(&self, agent_id: &str) {
        self.0.cache.invalidate(agent_id);
        let _ = self.0.config_saves.send(agent_id.to_string());
    }

    /// After notices may have been missed: forget every cached token and row, wake every
    /// long-poll and tell every event stream to reload.
    fn resync_after_gap(&self) {
        self.0.cache.clear();
        let _ = self.0.config_saves.send(WAKE_ALL.to_string());
        self.0.streams.resync_all();
    }

    /// An agent's row, tokens or config changed here: drop cached copies and wake its
    /// long-polls on every replica.
    pub(crate) fn agent_touched(&self, agent_id: &str) {
        self.wake_agent(agent_id);
        self.0.bus.send('i', "", agent_id);
    }

    /// Whether another replica's save reaches this one's long-polls at once.
    pub fn replicas_live(&self) -> bool {
        self.0.bus.live()
    }
}

async fn connect(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_other_replicas_notices_only() {
        let p = "aa\nc o1 a1\ni - a2\nx o a\nc a\nc o a b\nc o *\nh o a f e:1:\nh o a f\n\
                 h o a f e: x\nc o a1,a2\nc o a1,,a2\nc o a1,*\ni - a1,a2";
        let got = parse(p, "bb");
        assert_eq!(got.len(), 4);
        assert_eq!(got[1].id, "a2");
        assert_eq!(got[2].extra, "f e:1:");
        assert_eq!(got[3].id, "a1,a2");
        assert!(parse(p, "aa").is_empty());
        assert!(parse("", "aa").is_empty());
    }
}
