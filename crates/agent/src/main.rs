//! `openclaw-fleet-agent`: parses the command line, reads the settings,
//! and runs the agent on a single-threaded runtime (one host, small
//! footprint).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use openclaw_fleet_agent::cli::{Cli, Command, InstallArgs, RunArgs};
use openclaw_fleet_agent::clock::Clock;
use openclaw_fleet_agent::daemon::Agent;
use openclaw_fleet_agent::service;
use openclaw_fleet_agent::settings::{Layered, SECRET_ENV_VARS};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::prelude::*;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    let result = match cli.command {
        Command::Version => {
            println!("openclaw-fleet-agent {}", env!("CARGO_PKG_VERSION"));
            Ok(())
        }
        Command::InstallService(args) => install_service(&args),
        Command::Run(args) => run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the chain of causes, none of which holds a secret.
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn run(args: &RunArgs) -> anyhow::Result<()> {
    let settings = Layered::gather(&args.settings, &env_var)
        .and_then(|l| l.resolve())
        .context("settings")?;
    // The secrets now live in zeroizing types; drop them from the process
    // environment (before any thread starts) so no child inherits them.
    for var in SECRET_ENV_VARS {
        std::env::remove_var(var);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let agent = Agent::new(settings, Clock::system())?;
        if args.once {
            let summary = agent.run_once().await?;
            tracing::info!(
                config_version_applied = summary.config_version_applied,
                status = %summary.status,
                error = summary.error.as_deref().unwrap_or(""),
                "once: done"
            );
            return Ok(());
        }
        tokio::select! {
            () = agent.run() => {}
            () = shutdown_signal() => tracing::info!("stopping"),
        }
        Ok(())
    })
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

fn install_service(args: &InstallArgs) -> anyhow::Result<()> {
    let layered = Layered::gather(&args.settings, &env_var).context("settings")?;
    let exe = std::env::current_exe().context("cannot locate this executable")?;
    let home = env_var("HOME").map(std::path::PathBuf::from);
    let plan = service::plan(args, &layered, &exe, home.as_deref())?;
    service::install(&plan)?;
    println!("wrote {} (mode 0600)", plan.env_path.display());
    println!("wrote {}", plan.unit_path.display());
    if let Some(who) = &plan.run_as {
        println!(
            "the agent runs as {}:{}, the owner of {}, and can write nowhere else",
            who.user,
            who.group,
            plan.state_dir.display()
        );
        if who.uid == 0 {
            println!("note: that directory belongs to root, so the agent runs as root");
        }
    }
    println!("enable and start it with:\n  {}", plan.next_steps);
    Ok(())
}

/// Logs to stderr. `RUST_LOG` picks the agent's level; other crates log
/// warnings and errors only, so no dependency's debug output (which could
/// show request details) is ever enabled by accident.
fn init_logging() {
    let level = env_var("RUST_LOG")
        .and_then(|v| v.parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = Targets::new()
        .with_target("openclaw_fleet_agent", level)
        .with_default(LevelFilter::WARN);
    tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal())
                .with_target(false),
        )
        .with(filter)
        .init();
}
