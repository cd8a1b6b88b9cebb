//! `fixd`: runs FIX sessions from a properties file; `fixd demo` shows the engine at work.
//! See `docs/FIXD.md`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use fixd::run::{AdminSocketOption, RunOptions};
use fixd::signals::TermSignals;
use fixd::{CommandError, EXIT_FAILURE};
use tracing_subscriber::EnvFilter;

#[derive(Debug, Parser)]
#[command(
    name = "fixd",
    version,
    about = "FIX server: runs FIX sessions from a properties file"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the sessions of a configuration until SIGINT/SIGTERM, then logs every session out.
    Run {
        /// The properties file.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        /// Overrides one key after the file is read (repeatable), e.g. `--set ListenPort=9000`.
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Seconds between status lines (sessions, states, sequence numbers, latency); 0 = off.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        status_interval: u64,
        /// Unix socket answering `fixd status` (default: fixd.sock in the StorageDirectory of
        /// the first session; `off` for none).
        #[arg(long, value_name = "PATH")]
        admin_socket: Option<PathBuf>,
    },
    /// Prints the live sessions of a running `fixd run`: states, sequence numbers, latency.
    Status {
        /// The admin socket (default: the one `--config` implies, else store/fixd.sock).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// The configuration `fixd run` was started with, to find its admin socket.
        #[arg(long, short = 'c', value_name = "FILE")]
        config: Option<PathBuf>,
        /// The overrides `fixd run` was started with (only StorageDirectory matters).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Validates a configuration (keys, values, dictionaries) and prints the resolved sessions.
    CheckConfig {
        /// The properties file.
        #[arg(value_name = "FILE")]
        config: PathBuf,
        /// Overrides one key after the file is read (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// An acceptor and an initiator in one process exchange orders and execution reports on an
    /// embedded configuration; prints session states and round-trip latency percentiles.
    Demo {
        /// Orders to send.
        #[arg(long, value_name = "N", default_value_t = fixd::demo::DEFAULT_ORDERS)]
        orders: u64,
        /// Orders in flight at most (1..=1024): 1 measures the pure round trip, more a stream.
        #[arg(long, value_name = "N", default_value_t = 1)]
        window: usize,
        /// Prints the embedded configuration and exits.
        #[arg(long)]
        print_config: bool,
    },
}

fn init_tracing(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            config,
            sets,
            status_interval,
            admin_socket,
        } => {
            // Before any thread exists, so every thread inherits the blocked mask.
            match TermSignals::block() {
                Ok(signals) => {
                    init_tracing("info");
                    let opts = RunOptions {
                        config,
                        sets,
                        status_interval: (status_interval > 0)
                            .then(|| Duration::from_secs(status_interval)),
                        admin_socket: match admin_socket {
                            None => AdminSocketOption::Default,
                            Some(p) if p.as_os_str() == "off" => AdminSocketOption::Off,
                            Some(p) => AdminSocketOption::Path(p),
                        },
                    };
                    fixd::run::run(&opts, &signals)
                }
                Err(e) => Err(CommandError::failure(format!("cannot block signals: {e}"))),
            }
        }
        Command::Status {
            socket,
            config,
            sets,
        } => {
            fixd::run::status_socket(socket.as_deref(), config.as_deref(), &sets).and_then(|path| {
                fixd::admin::query(&path)
                    .map(|text| print!("{text}"))
                    .map_err(CommandError::failure)
            })
        }
        Command::CheckConfig { config, sets } => {
            init_tracing("warn");
            fixd::settings::load(&config, &sets).map(|loaded| {
                print!("{}", fixd::settings::describe(&loaded));
            })
        }
        Command::Demo {
            orders,
            window,
            print_config,
        } => {
            if print_config {
                print!("{}", fixd::demo::DEMO_CONFIG);
                Ok(())
            } else {
                init_tracing("warn");
                fixd::demo::run(orders, window).map(|r| print!("{}", r.text))
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixd: {e}");
            ExitCode::from(u8::try_from(e.code).unwrap_or(EXIT_FAILURE as u8))
        }
    }
}
