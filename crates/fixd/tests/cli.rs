//! The `fixd` binary end to end: `check-config`, `demo`, and `run` stopped by SIGTERM with a
//! graceful logout of a connected initiator. Loopback only, ports from the OS, every wait bounded.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fix_engine::config::{EngineSettings, IdleStrategy, SessionSettings, StorageType};
use fix_engine::{Application, EngineBuilder, Replies, SessionHandle, SessionState};

fn fixd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_fixd"))
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `cmd` to completion, killing it (and failing) after `limit`.
fn run_bounded(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixd");
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let status = wait_bounded(&mut child, limit);
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

fn wait_bounded(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return s;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("fixd did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_config(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write config");
    p
}

#[test]
fn check_config_prints_the_resolved_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let dict = repo_root().join("spec/FIX44.xml");
    let cfg = write_config(
        dir.path(),
        "good.properties",
        &format!(
            "ListenPort = 9870\n\
             FixLayer.FixEngine.Sessions = ACC, INI\n\
             FixLayer.FixEngine.Session.ACC.Role = Acceptor\n\
             FixLayer.FixEngine.Session.ACC.Version = FIX.4.4\n\
             FixLayer.FixEngine.Session.ACC.SenderCompID = ME\n\
             FixLayer.FixEngine.Session.ACC.TargetCompID = YOU\n\
             FixLayer.FixEngine.Session.ACC.Application = executor\n\
             FixLayer.FixEngine.Session.ACC.DataDictionary = {}\n\
             FixLayer.FixEngine.Session.INI.Role = Initiator\n\
             FixLayer.FixEngine.Session.INI.Version = FIX.4.2\n\
             FixLayer.FixEngine.Session.INI.SenderCompID = ME\n\
             FixLayer.FixEngine.Session.INI.TargetCompID = THEM\n\
             FixLayer.FixEngine.Session.INI.Host = 127.0.0.1\n\
             FixLayer.FixEngine.Session.INI.Port = 9871\n\
             FixLayer.FixEngine.Session.INI.EnableAutoSwitchToBackupConnection = true\n\
             FixLayer.FixEngine.Session.INI.Backup.Host = 127.0.0.1\n\
             FixLayer.FixEngine.Session.INI.Backup.Port = 9872\n",
            dict.display()
        ),
    );
    let mut cmd = fixd();
    cmd.arg("check-config")
        .arg(&cfg)
        .args(["--set", "HeartBtInt=7"]);
    let out = run_bounded(cmd, Duration::from_secs(30));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("OK: 2 session(s) started at start, 0 deferred"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "session ACC acceptor FIX.4.4 ME->YOU listen=127.0.0.1:9870 app=executor HeartBtInt=7s"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "session INI initiator FIX.4.2 ME->THEM connect=127.0.0.1:9871 \
             backup=127.0.0.1:9872 app=none"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("ListenPort=9870"), "{stdout}");
    // The effective values under each session, defaults included.
    assert!(
        stdout.contains(
            "  timing: LogonTimeout=10s LogoutTimeout=5s ResendRequestTimeout=2xHeartBtInt \
             ResendBatch=1024 MaxHeldBytes=1048576"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "  primary 127.0.0.1:9871: ForcedReconnect=N ReconnectMaxTries=3 \
             ReconnectInterval=5s LogonTimeout=10s ForceSeqNumReset=0 \
             EnableAutoSwitchToBackupConnection=Y EnableCyclicSwitchBackupConnection=N"
        ),
        "{stdout}"
    );
    // The backup's own values: not inherited from the session, as the vendor documents.
    assert!(
        stdout.contains(
            "  backup.1 127.0.0.1:9872 ME->THEM HeartBtInt=7s: ForcedReconnect=N \
             ReconnectMaxTries=3"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("  connect: EndpointPolicy=priority MaxConnectAttempts=-1"),
        "{stdout}"
    );
}

#[test]
fn check_config_accepts_the_acceptance_configuration() {
    let mut cmd = fixd();
    cmd.current_dir(repo_root())
        .args(["check-config", "acceptance/at.properties"]);
    let out = run_bounded(cmd, Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("OK: 10 session(s)"), "{stdout}");
    for name in [
        "TW40", "TW41", "TW42", "TW43", "TW44", "TW50", "TW50SP1", "TW50SP2", "TW",
    ] {
        assert!(
            stdout.contains(&format!("session {name} acceptor ")),
            "{name} missing: {stdout}"
        );
    }
    assert!(
        stdout
            .contains("ISLD->TW50SP2 DefaultApplVerID=FIX.5.0SP2 listen=127.0.0.1:54321 app=echo"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "ISLD->NO_CHECK_FIELDS_HAVE_VALUES listen=127.0.0.1:54321 app=echo HeartBtInt=30s ResetOnLogon dictionary=spec/FIX44.xml ValidateFieldsHaveValues=N"
        ),
        "{stdout}"
    );
}

#[test]
fn bad_configurations_exit_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        "bad.properties",
        "# a comment\n\
         FixLayer.FixEngine.Sessions = S\n\
         FixLayer.FixEngine.Session.S.HeartBtInt = 30s\n",
    );
    let out = run_bounded(
        {
            let mut c = fixd();
            c.arg("check-config").arg(&cfg);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "fixd: {}:3: FixLayer.FixEngine.Session.S.HeartBtInt: invalid value `30s`",
            cfg.display()
        )),
        "{stderr}"
    );
    assert!(out.stdout.is_empty());

    // `run` refuses the same file before starting anything.
    let out = run_bounded(
        {
            let mut c = fixd();
            c.arg("run").arg("--config").arg(&cfg);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(":3: FixLayer.FixEngine.Session.S.HeartBtInt"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening"), "{stderr}");

    // A dictionary that does not exist is a configuration error at its key's line.
    let cfg = write_config(
        dir.path(),
        "nodict.properties",
        "FixLayer.FixEngine.Sessions = S\n\
         FixLayer.FixEngine.Session.S.Role = Acceptor\n\
         FixLayer.FixEngine.Session.S.Version = FIX.4.4\n\
         FixLayer.FixEngine.Session.S.SenderCompID = A\n\
         FixLayer.FixEngine.Session.S.TargetCompID = B\n\
         FixLayer.FixEngine.Session.S.Port = 9000\n\
         FixLayer.FixEngine.Session.S.DataDictionary = /nonexistent/FIX44.xml\n",
    );
    let out = run_bounded(
        {
            let mut c = fixd();
            c.arg("check-config").arg(&cfg);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "fixd: {}:7: FixLayer.FixEngine.Session.S.DataDictionary: cannot load `/nonexistent/FIX44.xml`",
            cfg.display()
        )),
        "{stderr}"
    );

    // An override is checked like a line of the file.
    let out = run_bounded(
        {
            let mut c = fixd();
            c.arg("check-config")
                .arg(&cfg)
                .args(["--set", "NoSuchKey=1"]);
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).starts_with("fixd: --set:1: NoSuchKey: "),
        "{}",
        text(&out.stderr)
    );

    // A missing file.
    let out = run_bounded(
        {
            let mut c = fixd();
            c.arg("check-config")
                .arg(dir.path().join("missing.properties"));
            c
        },
        Duration::from_secs(30),
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("missing.properties"));
}

#[test]
fn demo_runs_to_completion_and_prints_percentiles() {
    let mut cmd = fixd();
    cmd.args(["demo", "--orders", "300"]);
    let out = run_bounded(cmd, Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("orders sent: 300, execution reports received: 300"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("round-trip latency"))
        .unwrap_or_else(|| panic!("no latency line: {stdout}"));
    for p in ["n=300 ", " p50=", " p90=", " p99=", " p99.9=", " max="] {
        assert!(line.contains(p), "{p} missing: {line}");
    }
    assert!(
        stdout.contains("  CLIENT   CORRECTLY_TERMINATED"),
        "{stdout}"
    );
    assert!(stdout.contains("  VENUE    "), "{stdout}");
}

/// Counts execution reports received by the test's initiator.
#[derive(Default)]
struct Counter {
    reports: AtomicU64,
}

impl Application for Counter {
    fn on_message(&self, _: &SessionHandle, msg: fix_codec::MessageRef<'_>, _: &mut Replies<'_>) {
        if msg.msg_type() == Some(b"8") && msg.get(11) == Some(b"C1") {
            self.reports.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Waits for a stderr line containing `needle`; returns every line read so far.
fn wait_for_line(
    lines: &crossbeam_channel::Receiver<String>,
    seen: &mut Vec<String>,
    needle: &str,
    limit: Duration,
) -> bool {
    let deadline = Instant::now() + limit;
    while let Ok(l) = lines.recv_deadline(deadline) {
        let hit = l.contains(needle);
        seen.push(l);
        if hit {
            return true;
        }
    }
    false
}

#[test]
fn run_serves_until_sigterm_then_logs_out_the_connected_initiator() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let admin = dir.path().join("admin.sock");
    let cfg = write_config(
        dir.path(),
        "venue.properties",
        &format!(
            "IdleStrategy = block\n\
             StorageType = transient\n\
             MessageLog = {}\n\
             FixLayer.FixEngine.Sessions = VENUE\n\
             FixLayer.FixEngine.Session.VENUE.Role = Acceptor\n\
             FixLayer.FixEngine.Session.VENUE.Version = FIX.4.4\n\
             FixLayer.FixEngine.Session.VENUE.SenderCompID = ISLD\n\
             FixLayer.FixEngine.Session.VENUE.TargetCompID = CLI\n\
             FixLayer.FixEngine.Session.VENUE.Application = executor\n\
             ListenPort = 1\n",
            logs.display()
        ),
    );
    let port = free_port();
    let mut child = fixd()
        .arg("run")
        .arg("--config")
        .arg(&cfg)
        .args([
            "--set",
            &format!("ListenPort={port}"),
            "--status-interval",
            "1",
        ])
        .arg("--admin-socket")
        .arg(&admin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn fixd run");
    let (tx, lines) = crossbeam_channel::unbounded();
    let stderr = child.stderr.take().expect("stderr");
    let reader = std::thread::spawn(move || {
        for l in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let guard = KillOnDrop(Some(child));
    assert!(
        wait_for_line(
            &lines,
            &mut seen,
            "listening on 127.0.0.1:",
            Duration::from_secs(30)
        ),
        "fixd did not listen: {seen:#?}"
    );

    let counter = Arc::new(Counter::default());
    let mut engine = EngineBuilder::new(EngineSettings::default())
        .idle_strategy(IdleStrategy::Block)
        .start()
        .expect("test engine");
    let mut s = SessionSettings::initiator("CLI", "FIX.4.4", "CLI", "ISLD", "127.0.0.1", port)
        .build()
        .expect("initiator settings");
    s.storage.kind = StorageType::Transient;
    let ini = engine
        .create_session_with(s, counter.clone())
        .expect("initiator");
    ini.wait_for_state(SessionState::Established, Duration::from_secs(10))
        .expect("logged on to fixd");
    ini.send(b"D", |e| {
        e.field(11, b"C1")
            .field(21, b"1")
            .field(38, b"100")
            .field(40, b"1")
            .field(54, b"1")
            .field(55, b"X")
            .field(60, b"20260101-00:00:00");
    })
    .expect("order sent");
    let deadline = Instant::now() + Duration::from_secs(10);
    while counter.reports.load(Ordering::Relaxed) == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        counter.reports.load(Ordering::Relaxed),
        1,
        "no execution report"
    );

    // The status line shows the live session.
    assert!(
        wait_for_line(
            &lines,
            &mut seen,
            "VENUE ESTABLISHED seq out=3 in=3",
            Duration::from_secs(10)
        ),
        "no status line: {seen:#?}"
    );

    // So does `fixd status` on the admin socket, on demand.
    let mut status = fixd();
    status.arg("status").arg("--socket").arg(&admin);
    let out = run_bounded(status, Duration::from_secs(30));
    let answer = text(&out.stdout);
    assert!(out.status.success(), "{answer}{}", text(&out.stderr));
    assert!(answer.starts_with("fixd pid "), "{answer}");
    assert!(answer.contains("1 session(s)"), "{answer}");
    assert!(
        answer.contains("\nVENUE ESTABLISHED seq out=3 in=3 | inbound n=1 p50="),
        "{answer}"
    );

    let mut child = guard.take();
    // SAFETY: plain kill(2) on the child's pid, which has not been reaped yet.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(rc, 0);
    let state = ini
        .wait_terminated(Duration::from_secs(10))
        .expect("initiator logged out by fixd");
    assert_eq!(state, SessionState::CorrectlyTerminated);
    let status = wait_bounded(&mut child, Duration::from_secs(15));
    reader.join().expect("reader");
    seen.extend(lines.try_iter());
    assert!(status.success(), "fixd exit {status:?}: {seen:#?}");
    let all = seen.join("\n");
    assert!(all.contains("stopping"), "{all}");
    assert!(
        seen.iter().any(|l| l.contains("final state")
            && l.contains("session=VENUE")
            && l.contains("state=CORRECTLY_TERMINATED")),
        "{all}"
    );
    engine.stop();
    assert!(!admin.exists(), "the admin socket is removed at exit");

    // The engine's message log (`MessageLog`) has the whole conversation, one message per line;
    // fixd named the file at start.
    let named = seen
        .iter()
        .find(|l| l.contains("message log") && l.contains("session=VENUE"))
        .unwrap_or_else(|| panic!("no message log line: {all}"));
    let file = std::fs::read_dir(&logs)
        .expect("log directory")
        .map(|e| e.expect("entry").path())
        .find(|p| p.to_string_lossy().ends_with(".messages.log"))
        .expect("a message log file");
    assert!(
        named.contains(&*file.to_string_lossy()),
        "{named} vs {}",
        file.display()
    );
    let log = std::fs::read(&file).expect("message log");
    let lines: Vec<&[u8]> = log
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let has = |dir: &str, msg_type: &str| {
        lines.iter().any(|l| {
            let l = String::from_utf8_lossy(l);
            l.contains(&format!(" {dir} 8=FIX.4.4\u{1}"))
                && l.contains(&format!("\u{1}35={msg_type}\u{1}"))
        })
    };
    for (dir, t) in [
        ("IN ", "A"),
        ("OUT", "A"),
        ("IN ", "D"),
        ("OUT", "8"),
        ("OUT", "5"),
        ("IN ", "5"),
    ] {
        assert!(
            has(dir, t),
            "no {dir} 35={t} in {}",
            String::from_utf8_lossy(&log)
        );
    }
}

/// Kills the child if the test fails before it takes it back.
struct KillOnDrop(Option<Child>);

impl KillOnDrop {
    fn take(mut self) -> Child {
        self.0.take().expect("child")
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn run_exits_1_when_the_port_is_taken() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = taken.local_addr().unwrap().port();
    let cfg = write_config(
        dir.path(),
        "taken.properties",
        &format!(
            "IdleStrategy = block\n\
             StorageType = transient\n\
             ListenPort = {port}\n\
             FixLayer.FixEngine.Sessions = S\n\
             FixLayer.FixEngine.Session.S.Role = Acceptor\n\
             FixLayer.FixEngine.Session.S.Version = FIX.4.4\n\
             FixLayer.FixEngine.Session.S.SenderCompID = A\n\
             FixLayer.FixEngine.Session.S.TargetCompID = B\n"
        ),
    );
    let mut cmd = fixd();
    cmd.arg("run")
        .arg("--config")
        .arg(&cfg)
        .arg("--admin-socket")
        .arg(dir.path().join("admin.sock"));
    let out = run_bounded(cmd, Duration::from_secs(30));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("fixd: cannot start the engine: "),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!dir.path().join("admin.sock").exists());
    drop(taken);
}

#[test]
fn demo_streams_with_a_window() {
    let mut cmd = fixd();
    cmd.args(["demo", "--orders", "500", "--window", "32"]);
    let out = run_bounded(cmd, Duration::from_secs(60));
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("orders sent: 500, execution reports received: 500"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ExecutionReport (up to 32 in flight): n=500 p50="),
        "{stdout}"
    );
    assert!(
        stdout.contains("  CLIENT   CORRECTLY_TERMINATED"),
        "{stdout}"
    );
}
