//! Database URLs as the server shows and uses them: [`redact_url`] is the only form that
//! reaches a log line or an error message, and [`postgres_url`] passes on only the
//! connection parameters the driver understands (it would log the others with their
//! values, a `?sslpassword=` included).

use std::borrow::Cow;

use url::Url;

const HIDDEN: &str = "***";

/// Query keys that name a secret (matched case-insensitively, anywhere in the key).
const SECRET_KEY_PARTS: [&str; 7] = [
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "auth",
    "credential",
];

/// Parameters sqlx's PostgreSQL driver reads from a URL.
const POSTGRES_PARAMS: [&str; 18] = [
    "sslmode",
    "ssl-mode",
    "sslrootcert",
    "ssl-root-cert",
    "ssl-ca",
    "sslcert",
    "ssl-cert",
    "sslkey",
    "ssl-key",
    "statement-cache-capacity",
    "host",
    "hostaddr",
    "port",
    "dbname",
    "user",
    "password",
    "application_name",
    "options",
];

/// The URL with every password hidden: the userinfo password, and the value of every
/// query parameter whose key looks secret. A URL that does not parse is not shown at all.
pub fn redact_url(raw: &str) -> String {
    let Ok(mut url) = Url::parse(raw) else {
        let scheme = raw
            .split_once(':')
            .map(|(s, _)| s)
            .filter(|s| {
                s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+.-".contains(c))
            })
            .unwrap_or("");
        return format!("{scheme}:(unparseable URL hidden)");
    };
    if url.password().is_some() {
        let _ = url.set_password(Some(HIDDEN));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let lower = k.to_ascii_lowercase();
                let secret = SECRET_KEY_PARTS.iter().any(|part| lower.contains(part));
                let v = if secret { Cow::Borrowed(HIDDEN) } else { v };
                (k.into_owned(), v.into_owned())
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string()
}

/// A PostgreSQL URL reduced to the parameters the driver reads, and the names of the
/// ones dropped (never their values).
pub fn postgres_url(raw: &str) -> anyhow::Result<(Url, Vec<String>)> {
    let mut url = Url::parse(raw)
        .map_err(|e| anyhow::anyhow!("invalid PostgreSQL URL {}: {e}", redact_url(raw)))?;
    let mut dropped = Vec::new();
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let known = POSTGRES_PARAMS.contains(&k.as_ref())
                    || (k.starts_with("options[") && k.ends_with(']'));
                if !known {
                    dropped.push(k.to_string());
                }
                known
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    Ok((url, dropped))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "s3cr%23t-value";

    #[track_caller]
    fn hides(raw: &str) -> String {
        let shown = redact_url(raw);
        for leak in ["s3cr", "t-value", "%23t"] {
            assert!(!shown.contains(leak), "{raw} shown as {shown}");
        }
        shown
    }

    #[test]
    fn userinfo_passwords_are_hidden() {
        let raw = format!("postgres://fleet:{SECRET}@db.example:5432/fleet");
        assert_eq!(hides(&raw), "postgres://fleet:***@db.example:5432/fleet");
        let raw = format!("postgresql://fleet:{SECRET}@[2001:db8::5]/fleet?sslmode=require");
        assert_eq!(
            hides(&raw),
            "postgresql://fleet:***@[2001:db8::5]/fleet?sslmode=require"
        );
        // An unescaped `@` in the password: the last one ends the userinfo.
        hides("postgres://fleet:s3cr@t-value@db/fleet");
        // A user alone has nothing to hide.
        assert_eq!(
            redact_url("postgres://fleet@db/fleet"),
            "postgres://fleet@db/fleet"
        );
    }

    #[test]
    fn secret_query_parameters_are_hidden() {
        let raw = format!("postgres://db/fleet?user=fleet&password={SECRET}&sslmode=verify-full");
        assert_eq!(
            hides(&raw),
            "postgres://db/fleet?user=fleet&password=***&sslmode=verify-full"
        );
        for key in [
            "PassWord",
            "sslpassword",
            "pwd",
            "client_secret",
            "auth_token",
            "apikey",
        ] {
            let shown = hides(&format!("postgres://db/fleet?{key}={SECRET}"));
            assert!(shown.ends_with(&format!("{key}=***")), "{shown}");
        }
        // The Unix-socket forms.
        hides(&format!(
            "postgres:///fleet?host=/var/run/postgresql&password={SECRET}"
        ));
        let shown = hides(&format!(
            "postgres://fleet:{SECRET}@%2Fvar%2Frun%2Fpostgresql/fleet"
        ));
        assert!(shown.contains("%2Fvar%2Frun%2Fpostgresql"), "{shown}");
    }

    #[test]
    fn unparseable_urls_are_not_shown() {
        // Several hosts (libpq accepts them; this URL parser does not).
        let raw = format!("postgres://fleet:{SECRET}@h1:5432,h2:5433/fleet");
        assert_eq!(hides(&raw), "postgres:(unparseable URL hidden)");
        assert_eq!(hides(&format!("::{SECRET}")), ":(unparseable URL hidden)");
    }

    #[test]
    fn sqlite_urls_are_shown_as_given() {
        assert_eq!(
            redact_url("sqlite:///var/lib/fleet/fleet.db"),
            "sqlite:///var/lib/fleet/fleet.db"
        );
        assert_eq!(
            redact_url("sqlite://data/fleet.db?mode=rwc"),
            "sqlite://data/fleet.db?mode=rwc"
        );
    }

    #[test]
    fn unknown_postgres_parameters_are_dropped_by_name() {
        let (url, dropped) = postgres_url(&format!(
            "postgres://db/f?sslmode=require&sslpassword={SECRET}&x=1"
        ))
        .unwrap();
        assert_eq!(url.as_str(), "postgres://db/f?sslmode=require");
        assert_eq!(dropped, ["sslpassword", "x"]);
        let (url, dropped) = postgres_url(&format!("postgres://u:{SECRET}@db/f")).unwrap();
        assert_eq!(url.password(), Some(SECRET));
        assert!(dropped.is_empty());
        let err = postgres_url(&format!("postgres://u:{SECRET}@h:1,h:2/f")).unwrap_err();
        assert!(!err.to_string().contains("s3cr"), "{err}");
    }
}
