//! `fixd client` end to end against an in-process acceptor: every order answered once, a stop
//! without Logout resumed on the same store and state file, and a silent venue reported as a
//! timeout with the missing orders. Loopback only, ports from the OS, every wait bounded.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use fix_engine::config::{
    Application as AppKind, EngineSettings, IdleStrategy, SessionSettings, StorageType,
};
use fix_engine::{Engine, EngineBuilder};

fn venue(app: AppKind) -> Engine {
    let mut es = EngineSettings::default();
    es.idle_strategy = IdleStrategy::Block;
    es.workers = 1;
    let mut s = SessionSettings::acceptor("VENUE", "FIX.4.4", "ACC", "INI", 0)
        .heart_bt_int(30)
        .build()
        .unwrap();
    s.storage.kind = StorageType::Transient;
    s.application = app;
    EngineBuilder::new(es)
        .listen_port(Some(0))
        .session(s)
        .start()
        .unwrap()
}

fn config(dir: &Path, port: u16) -> std::path::PathBuf {
    let p = dir.join("client.properties");
    std::fs::write(
        &p,
        format!(
            "IdleStrategy = block\n\
             FixLayer.FixEngine.Sessions = IOP\n\
             FixLayer.FixEngine.Session.IOP.Role = Initiator\n\
             FixLayer.FixEngine.Session.IOP.Version = FIX.4.4\n\
             FixLayer.FixEngine.Session.IOP.SenderCompID = INI\n\
             FixLayer.FixEngine.Session.IOP.TargetCompID = ACC\n\
             FixLayer.FixEngine.Session.IOP.Host = 127.0.0.1\n\
             FixLayer.FixEngine.Session.IOP.Port = {port}\n\
             FixLayer.FixEngine.Session.IOP.StorageDirectory = {}\n",
            dir.join("store").display()
        ),
    )
    .unwrap();
    p
}

/// Runs `fixd client ARGS`, killing it (and failing) after 60 s.
fn client(cfg: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixd"))
        .arg("client")
        .arg("--config")
        .arg(cfg)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out.read_to_end(&mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fixd client did not finish in time");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let mut stderr = Vec::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_end(&mut stderr);
    }
    Output {
        status,
        stdout: reader.join().unwrap(),
        stderr,
    }
}

fn field(out: &Output, key: &str) -> String {
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")).map(str::to_owned))
        .unwrap_or_else(|| panic!("no {key} in {text:?}"))
}

#[test]
fn every_order_answered_once_then_a_stopped_run_resumes_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let engine = venue(AppKind::Executor);
    let cfg = config(dir.path(), engine.listen_addr().unwrap().port());
    let report = dir.path().join("report");

    let out = client(
        &cfg,
        &[
            "--orders",
            "300",
            "--window",
            "8",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{out:?}");
    for (k, v) in [
        ("orders_sent", "300"),
        ("reports_received", "300"),
        ("duplicates", "0"),
        ("missing", "0"),
        ("mismatched", "0"),
        ("aborted", "0"),
    ] {
        assert_eq!(field(&out, k), v, "{k}");
    }
    let written = std::fs::read_to_string(&report).unwrap();
    assert_eq!(written.trim(), String::from_utf8_lossy(&out.stdout).trim());

    // The same store: numbers continue. Run 1 stops without Logout after order 100 of 400.
    let state = dir.path().join("state");
    let st = state.to_str().unwrap();
    let args = ["--orders", "400", "--window", "16", "--state", st];
    let mut first = args.to_vec();
    first.extend(["--stop-after", "100"]);
    let out = client(&cfg, &first);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(field(&out, "aborted"), "1");
    assert_eq!(field(&out, "orders_sent"), "100");
    assert_eq!(field(&out, "unsent"), "300");
    let out = client(&cfg, &args);
    assert!(out.status.success(), "{out:?}");
    for (k, v) in [
        ("orders_sent", "400"),
        ("reports_received", "400"),
        ("duplicates", "0"),
        ("missing", "0"),
        ("unexpected", "0"),
        ("reset_logons_sent", "0"),
        ("aborted", "0"),
    ] {
        assert_eq!(field(&out, k), v, "{k}");
    }
}

#[test]
fn a_venue_that_never_answers_is_a_timeout_with_every_order_missing() {
    let dir = tempfile::tempdir().unwrap();
    let engine = venue(AppKind::None);
    let cfg = config(dir.path(), engine.listen_addr().unwrap().port());
    let out = client(&cfg, &["--orders", "5", "--window", "5", "--timeout", "1"]);
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    assert_eq!(field(&out, "orders_sent"), "5");
    assert_eq!(field(&out, "reports_received"), "0");
    assert_eq!(field(&out, "missing"), "5");
}
