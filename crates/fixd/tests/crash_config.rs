//! Bad configuration never leaves `fixd` half started: for every kind of bad line placed after a
//! complete, valid acceptor (so an eager start would already have created its storage, message
//! log and admin socket), `fixd run` exits 2 with `fixd: FILE:LINE: KEY: ...` and has created
//! nothing. The value checks themselves are tested key by key in
//! `crates/fix-engine/tests/config_errors.rs`; this is the binary's side.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn run_fixd(cfg: &Path, admin: &Path) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixd"))
        .arg("run")
        .arg("--config")
        .arg(cfg)
        .arg("--admin-socket")
        .arg(admin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixd");
    let mut err = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fixd started with a bad configuration: {}", cfg.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status.code(), reader.join().expect("stderr reader"))
}

#[test]
fn every_kind_of_bad_line_exits_2_naming_it_and_starts_nothing() {
    // (bad line, the key the error must name)
    let cases: &[(&str, &str)] = &[
        (
            "FixLayer.FixEngine.Session.B.HeartBtInt = -5",
            "FixLayer.FixEngine.Session.B.HeartBtInt",
        ),
        (
            "FixLayer.FixEngine.Session.B.HeartBtInt = 30s",
            "FixLayer.FixEngine.Session.B.HeartBtInt",
        ),
        (
            "FixLayer.FixEngine.Session.B.Port = 70000",
            "FixLayer.FixEngine.Session.B.Port",
        ),
        (
            "FixLayer.FixEngine.Session.B.Role = Server",
            "FixLayer.FixEngine.Session.B.Role",
        ),
        (
            "FixLayer.FixEngine.Session.B.Version = FIX.9.9",
            "FixLayer.FixEngine.Session.B.Version",
        ),
        (
            "FixLayer.FixEngine.Session.B.SenderCompID = MY FIRM",
            "FixLayer.FixEngine.Session.B.SenderCompID",
        ),
        (
            "FixLayer.FixEngine.Session.B.ForceSeqNumReset = 7",
            "FixLayer.FixEngine.Session.B.ForceSeqNumReset",
        ),
        (
            "FixLayer.FixEngine.Session.B.ReconnectMaxTries = -2",
            "FixLayer.FixEngine.Session.B.ReconnectMaxTries",
        ),
        (
            "FixLayer.FixEngine.Session.B.Application = bank",
            "FixLayer.FixEngine.Session.B.Application",
        ),
        (
            "FixLayer.FixEngine.Session.B.DataDictionary = /nonexistent/FIX44.xml",
            "FixLayer.FixEngine.Session.B.DataDictionary",
        ),
        (
            "FixLayer.FixEngine.Session.B.NoSuchKey = 1",
            "FixLayer.FixEngine.Session.B.NoSuchKey",
        ),
        ("ForcedReconnect = maybe", "ForcedReconnect"),
        ("IoThreads = 0", "IoThreads"),
        ("MaxMessageSize = 12", "MaxMessageSize"),
        ("IdleStrategy = spin", "IdleStrategy"),
        ("StorageType = disk", "StorageType"),
        (
            "UnregisteredAcceptor.CreateSession = perhaps",
            "UnregisteredAcceptor.CreateSession",
        ),
        ("ListenAddress = localhost", "ListenAddress"),
        ("IoCpus = 0-3", "IoCpus"),
        ("ListenPort =", "ListenPort"),
    ];
    for (i, (bad, key)) in cases.iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let logs = dir.path().join("logs");
        let admin = dir.path().join("admin.sock");
        let cfg = dir.path().join("bad.properties");
        let text = format!(
            "IdleStrategy = block\n\
             StorageType = persistent\n\
             StorageDirectory = {}\n\
             MessageLog = {}\n\
             ListenPort = 0\n\
             FixLayer.FixEngine.Sessions = A, B\n\
             FixLayer.FixEngine.Session.A.Role = Acceptor\n\
             FixLayer.FixEngine.Session.A.Version = FIX.4.4\n\
             FixLayer.FixEngine.Session.A.SenderCompID = VENUE\n\
             FixLayer.FixEngine.Session.A.TargetCompID = CLIA\n\
             FixLayer.FixEngine.Session.B.Role = Acceptor\n\
             FixLayer.FixEngine.Session.B.Version = FIX.4.4\n\
             FixLayer.FixEngine.Session.B.SenderCompID = VENUE\n\
             FixLayer.FixEngine.Session.B.TargetCompID = CLIB\n\
             {bad}\n",
            store.display(),
            logs.display()
        );
        std::fs::write(&cfg, &text).unwrap();
        let (code, stderr) = run_fixd(&cfg, &admin);
        assert_eq!(code, Some(2), "case {i} `{bad}`: exit {code:?}: {stderr}");
        let line = text.lines().count();
        let want = format!("fixd: {}:{line}: {key}", cfg.display());
        assert!(
            stderr.contains(&want),
            "case {i} `{bad}`: want `{want}` in: {stderr}"
        );
        assert!(
            !stderr.contains("fixd running"),
            "case {i} `{bad}`: {stderr}"
        );
        for p in [&store, &logs, &admin] {
            assert!(
                !p.exists(),
                "case {i} `{bad}`: {} was created by a refused configuration",
                p.display()
            );
        }
    }
}
