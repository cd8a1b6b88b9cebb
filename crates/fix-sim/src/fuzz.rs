//! The bodies of the fuzz targets in `fuzz/` (and of the libFuzzer-free runner, `fix-fuzz-run`).
//!
//! They live here, inside the workspace, so that every crash the fuzzer finds becomes an ordinary
//! regression test (`crates/fix-sim/tests/fuzz_regressions.rs`) that CI runs without nightly
//! flags. Each function takes arbitrary bytes and must neither panic nor loop without bound; the
//! `assert!`s in them are oracles (a property that must hold for every input), not input checks.

use std::sync::{Arc, OnceLock};

use fix_codec::{
    Dictionary, FrameStatus, Framer, MessageRef, UtcTimestamp, ValidationOptions, Validator,
};
use fix_session::{Event, MonoTime, Now, Role, SeqState, Session, SessionConfig, SessionIo};
use fix_store::{MAX_SEQ_NUM, MmapStore, SessionStore, StoreOptions};

/// The fuzz targets by name, for runners and scripts.
pub const TARGETS: &[&str] = &[
    "framer",
    "fields",
    "validate",
    "session_acceptor",
    "session_initiator",
    "store_recovery",
];

/// Run target `name` on `data`. Returns false for an unknown name.
pub fn run_target(name: &str, data: &[u8]) -> bool {
    match name {
        "framer" => framer(data),
        "fields" => fields(data),
        "validate" => validate(data),
        "session_acceptor" => {
            session(data, Role::Acceptor);
        }
        "session_initiator" => {
            session(data, Role::Initiator);
        }
        "store_recovery" => store_recovery(data),
        _ => return false,
    }
    true
}

/// Frame `data` as a stream with a small and the default bound: every `Complete` frame is inside
/// the buffer and carries a matching checksum, every skip makes progress.
pub fn framer(data: &[u8]) {
    for framer in [Framer::default(), Framer::new(64)] {
        let mut rest = data;
        // Bounded: every round consumes at least one byte or stops.
        while !rest.is_empty() {
            match framer.next_frame(rest) {
                FrameStatus::Complete { len } => {
                    assert!(
                        len > 0 && len <= rest.len(),
                        "frame length {len} of {}",
                        rest.len()
                    );
                    assert!(len <= framer.max_frame_len(), "frame beyond the bound");
                    let frame = &rest[..len];
                    assert!(frame.starts_with(b"8="), "frame does not start with 8=");
                    assert!(frame.ends_with(b"\x01"), "frame does not end with SOH");
                    rest = &rest[len..];
                }
                FrameStatus::Garbled { skip, error } => {
                    assert!(skip > 0, "garbled without progress ({error})");
                    if error.is_fatal() {
                        break;
                    }
                    rest = &rest[skip.min(rest.len())..];
                }
                _ => break,
            }
        }
    }
}

/// Walk every field, read every accessor.
pub fn fields(data: &[u8]) {
    let m = MessageRef::new(data);
    let mut n = 0usize;
    for f in m.fields() {
        n += 1;
        assert!(n <= data.len() + 1, "more fields than bytes");
        if let Ok(f) = f {
            let _ = (f.as_u64(), f.as_i64(), f.as_char(), f.as_bool(), f.as_str());
            let _ = (f.as_decimal_text(), f.as_timestamp(), f.as_time_only());
            let _ = f.as_local_mkt_date();
        } else {
            break;
        }
    }
    let _ = (
        m.msg_type(),
        m.begin_string(),
        m.seq_num(),
        m.get_u64(34),
        m.get_bool(43),
    );
    let _ = (m.get(35), m.field(52));
}

/// The dictionaries of `spec/`, parsed once per process.
struct Dicts {
    validators: Vec<(&'static str, Validator)>,
}

fn dicts() -> &'static Dicts {
    static D: OnceLock<Dicts> = OnceLock::new();
    D.get_or_init(|| {
        let parse = |xml: &str| Arc::new(Dictionary::from_xml(xml).expect("vendored dictionary"));
        let fixt = parse(include_str!("../../../spec/FIXT11.xml"));
        let opts = ValidationOptions::default();
        let plain = |xml: &str| Validator::new(parse(xml), None, opts);
        let fixt_app = |xml: &str| Validator::new(Arc::clone(&fixt), Some(parse(xml)), opts);
        Dicts {
            validators: vec![
                ("FIX.4.0", plain(include_str!("../../../spec/FIX40.xml"))),
                ("FIX.4.1", plain(include_str!("../../../spec/FIX41.xml"))),
                ("FIX.4.2", plain(include_str!("../../../spec/FIX42.xml"))),
                ("FIX.4.3", plain(include_str!("../../../spec/FIX43.xml"))),
                ("FIX.4.4", plain(include_str!("../../../spec/FIX44.xml"))),
                (
                    "FIXT.1.1",
                    fixt_app(include_str!("../../../spec/FIX50.xml")),
                ),
                (
                    "FIXT.1.1",
                    fixt_app(include_str!("../../../spec/FIX50SP1.xml")),
                ),
                (
                    "FIXT.1.1",
                    fixt_app(include_str!("../../../spec/FIX50SP2.xml")),
                ),
            ],
        }
    })
}

/// Validate `data` with every dictionary; the fast path and the reference algorithm must agree.
pub fn validate(data: &[u8]) {
    for (_, v) in &dicts().validators {
        let fast = v.validate(data);
        let reference = v.validate_reference(data);
        assert_eq!(fast, reference, "fast path and reference disagree");
        let _ = v.validate_framed(data);
    }
}

/// `8=` and `49=` of the first frame-like prefix: the session under test takes the peer's
/// identity from the input, so the seed corpus (the acceptance scripts' messages, from `TW`,
/// `TW42`, ... to `ISLD`) gets past the CompID and BeginString checks.
fn peer_identity(data: &[u8]) -> (&'static str, String) {
    let head = &data[..data.len().min(256)];
    let m = MessageRef::new(head);
    let begin = match m.begin_string() {
        Some(b"FIX.4.0") => "FIX.4.0",
        Some(b"FIX.4.1") => "FIX.4.1",
        Some(b"FIX.4.2") => "FIX.4.2",
        Some(b"FIX.4.3") => "FIX.4.3",
        Some(b"FIXT.1.1") => "FIXT.1.1",
        _ => "FIX.4.4",
    };
    let sender = m
        .fields()
        .take(16)
        .map_while(Result::ok)
        .find(|f| f.tag == 49)
        .and_then(|f| f.as_str())
        .filter(|s| !s.is_empty() && s.len() <= 16)
        .unwrap_or("TW");
    (begin, sender.to_owned())
}

/// A [`SessionIo`] for fuzzing: keeps the journal, checks what the session sends.
#[derive(Default)]
struct FuzzIo {
    out: Vec<u8>,
    closed: bool,
    journal: Vec<(u64, Vec<u8>)>,
    logons: u64,
    app_messages: u64,
}

/// What a [`session`] run reached, so tests can check that seeds get past the Logon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionRun {
    /// Logon exchanges completed.
    pub logons: u64,
    /// Application messages delivered.
    pub app_messages: u64,
}

const MAX_JOURNAL: usize = 4096;

impl SessionIo for FuzzIo {
    fn send(&mut self, bytes: &[u8]) {
        // Oracle: whatever the session sends frames cleanly as exactly one message.
        match Framer::default().next_frame(bytes) {
            FrameStatus::Complete { len } => assert_eq!(len, bytes.len(), "sent more than a frame"),
            other => panic!("the session sent an invalid frame: {other:?}"),
        }
        self.out.clear();
        self.out.extend_from_slice(bytes);
    }
    fn close(&mut self) {
        self.closed = true;
    }
    fn persist_outbound(&mut self, seq: u64, bytes: &[u8]) {
        if self.journal.len() < MAX_JOURNAL {
            self.journal.push((seq, bytes.to_vec()));
        }
    }
    fn next_sender_seq_changed(&mut self, _next: u64) {}
    fn next_target_seq_changed(&mut self, _next: u64) {}
    fn read_outbound(&mut self, begin: u64, end: u64, f: &mut dyn FnMut(u64, &[u8])) {
        for (seq, bytes) in &self.journal {
            if (begin..=end).contains(seq) {
                f(*seq, bytes);
            }
        }
    }
    fn reset_store(&mut self) {
        self.journal.clear();
    }
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::AppMessage(m) => {
                self.app_messages += 1;
                let _ = m.get(11);
            }
            Event::LoggedOn { .. } => self.logons += 1,
            _ => {}
        }
    }
}

fn frame(begin: &str, body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut v = format!("8={begin}\x019={}\x01{body}", body.len()).into_bytes();
    let sum = fix_codec::checksum(&v);
    v.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    v
}

/// Feed `data` to a session playing `role`, as a byte stream from the peer.
///
/// `data[0]` steers the run: bit 0 prepends a valid Logon from the peer (so the rest reaches an
/// established session), bits 1-3 choose the read size, bit 4 sends an application message after
/// every read, bits 5-6 how much time passes between reads, bit 7 turns the SendingTime check on.
pub fn session(data: &[u8], role: Role) -> SessionRun {
    let Some((&ctl, rest)) = data.split_first() else {
        return SessionRun::default();
    };
    let (begin, peer) = peer_identity(rest);
    let validator = dicts()
        .validators
        .iter()
        .find(|(b, _)| *b == begin)
        .map(|(_, v)| v.clone());
    let mut cfg = SessionConfig::new(begin, "ISLD", peer.as_str(), role).with_heart_bt_int(30);
    if begin == "FIXT.1.1" {
        cfg = cfg.with_default_appl_ver_id("9");
    }
    if let Some(v) = validator {
        cfg = cfg.with_validator(Arc::new(v));
    }
    if ctl & 0x80 == 0 {
        cfg = cfg.with_max_latency(None);
    }
    let Ok(mut s) = Session::new(cfg, SeqState::default()) else {
        return SessionRun::default();
    };
    let utc0 = UtcTimestamp::from_unix_nanos(1_704_164_645_678_000_000);
    let mut mono = MonoTime::from_secs(1_000);
    let now = |mono: MonoTime| Now::new(mono, utc0.add_nanos(i128::from(mono.as_nanos())));
    let mut io = FuzzIo::default();
    s.connected(now(mono), &mut io);
    let mut inbuf: Vec<u8> = Vec::new();
    if ctl & 1 == 1 {
        let ts = utc0.add_nanos(i128::from(mono.as_nanos())).to_fix_string(
            if matches!(begin, "FIX.4.0" | "FIX.4.1") {
                fix_codec::TimePrecision::Seconds
            } else {
                fix_codec::TimePrecision::Millis
            },
        );
        let extra = if begin == "FIXT.1.1" { "1137=9|" } else { "" };
        inbuf.extend(frame(
            begin,
            &format!("35=A|34=1|49={peer}|52={ts}|56=ISLD|98=0|108=30|{extra}"),
        ));
    }
    let chunk = [usize::MAX, 1, 3, 17, 64, 256, 1024, 7][usize::from((ctl >> 1) & 7)];
    let step_ns = [0u64, 1_000_000, 1_000_000_000, 20_000_000_000][usize::from((ctl >> 5) & 3)];
    let mut reconnects = 0;
    let mut feed = |bytes: &[u8], s: &mut Session, io: &mut FuzzIo, mono: &mut MonoTime| {
        inbuf.extend_from_slice(bytes);
        // Bounded: each round consumes input, drains the queue, or stops.
        for _ in 0..10_000 {
            let st = s.handle_input(&inbuf, now(*mono), io);
            assert!(st.consumed <= inbuf.len(), "consumed more than given");
            inbuf.drain(..st.consumed);
            if !st.yielded && !s.has_ready_queued_input() {
                break;
            }
        }
        if inbuf.len() > 2 << 20 {
            inbuf.clear();
        }
        if ctl & 0x10 != 0 && s.is_logged_on() {
            let _ = s.send_app(b"D", now(*mono), io, |e| {
                e.field(11, b"FUZZ");
            });
        }
        *mono = mono.add_nanos(step_ns);
        if s.next_deadline().is_some_and(|d| *mono >= d) {
            s.handle_timeout(now(*mono), io);
        }
        if io.closed {
            io.closed = false;
            s.disconnected(now(*mono), io);
            inbuf.clear();
            if reconnects < 4 {
                reconnects += 1;
                s.connected(now(*mono), io);
            }
        }
    };
    feed(&[], &mut s, &mut io, &mut mono);
    for piece in rest.chunks(chunk.min(rest.len().max(1))) {
        feed(piece, &mut s, &mut io, &mut mono);
    }
    // Let the timers run: heartbeats, test requests, timeouts (bounded).
    for _ in 0..16 {
        match s.next_deadline() {
            Some(d) => {
                mono = mono.max(d);
                s.handle_timeout(now(mono), &mut io);
            }
            None => break,
        }
    }
    SessionRun {
        logons: io.logons,
        app_messages: io.app_messages,
    }
}

/// Build a store, overwrite parts of its files with `data`, and reopen it: opening must fail
/// with an error or produce a store that answers every call without panicking.
///
/// `data` is a list of edits `[file, offset_lo, offset_hi, len, bytes...]` (file: 0 `state`,
/// 1 the first segment, 2 the index, 3 a truncation of the file named by the next byte to
/// `offset`).
pub fn store_recovery(data: &[u8]) {
    // tmpfs where there is one: the store fsyncs its files and directory when it creates them,
    // which on a disk costs more than the rest of the run.
    let shm = std::path::Path::new("/dev/shm");
    let root = if shm.is_dir() {
        tempfile::tempdir_in(shm).or_else(|_| tempfile::tempdir())
    } else {
        tempfile::tempdir()
    };
    let Ok(root) = root else {
        return;
    };
    let opts = StoreOptions {
        segment_size: 8192,
        index_entries: 64,
        ..StoreOptions::default()
    };
    {
        let Ok(mut s) = MmapStore::open(root.path(), "FUZZ", opts.clone(), 1) else {
            return;
        };
        for seq in 1..=6u64 {
            let msg = format!("8=FIX.4.4\x0134={seq}\x0158=message {seq}\x01");
            let _ = s.append_outbound(seq, msg.as_bytes());
        }
        let _ = s.set_next_incoming(4);
    }
    let Ok(dir) = MmapStore::dir_for(root.path(), "FUZZ") else {
        return;
    };
    let journal = std::fs::read_dir(&dir)
        .ok()
        .and_then(|rd| {
            rd.filter_map(Result::ok).map(|e| e.path()).find(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("journal."))
            })
        })
        .unwrap_or_else(|| dir.join("journal"));
    let files = [
        dir.join("state"),
        journal.join("00000000.seg"),
        journal.join("index"),
    ];
    let mut rest = data;
    // Bounded: every edit consumes at least four bytes.
    while rest.len() >= 4 {
        let (which, off, len) = (
            rest[0],
            usize::from(rest[1]) | usize::from(rest[2]) << 8,
            usize::from(rest[3]),
        );
        rest = &rest[4..];
        let bytes = &rest[..len.min(rest.len())];
        rest = &rest[bytes.len()..];
        let path = &files[usize::from(which % 3)];
        let Ok(mut content) = std::fs::read(path) else {
            continue;
        };
        if which % 4 == 3 {
            content.truncate(off);
        } else {
            if content.len() < off + bytes.len() {
                continue;
            }
            content[off..off + bytes.len()].copy_from_slice(bytes);
        }
        let _ = std::fs::write(path, &content);
    }
    let Ok(mut s) = MmapStore::open(root.path(), "FUZZ", opts, 2) else {
        return;
    };
    let (out, inc) = (s.next_outgoing(), s.next_incoming());
    assert!((1..=MAX_SEQ_NUM + 1).contains(&out), "next outgoing {out}");
    assert!((1..=MAX_SEQ_NUM + 1).contains(&inc), "next incoming {inc}");
    let mut last = 0;
    let _ = s.read_outbound(1, u64::MAX, &mut |seq, _bytes| {
        assert!(seq > last, "journal read out of order: {seq} after {last}");
        last = seq;
    });
    let _ = s.last_outbound_seq();
    let _ = s.metadata();
    if out <= MAX_SEQ_NUM {
        let _ = s.append_outbound(out, b"8=FIX.4.4\x0158=after recovery\x01");
    }
    let _ = s.set_next_incoming(inc);
    let _ = s.reset(3);
}
