//! Group commit for accepted handshakes (heartbeats are telemetry: see `latest`). They
//! queue here; one task drains whatever is waiting into a single transaction and then answers every
//! caller. Under light load a batch is one request (no added latency); under heavy load
//! batches grow and the database does a few large transactions instead of many small
//! ones. Nothing is acknowledged before it is committed. At shutdown,
//! [`Writer::flush_and_close`] commits whatever is queued and refuses anything later.

use tokio::sync::{mpsc, oneshot};

use crate::error::{ApiError, ApiResult};
use crate::store::{HandshakeAccept, HandshakeOutcome, SharedStore};

const MAX_BATCH: usize = 512;

enum Op {
    Handshake(HandshakeAccept, oneshot::Sender<Option<HandshakeOutcome>>),
    /// Close the queue, commit what is in it, then answer.
    Close(oneshot::Sender<()>),
}

#[derive(Clone)]
pub struct Writer(mpsc::Sender<Op>);

impl Writer {
    pub fn spawn(store: SharedStore) -> Self {
        let (tx, rx) = mpsc::channel(8 * MAX_BATCH);
        tokio::spawn(run(store, rx));
        Self(tx)
    }

    /// Records a used signature and the new token (see `AgentStore::write_batch`).
    pub async fn handshake(&self, accept: HandshakeAccept) -> ApiResult<HandshakeOutcome> {
        let (tx, rx) = oneshot::channel();
        self.0
            .send(Op::Handshake(accept, tx))
            .await
            .map_err(|_| ApiError::Unavailable)?;
        rx.await.ok().flatten().ok_or(ApiError::Unavailable)
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

async fn run(store: SharedStore, mut rx: mpsc::Receiver<Op>) {
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
        let (mut shakes, mut shake_tx) = (vec![], vec![]);
        for op in ops {
            match op {
                Op::Handshake(h, tx) => {
                    shakes.push(h);
                    shake_tx.push(tx);
                }
                Op::Close(tx) => {
                    rx.close();
                    closers.push(tx);
                }
            }
        }
        if shakes.is_empty() {
            continue;
        }
        let _timer = crate::telemetry::BatchTimer::start(shakes.len());
        match store.write_batch(&shakes).await {
            Ok(fresh) => {
                for (tx, f) in shake_tx.into_iter().zip(fresh) {
                    let _ = tx.send(Some(f));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, batch = shakes.len(), "batched write failed");
                for tx in shake_tx {
                    let _ = tx.send(None);
                }
            }
        }
    }
    for tx in closers {
        let _ = tx.send(());
    }
}
