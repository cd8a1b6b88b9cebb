//! The TCP transport and the binary against a tiny scripted engine on 127.0.0.1 (port 0).
//! Every wait is bounded: accepts and reads give up after a few seconds, so a broken runner fails
//! the test instead of hanging it.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use fix_acceptance::{FailureKind, RunConfig, Script, run_tcp_script};
use fix_codec::{EncodeBuffer, FrameStatus, Framer, MessageRef, TimePrecision};

/// Bound on everything the fake engine waits for.
const ENGINE_WAIT: Duration = Duration::from_secs(5);

fn soh(s: &str) -> Vec<u8> {
    s.replace('|', "\x01").into_bytes()
}

/// How the fake engine misbehaves, if at all.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Answers Logon, TestRequest and Logout like an acceptor.
    Polite,
    /// Reads everything and never answers.
    Mute,
}

/// What the engine saw on one connection: the bytes of each frame it received.
type Seen = Vec<Vec<u8>>;

/// Accept `conns` connections one after another and serve each until the peer closes.
fn spawn_engine(conns: usize, mode: Mode) -> (SocketAddr, JoinHandle<Vec<Seen>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..conns {
            let Some(stream) = accept_bounded(&listener) else {
                break;
            };
            seen.push(serve(stream, mode));
        }
        seen
    });
    (addr, handle)
}

fn accept_bounded(listener: &TcpListener) -> Option<TcpStream> {
    let deadline = Instant::now() + ENGINE_WAIT;
    while Instant::now() < deadline {
        match listener.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return Some(s);
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(1));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
    None
}

fn reply(begin: &[u8], msg_type: &[u8], seq: u64, extra: &[(u32, &[u8])]) -> Vec<u8> {
    let mut buf = EncodeBuffer::default();
    let now = fix_acceptance::system_now_utc().to_fix_string(TimePrecision::Millis);
    let mut enc = buf.encoder(begin, msg_type);
    enc.field_u64(34, seq)
        .field(49, b"ISLD")
        .field_str(52, &now)
        .field(56, b"TW");
    for (tag, value) in extra {
        enc.field(*tag, value);
    }
    enc.finish().to_vec()
}

/// Serve one connection: frame what arrives, answer, stop at EOF or after a Logout exchange.
fn serve(mut stream: TcpStream, mode: Mode) -> Seen {
    stream.set_read_timeout(Some(ENGINE_WAIT)).unwrap();
    let framer = Framer::default();
    let mut buf = Vec::new();
    let mut seen = Vec::new();
    let mut seq = 0;
    let mut chunk = [0u8; 4096];
    loop {
        match framer.next_frame(&buf) {
            FrameStatus::Complete { len } => {
                let frame: Vec<u8> = buf.drain(..len).collect();
                seen.push(frame.clone());
                if mode == Mode::Mute {
                    continue;
                }
                let m = MessageRef::new(&frame);
                let begin = m.begin_string().unwrap().to_vec();
                match m.msg_type().unwrap() {
                    b"A" => {
                        seq += 1;
                        let r = reply(&begin, b"A", seq, &[(98, b"0"), (108, b"30")]);
                        stream.write_all(&r).unwrap();
                    }
                    b"1" => {
                        let id = m.get(112).unwrap().to_vec();
                        let mut out = Vec::new();
                        // "two" asks for two heartbeats in one write: the runner must keep the
                        // second buffered for the next `E` line.
                        for _ in 0..if id == b"two" { 2 } else { 1 } {
                            seq += 1;
                            out.extend(reply(&begin, b"0", seq, &[(112, &id)]));
                        }
                        // Split across two writes with a pause: the runner must reassemble.
                        let (a, b) = out.split_at(7);
                        stream.write_all(a).unwrap();
                        stream.flush().unwrap();
                        std::thread::sleep(Duration::from_millis(3));
                        stream.write_all(b).unwrap();
                    }
                    b"5" => {
                        seq += 1;
                        stream.write_all(&reply(&begin, b"5", seq, &[])).unwrap();
                        // Graceful: FIN, then read whatever is left until the peer closes.
                        stream.shutdown(Shutdown::Write).unwrap();
                        let _ = stream.read_to_end(&mut buf);
                        return seen;
                    }
                    _ => {}
                }
            }
            FrameStatus::Garbled { skip, .. } => {
                buf.drain(..skip);
            }
            FrameStatus::NeedMore => match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return seen,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
        }
    }
}

const PASSING: &str = "\
iCONNECT
I8=FIX.4.2|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|
E8=FIX.4.2|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW|98=0|108=30|
I8=FIX.4.2|35=1|34=2|49=TW|52=<TIME>|56=ISLD|112=hello|
E8=FIX.4.2|35=0|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW|112=hello|
I8=FIX.4.2|35=1|34=3|49=TW|52=<TIME>|56=ISLD|112=two|
E8=FIX.4.2|35=0|34=3|49=ISLD|52=00000000-00:00:00.000|56=TW|112=two|
E8=FIX.4.2|35=0|34=4|49=ISLD|52=00000000-00:00:00.000|56=TW|112=two|
I8=FIX.4.2|35=5|34=4|49=TW|52=<TIME>|56=ISLD|
E8=FIX.4.2|35=5|34=5|49=ISLD|52=00000000-00:00:00.000|56=TW|
eDISCONNECT
";

fn config(timeout_ms: u64) -> RunConfig {
    RunConfig {
        read_timeout: Duration::from_millis(timeout_ms),
        ..RunConfig::default()
    }
}

#[test]
fn script_passes_over_loopback_after_a_silent_probe() {
    let (addr, engine) = spawn_engine(2, Mode::Polite);
    let script = Script::parse("passing.def", &soh(PASSING)).unwrap();
    run_tcp_script(&script, addr, &config(3000)).unwrap_or_else(|f| panic!("{f}"));
    let seen = engine.join().unwrap();
    assert_eq!(seen.len(), 2, "probe and script connections");
    assert!(seen[0].is_empty(), "the probe sends nothing");
    // Every line went out as a valid frame (the engine's framer verified 9= and 10=).
    let types: Vec<Vec<u8>> = seen[1]
        .iter()
        .map(|f| MessageRef::new(f).msg_type().unwrap().to_vec())
        .collect();
    assert_eq!(
        types,
        [b"A".to_vec(), b"1".to_vec(), b"1".to_vec(), b"5".to_vec()]
    );
}

#[test]
fn silent_engine_fails_the_expect_line_within_the_bound() {
    let (addr, engine) = spawn_engine(2, Mode::Mute);
    let script = Script::parse("mute.def", &soh(PASSING)).unwrap();
    let started = Instant::now();
    let f = run_tcp_script(&script, addr, &config(200)).unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(4), "bounded");
    assert_eq!(f.line, 3);
    assert!(
        matches!(f.kind, FailureKind::NoMessage { timeout, .. } if timeout == Duration::from_millis(200)),
        "{f}"
    );
    // The runner closed its connection at the end, so the engine saw EOF and finished.
    let seen = engine.join().unwrap();
    assert_eq!(seen[1].len(), 1);
}

#[test]
fn unexpected_reply_is_a_mismatch_and_data_is_not_a_close() {
    let (addr, engine) = spawn_engine(2, Mode::Polite);
    let text = PASSING.replace(
        "112=hello|\nE",
        "112=hello|\nE8=FIX.4.2|35=0|34=2|49=ISLD|52=00000000-00:00:00.000|56=TW|112=HELLO|\n#E",
    );
    let script = Script::parse("mismatch.def", &soh(&text)).unwrap();
    let f = run_tcp_script(&script, addr, &config(2000)).unwrap_err();
    assert_eq!(f.line, 5);
    let msg = f.to_string();
    assert!(
        msg.starts_with(
            "line 5: field 8 (tag 112): expected `HELLO`, got `hello`; expected `8=FIX.4.2|9="
        ),
        "{msg}"
    );
    engine.join().unwrap();

    // The engine answers the Logon where the script expects a close.
    let (addr, engine) = spawn_engine(2, Mode::Polite);
    let text = "iCONNECT\nI8=FIX.4.2|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|\neDISCONNECT\n";
    let script = Script::parse("open.def", &soh(text)).unwrap();
    let f = run_tcp_script(&script, addr, &config(2000)).unwrap_err();
    assert_eq!(f.line, 3);
    assert!(
        f.to_string()
            .starts_with("line 3: expected a disconnect, got `8=FIX.4.2|9="),
        "{f}"
    );
    engine.join().unwrap();
}

#[test]
fn connection_left_open_fails_expect_disconnect_within_the_bound() {
    let (addr, engine) = spawn_engine(2, Mode::Polite);
    let text = "iCONNECT\nI8=FIX.4.2|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|\n\
E8=FIX.4.2|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW|98=0|108=30|\neDISCONNECT\n";
    let script = Script::parse("open.def", &soh(text)).unwrap();
    let f = run_tcp_script(&script, addr, &config(200)).unwrap_err();
    assert_eq!(f.line, 4);
    assert!(matches!(f.kind, FailureKind::NotClosed { .. }), "{f}");
    engine.join().unwrap();
}

#[test]
fn no_engine_fails_at_the_probe() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let script = Script::parse("x.def", b"iCONNECT\n").unwrap();
    let f = run_tcp_script(&script, addr, &config(200)).unwrap_err();
    assert_eq!(f.line, 0);
    assert!(
        f.to_string()
            .starts_with("probe connection: connect to 127.0.0.1:"),
        "{f}"
    );
}

#[test]
fn binary_prints_one_line_per_script_and_the_totals() {
    let dir = tempfile::tempdir().unwrap();
    let scripts = dir.path().join("suite");
    std::fs::create_dir(&scripts).unwrap();
    std::fs::write(scripts.join("1_pass.def"), soh(PASSING)).unwrap();
    std::fs::write(
        scripts.join("2_fail.def"),
        soh("iCONNECT\nI8=FIX.4.2|35=A|34=1|49=TW|52=<TIME>|56=ISLD|98=0|108=30|\nE8=FIX.4.2|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW|98=0|108=31|\n"),
    )
    .unwrap();
    std::fs::write(scripts.join("3_bad.def"), "iCONNECT\nX8=FIX.4.2\n").unwrap();
    std::fs::write(scripts.join("notes.txt"), "not a script").unwrap();
    // Two runnable scripts, each a probe plus one connection.
    let (addr, engine) = spawn_engine(4, Mode::Polite);
    let out = Command::new(env!("CARGO_BIN_EXE_fix-acceptance"))
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &addr.port().to_string(),
            "--timeout",
            "3",
        ])
        .arg(&scripts)
        .output()
        .unwrap();
    engine.join().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert_eq!(lines[0], "PASS suite/1_pass.def");
    assert!(
        lines[1].starts_with(
            "FAIL suite/2_fail.def: line 3: field 9 (tag 108): expected `31`, got `30`"
        ),
        "{stdout}"
    );
    // Unparseable: fails without connecting.
    assert_eq!(
        lines[2],
        "FAIL suite/3_bad.def: line 2: unknown line kind: `X8=FIX.4.2`"
    );
    assert_eq!(lines[3], "1 passed, 2 failed");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn binary_usage_errors_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_fix-acceptance"))
        .args(["--port", "1", "/nonexistent/fix-acceptance-dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/fix-acceptance-dir"));

    let out = Command::new(env!("CARGO_BIN_EXE_fix-acceptance"))
        .arg("--print-free-port")
        .output()
        .unwrap();
    assert!(out.status.success());
    let port: u16 = String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(port > 0);
}
