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
    /// Logs on with the configuration's initiator session, sends N NewOrderSingles (ClOrdID
    /// 1..N), waits for their ExecutionReports, checks each was answered exactly once, logs out,
    /// and prints `orders_sent=N reports_received=M duplicates=D missing=K ...`.
    Client {
        /// The properties file (exactly one initiator session, or name it with --session).
        #[arg(long, short = 'c', value_name = "FILE")]
        config: PathBuf,
        /// Overrides one key after the file is read (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// The initiator session to use.
        #[arg(long, value_name = "NAME")]
        session: Option<String>,
        /// Orders (ClOrdIDs 1..N over all runs sharing a --state file).
        #[arg(long, value_name = "N", default_value_t = 1000)]
        orders: u64,
        /// Orders in flight at most.
        #[arg(long, value_name = "W", default_value_t = 1)]
        window: usize,
        /// Orders per second (0: as fast as the window allows).
        #[arg(long, value_name = "R", default_value_t = 0)]
        rate: u64,
        /// Stop without Logout right after the K-th order was sent (exit status 0, aborted=1).
        #[arg(long, value_name = "K")]
        stop_after: Option<u64>,
        /// Progress saved after every run and continued by the next (no reset at Logon).
        #[arg(long, value_name = "FILE")]
        state: Option<PathBuf>,
        /// Also write the summary line to this file.
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
        /// Seconds to wait for the Logon and then for every report.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
        /// Milliseconds to wait after the last report for late duplicates.
        #[arg(long, value_name = "MS", default_value_t = 500)]
        grace_ms: u64,
        /// Symbol <55> of every order.
        #[arg(long, default_value = "MSFT")]
        symbol: String,
        /// SIGTERM/SIGINT: `logout` (stop sending, log out, report) or `abrupt` (stop at once
        /// without Logout, as --stop-after).
        #[arg(long, value_name = "HOW", default_value = "logout")]
        on_term: String,
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
        Command::Client {
            config,
            sets,
            session,
            orders,
            window,
            rate,
            stop_after,
            state,
            report,
            timeout,
            grace_ms,
            symbol,
            on_term,
        } => {
            let on_term = match on_term.as_str() {
                "logout" => Some(fixd::client::OnTerm::Logout),
                "abrupt" => Some(fixd::client::OnTerm::Abrupt),
                _ => None,
            };
            match (on_term, TermSignals::block()) {
                (None, _) => Err(CommandError::config("--on-term is logout or abrupt")),
                (_, Err(e)) => Err(CommandError::failure(format!("cannot block signals: {e}"))),
                (Some(on_term), Ok(signals)) => {
                    init_tracing("warn");
                    let opts = fixd::client::ClientOptions {
                        config,
                        sets,
                        session,
                        orders,
                        window,
                        rate,
                        stop_after,
                        state,
                        report,
                        timeout: Duration::from_secs(timeout),
                        grace: Duration::from_millis(grace_ms),
                        symbol,
                        on_term,
                    };
                    match fixd::client::run(&opts, Some(signals)) {
                        Ok(r) => {
                            println!("{}", r.line);
                            if r.aborted {
                                // Without Logout: leave before anything could log the session out.
                                use std::io::Write as _;
                                let _ = std::io::stdout().flush();
                                std::process::exit(0);
                            }
                            if r.code == 0 {
                                Ok(())
                            } else {
                                return ExitCode::from(u8::try_from(r.code).unwrap_or(1));
                            }
                        }
                        Err(e) => Err(e),
                    }
                }
            }
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
