//! `fixd run --config acceptance/at.properties` over TCP, driven by the project's own runner
//! (`fix-acceptance`) with a handful of QuickFIX acceptance scripts: the configuration, the
//! dictionaries it names, the `echo` application and the acceptor routing, end to end. The whole
//! suite runs with `scripts/acceptance.sh`; this is the quick regression check.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fix_acceptance::{RunConfig, Script, run_tcp_script};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Scripts chosen to cover: a Logon on the oldest version, echo in dictionary order with a
/// repeating group, BusinessMessageReject (4.2+) and session Reject (4.0/4.1) for unsupported
/// types, a garbled message, and a ResendRequest answered with gap fills and resent orders.
const SCRIPTS: &[&str] = &[
    "fix40/1a_ValidLogonWithCorrectMsgSeqNum.def",
    "fix41/2r_UnregisteredMsgType.def",
    "fix42/2r_UnregisteredMsgType.def",
    "fix42/15_HeaderAndBodyFieldsOrderedDifferently.def",
    "fix44/14i_RepeatingGroupCountNotEqual.def",
    "fix44/3c_GarbledMessage.def",
    "fix44/8_AdminAndApplicationMessages.def",
];

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn acceptance_configuration_serves_quickfix_scripts() {
    let suite = repo_root().join("../shared/acceptance/quickfix");
    assert!(
        suite.is_dir(),
        "{} is missing: the QuickFIX acceptance scripts live beside the repository",
        suite.display()
    );
    let work = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fixd"))
        .current_dir(repo_root())
        .args(["run", "--config", "acceptance/at.properties"])
        .args(["--set", &format!("ListenPort={port}")])
        .arg("--set")
        .arg(format!(
            "StorageDirectory={}",
            work.path().join("store").display()
        ))
        .arg("--set")
        .arg(format!("MessageLog={}", work.path().join("logs").display()))
        .args(["--admin-socket", "off", "--status-interval", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixd");
    let stderr = child.stderr.take().expect("stderr");
    let _guard = KillOnDrop(child);
    let (tx, rx) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    loop {
        match rx.recv_deadline(deadline) {
            Ok(l) if l.contains("listening on 127.0.0.1:") => break,
            Ok(l) => seen.push(l),
            Err(_) => panic!("fixd did not listen: {seen:#?}"),
        }
    }

    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let config = RunConfig::default();
    let mut failures = Vec::new();
    for name in SCRIPTS {
        let path = suite.join(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let script = Script::parse(name, &bytes).expect("script parses");
        if let Err(f) = run_tcp_script(&script, addr, &config) {
            failures.push(format!("{name}: {f}"));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
