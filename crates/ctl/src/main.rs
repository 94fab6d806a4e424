//! The `openclaw-fleet-ctl` binary: parse, run on a Tokio runtime, print an
//! error on one line and exit with the code `--help` documents.

use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use openclaw_fleet_ctl::cli::Cli;
use openclaw_fleet_ctl::{commands, exit, CtlError};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) => {
            let code = e
                .downcast_ref::<CtlError>()
                .map_or(exit::FAILED, CtlError::exit_code);
            eprintln!("error: {e:#}");
            code
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(runtime.block_on(commands::run(cli))?)
}
