//! The logged-in session: which server, which account, and the bearer token.
//! The token is a credential: it lives in a zeroizing buffer, has no Debug,
//! is written only to `session.json` (mode 0600) and never printed.

use std::path::PathBuf;

use openclaw_fleet_protocol::{zeroize_value, UserId};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use super::ConfigDir;
use crate::error::{CtlError, Result};
use crate::server_url::ServerUrl;

const FILE: &str = "session.json";

pub struct Session {
    pub url: ServerUrl,
    pub email: String,
    pub user_id: UserId,
    /// A PEM file of extra CA certificates to trust for this server.
    pub ca_file: Option<PathBuf>,
    token: Zeroizing<String>,
}

impl Session {
    pub fn new(
        url: ServerUrl,
        email: String,
        user_id: UserId,
        ca_file: Option<PathBuf>,
        token: Zeroizing<String>,
    ) -> Self {
        Self {
            url,
            email,
            user_id,
            ca_file,
            token,
        }
    }

    /// The bearer token, for the `Authorization` header only.
    pub fn expose_token(&self) -> &str {
        &self.token
    }

    pub fn load(dir: &ConfigDir) -> Result<Option<Self>> {
        let Some(bytes) = dir.read_private(FILE)? else {
            return Ok(None);
        };
        let bytes = Zeroizing::new(bytes);
        let corrupt = || {
            CtlError::usage(format!(
                "{} is damaged: delete it and log in again",
                dir.file(FILE).display()
            ))
        };
        let mut value: Value = serde_json::from_slice(&bytes).map_err(|_| corrupt())?;
        let parsed = (|| {
            let text = |k: &str| value[k].as_str().map(str::to_owned);
            Some(Self {
                url: ServerUrl::parse(&text("url")?, true).ok()?,
                email: text("email")?,
                user_id: UserId::parse(&text("user_id")?).ok()?,
                ca_file: text("ca_file").map(PathBuf::from),
                token: Zeroizing::new(text("token")?),
            })
        })();
        zeroize_value(&mut value);
        parsed.map(Some).ok_or_else(corrupt)
    }

    pub fn save(&self, dir: &ConfigDir) -> Result<()> {
        let mut value = json!({
            "url": self.url.as_str(),
            "email": self.email,
            "user_id": self.user_id.to_string(),
            "ca_file": self.ca_file.as_ref().map(|p| p.display().to_string()),
            "token": self.token.as_str(),
        });
        let bytes = Zeroizing::new(serde_json::to_vec_pretty(&value).expect("JSON"));
        zeroize_value(&mut value);
        dir.write_private(FILE, &bytes)
    }

    /// Deletes the session file; false when there was none.
    pub fn delete(dir: &ConfigDir) -> Result<bool> {
        dir.remove(FILE)
    }
}
