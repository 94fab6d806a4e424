//! `login`, `logout`, `whoami`: the session kept in the config directory.

use serde_json::json;

use super::Globals;
use crate::api::Client;
use crate::cli::{LoginArgs, LogoutArgs};
use crate::error::{CtlError, Result};
use crate::input::{self, SecretSource};
use crate::local::session::Session;
use crate::output::print_json;
use crate::server_url::ServerUrl;
use openclaw_fleet_protocol::UserId;

pub async fn login(g: &Globals, args: LoginArgs) -> Result<i32> {
    let url = ServerUrl::parse(&args.url, args.allow_http)?;
    let ca_file = match args.ca_file {
        Some(p) => Some(std::fs::canonicalize(&p).map_err(|e| CtlError::file(&p, "find", e))?),
        None => None,
    };
    let password = input::read_secret(
        &SecretSource::from_arg(args.password_file.as_deref()),
        "Password",
        "pass --password-file FILE (or - for standard input)",
    )?;
    let client = Client::anonymous(url.clone(), ca_file.as_deref())?;
    let logged_in = match client.login(&args.email, &password).await {
        Err(CtlError::Auth(_)) => return Err(CtlError::Auth("wrong email or password".into())),
        other => other?,
    };
    let user_id = UserId::parse(&logged_in.user.id)
        .map_err(|_| CtlError::Refused("the server sent an invalid user id".into()))?;
    if let Ok(Some(old)) = Session::load(&g.dir) {
        if let Ok(old_client) = Client::for_session(&old) {
            let _ = old_client.logout().await;
        }
    }
    let session = Session::new(url, logged_in.user.email, user_id, ca_file, logged_in.token);
    session.save(&g.dir)?;
    if g.json {
        print_json(
            &json!({"url": session.url.as_str(), "email": session.email, "user_id": user_id}),
        );
    } else {
        println!("Logged in to {} as {}.", session.url, session.email);
    }
    Ok(0)
}

pub async fn logout(g: &Globals, args: LogoutArgs) -> Result<i32> {
    let Some(session) = Session::load(&g.dir)? else {
        if !g.json {
            println!("Not logged in.");
        }
        return Ok(0);
    };
    if !args.local {
        match Client::for_session(&session)?.logout().await {
            Ok(()) | Err(CtlError::SessionEnded) => {}
            Err(CtlError::Unavailable(why)) => {
                return Err(CtlError::Unavailable(format!(
                    "{why}; the session is still valid there and was kept here. \
                     Try again, or `logout --local` to only delete it here"
                )))
            }
            Err(e) => return Err(e),
        }
    }
    Session::delete(&g.dir)?;
    if g.json {
        print_json(&json!({"logged_out": true, "server_session_ended": !args.local}));
    } else if args.local {
        println!(
            "Deleted the local session; it stays valid on {} until it expires.",
            session.url
        );
    } else {
        println!("Logged out of {}.", session.url);
    }
    Ok(0)
}

pub async fn whoami(g: &Globals) -> Result<i32> {
    let ctx = super::ctx(g)?;
    let me = ctx.client.me().await?;
    if g.json {
        print_json(&json!({"url": ctx.session.url.as_str(), "email": me.email, "user_id": me.id}));
    } else {
        println!("{} on {}", me.email, ctx.session.url);
    }
    Ok(0)
}
