//! Every input a fuzz target ever crashed on, replayed; and checks that the fuzz harnesses reach
//! the code they are meant to reach.
//!
//! A crash found by `scripts/fuzz.sh` lands in `fuzz/artifacts/<target>/`; copy it to
//! `fuzz/regressions/<target>/` and this test replays it forever.

use std::path::Path;
use std::sync::Arc;

use fix_codec::{Dictionary, ValidationOptions, Validator};
use fix_session::Role;
use fix_sim::fuzz::{self, TARGETS, run_target};

#[test]
fn recorded_crashes_no_longer_crash() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    let mut n = 0;
    for target in TARGETS {
        let Ok(rd) = std::fs::read_dir(root.join(target)) else {
            continue;
        };
        for entry in rd.filter_map(Result::ok) {
            let data = std::fs::read(entry.path()).unwrap();
            assert!(run_target(target, &data), "{target}");
            n += 1;
        }
    }
    assert!(n >= 1, "fuzz/regressions holds at least the validate crash");
}

#[test]
fn every_target_survives_simple_inputs() {
    let logon = b"8=FIX.4.4\x019=63\x0135=A\x0134=1\x0149=TW\x0152=20240102-03:20:45.678\x0156=ISLD\x0198=0\x01108=30\x0110=000\x01";
    for target in TARGETS {
        for input in [
            &b""[..],
            b"\x00",
            b"8=",
            b"8=FIX.4.4\x019=",
            &logon[..],
            &[0xff; 300][..],
        ] {
            assert!(run_target(target, input), "{target}");
        }
    }
    assert!(!run_target("no-such-target", b""));
}

fn frame(begin: &str, body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut v = format!("8={begin}\x019={}\x01{body}", body.len()).into_bytes();
    let sum = fix_codec::checksum(&v);
    v.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    v
}

/// The harness takes the peer's identity from the input, so an acceptance-script stream (Logon
/// from `TW42`, then an order) logs on and delivers the order; the initiator, given the
/// confirming Logon by control bit 0, does too.
#[test]
fn session_harness_reaches_an_established_session() {
    // The instant the harness uses as "now" (its SendingTime check is off unless bit 7 is set).
    let t = "20240102-03:20:45.678";
    let mut input = vec![0x00];
    input.extend(frame(
        "FIX.4.2",
        &format!("35=A|34=1|49=TW42|52={t}|56=ISLD|98=0|108=30|"),
    ));
    input.extend(frame(
        "FIX.4.2",
        &format!("35=D|34=2|49=TW42|52={t}|56=ISLD|11=ID|21=1|38=100|40=1|54=1|55=INTC|60={t}|"),
    ));
    let run = fuzz::session(&input, Role::Acceptor);
    assert_eq!(run.logons, 1, "{run:?}");
    assert_eq!(run.app_messages, 1, "{run:?}");

    let mut input = vec![0x01];
    input.extend(frame(
        "FIX.4.2",
        &format!("35=D|34=2|49=TW42|52={t}|56=ISLD|11=ID|21=1|38=100|40=1|54=1|55=INTC|60={t}|"),
    ));
    let run = fuzz::session(&input, Role::Initiator);
    assert_eq!(run.logons, 1, "{run:?}");
    assert_eq!(run.app_messages, 1, "{run:?}");
}

/// Found by the `validate` fuzz target (fuzz/regressions/validate/crash-073b1b70...): a
/// seven-byte input that is only a `10=` trailer panics in
/// `fix_codec::dict::validate::length_and_checksum_ok` (crates/fix-codec/src/dict/validate.rs),
/// which checked `n < 7` and then read `msg[n - 8]`: subtract-with-overflow in debug builds,
/// index out of bounds in release (fixed: `n < 8`). Unreachable through the session (frames start with `8=`),
/// but `Validator::validate` is public and must not panic on any input.
#[test]
fn validator_on_a_bare_seven_byte_trailer() {
    let dict = Dictionary::from_xml(include_str!("../../../spec/FIX44.xml")).unwrap();
    let v = Validator::new(Arc::new(dict), None, ValidationOptions::default());
    assert!(v.validate(b"10=\x19\x00\xd8\x01").is_err());
    assert!(v.validate(b"10=000\x01").is_err());
}
