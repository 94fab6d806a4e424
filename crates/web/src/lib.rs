//! The dashboard (`web/`), embedded once for every binary that serves or checks it: the
//! server (`openclaw-fleet`) serves it, the operator CLI serves the same bytes locally
//! (`openclaw-fleet-ctl dashboard`) and compares a server's copy with them
//! (`openclaw-fleet-ctl verify-dashboard`). The file list (the include/exclude rules),
//! how a request path maps to a file, the content types, cache rules and security
//! headers are defined here and nowhere else, so the two can never drift apart.
//!
//! The files are compiled into the binary in every profile (`debug-embed`), so the
//! SHA-256 of each file ([`files`]) is fixed when the binary is built.

use std::borrow::Cow;

use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../web/"]
#[exclude = "tests/*"]
#[exclude = "node_modules/*"]
#[exclude = "*.md"]
struct Assets;

/// The page every unknown path without a dot gets (client-side routing).
pub const SHELL: &str = "index.html";

/// The dashboard's Content-Security-Policy: no inline script, nothing from elsewhere.
pub const CSP: &str =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// Headers every answer carries, pages and API alike (name, value).
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("content-security-policy", CSP),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    (
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    ),
];

/// One file of the dashboard, ready to serve.
pub struct Asset {
    /// Its path under `web/`, e.g. `js/app.js`.
    pub path: Cow<'static, str>,
    pub data: Cow<'static, [u8]>,
    pub content_type: String,
    pub cache_control: &'static str,
}

/// The file a request path (`/`, `/js/app.js`, `/agents/x`) is answered with: the file
/// itself, the app shell for a path without a dot, or `None` (404).
pub fn lookup(request_path: &str) -> Option<Asset> {
    let path = request_path.trim_start_matches('/');
    let path = if path.is_empty() { SHELL } else { path };
    let (path, file) = match Assets::get(path) {
        Some(file) => (path, file),
        None if !path.contains('.') => (SHELL, Assets::get(SHELL)?),
        None => return None,
    };
    let content_type = if path == SHELL {
        "text/html; charset=utf-8".to_owned()
    } else {
        mime_guess::from_path(path)
            .first_or_octet_stream()
            .as_ref()
            .to_owned()
    };
    Some(Asset {
        path: Cow::Owned(path.to_owned()),
        data: file.data,
        content_type,
        cache_control: if path == SHELL {
            "no-cache"
        } else {
            "no-cache, must-revalidate"
        },
    })
}

/// Every embedded file with its SHA-256, sorted by path.
pub fn files() -> Vec<(String, [u8; 32])> {
    let mut all: Vec<(String, [u8; 32])> = Assets::iter()
        .filter_map(|p| {
            let hash = Assets::get(&p)?.metadata.sha256_hash();
            Some((p.into_owned(), hash))
        })
        .collect();
    all.sort();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_list_and_routing() {
        let names: Vec<String> = files().into_iter().map(|(p, _)| p).collect();
        assert!(names.iter().any(|p| p == "index.html"));
        assert!(names.iter().any(|p| p == "js/app.js"));
        assert!(!names
            .iter()
            .any(|p| p.starts_with("tests/") || p.ends_with(".md")));
        assert_eq!(lookup("/").unwrap().path, "index.html");
        assert_eq!(lookup("/agents/x").unwrap().path, "index.html");
        assert_eq!(
            lookup("/js/app.js").unwrap().content_type,
            "text/javascript"
        );
        assert!(lookup("/nope.js").is_none());
        assert!(lookup("/tests/rollback.test.mjs").is_none());
    }
}
