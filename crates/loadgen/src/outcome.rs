//! What became of one request, by class, for the open-loop and storm reports.

use std::fmt;

/// A request's result class.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    /// 429: the server asked the client to slow down.
    Limited,
    Client4xx,
    Server5xx,
    Timeout,
    /// Connection refused or reset, or a broken answer.
    Transport,
}

impl Outcome {
    /// Classifies a response; the body is read so the connection goes back to the pool.
    pub async fn of(r: reqwest::Result<reqwest::Response>) -> Outcome {
        match r {
            Ok(r) => {
                let status = r.status();
                let read = r.bytes().await;
                match status.as_u16() {
                    200..=299 if read.is_ok() => Outcome::Ok,
                    200..=299 => Outcome::Transport,
                    429 => Outcome::Limited,
                    400..=499 => Outcome::Client4xx,
                    _ => Outcome::Server5xx,
                }
            }
            Err(e) if e.is_timeout() => Outcome::Timeout,
            Err(_) => Outcome::Transport,
        }
    }
}

/// Errors counted by class.
#[derive(Default, Clone, Copy)]
pub struct Errors {
    pub limited: u64,
    pub client_4xx: u64,
    pub server_5xx: u64,
    pub timeout: u64,
    pub transport: u64,
}

impl Errors {
    pub fn add(&mut self, o: Outcome) {
        match o {
            Outcome::Ok => {}
            Outcome::Limited => self.limited += 1,
            Outcome::Client4xx => self.client_4xx += 1,
            Outcome::Server5xx => self.server_5xx += 1,
            Outcome::Timeout => self.timeout += 1,
            Outcome::Transport => self.transport += 1,
        }
    }

    pub fn merge(&mut self, o: &Errors) {
        self.limited += o.limited;
        self.client_4xx += o.client_4xx;
        self.server_5xx += o.server_5xx;
        self.timeout += o.timeout;
        self.transport += o.transport;
    }

    pub fn total(&self) -> u64 {
        self.limited + self.client_4xx + self.server_5xx + self.timeout + self.transport
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "5xx {} 4xx {} 429 {} timeout {} conn {}",
            self.server_5xx, self.client_4xx, self.limited, self.timeout, self.transport
        )
    }
}

/// Exact percentile of sorted microsecond samples, in milliseconds.
pub fn percentile_ms(sorted_us: &[u32], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let idx = ((p / 100.0) * (sorted_us.len() - 1) as f64).round() as usize;
    f64::from(sorted_us[idx]) / 1000.0
}
