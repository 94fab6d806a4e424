//! `openclaw-fleet`: the server binary. Parses the command line and dispatches.

use clap::Parser;
use openclaw_fleet::cli::{AgentCommand, Cli, Command, UserCommand};
use openclaw_fleet::settings::LogFormat;
use openclaw_fleet::{admin, backup, key_rotation, startup, Server, Settings};
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: a heartbeat allocates a few dozen small blocks
/// (JSON, headers, the buffered state) on one thread and frees some on another; glibc
/// spent 14 % of the heartbeat profile there (docs/benchmarks.md "Heartbeats").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Lines the `serve` log buffers for its writer thread; past that, lines are dropped (and
/// counted: `openclaw_fleet_log_lines_dropped_total`) rather than stalling requests.
const LOG_BUFFER_LINES: usize = 128_000;

/// Sets up logging to stderr. `serve` logs through a writer thread (`background`): a
/// request never waits for a write, which on a busy disk can block for seconds (the page
/// cache throttling a writer) and, done on a runtime worker, stalled every request behind
/// it (docs/benchmarks.md). The guard flushes what is buffered when dropped; keep it for
/// as long as the command runs. The other commands log little, in order with their output.
fn init_logging(
    format: LogFormat,
    default_filter: &str,
    background: bool,
) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let filter = EnvFilter::try_from_env("OPENCLAW_FLEET_LOG")
        .unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let (writer, guard) = if background {
        let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
            .buffered_lines_limit(LOG_BUFFER_LINES)
            .lossy(true)
            .thread_name("log-writer")
            .finish(std::io::stderr());
        openclaw_fleet::telemetry::count_dropped_log_lines(writer.error_counter());
        (BoxMakeWriter::new(writer), Some(guard))
    } else {
        (BoxMakeWriter::new(std::io::stderr), None)
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer);
    if format == LogFormat::Json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
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
            let _log = init_logging(settings.log_format, "info,sqlx=warn,tower_http=warn", true);
            let server = Server::build(settings, None).await?;
            let addr = server.local_addr();
            let scheme = server.scheme();
            tracing::info!("listening on {scheme}://{addr}");
            println!("OpenClaw Fleet is running: open {scheme}://{addr}/ in your browser");
            if let Some(metrics) = server.metrics_addr() {
                tracing::info!("metrics on http://{metrics}/metrics");
                println!("Prometheus metrics: http://{metrics}/metrics");
            }
            server.run(startup::shutdown_signal()).await
        }
        Command::User(UserCommand::Create {
            email,
            password_file,
            storage,
        }) => {
            let settings = Settings::load(config, &storage)?;
            init_logging(LogFormat::Text, "warn", false);
            admin::user_create(settings, &email, &password_file).await
        }
        Command::User(command) => {
            let (storage, action) = match command {
                UserCommand::List { storage } => (storage, admin::UserAction::List),
                UserCommand::ResetPassword {
                    email,
                    password_file,
                    storage,
                } => (
                    storage,
                    admin::UserAction::ResetPassword {
                        email,
                        password_file,
                    },
                ),
                UserCommand::Disable { email, storage } => (
                    storage,
                    admin::UserAction::SetDisabled {
                        email,
                        disabled: true,
                    },
                ),
                UserCommand::Enable { email, storage } => (
                    storage,
                    admin::UserAction::SetDisabled {
                        email,
                        disabled: false,
                    },
                ),
                UserCommand::Create { .. } => unreachable!("matched above"),
            };
            let settings = Settings::load(config, &storage)?;
            init_logging(LogFormat::Text, "warn", false);
            admin::user_action(settings, action).await
        }
        Command::Agent(AgentCommand::Create {
            owner,
            name,
            fleet,
            policy,
            storage,
        }) => {
            let settings = Settings::load(config, &storage)?;
            init_logging(LogFormat::Text, "warn", false);
            admin::agent_create(settings, &owner, &name, fleet.as_deref(), &policy).await
        }
        Command::Backup(args) => {
            let settings = Settings::load(config, &args.storage)?;
            init_logging(LogFormat::Text, "warn", false);
            println!("{}", backup::backup(&settings, &args.out).await?);
            Ok(())
        }
        Command::Restore(args) => {
            let settings = Settings::load(config, &args.storage)?;
            init_logging(LogFormat::Text, "warn", false);
            println!(
                "{}",
                backup::restore(&settings, &args.from, args.force).await?
            );
            Ok(())
        }
        Command::RotateInternalKey(args) => {
            let settings = Settings::load(config, &args.storage)?;
            init_logging(LogFormat::Text, "warn", false);
            let options = key_rotation::RotateOptions {
                new_key_file: args.new_key_file,
                limit: args.limit,
                batch: args.batch_size,
                drop_retired: args.drop_retired,
            };
            println!("{}", key_rotation::rotate(&settings, &options).await?);
            Ok(())
        }
        Command::Audit(args) => {
            let settings = Settings::load(config, &args.storage)?;
            init_logging(LogFormat::Text, "warn", false);
            if !admin::audit(settings, args.json).await? {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}
