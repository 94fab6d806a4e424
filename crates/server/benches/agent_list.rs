//! The dashboard's agent list at 100 000 agents (issue 10 item 4): p50/p95 per page of
//! `GET /api/agents` for each filter × search × sort, through the real server over HTTP,
//! against two baselines measured in the same run: an authenticated no-op (`GET /api/me`)
//! and the older offset paging at the same depth (`page=`, with its exact total).
//! Prints the database's plan for each combination too. Not a test.
//!
//!   cargo bench -p openclaw-fleet --bench agent_list -- [sqlite|postgres] [AGENTS] [REQUESTS]
//!
//! Seeding: the agents are written with direct SQL in batches of 1000 (100 000 API calls
//! would each create a secret and commit alone: minutes, and not what is measured). The
//! rows are what the server writes (name_fold, status, last_seen, fleet), with a mix of
//! statuses (70 % healthy, 10 % idle, 5 % error, 10 % offline, 5 % pending) over 10 fleets
//! (and 10 % in none), a one-hour heartbeat interval so the mix holds during the run,
//! and a dummy sealed secret (no request here opens it). A second owner holds another
//! 10 % so every query filters on the owner. PostgreSQL runs ANALYZE first (autovacuum
//! would); SQLite runs none (the server does not either).
//!
//! With `OPENCLAW_FLEET_BENCH_SERVE=SECONDS`, the server stays up that long afterwards and
//! prints its URL and the owner's login, for the browser measure
//! (`e2e/bench/agent-list-render.mjs`).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use openclaw_fleet::store::{AgentListing, KeyValue, SortKey};
use openclaw_fleet::{Server, Settings};
use serde_json::{json, Value};
use sqlx::{Connection, Executor, QueryBuilder};

mod support;

const PASSWORD: &str = "bench password long enough";
const FLEETS: usize = 10;
const PREFIXES: [&str; 5] = ["web", "db", "cache", "gpu", "edge"];

/// Inserts `rows` in transactions of 1000 on one connection of backend `$db`.
macro_rules! seed {
    ($c:expr, $db:ty, $rows:expr) => {{
        for chunk in $rows.chunks(1000) {
            let mut tx = $c.begin().await?;
            let mut q = QueryBuilder::<$db>::new(
                "INSERT INTO agents (id, owner_id, fleet_id, name, name_fold, policy_profile, \
                 heartbeat_interval, secret_sealed, status, last_seen, seen_key, metrics, created_at) ",
            );
            q.push_values(chunk, |mut b, r: &Row| {
                b.push_bind(r.id.clone())
                    .push_bind(r.owner.clone())
                    .push_bind(r.fleet.clone())
                    .push_bind(r.name.clone())
                    .push_bind(r.name.to_lowercase())
                    .push_bind("dev".to_string())
                    .push_bind(3600_i64)
                    .push_bind("ocf1.bench-not-a-real-sealed-secret".to_string())
                    .push_bind(r.status.map(str::to_string))
                    .push_bind(r.last_seen)
                    .push_bind(r.last_seen.unwrap_or(0))
                    .push_bind(
                        r.last_seen
                            .map(|_| r#"{"cpu_usage":12.5,"memory_usage":40.1}"#.to_string()),
                    )
                    .push_bind(r.created_at);
            });
            q.build().execute(&mut *tx).await?;
            tx.commit().await?;
        }
    }};
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = support::args();
    let backend = args.first().map_or("sqlite", String::as_str).to_string();
    let agents: usize = support::arg(&args, 1, 100_000);
    let requests: usize = support::arg(&args, 2, 100);
    let dir = tempfile::tempdir()?;
    let pg = match backend.as_str() {
        "sqlite" => None,
        "postgres" => Some(support::PgDatabase::create("ocf_bench_list").await?),
        other => anyhow::bail!("backend must be sqlite or postgres, not {other}"),
    };
    let url = pg.as_ref().map(|p| p.url.clone());
    let settings = Settings {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        data_dir: dir.path().join("data"),
        database_url: url.clone(),
        ..Settings::default()
    };
    let server = Server::build(settings, None).await?;
    let base = format!("http://{}", server.local_addr());
    let state = server.state();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.run(async {
        let _ = stopped.await;
    }));

    let http = reqwest::Client::new();
    let email = "bench@example.com";
    post(
        &http,
        &base,
        "/api/auth/register",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await?;
    let login = post(
        &http,
        &base,
        "/api/auth/login",
        None,
        json!({"email": email, "password": PASSWORD}),
    )
    .await?;
    let token = login["token"].as_str().unwrap_or_default().to_string();
    let owner = login["user"]["id"].as_str().unwrap_or_default().to_string();
    state
        .public()
        .register("other@example.com", PASSWORD, true)
        .await
        .map_err(|e| anyhow::anyhow!("{:?}", e.status()))?;
    let other_login = post(
        &http,
        &base,
        "/api/auth/login",
        None,
        json!({"email": "other@example.com", "password": PASSWORD}),
    )
    .await?;
    let other = other_login["user"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut fleets = Vec::new();
    for i in 0..FLEETS {
        let f = post(
            &http,
            &base,
            "/api/fleets",
            Some(&token),
            json!({"name": format!("fleet-{i}")}),
        )
        .await?;
        fleets.push(f["id"].as_str().unwrap_or_default().to_string());
    }

    let started = Instant::now();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs() as i64;
    let rows = seed_rows(&owner, &other, &fleets, agents, now);
    match &url {
        None => {
            let path = dir.path().join("data").join("fleet.db");
            let mut c =
                sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display())).await?;
            seed!(c, sqlx::Sqlite, rows);
        }
        Some(u) => {
            let mut c = sqlx::PgConnection::connect(u).await?;
            seed!(c, sqlx::Postgres, rows);
            c.execute("ANALYZE agents").await?;
        }
    }
    println!(
        "{backend}: seeded {} agents ({} of the measured owner) in {:.1} s",
        rows.len(),
        agents,
        started.elapsed().as_secs_f64()
    );

    // (label, query, sorts); a search is sorted by name.
    let all_sorts = [
        "created",
        "-created",
        "name",
        "-name",
        "-last_seen",
        "last_seen",
    ];
    let name_sorts = ["name", "-name"];
    let f0 = fleets[0].clone();
    let combos: Vec<(String, String, &[&str])> = vec![
        ("all".into(), String::new(), &all_sorts[..]),
        (
            "status=healthy".into(),
            "status=healthy".into(),
            &all_sorts[..],
        ),
        ("status=error".into(), "status=error".into(), &all_sorts[..]),
        (
            "status=offline".into(),
            "status=offline".into(),
            &all_sorts[..],
        ),
        (
            "status=pending".into(),
            "status=pending".into(),
            &all_sorts[..],
        ),
        ("fleet".into(), format!("fleet_id={f0}"), &all_sorts[..]),
        (
            "fleet+status=error".into(),
            format!("fleet_id={f0}&status=error"),
            &all_sorts[..],
        ),
        (
            "fleet+status=healthy".into(),
            format!("fleet_id={f0}&status=healthy"),
            &all_sorts[..],
        ),
        ("q=web".into(), "q=web".into(), &name_sorts[..]),
        ("q=web-0004".into(), "q=web-0004".into(), &name_sorts[..]),
        (
            "q=web+status=idle".into(),
            "q=web&status=idle".into(),
            &name_sorts[..],
        ),
        (
            "q=gpu+fleet".into(),
            format!("q=gpu&fleet_id={f0}"),
            &name_sorts[..],
        ),
        (
            "q=web+fleet+status=error".into(),
            format!("q=web&fleet_id={f0}&status=error"),
            &name_sorts[..],
        ),
    ];

    let noop = measure(&http, &base, &token, requests, |_| "/api/me".to_string()).await?;
    println!(
        "baseline GET /api/me: p50 {:.2} ms, p95 {:.2} ms",
        noop.0, noop.1
    );
    // What the Agents page asks for beside the list: the fleets with their agent counts.
    let fleets_list = measure(&http, &base, &token, requests, |_| {
        "/api/fleets".to_string()
    })
    .await?;
    println!(
        "GET /api/fleets ({FLEETS} fleets): p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        fleets_list.0, fleets_list.1, fleets_list.2
    );
    let depth = 20; // pages followed per walk
    let offset_base = measure(&http, &base, &token, requests, |i| {
        format!("/api/agents?page={}&limit=50", 1 + i % depth)
    })
    .await?;
    println!(
        "baseline offset paging (page=1..{depth}, exact total): p50 {:.2} ms, p95 {:.2} ms",
        offset_base.0, offset_base.1
    );
    println!();
    println!(
        "{:<22} {:<11} {:>8} {:>8} {:>8}  {:>9}  plan",
        "filter", "sort", "p50 ms", "p95 ms", "max ms", "p95/no-op"
    );
    let mut worst: (f64, String) = (0.0, String::new());
    for (label, query, sorts) in &combos {
        for sort in sorts.iter() {
            let q = if query.is_empty() {
                format!("sort={sort}")
            } else {
                format!("{query}&sort={sort}")
            };
            let (p50, p95, max) = walk_pages(&http, &base, &token, &q, requests, depth).await?;
            let plan = plan_summary(&state, &owner, query, sort, now).await;
            println!(
                "{label:<22} {sort:<11} {p50:>8.2} {p95:>8.2} {max:>8.2}  {:>8.1}x  {plan}",
                p95 / noop.1
            );
            if p95 > worst.0 {
                worst = (p95, format!("{label} {sort}"));
            }
        }
    }
    println!();
    println!(
        "worst p95: {:.2} ms ({}); target 20 ms a page",
        worst.0, worst.1
    );

    if let Some(secs) = std::env::var("OPENCLAW_FLEET_BENCH_SERVE")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        println!("SERVING {base} {email} {PASSWORD} {f0}");
        // Until the browser measure closes our standard input, or the time is up.
        let (closed, eof) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            use std::io::Read;
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            let _ = closed.send(());
        });
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(secs)) => {}
            _ = eof => {}
        }
    }
    let _ = stop.send(());
    let _ = task.await;
    if let Some(pg) = pg {
        pg.drop().await?;
    }
    Ok(())
}

async fn post(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> anyhow::Result<Value> {
    let mut rb = http.post(format!("{base}{path}")).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    let r = rb.send().await?;
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    anyhow::ensure!(status.is_success(), "{path}: {status} {v}");
    Ok(v)
}

/// One agent row as the server would hold it.
struct Row {
    id: String,
    owner: String,
    fleet: Option<String>,
    name: String,
    status: Option<&'static str>,
    last_seen: Option<i64>,
    created_at: i64,
}

fn seed_rows(owner: &str, other: &str, fleets: &[String], agents: usize, now: i64) -> Vec<Row> {
    let mut out = Vec::with_capacity(agents + agents / 10);
    for i in 0..agents + agents / 10 {
        let mine = i < agents;
        let (status, last_seen) = match i % 20 {
            0..=13 => (Some("healthy"), Some(now - (i % 20) as i64)),
            14 | 15 => (Some("idle"), Some(now - 5)),
            16 => (Some("error"), Some(now - 7)),
            17 | 18 => (Some("offline"), Some(now - 7200 - (i % 1000) as i64)),
            _ => (None, None),
        };
        out.push(Row {
            id: uuid::Uuid::new_v4().to_string(),
            owner: if mine { owner.into() } else { other.into() },
            fleet: (mine && i % 10 != 9).then(|| fleets[(i / 7) % fleets.len()].clone()),
            name: format!("{}-{:06}", PREFIXES[i % PREFIXES.len()], i / PREFIXES.len()),
            status,
            last_seen,
            created_at: now - 86400 + (i / 3) as i64,
        });
    }
    out
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.95), at(1.0))
}

async fn get(http: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<(f64, Value)> {
    let t = Instant::now();
    let r = http.get(url).bearer_auth(token).send().await?;
    let status = r.status();
    let body: Value = r.json().await?;
    let ms = t.elapsed().as_secs_f64() * 1000.0;
    anyhow::ensure!(status.is_success(), "{url}: {status} {body}");
    Ok((ms, body))
}

async fn measure(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    n: usize,
    path: impl Fn(usize) -> String,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        v.push(get(http, &format!("{base}{}", path(i)), token).await?.0);
    }
    Ok(percentiles(v))
}

/// `n` pages of 50: walks of up to `depth` pages following `next_cursor`, from the first.
async fn walk_pages(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    n: usize,
    depth: usize,
) -> anyhow::Result<(f64, f64, f64)> {
    let mut v = Vec::with_capacity(n);
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    while v.len() < n {
        let url = match &cursor {
            Some(c) => format!("{base}/api/agents?{query}&limit=50&cursor={c}"),
            None => format!("{base}/api/agents?{query}&limit=50"),
        };
        let (ms, body) = get(http, &url, token).await?;
        v.push(ms);
        pages += 1;
        cursor = body["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() || pages >= depth {
            cursor = None;
            pages = 0;
        }
    }
    Ok(percentiles(v))
}

/// The index the database picks for a combination's second page (a keyset page).
async fn plan_summary(
    state: &openclaw_fleet::access::AppState,
    owner: &str,
    query: &str,
    sort: &str,
    now: i64,
) -> String {
    let param = |k: &str| {
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix(&format!("{k}=")).map(str::to_string))
    };
    let (descending, key) = match sort.strip_prefix('-') {
        Some(k) => (true, k),
        None => (false, sort),
    };
    let sort = match key {
        "name" => SortKey::Name,
        "last_seen" => SortKey::LastSeen,
        _ => SortKey::Created,
    };
    let l = AgentListing {
        fleet_id: param("fleet_id"),
        status: param("status"),
        name_prefix: param("q"),
        sort,
        descending,
        after: Some((
            if sort == SortKey::Name {
                KeyValue::Text("m".into())
            } else {
                KeyValue::Int(now - 40_000)
            },
            "80000000-0000-4000-8000-000000000000".into(),
        )),
        offset: 0,
        limit: 51,
        now,
    };
    match state.explain_agent_list(owner, &l, false).await {
        Ok(lines) => {
            let text = lines
                .iter()
                .filter(|l| {
                    ["Scan", "SCAN", "SEARCH", "Sort", "B-TREE"]
                        .iter()
                        .any(|w| l.contains(w))
                })
                .map(|l| l.split(" (cost").next().unwrap_or(l).trim().to_string())
                .collect::<Vec<_>>()
                .join(" | ");
            let flag = if text.contains("TEMP B-TREE")
                || text.contains("Sort")
                || text.contains("Seq Scan")
                || text.contains("SCAN agents") && !text.contains("INDEX")
            {
                "NOT AN INDEX RANGE: "
            } else {
                ""
            };
            format!(
                "{flag}{}",
                text.split_whitespace().collect::<Vec<_>>().join(" ")
            )
        }
        Err(e) => format!("(explain failed: {:?})", e.status()),
    }
}
