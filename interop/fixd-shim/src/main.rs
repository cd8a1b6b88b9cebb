//! `fixd-shim run --config FILE [--set KEY=VALUE]...`: what `fixd run` will do, minimally. Loads
//! the properties, starts the engine with the sessions they list (and their built-in
//! applications), and runs until SIGTERM or SIGINT, then stops the engine (sessions log out).
//! `fixd-shim check FILE...` only loads and resolves each file.

use fix_engine::EngineBuilder;
use fix_engine::config::Config;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("check") => check(&args[1..]),
        Some("run") => run(&args[1..]),
        _ => {
            eprintln!("usage: fixd-shim run --config FILE [--set KEY=VALUE]... | check FILE...");
            ExitCode::from(2)
        }
    }
}

fn check(files: &[String]) -> ExitCode {
    let mut ok = true;
    for path in files {
        let mut c = Config::new();
        match c.load_file(path).and_then(|()| c.resolve().map(|_| ())) {
            Ok(()) => println!("ok {path}"),
            Err(e) => {
                println!("error {e}");
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn run(args: &[String]) -> ExitCode {
    let mut config = Config::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let r = match (a.as_str(), it.next()) {
            ("--config", Some(path)) => config.load_file(path),
            ("--set", Some(kv)) => config.set_override_arg(kv),
            _ => {
                eprintln!("fixd-shim: unexpected argument `{a}`");
                return ExitCode::from(2);
            }
        };
        if let Err(e) = r {
            eprintln!("fixd-shim: {e}");
            return ExitCode::from(2);
        }
    }
    let resolved = match config.resolve() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("fixd-shim: {e}");
            return ExitCode::from(2);
        }
    };
    // Blocked before the engine's threads exist, so that they inherit the mask and only
    // `sigwait` below sees the signals.
    // SAFETY: plain libc calls on a zero-initialised local `sigset_t`.
    let set = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let mut engine = match EngineBuilder::from_config(&resolved).start() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("fixd-shim: {e}");
            return ExitCode::from(3);
        }
    };
    eprintln!(
        "fixd-shim: running, listening on {:?}",
        engine.listen_addrs()
    );
    let mut sig = 0;
    // SAFETY: `set` is an initialised signal set; `sig` is a valid out-pointer.
    unsafe { libc::sigwait(&set, &mut sig) };
    eprintln!("fixd-shim: signal {sig}, stopping");
    engine.stop();
    ExitCode::SUCCESS
}
