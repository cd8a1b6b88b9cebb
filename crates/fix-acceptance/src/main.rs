//! `fix-acceptance`: play QuickFIX-format `.def` scripts against a running FIX engine over TCP.
//!
//! Prints `PASS name` or `FAIL name: first difference` per script, then `N passed, M failed`;
//! exits 1 if any script failed, 2 if the scripts could not be found or the options are wrong.

use std::collections::VecDeque;
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clap::Parser;
use fix_acceptance::suite::{ScriptGroup, discover, script_name};
use fix_acceptance::{FieldFormats, RunConfig, Script, run_tcp_script};

/// Play QuickFIX-format acceptance scripts (.def) against a FIX engine.
#[derive(Debug, Parser)]
#[command(name = "fix-acceptance", version)]
struct Args {
    /// Host of the engine under test.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port of the engine under test.
    #[arg(long, required_unless_present = "print_free_port")]
    port: Option<u16>,
    /// A fields.fmt file (tag=regex per line); QuickFIX's table is built in.
    #[arg(long, value_name = "FILE")]
    fields: Option<PathBuf>,
    /// Directories run in parallel at most (scripts of one directory always run in sequence).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    jobs: u16,
    /// Bound in seconds on every read and every wait for a disconnect.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    timeout: u64,
    /// Print a free loopback port and exit (for scripts that start the engine).
    #[arg(long)]
    print_free_port: bool,
    /// Script directories (their *.def files, sorted by name) or script files.
    #[arg(
        value_name = "DIR_OR_FILE",
        required_unless_present = "print_free_port"
    )]
    paths: Vec<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.print_free_port {
        return match TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(addr) => {
                println!("{}", addr.port());
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(&format!("cannot find a free port: {e}")),
        };
    }
    let Some(port) = args.port else {
        return usage_error("--port is required");
    };
    let addr = match (args.host.as_str(), port).to_socket_addrs() {
        Ok(mut addrs) => match addrs.next() {
            Some(a) => a,
            None => return usage_error(&format!("{}: no address", args.host)),
        },
        Err(e) => return usage_error(&format!("{}: {e}", args.host)),
    };
    let formats = match &args.fields {
        Some(path) => match FieldFormats::load(path) {
            Ok(f) => f,
            Err(e) => return usage_error(&e.to_string()),
        },
        None => FieldFormats::default(),
    };
    let groups = match discover(&args.paths) {
        Ok(g) => g,
        Err(e) => return usage_error(&e.to_string()),
    };
    if groups.iter().all(|g| g.scripts.is_empty()) {
        return usage_error("no scripts found");
    }
    let config = RunConfig {
        read_timeout: Duration::from_secs(args.timeout),
        formats,
    };
    let (passed, failed) = run_groups(groups, addr, &config, usize::from(args.jobs));
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("fix-acceptance: {msg}");
    ExitCode::from(2)
}

/// Run the groups on at most `jobs` threads; returns (passed, failed).
fn run_groups(
    groups: Vec<ScriptGroup>,
    addr: SocketAddr,
    config: &RunConfig,
    jobs: usize,
) -> (usize, usize) {
    let threads = jobs.clamp(1, groups.len().max(1));
    let queue = Mutex::new(VecDeque::from(groups));
    let passed = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    // Poisoning only happens if another worker panicked; its group is lost either way.
                    let next = queue.lock().map_or(None, |mut q| q.pop_front());
                    let Some(group) = next else { break };
                    for path in &group.scripts {
                        let name = script_name(path);
                        let outcome = std::fs::read(path)
                            .map_err(|e| format!("cannot read: {e}"))
                            .and_then(|bytes| {
                                // The name is already on the output line.
                                Script::parse(&name, &bytes).map_err(|e| {
                                    format!("line {}: {}: `{}`", e.line, e.reason, e.text)
                                })
                            })
                            .and_then(|script| {
                                run_tcp_script(&script, addr, config).map_err(|e| e.to_string())
                            });
                        // One println per script: the line is written whole even with other threads.
                        match outcome {
                            Ok(()) => {
                                passed.fetch_add(1, Ordering::Relaxed);
                                println!("PASS {name}");
                            }
                            Err(why) => {
                                failed.fetch_add(1, Ordering::Relaxed);
                                println!("FAIL {name}: {}", why.replace('\n', " "));
                            }
                        }
                    }
                }
            });
        }
    });
    (passed.into_inner(), failed.into_inner())
}
