//! A real webhook receiver: an axum server on `127.0.0.1:0` in the test, recording
//! every request (signature header, body, the status it answered). It can answer 500 to
//! the first requests, to drive the sender's retries, and verifies signatures as a
//! receiver must (HMAC-SHA256 of `t.body`, constant-time, `t` near its own clock).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

#[derive(Clone, Debug)]
pub struct Hit {
    pub path: String,
    pub signature: Option<String>,
    pub body: Vec<u8>,
    pub json: Value,
    /// What the receiver answered.
    pub answered: u16,
}

#[derive(Default)]
struct Shared {
    hits: Mutex<Vec<Hit>>,
    fail_first: AtomicUsize,
    notify: tokio::sync::Notify,
}

pub struct Receiver {
    pub base: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

async fn record(
    State(s): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let failing = s
        .fail_first
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    s.hits.lock().unwrap().push(Hit {
        path: uri.path().to_string(),
        signature: headers
            .get("x-openclaw-fleet-signature")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body: body.to_vec(),
        answered: status.as_u16(),
    });
    s.notify.notify_waiters();
    status
}

impl Receiver {
    /// A receiver that answers 500 to its first `fail_first` requests, then 200.
    pub async fn start(fail_first: usize) -> Self {
        let shared = Arc::new(Shared::default());
        shared.fail_first.store(fail_first, Ordering::SeqCst);
        let app = axum::Router::new()
            .fallback(record)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { base, shared, task }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// The requests answered 200, once there are `n` of them (fails after 30 s).
    pub async fn wait_for(&self, n: usize) -> Vec<Hit> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let notified = self.shared.notify.notified();
            let ok: Vec<Hit> = self
                .hits()
                .into_iter()
                .filter(|h| h.answered == 200)
                .collect();
            if ok.len() >= n {
                return ok;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} notices, expected {n}: {:?}",
                ok.len(),
                self.hits()
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Checks a hit's signature as a receiver would: `t=<unix>,v1=<hex>`, the HMAC under
/// `secret` of `t.body`, `t` within five minutes of `now`. Returns `t`.
#[track_caller]
pub fn verify(hit: &Hit, secret: &str, now: i64) -> i64 {
    let header = hit.signature.as_deref().expect("a signature header");
    let (t, v1) = header
        .split_once(",v1=")
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?.parse::<i64>().ok()?, v)))
        .expect("t=<unix>,v1=<hex>");
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&hit.body);
    let given = hex::decode(v1).expect("hex signature");
    assert!(
        mac.verify_slice(&given).is_ok(),
        "the signature does not verify"
    );
    assert!(
        (now - t).abs() <= 300,
        "t={t} is far from now={now}: a replay"
    );
    t
}

/// The same check with a wrong secret or a changed body must fail.
pub fn verifies(hit: &Hit, secret: &str) -> bool {
    let Some((t, v1)) = hit
        .signature
        .as_deref()
        .and_then(|h| h.split_once(",v1="))
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v)))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&hit.body);
    hex::decode(v1).is_ok_and(|g| mac.verify_slice(&g).is_ok())
}
