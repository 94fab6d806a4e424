//! Heartbeat history as rollups (docs/api.md, "Heartbeat history").
//!
//! Each heartbeat's chart metrics are kept raw for [`RAW_KEEP`]; a periodic task rolls
//! them up into 1-minute buckets, those into 5-minute ones and those into hours (sample
//! count, average and maximum of each metric per agent), and prunes each resolution to
//! its retention: [`MINUTE_KEEP`], [`FIVE_MINUTES_KEEP`], and `heartbeat_retention_days`
//! for the hours (which also caps every other). A table is pruned only below what the
//! next coarser one has rolled up, so a server that was down catches up from the raw
//! samples it still holds.
//!
//! **Slices.** A pass rolls its buckets up a slice of agent keys at a time, one short
//! transaction each, and pauses after each slice for seven times as long as it took:
//! at 100 000 agents a minute's roll-up is some twenty slices over about fifteen seconds
//! instead of one statement of 1.5 s that stalled every heartbeat behind it. Behind by
//! more than two buckets, it pauses only as long as each slice took ([`PAUSE_FACTOR`]).
//!
//! **Replicas.** Every replica runs the task on the shared database; each step locks
//! its resolution's mark and pass (see `store::rollups`) and upserts whole buckets, so
//! two replicas at once take turns (each doing the pass's next slice) and write the
//! same rows either would alone.
//!
//! **Reads.** A chart's window picks its resolution ([`resolution_for`]); what that
//! resolution has not rolled up yet (its last buckets) is read from the finer tables and
//! the raw samples, so every chart reaches the present.
//!
//! **Late samples.** A minute is rolled up [`GRACE`] after it ends (the heartbeat flush
//! runs every 250 ms on every replica, and this replica flushes first); a sample written
//! later than that (a replica that could not reach the database for longer) stays in the
//! raw samples and the last-hour chart but not in the rollups.

use std::collections::BTreeMap;

use super::AppState;
use crate::error::ApiError;
use crate::store::{MetricRow, Resolution, RollupMarks};

/// How long raw samples are kept: the finest chart (up to two hours) and an hour more.
pub const RAW_KEEP: i64 = 3 * 3600;
/// How long 1-minute buckets are kept (the charts read them for windows up to 12 hours).
pub const MINUTE_KEEP: i64 = 86400;
/// How long 5-minute buckets are kept (windows up to 7 days).
pub const FIVE_MINUTES_KEEP: i64 = 8 * 86400;
/// How long after a minute ends it is rolled up.
pub const GRACE: i64 = 30;
/// How often the server rolls up (see `startup::housekeeping`).
pub const ROLLUP_EVERY_SECS: i64 = 60;

/// Buckets rolled up per pass (a server catching up takes many passes).
fn pass_buckets(res: Resolution) -> i64 {
    match res {
        Resolution::Raw | Resolution::Minute => 10,
        Resolution::FiveMinutes => 12,
        Resolution::Hour => 6,
    }
}

/// Agent keys per slice of a one-bucket pass, from `Settings::history_rollup_slice`:
/// at the default 5000, about 30 000 source rows a slice (six raw samples a minute at a
/// 10 s interval, five minutes to five), some 80 ms of PostgreSQL's time on the
/// benchmark machine; the hour (twelve five-minutes) takes half as many.
fn slice_keys(res: Resolution, per_slice: i64) -> i64 {
    match res {
        Resolution::Hour => per_slice / 2,
        _ => per_slice,
    }
}

/// After each slice the roll-up waits this many times as long as the slice took (at
/// most [`MAX_PAUSE`]): it takes an eighth of one connection's time, and leaves the
/// database and the cores to the heartbeats between slices. A roll-up more than two
/// buckets behind (a server catching up after an outage, or a fleet whose roll-up no
/// longer fits an eighth of the time) waits only as long as the slice took, so it
/// catches up at half the time rather than falling further behind.
const PAUSE_FACTOR: u32 = 7;
const MAX_PAUSE: std::time::Duration = std::time::Duration::from_secs(2);

/// The pause after a slice that `took`, with the pass `behind` seconds short of where it
/// is rolling up to, in buckets of `step` seconds ([`PAUSE_FACTOR`]).
fn pause_after(took: std::time::Duration, behind: i64, step: i64) -> std::time::Duration {
    let factor = if behind > 2 * step { 1 } else { PAUSE_FACTOR };
    (took * factor).min(MAX_PAUSE)
}

/// The resolution a chart of the last `span` seconds reads.
pub fn resolution_for(span: i64) -> Resolution {
    match span {
        s if s <= 2 * 3600 => Resolution::Raw,
        s if s <= 12 * 3600 => Resolution::Minute,
        s if s <= 7 * 86400 => Resolution::FiveMinutes,
        _ => Resolution::Hour,
    }
}

/// The width of a chart's points: about 360 of them over `span`, a whole number of the
/// resolution's buckets (of raw samples: at least the agent's heartbeat interval).
pub fn point_width(res: Resolution, span: i64, interval: i64) -> i64 {
    let width = (span / 360).max(1);
    match res.step() {
        0 => width.max(interval),
        step => step * ((width + step - 1) / step),
    }
}

/// One chart point: the samples of a `width`-second bucket.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub ts: i64,
    pub samples: i64,
    pub avg: [Option<f64>; 4],
    pub max: [Option<f64>; 4],
}

#[derive(Default)]
struct Acc {
    samples: i64,
    sum: [f64; 4],
    weight: [i64; 4],
    max: [Option<f64>; 4],
}

/// Merges history rows (of any resolutions, covering disjoint times) into points of
/// `width` seconds, oldest first; averages are weighted by how many samples had the
/// metric.
pub fn merge(rows: &[MetricRow], width: i64) -> Vec<Point> {
    let mut buckets: BTreeMap<i64, Acc> = BTreeMap::new();
    for r in rows {
        let acc = buckets.entry(r.ts - r.ts.rem_euclid(width)).or_default();
        acc.samples += r.samples;
        for m in 0..4 {
            if let Some(a) = r.avg[m] {
                acc.sum[m] += a * r.n[m] as f64;
                acc.weight[m] += r.n[m];
            }
            if let Some(x) = r.max[m] {
                acc.max[m] = Some(acc.max[m].map_or(x, |y| y.max(x)));
            }
        }
    }
    buckets
        .into_iter()
        .map(|(ts, a)| Point {
            ts,
            samples: a.samples,
            avg: std::array::from_fn(|m| (a.weight[m] > 0).then(|| a.sum[m] / a.weight[m] as f64)),
            max: a.max,
        })
        .collect()
}

impl AppState {
    /// Rolls each resolution up as far as it is final: the minutes to [`GRACE`] before
    /// the clock, the coarser ones to where the next finer one stands, a slice at a time
    /// with a pause after each ([`PAUSE_FACTOR`]). Writes what this replica buffered
    /// first.
    pub async fn roll_up_history(&self) -> Result<RollupMarks, ApiError> {
        self.flush_heartbeats().await?;
        let mut until = self.now() - GRACE;
        for res in Resolution::ROLLUPS {
            until = loop {
                let started = std::time::Instant::now();
                let (done, moved) = self
                    .0
                    .store
                    .roll_up(
                        res,
                        until,
                        pass_buckets(res),
                        slice_keys(res, self.0.settings.history_rollup_slice),
                    )
                    .await?;
                if !moved {
                    break done;
                }
                tokio::time::sleep(pause_after(started.elapsed(), until - done, res.step())).await;
            };
        }
        Ok(self.0.store.rollup_marks().await?)
    }

    /// Prunes each resolution to its retention, never below what the next coarser one
    /// has rolled up (the hours: `heartbeat_retention_days`).
    pub async fn prune_history(&self) -> Result<(), ApiError> {
        let now = self.now();
        let all = self.0.settings.heartbeat_retention_days * 86400;
        let marks = self.0.store.rollup_marks().await?;
        let store = &self.0.store;
        store
            .prune_metrics(Resolution::Raw, (now - RAW_KEEP.min(all)).min(marks.minute))
            .await?;
        store
            .prune_metrics(
                Resolution::Minute,
                (now - MINUTE_KEEP.min(all)).min(marks.five_minutes),
            )
            .await?;
        store
            .prune_metrics(
                Resolution::FiveMinutes,
                (now - FIVE_MINUTES_KEEP.min(all)).min(marks.hour),
            )
            .await?;
        store.prune_metrics(Resolution::Hour, now - all).await?;
        Ok(())
    }

    /// One agent's history (by its key) from `since` to the clock, in points of `width`
    /// seconds read at `res`: the rollup's final buckets, then the finer tables' and the
    /// raw samples for the time it has not rolled up yet.
    pub(super) async fn history_points(
        &self,
        key: i64,
        res: Resolution,
        since: i64,
        width: i64,
    ) -> Result<Vec<Point>, ApiError> {
        let marks = self.0.store.rollup_marks().await?;
        let chain = [
            Resolution::Hour,
            Resolution::FiveMinutes,
            Resolution::Minute,
            Resolution::Raw,
        ];
        let start = chain.iter().position(|r| *r == res).unwrap_or(3);
        let mut from = since - since.rem_euclid(res.step().max(1));
        let mut rows = Vec::new();
        for r in &chain[start..] {
            let to = marks.of(*r).unwrap_or(self.now() + 1);
            if to > from {
                rows.extend(self.0.store.metric_rows(key, *r, from, to).await?);
                from = to;
            }
        }
        Ok(merge(&rows, width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(ts: i64, samples: i64, avg: f64, max: f64) -> MetricRow {
        MetricRow {
            ts,
            samples,
            avg: [Some(avg), None, Some(avg), None],
            max: [Some(max), None, Some(max), None],
            n: [samples, 0, samples - 1, 0],
        }
    }

    #[test]
    fn merge_weights_averages_by_samples_and_keeps_the_maximum() {
        let rows = [
            row(0, 1, 10.0, 10.0),
            row(60, 3, 30.0, 50.0),
            row(300, 2, 5.0, 6.0),
        ];
        let points = merge(&rows, 300);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].ts, 0);
        assert_eq!(points[0].samples, 4);
        assert_eq!(points[0].avg, [Some(25.0), None, Some(30.0), None]);
        assert_eq!(points[0].max[0], Some(50.0));
        assert_eq!(points[1].ts, 300);
        assert_eq!(points[1].avg[0], Some(5.0));
    }

    #[test]
    fn a_roll_up_behind_pauses_less_and_no_pause_passes_the_cap() {
        use std::time::Duration;
        let ms = Duration::from_millis;
        // In step: seven times the slice's time, so it takes an eighth of the time.
        assert_eq!(pause_after(ms(80), 60, 60), ms(560));
        assert_eq!(pause_after(ms(80), 120, 60), ms(560));
        // More than two buckets behind: as long as the slice took.
        assert_eq!(pause_after(ms(80), 121, 60), ms(80));
        assert_eq!(pause_after(ms(80), 86_400, 3600), ms(80));
        // Never more than MAX_PAUSE, behind or not.
        assert_eq!(pause_after(ms(400), 60, 60), MAX_PAUSE);
        assert_eq!(pause_after(Duration::from_secs(5), 86_400, 60), MAX_PAUSE);
    }

    #[test]
    fn windows_pick_their_resolution_and_point_width() {
        assert_eq!(resolution_for(3600), Resolution::Raw);
        assert_eq!(resolution_for(6 * 3600), Resolution::Minute);
        assert_eq!(resolution_for(86400), Resolution::FiveMinutes);
        assert_eq!(resolution_for(30 * 86400), Resolution::Hour);
        assert_eq!(point_width(Resolution::Raw, 3600, 30), 30);
        assert_eq!(point_width(Resolution::FiveMinutes, 86400, 30), 300);
        assert_eq!(point_width(Resolution::Hour, 30 * 86400, 30), 7200);
        assert_eq!(point_width(Resolution::Minute, 6 * 3600, 30), 60);
    }
}
