//! Group commit of handshakes (heartbeats are telemetry: see `latest`). A handshake whose
//! body and time window passed queues here; one task drains whatever is waiting into a
//! single transaction (`BatchStore::write_batch`), which reads every named agent's
//! credentials in one statement, verifies every signature there (`Public::verify`: a
//! throwaway credential for an unknown agent, so known and unknown agents take the same
//! path), and records the accepted ones under their rows' locks; then it answers every
//! caller. Under light load a batch is one
//! request (no added latency); under heavy load batches grow and the database does a few
//! large transactions instead of many small ones plus two reads per handshake. Nothing is
//! acknowledged before it is committed. At shutdown, [`Writer::flush_and_close`] commits
//! whatever is queued and refuses anything later.

use std::sync::Weak;

use openclaw_fleet_protocol::handshake::HandshakeRequest;
use tokio::sync::{mpsc, oneshot};

use super::{AppState, Inner};
use crate::error::{ApiError, ApiResult};
use crate::store::{HandshakeAttempt, HandshakeOutcome};

const MAX_BATCH: usize = 512;

type Answer = oneshot::Sender<Option<ApiResult<HandshakeOutcome>>>;

enum Op {
    Handshake(Box<(HandshakeRequest, HandshakeAttempt)>, Answer),
    /// Close the queue, commit what is in it, then answer.
    Close(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Writer(mpsc::Sender<Op>);

/// The receiving end of the queue, for [`run`].
pub struct Queue(mpsc::Receiver<Op>);

impl Writer {
    pub fn channel() -> (Self, Queue) {
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        (Self(tx), Queue(rx))
    }

    /// Verifies `req` and, if valid and unused, records its signature and the new token
    /// of `attempt` (see `BatchStore::write_batch`).
    pub async fn handshake(
        &self,
        req: HandshakeRequest,
        attempt: HandshakeAttempt,
    ) -> ApiResult<HandshakeOutcome> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(Op::Handshake(Box::new((req, attempt)), tx))
            .await
            .map_err(|_| ApiError::Unavailable)?;
        rx.await.ok().flatten().ok_or(ApiError::Unavailable)?
    }

    /// Commits everything queued so far, then closes the queue: later writes are
    /// refused (503) instead of acknowledged. Returns once the last batch is committed
    /// (or failed, in which case its callers were told so). A second call returns at once.
    pub async fn flush_and_close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.0.send(Op::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Drains the queue until it is closed or the server's state is gone.
pub(super) async fn run(state: Weak<Inner>, Queue(mut rx): Queue) {
    // Answered once the queue is closed and empty, i.e. after the last commit.
    let mut closers = Vec::new();
    while let Some(first) = rx.recv().await {
        let mut ops = vec![first];
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        let (mut reqs, mut attempts, mut answers) = (vec![], vec![], vec![]);
        for op in ops {
            match op {
                Op::Handshake(shake, tx) => {
                    let (req, attempt) = *shake;
                    reqs.push(req);
                    attempts.push(attempt);
                    answers.push(tx);
                }
                Op::Close(tx) => {
                    rx.close();
                    closers.push(tx);
                }
            }
        }
        if attempts.is_empty() {
            continue;
        }
        let Some(inner) = state.upgrade() else {
            break;
        };
        let public = AppState(inner).public();
        let _timer = crate::telemetry::BatchTimer::start(attempts.len());
        // A credential that cannot be opened fails its own handshake, not the batch.
        let mut errors: Vec<Option<ApiError>> = (0..attempts.len()).map(|_| None).collect();
        let mut verify = |i: usize, creds: Option<&crate::store::AgentCredentials>| match public
            .verify(creds, &attempts[i].agent_id, &reqs[i])
        {
            Ok(valid) => valid,
            Err(e) => {
                errors[i] = Some(e);
                false
            }
        };
        let written = public.0 .0.store.write_batch(&attempts, &mut verify).await;
        match written {
            Ok(outcomes) => {
                for ((tx, outcome), error) in answers.into_iter().zip(outcomes).zip(errors) {
                    let _ = tx.send(Some(match error {
                        Some(e) => Err(e),
                        None => Ok(outcome),
                    }));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = attempts.len(), "batched write failed");
                for tx in answers {
                    let _ = tx.send(None);
                }
            }
        }
    }
    for tx in closers {
        let _ = tx.send(());
    }
}
