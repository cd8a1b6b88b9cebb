//! `fix-sim --seeds N [--start S] [--steps K] [--no-reconnect-to-heal]`: run seeds until the first failure, print it with
//! its trace tail and exit 1; exit 0 when every seed passes. A failing seed replays exactly with
//! `--start <seed> --seeds 1`.

use std::process::ExitCode;

use fix_sim::{SimConfig, run_seeds};

const USAGE: &str =
    "usage: fix-sim [--seeds N] [--start S] [--steps K] [--no-reconnect-to-heal] [--trace LINES]";

fn parse(args: &[String]) -> Result<(u64, u64, SimConfig), String> {
    let (mut seeds, mut start, mut cfg) = (100u64, 0u64, SimConfig::default());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| -> Result<u64, String> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or(format!("{name} needs a number\n{USAGE}"))
        };
        match a.as_str() {
            "--seeds" => seeds = val("--seeds")?,
            "--start" => start = val("--start")?,
            "--steps" => {
                cfg.steps = u32::try_from(val("--steps")?).map_err(|e| e.to_string())?;
            }
            "--trace" => {
                cfg.trace_tail = usize::try_from(val("--trace")?).map_err(|e| e.to_string())?;
            }
            "--no-reconnect-to-heal" => cfg.reconnect_to_heal = false,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other}\n{USAGE}")),
        }
    }
    Ok((seeds, start, cfg))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (seeds, start, cfg) = match parse(&args) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    match run_seeds(start, seeds, &cfg) {
        Ok(s) => {
            println!(
                "{seeds} seeds passed (from {start}, {} steps each): {} sent, {} delivered, {} disconnects, {} restarts, {} faulted chunks, {} logons",
                cfg.steps,
                s.sent,
                s.delivered,
                s.disconnects,
                s.restarts,
                s.faulted_chunks,
                s.logons
            );
            ExitCode::SUCCESS
        }
        Err(f) => {
            print!("{f}");
            println!(
                "replay: cargo run -p fix-sim -- --start {} --seeds 1 --steps {}",
                f.seed, cfg.steps
            );
            ExitCode::FAILURE
        }
    }
}
