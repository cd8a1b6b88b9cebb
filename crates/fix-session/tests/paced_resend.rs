//! Paced answers to a ResendRequest (`SessionConfig::resend_batch`, `Session::resume_output`).
//!
//! The session under test is `ISLD` (acceptor, FIX.4.4); the scripted peer is `TW`. The journal
//! holds application messages with holes (missing numbers) and admin entries, so gap fills are
//! part of every replay, including a run of them longer than one batch.

use fix_codec::MessageRef;
use fix_session::{Event, Role, SendError, SeqState, Session, SessionConfig, SessionIo};
use fix_testkit::{NoApp, Recorder, ScriptedPeer, build_frame, get, split_frames, with_time};

const BEGIN: &str = "FIX.4.4";

fn h(seq: u64) -> String {
    format!("34={seq}|49=TW|52=<TIME>|56=ISLD|")
}

/// A logged-on acceptor replaying at most `batch` numbers per call, with `history` messages
/// journaled after its Logon (numbers 2..=history+1), some of them removed or admin.
fn with_history(batch: u64, history: u64) -> ScriptedPeer {
    let c = SessionConfig::new(BEGIN, "ISLD", "TW", Role::Acceptor).with_resend_batch(batch);
    let mut p = ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
    p.connect();
    p.send(&format!("35=A|{}98=0|108=30|", h(1)), &mut NoApp);
    assert!(p.ep.session.is_logged_on());
    let now = p.clock.now();
    for i in 0..history {
        let id = format!("ORD{i}");
        p.ep.session
            .send_app(b"D", now, &mut p.ep.io, |e| {
                e.field(11, id.as_bytes()).field(54, b"1");
            })
            .unwrap();
    }
    let admin = build_frame(BEGIN, "35=0|34=0|49=ISLD|52=20260101-00:00:00|56=TW|");
    let last = history + 1;
    for seq in 2..=last {
        if seq % 97 == 0 {
            p.ep.io.journal.remove(&seq);
        } else if seq % 13 == 0 {
            p.ep.io.journal.insert(seq, admin.clone());
        }
    }
    // A run of admin numbers longer than any batch used here: still one gap fill.
    for seq in (last / 2)..(last / 2 + 700).min(last) {
        p.ep.io.journal.remove(&seq);
    }
    p.ep.io.take_sent();
    p
}

/// Feed a ResendRequest straight to the session (the harness's `send` would run the whole
/// replay); returns the bytes the first call sent.
fn request(p: &mut ScriptedPeer, seq: u64, begin: u64, end: u64) -> Vec<u8> {
    let now = p.clock.now();
    let f = build_frame(
        BEGIN,
        &with_time(&format!("35=2|{}7={begin}|16={end}|", h(seq)), now.utc),
    );
    let st = p.ep.session.handle_input(&f, now, &mut p.ep.io);
    assert_eq!(st.consumed, f.len());
    p.ep.io.take_sent()
}

/// Numbers a replay covered, in order: a gap fill stands for `34..NewSeqNo`.
fn covered(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    for m in split_frames(bytes) {
        let seq: u64 = get(&m, 34).unwrap().parse().unwrap();
        if get(&m, 35).as_deref() == Some("4") {
            assert_eq!(get(&m, 123).as_deref(), Some("Y"));
            assert_eq!(get(&m, 43).as_deref(), Some("Y"));
            let new: u64 = get(&m, 36).unwrap().parse().unwrap();
            out.extend(seq..new);
        } else {
            assert_eq!(
                get(&m, 43).as_deref(),
                Some("Y"),
                "replayed without PossDup"
            );
            out.push(seq);
        }
    }
    out
}

/// Count of frames in `bytes`.
fn frames(bytes: &[u8]) -> usize {
    split_frames(bytes).len()
}

/// A transport with room for `room` more bytes (then `can_send` is false), around a recorder.
struct Throttled<'a> {
    inner: &'a mut Recorder,
    limit: usize,
}

impl SessionIo for Throttled<'_> {
    fn send(&mut self, bytes: &[u8]) {
        self.inner.send(bytes);
    }
    fn can_send(&self) -> bool {
        self.inner.out.len() < self.limit
    }
    fn close(&mut self) {
        self.inner.close();
    }
    fn persist_outbound(&mut self, seq: u64, bytes: &[u8]) {
        self.inner.persist_outbound(seq, bytes);
    }
    fn next_sender_seq_changed(&mut self, next: u64) {
        self.inner.next_sender_seq_changed(next);
    }
    fn next_target_seq_changed(&mut self, next: u64) {
        self.inner.next_target_seq_changed(next);
    }
    fn read_outbound(&mut self, begin: u64, end: u64, f: &mut dyn FnMut(u64, &[u8])) {
        self.inner.read_outbound(begin, end, f);
    }
    fn reset_store(&mut self) {
        self.inner.reset_store();
    }
    fn event(&mut self, event: Event<'_>) {
        self.inner.event(event);
    }
}

#[test]
fn a_paced_replay_of_10000_messages_is_byte_identical_to_an_unpaced_one() {
    const N: u64 = 10_000;
    let mut whole = with_history(0, N);
    let unpaced = request(&mut whole, 2, 1, 0);
    assert!(!whole.ep.session.wants_output());
    let nums = covered(&unpaced);
    assert_eq!(nums, (1..=N + 1).collect::<Vec<_>>());
    // Count-paced: every call covers at most 256 numbers.
    let mut paced = with_history(256, N);
    let mut out = request(&mut paced, 2, 1, 0);
    assert!(covered(&out).len() <= 256);
    assert!(paced.ep.session.wants_output());
    let mut calls = 1;
    let now = paced.clock.now();
    while paced.ep.session.wants_output() {
        assert!(calls < 1_000, "replay does not end");
        paced.ep.session.resume_output(now, &mut paced.ep.io);
        let chunk = paced.ep.io.take_sent();
        assert!(covered(&chunk).len() <= 256 + 700);
        out.extend_from_slice(&chunk);
        calls += 1;
    }
    assert!(calls >= N / 256, "{calls} calls");
    assert_eq!(out, unpaced, "paced output differs from the unpaced one");
    // Byte-paced: an unlimited batch stopped by can_send every ~40 KiB.
    let mut stopped = with_history(0, N);
    let now = stopped.clock.now();
    let mut out = Vec::new();
    let mut calls = 0;
    let f = build_frame(
        BEGIN,
        &with_time(&format!("35=2|{}7=1|16=0|", h(2)), now.utc),
    );
    {
        let limit = stopped.ep.io.out.len() + 40_000;
        let mut io = Throttled {
            inner: &mut stopped.ep.io,
            limit,
        };
        stopped.ep.session.handle_input(&f, now, &mut io);
    }
    loop {
        out.extend_from_slice(&stopped.ep.io.take_sent());
        calls += 1;
        if !stopped.ep.session.wants_output() {
            break;
        }
        assert!(calls < 10_000, "replay does not end");
        // Full: no progress, nothing sent.
        stopped.ep.io.full = true;
        stopped.ep.session.resume_output(now, &mut stopped.ep.io);
        assert!(stopped.ep.io.out.is_empty());
        stopped.ep.io.full = false;
        let mut io = Throttled {
            inner: &mut stopped.ep.io,
            limit: 40_000,
        };
        stopped.ep.session.resume_output(now, &mut io);
    }
    assert!(calls > 10, "{calls} calls");
    assert_eq!(out, unpaced, "output stopped by can_send differs");
}

#[test]
fn new_messages_during_a_replay_are_held_and_follow_it_in_order() {
    let mut p = with_history(100, 1_000);
    let last = p.ep.session.next_sender_seq() - 1;
    let mut out = request(&mut p, 2, 1, 0);
    assert!(p.ep.session.wants_output());
    let now = p.clock.now();
    // An application message: numbered and journaled now, not sent yet.
    let seq =
        p.ep.session
            .send_app(b"D", now, &mut p.ep.io, |e| {
                e.field(11, b"LATE");
            })
            .unwrap();
    assert_eq!(seq, last + 1);
    assert!(p.ep.io.journal.contains_key(&seq));
    assert!(p.ep.io.out.is_empty(), "a new message overtook the replay");
    // Admin answers are held too: a TestRequest's Heartbeat takes the next number.
    let f = build_frame(BEGIN, &with_time(&format!("35=1|{}112=T1|", h(3)), now.utc));
    p.ep.session.handle_input(&f, now, &mut p.ep.io);
    assert!(p.ep.io.out.is_empty(), "a heartbeat overtook the replay");
    let mut calls = 0;
    while p.ep.session.wants_output() {
        calls += 1;
        assert!(calls < 100);
        p.ep.session.resume_output(now, &mut p.ep.io);
        out.extend_from_slice(&p.ep.io.take_sent());
    }
    let msgs = split_frames(&out);
    let n = msgs.len();
    assert_eq!(get(&msgs[n - 2], 11).as_deref(), Some("LATE"));
    assert_eq!(get(&msgs[n - 2], 43), None, "a held message is an original");
    assert_eq!(get(&msgs[n - 1], 35).as_deref(), Some("0"));
    assert_eq!(get(&msgs[n - 1], 112).as_deref(), Some("T1"));
    // Every number once, in order: the replay, then what was held.
    let seqs: Vec<u64> = covered(&out[..out.len() - msgs[n - 1].len() - msgs[n - 2].len()]);
    assert_eq!(seqs, (1..=last).collect::<Vec<_>>());
    assert_eq!(get(&msgs[n - 2], 34), Some((last + 1).to_string()));
    assert_eq!(get(&msgs[n - 1], 34), Some((last + 2).to_string()));
    assert!(p.ep.io.persisted_before_send);
    // Nothing held any more: the next message goes straight out.
    p.ep.session
        .send_app(b"D", now, &mut p.ep.io, |e| {
            e.field(11, b"NOW");
        })
        .unwrap();
    assert_eq!(frames(&p.ep.io.take_sent()), 1);
}

#[test]
fn application_sends_past_the_hold_get_back_pressure_and_consume_no_number() {
    for max_held in [0usize, 2_000] {
        let c = SessionConfig::new(BEGIN, "ISLD", "TW", Role::Acceptor)
            .with_resend_batch(100)
            .with_max_held_bytes(max_held);
        let mut p = ScriptedPeer::new(Session::new(c, SeqState::default()).unwrap());
        p.connect();
        p.send(&format!("35=A|{}98=0|108=30|", h(1)), &mut NoApp);
        let now = p.clock.now();
        for i in 0..500 {
            let id = format!("ORD{i}");
            p.ep.session
                .send_app(b"D", now, &mut p.ep.io, |e| {
                    e.field(11, id.as_bytes());
                })
                .unwrap();
        }
        p.ep.io.take_sent();
        request(&mut p, 2, 1, 0);
        assert!(p.ep.session.wants_output());
        let mut held = 0;
        let result = loop {
            let next = p.ep.session.next_sender_seq();
            match p.ep.session.send_app(b"D", now, &mut p.ep.io, |e| {
                e.field(11, b"HELD");
            }) {
                Ok(_) => held += 1,
                Err(e) => {
                    assert_eq!(
                        p.ep.session.next_sender_seq(),
                        next,
                        "a number was consumed"
                    );
                    break e;
                }
            }
            assert!(held < 1_000);
        };
        assert_eq!(result, SendError::BackPressure);
        if max_held == 0 {
            assert_eq!(held, 0);
        } else {
            // About 80 bytes each.
            assert!((15..=30).contains(&held), "{held} held in {max_held} bytes");
        }
        assert!(p.ep.io.out.is_empty());
        p.ep.flush_output(now);
        let out = p.ep.io.take_sent();
        let msgs = split_frames(&out);
        let originals = msgs.iter().filter(|m| get(m, 43).is_none()).count();
        assert_eq!(originals, held);
        assert!(
            p.ep.session
                .send_app(b"D", now, &mut p.ep.io, |_| {})
                .is_ok()
        );
    }
}

#[test]
fn a_new_resend_request_drops_held_messages_and_replays_them() {
    let mut p = with_history(100, 1_000);
    request(&mut p, 2, 1, 0);
    let now = p.clock.now();
    let seq =
        p.ep.session
            .send_app(b"D", now, &mut p.ep.io, |e| {
                e.field(11, b"HELD");
            })
            .unwrap();
    // The peer asks again, to infinity: the held message is part of the new answer, as a
    // PossDup resend, and is not sent a second time as an original.
    let mut out = request(&mut p, 3, 900, 0);
    p.ep.flush_output(now);
    out.extend_from_slice(&p.ep.io.take_sent());
    assert_eq!(covered(&out), (900..=seq).collect::<Vec<_>>());
    let msgs = split_frames(&out);
    let held: Vec<_> = msgs
        .iter()
        .filter(|m| get(m, 11).as_deref() == Some("HELD"))
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(get(held[0], 43).as_deref(), Some("Y"));
}

#[test]
fn a_new_resend_request_during_a_replay_restarts_it_from_the_new_range() {
    let mut p = with_history(100, 1_000);
    let first = request(&mut p, 2, 1, 0);
    assert_eq!(covered(&first), (1..=100).collect::<Vec<_>>());
    let second = request(&mut p, 3, 300, 450);
    let mut all = second;
    p.ep.flush_output(p.clock.now());
    all.extend_from_slice(&p.ep.io.take_sent());
    assert_eq!(covered(&all), (300..=450).collect::<Vec<_>>());
    assert!(!p.ep.session.wants_output());
    // The new range ended the old replay: nothing of 101.. follows.
    let now = p.clock.now();
    p.ep.session.resume_output(now, &mut p.ep.io);
    assert!(p.ep.io.out.is_empty());
}

#[test]
fn an_admin_run_longer_than_a_batch_is_still_one_gap_fill() {
    // The run (last/2 .. last/2+700) spans several batches: it stays open across the calls.
    let mut p = with_history(100, 2_000);
    let run = 1_000u64;
    let mut out = request(&mut p, 2, run - 50, 0);
    while p.ep.session.wants_output() {
        let now = p.clock.now();
        p.ep.session.resume_output(now, &mut p.ep.io);
        out.extend_from_slice(&p.ep.io.take_sent());
    }
    assert_eq!(covered(&out), ((run - 50)..=2_001).collect::<Vec<_>>());
    let fills = split_frames(&out)
        .into_iter()
        .filter(|m| get(m, 35).as_deref() == Some("4"))
        .map(|m| {
            let s: u64 = get(&m, 34).unwrap().parse().unwrap();
            let n: u64 = get(&m, 36).unwrap().parse().unwrap();
            n - s
        })
        .max()
        .unwrap();
    assert!(
        fills >= 700,
        "the admin run was split: longest gap fill {fills}"
    );
}

#[test]
fn a_disconnect_during_a_replay_cancels_it() {
    let mut p = with_history(100, 1_000);
    request(&mut p, 2, 1, 0);
    assert!(p.ep.session.wants_output());
    let now = p.clock.now();
    p.ep.drop_connection(now);
    assert!(!p.ep.session.wants_output());
    p.ep.session.resume_output(now, &mut p.ep.io);
    assert!(p.ep.io.out.is_empty());
    // The next connection starts clean: the Logon answer, nothing of the old replay.
    p.connect();
    p.send(&format!("35=A|{}98=0|108=30|", h(3)), &mut NoApp);
    let msgs = split_frames(&p.ep.io.take_sent());
    assert_eq!(msgs.len(), 1);
    assert_eq!(get(&msgs[0], 35).as_deref(), Some("A"));
    assert!(!p.ep.session.wants_output());
}

#[test]
fn a_sequence_reset_during_a_replay_cancels_it() {
    let mut p = with_history(100, 1_000);
    request(&mut p, 2, 1, 0);
    assert!(p.ep.session.wants_output());
    let now = p.clock.now();
    p.ep.session.reset_seq_nums(now, &mut p.ep.io);
    assert!(!p.ep.session.wants_output());
    let msgs = split_frames(&p.ep.io.take_sent());
    assert_eq!(msgs.len(), 1);
    assert_eq!(get(&msgs[0], 35).as_deref(), Some("A"));
    assert_eq!(get(&msgs[0], 141).as_deref(), Some("Y"));
    p.ep.session.resume_output(now, &mut p.ep.io);
    assert!(p.ep.io.out.is_empty());
}

#[test]
fn a_logout_during_a_replay_ends_it() {
    // The peer logs out: our confirming Logout is the last thing sent.
    let mut p = with_history(100, 1_000);
    request(&mut p, 2, 1, 0);
    p.send(&format!("35=5|{}", h(3)), &mut NoApp);
    let msgs = split_frames(&p.ep.io.take_sent());
    assert_eq!(msgs.len(), 1, "replay went on after the Logout");
    assert_eq!(get(&msgs[0], 35).as_deref(), Some("5"));
    assert!(!p.ep.session.wants_output());
    assert!(p.ep.io.closed);
    // We log out: the replay stops with our Logout.
    let mut p = with_history(100, 1_000);
    request(&mut p, 2, 1, 0);
    let now = p.clock.now();
    p.ep.session.disconnect("bye", now, &mut p.ep.io).unwrap();
    assert!(!p.ep.session.wants_output());
    p.ep.session.resume_output(now, &mut p.ep.io);
    let msgs = split_frames(&p.ep.io.take_sent());
    assert_eq!(msgs.len(), 1);
    assert_eq!(get(&msgs[0], 35).as_deref(), Some("5"));
}

#[test]
fn a_full_transport_holds_the_replay_back_until_resumed() {
    let mut p = with_history(0, 500);
    p.ep.io.full = true;
    let out = request(&mut p, 2, 2, 0);
    assert!(out.is_empty(), "sent while the transport was full");
    assert!(p.ep.session.wants_output());
    p.ep.io.full = false;
    let now = p.clock.now();
    p.ep.session.resume_output(now, &mut p.ep.io);
    assert!(!p.ep.session.wants_output());
    let out = p.ep.io.take_sent();
    assert_eq!(covered(&out), (2..=501).collect::<Vec<_>>());
    // Replayed messages keep their bodies.
    let first = split_frames(&out)
        .into_iter()
        .find(|m| get(m, 35).as_deref() == Some("D"))
        .unwrap();
    assert_eq!(MessageRef::new(&first).get(11), Some(&b"ORD0"[..]));
}

#[test]
fn a_resend_request_for_nothing_we_sent_leaves_the_replay_alone() {
    let mut paced = with_history(100, 1_000);
    let mut out = request(&mut paced, 2, 1, 0);
    let held = paced
        .ep
        .session
        .send_app(b"D", paced.clock.now(), &mut paced.ep.io, |e| {
            e.field(11, b"HELD");
        })
        .unwrap();
    out.extend_from_slice(&request(&mut paced, 3, held + 10, 0));
    assert!(paced.ep.session.wants_output());
    paced.ep.flush_output(paced.clock.now());
    out.extend_from_slice(&paced.ep.io.take_sent());
    let msgs = split_frames(&out);
    let last = msgs.last().unwrap();
    assert_eq!(get(last, 11).as_deref(), Some("HELD"));
    assert_eq!(get(last, 43), None);
    let len = out.len() - last.len();
    assert_eq!(covered(&out[..len]), (1..held).collect::<Vec<_>>());
}
