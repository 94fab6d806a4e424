//! The agent's session with the server: the signed handshake of SPEC §2
//! (HMAC, or Ed25519 after enrolling: `enroll.rs`), with one retry after
//! correcting the clock from `server_time`, the bearer token it yields,
//! renewal from heartbeat answers, and invalidation when the server refuses
//! the token.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use openclaw_fleet_protocol::HandshakeResponse;

use super::Agent;
use crate::backoff::Backoff;
use crate::client::{ClientError, Token};

/// How far ahead of the clock a timestamp may be bumped to avoid signing
/// the same second twice (the server refuses a reused signature).
const MAX_BUMP: u64 = 5;
/// How many times a handshake refused as `replayed` is signed again, each time for a
/// later second.
const MAX_RESIGNS: u32 = 3;

pub struct Session {
    pub token: Token,
    pub generation: u64,
    pub expires_at: Instant,
}

impl Agent {
    /// The current token, handshaking first when there is none, retrying
    /// with backoff while the server is unreachable or refuses.
    pub(super) async fn session(&self) -> (Token, u64) {
        let mut guard = self.session.lock().await;
        if guard
            .as_ref()
            .is_some_and(|s| s.expires_at <= Instant::now())
        {
            tracing::info!("token expired; handshaking again");
            *guard = None;
        }
        let mut backoff = Backoff::default();
        loop {
            if let Some(s) = guard.as_ref() {
                return (s.token.clone(), s.generation);
            }
            match self.handshake().await {
                Ok(resp) => *guard = Some(self.adopt(resp).await),
                Err(e) => {
                    if e.is_transient() {
                        tracing::warn!(error = %e, "handshake failed; will retry");
                    } else {
                        tracing::error!(error = %e, "handshake refused; will retry");
                    }
                    super::pause(&mut backoff, &e).await;
                }
            }
        }
    }

    /// Forgets the session `generation` after the server refused its token;
    /// a newer session (renewed meanwhile by the other loop) is kept.
    pub(super) async fn invalidate(&self, generation: u64) {
        let mut guard = self.session.lock().await;
        if guard.as_ref().is_some_and(|s| s.generation == generation) {
            tracing::info!("token refused; handshaking again");
            *guard = None;
        }
    }

    /// Switches to a token handed out in a heartbeat answer.
    pub(super) async fn renew(&self, token: String, expires_in: u64) {
        let mut guard = self.session.lock().await;
        *guard = Some(self.new_session(Token::new(token), expires_in));
        tracing::debug!("switched to a renewed token");
    }

    /// The signed handshake, enrolling first when an Ed25519 agent has a
    /// token it has not enrolled with yet.
    pub(super) async fn handshake(&self) -> Result<HandshakeResponse, ClientError> {
        if let Some(resp) = self.enroll_if_pending().await? {
            return Ok(resp);
        }
        self.handshake_only().await
    }

    pub(super) async fn handshake_only(&self) -> Result<HandshakeResponse, ClientError> {
        self.signed(|ts| async move {
            let body = self.handshake_body(ts);
            self.client.handshake(&body).await
        })
        .await
    }

    /// Sends what `attempt(timestamp)` signs, with two bounded retries. On
    /// `timestamp_out_of_window` the clock adopts the server's `server_time`,
    /// once, and only within `max_clock_correction` of the host's clock: that
    /// answer is not authenticated, and beyond the bound nothing is signed for
    /// the server's time ([`ClientError::ClockSkew`]). On `replayed` (another
    /// run signed this second, as after a restart) it waits for the next
    /// second and signs again, up to [`MAX_RESIGNS`] times (runs restarted in
    /// quick succession may each have used a second or two).
    pub(super) async fn signed<T, F, Fut>(&self, mut attempt: F) -> Result<T, ClientError>
    where
        F: FnMut(u64) -> Fut,
        Fut: Future<Output = Result<T, ClientError>>,
    {
        let (mut corrected, mut resigned) = (false, 0);
        loop {
            let ts = self.timestamp();
            let result = attempt(ts).await;
            let Err(ClientError::Api {
                status: 401,
                code,
                server_time,
                ..
            }) = &result
            else {
                return result;
            };
            match (code.as_str(), *server_time) {
                ("timestamp_out_of_window", Some(server_time)) if !corrected => {
                    corrected = true;
                    let skew = self.clock.skew_to(server_time);
                    let bound = self.settings.max_clock_correction;
                    if skew.unsigned_abs() > bound {
                        tracing::error!(
                            skew_seconds = skew,
                            max_correction_seconds = bound,
                            "this host's clock is too far from the server's to correct"
                        );
                        return Err(ClientError::ClockSkew { skew, bound });
                    }
                    self.clock.correct_to(server_time);
                    tracing::warn!(
                        skew_seconds = skew,
                        "local clock is off from the server's; correcting and retrying"
                    );
                }
                ("replayed", _) if resigned < MAX_RESIGNS => {
                    resigned += 1;
                    tracing::info!(
                        "signature already used this second (a restart?); signing the next second"
                    );
                    self.wait_past(ts).await;
                }
                _ => return result,
            }
        }
    }

    /// Sleeps until the (corrected) clock is past second `ts`, at most 2 s.
    async fn wait_past(&self, ts: u64) {
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.clock.now_unix() <= ts && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Now, or one second past the last signed timestamp when that is now
    /// or just ahead: two handshakes in one second would sign the same text.
    fn timestamp(&self) -> u64 {
        let now = self.clock.now_unix();
        let last = self.last_signed.load(Ordering::Relaxed);
        let ts = if last >= now && last - now < MAX_BUMP {
            last + 1
        } else {
            now
        };
        self.last_signed.store(ts, Ordering::Relaxed);
        ts
    }

    /// Takes a handshake answer: the token, the interval, and its config.
    pub(super) async fn adopt(&self, resp: HandshakeResponse) -> Session {
        tracing::info!(
            agent_id = %self.settings.agent_id,
            policy = ?resp.policy.name,
            heartbeat_interval = resp.heartbeat_interval,
            config_version = resp.config_version,
            "handshake accepted"
        );
        self.set_interval(resp.heartbeat_interval);
        let session = self.new_session(Token::new(resp.token), resp.expires_in);
        if let Some(envelope) = resp.config {
            self.offer_config(envelope).await;
        }
        session
    }

    fn new_session(&self, token: Token, expires_in: u64) -> Session {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        Session {
            token,
            generation,
            expires_at: Instant::now() + Duration::from_secs(expires_in.max(1)),
        }
    }
}
