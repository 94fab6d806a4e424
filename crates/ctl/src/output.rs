//! How results are shown: aligned tables and sentences for people, JSON for
//! scripts (`--json`, one document on standard output). Progress and notes go
//! to standard error, so standard output stays parseable.

use std::time::{SystemTime, UNIX_EPOCH};

use comfy_table::{presets, ContentArrangement, Table};
use serde::Serialize;

pub fn print_json<T: Serialize>(value: &T) {
    println!("{}", serde_json::to_string_pretty(value).expect("JSON"));
}

pub fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    t
}

pub fn print_table(t: &Table) {
    for line in t.to_string().lines() {
        let line = line.strip_prefix(' ').unwrap_or(line);
        println!("{}", line.trim_end());
    }
}

/// "12s ago", "5m ago", "3h ago", "2d ago", or "never".
pub fn ago(unix: Option<i64>) -> String {
    let Some(then) = unix else {
        return "never".into();
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(then);
    let secs = (now - then).max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86399 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

pub fn or_dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}
