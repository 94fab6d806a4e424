//! `openclaw-fleet`: the server binary. Parses the command line and dispatches.

use clap::Parser;
use openclaw_fleet::cli::{AgentCommand, Cli, Command, UserCommand};
use openclaw_fleet::{admin, startup, Server, Settings};
use tracing_subscriber::EnvFilter;

fn init_logging(format: &str, default_filter: &str) {
    let filter = EnvFilter::try_from_env("OPENCLAW_FLEET_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the async runtime starts");
    let result = runtime.block_on(run(cli));
    // A drain that ran out of time may leave connection tasks behind: they must not
    // hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    if let Err(err) = result {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.as_deref();
    match cli.command {
        Command::Serve(args) => {
            let settings = Settings::load(config, &args)?;
            init_logging(&settings.log_format, "info,sqlx=warn,tower_http=warn");
            let server = Server::build(settings, None).await?;
            let addr = server.local_addr();
            tracing::info!("listening on http://{addr}");
            println!("OpenClaw Fleet is running: open http://{addr}/ in your browser");
            server.run(startup::shutdown_signal()).await
        }
        Command::User(UserCommand::Create {
            email,
            password_file,
            storage,
        }) => {
            let settings = Settings::load(config, &storage)?;
            init_logging("text", "warn");
            admin::user_create(settings, &email, &password_file).await
        }
        Command::Agent(AgentCommand::Create {
            owner,
            name,
            fleet,
            policy,
            storage,
        }) => {
            let settings = Settings::load(config, &storage)?;
            init_logging("text", "warn");
            admin::agent_create(settings, &owner, &name, fleet.as_deref(), &policy).await
        }
        Command::Audit(args) => {
            let settings = Settings::load(config, &args.storage)?;
            init_logging("text", "warn");
            if !admin::audit(settings, args.json).await? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
