//! `Validator::validate_framed_with_header` (and `validate_with_header`) must give exactly the
//! verdict of `validate_framed` (`validate`) and, on success, exactly the header a plain
//! `FieldIter` scan finds, whichever way the validator reached its verdict (the fast path that
//! collects the header in its single pass, or the general algorithm followed by a scan).
//!
//! Inputs: the messages the QuickFIX acceptance scripts send (every version), the `validate`
//! fuzz corpus, and random damage to both. Deterministic (fixed seed); set `PROPTEST_RNG_SEED` /
//! `PROPTEST_CASES` to explore.

mod dict_util;

mod prop_util;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use dict_util::dict;
use fix_codec::header::ROUTING_TAGS;
use fix_codec::{FieldIter, HeaderFields, ValidationOptions, Validator, checksum};
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    prop_util::config(cases, 0x00f1_c0de_4ead_0001)
}

/// The header as the session read it before the validator returned it: an independent copy of
/// its `parse_header`, field by field.
fn reference_scan(frame: &[u8]) -> Option<HeaderFields<'_>> {
    let mut it = FieldIter::new(frame);
    let f8 = it.next()?.ok()?;
    let f9 = it.next()?.ok()?;
    let f35 = it.next()?.ok()?;
    if f8.tag != 8 || f9.tag != 9 || f35.tag != 35 || f35.value.is_empty() {
        return None;
    }
    let mut h = HeaderFields {
        begin_string: f8.value,
        msg_type: f35.value,
        ..HeaderFields::default()
    };
    for f in it {
        let Ok(f) = f else { break };
        match f.tag {
            34 if h.msg_seq_num.is_none() => {
                h.msg_seq_num = Some(f.value);
                h.seq_num = fix_codec::field::parse_u64(f.value);
            }
            49 if h.sender_comp_id.is_none() => h.sender_comp_id = Some(f.value),
            56 if h.target_comp_id.is_none() => h.target_comp_id = Some(f.value),
            52 if h.sending_time.is_none() => h.sending_time = Some(f.value),
            122 if h.orig_sending_time.is_none() => h.orig_sending_time = Some(f.value),
            43 => h.poss_dup_flag = Some(f.value),
            t => {
                if let Some(i) = ROUTING_TAGS.iter().position(|&r| r == t)
                    && h.routing[i].is_none()
                {
                    h.routing[i] = Some(f.value);
                }
            }
        }
    }
    Some(h)
}

/// Every dictionary pairing, each with default options and with every option flipped.
fn validators() -> &'static [Validator] {
    static V: OnceLock<Vec<Validator>> = OnceLock::new();
    V.get_or_init(|| {
        let pairings = [
            (dict("FIX40.xml"), None),
            (dict("FIX41.xml"), None),
            (dict("FIX42.xml"), None),
            (dict("FIX43.xml"), None),
            (dict("FIX44.xml"), None),
            (dict("FIXT11.xml"), Some(dict("FIX50SP2.xml"))),
        ];
        let mut out = Vec::new();
        for (tr, app) in pairings {
            for bits in [0u8, 31, 15, 0b10110] {
                let options = ValidationOptions {
                    check_fields_out_of_order: bits & 1 != 0,
                    check_fields_have_values: bits & 2 != 0,
                    check_user_defined_fields: bits & 4 != 0,
                    allow_unknown_message_fields: bits & 8 != 0,
                    validate_length_and_checksum: bits & 16 != 0,
                };
                out.push(Validator::new(Arc::clone(&tr), app.clone(), options));
            }
        }
        out
    })
}

/// Compare on `m`; returns whether the validator accepted it with a header.
fn agree(v: &Validator, m: &[u8]) -> Result<bool, TestCaseError> {
    let scanned = HeaderFields::scan(m);
    prop_assert_eq!(scanned, reference_scan(m), "scan");
    let framed = v.validate_framed_with_header(m);
    prop_assert_eq!(
        framed,
        v.validate_framed(m).map(|()| scanned),
        "validate_framed_with_header on {:?}",
        String::from_utf8_lossy(m)
    );
    prop_assert_eq!(
        v.validate_with_header(m),
        v.validate(m).map(|()| scanned),
        "validate_with_header"
    );
    Ok(matches!(framed, Ok(Some(_))))
}

fn frame(begin: &str, fields: &[u8]) -> Vec<u8> {
    let mut m = format!("8={begin}\x019={}\x01", fields.len()).into_bytes();
    m.extend_from_slice(fields);
    let sum = checksum(&m);
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

/// The messages the acceptance scripts send (`I` lines), framed: BodyLength and CheckSum added
/// where the line has none, `<TIME...>` replaced by a fixed time.
fn acceptance() -> &'static [Vec<u8>] {
    static M: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    M.get_or_init(|| {
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/acceptance/quickfix");
        let root = if root.is_dir() {
            root
        } else {
            PathBuf::from("/work/shared/acceptance/quickfix")
        };
        let mut out = Vec::new();
        for version in ["fix40", "fix41", "fix42", "fix44"] {
            let Ok(dir) = std::fs::read_dir(root.join(version)) else {
                continue;
            };
            let mut files: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
            files.sort();
            for f in files {
                let Ok(text) = std::fs::read(&f) else {
                    continue;
                };
                for line in text.split(|&b| b == b'\n') {
                    let Some(rest) = line.strip_prefix(b"I") else {
                        continue;
                    };
                    let mut s = String::from_utf8_lossy(rest).into_owned();
                    while let Some(a) = s.find("<TIME") {
                        let Some(b) = s[a..].find('>') else { break };
                        s.replace_range(a..a + b + 1, "20261123-10:15:30");
                    }
                    let s = s.trim_end_matches('\r');
                    let fields: Vec<&str> = s.split('\x01').collect();
                    if fields.len() > 1 && fields[1].starts_with("9=") {
                        out.push(s.as_bytes().to_vec());
                    } else if let Some(begin) = fields[0].strip_prefix("8=") {
                        let body: String = fields[1..]
                            .iter()
                            .filter(|f| !f.is_empty())
                            .map(|f| format!("{f}\x01"))
                            .collect();
                        out.push(frame(begin, body.as_bytes()));
                    }
                }
            }
        }
        out
    })
}

/// The `validate` fuzz target's corpus (`fuzz/corpus/validate`, gitignored: `scripts/fuzz.sh`
/// builds it from the acceptance scripts and grows it), plus the crash regressions. In a fresh
/// clone, before any fuzzing, the corpus is its seeds: the acceptance messages.
fn fuzz_corpus() -> &'static [Vec<u8>] {
    static M: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    M.get_or_init(|| {
        let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
        let read_dir = |dir: PathBuf| -> Vec<Vec<u8>> {
            let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
                .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
                .unwrap_or_default();
            files.sort();
            files.iter().filter_map(|f| std::fs::read(f).ok()).collect()
        };
        let mut corpus = read_dir(fuzz.join("corpus/validate"));
        if corpus.is_empty() {
            eprintln!(
                "fuzz/corpus/validate not built yet: using its seeds, the acceptance messages"
            );
            corpus = acceptance().to_vec();
        }
        corpus.extend(read_dir(fuzz.join("regressions/validate")));
        corpus
    })
}

#[test]
fn acceptance_messages_agree() {
    let msgs = acceptance();
    assert!(msgs.len() > 500, "acceptance scripts found: {}", msgs.len());
    let mut with_header = 0;
    for m in msgs {
        for v in validators() {
            with_header += usize::from(agree(v, m).unwrap());
        }
    }
    // Not vacuous: most of these messages are valid for their own dictionary.
    assert!(with_header > 1000, "{with_header}");
}

#[test]
fn fuzz_corpus_agrees() {
    let corpus = fuzz_corpus();
    assert!(corpus.len() > 500, "fuzz corpus found: {}", corpus.len());
    for m in corpus {
        for v in validators() {
            agree(v, m).unwrap();
        }
    }
}

/// The cases the fast path hands over: the header must come from the scan, unchanged.
#[test]
fn unusual_layouts_agree() {
    let v = &validators()[16]; // FIX44, default options.
    assert_eq!(v.transport().version(), "FIX.4.4");
    let ok = |body: &str| frame("FIX.4.4", body.replace('|', "\x01").as_bytes());
    let base = "35=D|34=7|49=A|52=20261123-10:15:30|56=B|11=X|21=1|38=100|40=1|54=1|55=M|\
                60=20261123-10:15:30|";
    let cases = [
        base.to_owned(),
        // 35 not third: valid for the dictionary, garbled for the session.
        base.replacen("35=D|34=7|", "34=7|35=D|", 1),
        // A tag spelled with a leading zero.
        base.replacen("49=A", "049=A", 1),
        // Routing, PossDup and OrigSendingTime.
        base.replacen(
            "56=B|",
            "56=B|115=OB|128=DT|145=LOC|43=Y|122=20261123-10:15:29|",
            1,
        ),
        // A repeated PossDupFlag (invalid), a MsgSeqNum that overflows (invalid).
        base.replacen("56=B|", "56=B|43=N|43=Y|", 1),
        base.replacen("34=7", "34=99999999999999999999", 1),
        // A header field in the body (invalid unless out-of-order checks are off).
        base.replacen("49=A|", "", 1) + "49=A|",
        // A data field.
        base.replacen("56=B|", "56=B|90=3|91=a\x01b|", 1),
    ];
    let mut accepted = 0;
    for c in &cases {
        let m = ok(c);
        for v in validators() {
            agree(v, &m).unwrap();
        }
        accepted += usize::from(v.validate_framed(&m).is_ok());
    }
    assert!(accepted >= 4, "{accepted}");
    let m = ok(&cases[3]);
    let h = v.validate_framed_with_header(&m).unwrap().unwrap();
    assert_eq!(h.seq_num, Some(7));
    assert_eq!(h.msg_type, b"D");
    assert_eq!(h.begin_string, b"FIX.4.4");
    assert_eq!(h.routing_field(115), Some(&b"OB"[..]));
    assert_eq!(h.routing[3], Some(&b"DT"[..]));
    assert_eq!(h.routing[5], Some(&b"LOC"[..]));
    assert!(h.poss_dup());
    assert_eq!(h.orig_sending_time, Some(&b"20261123-10:15:29"[..]));
    assert_eq!(v.validate_framed_with_header(&ok(&cases[1])), Ok(None));
}

/// A dictionary that files header tags of [`HeaderFields`] under a message body: the fast path
/// collects only header fields, so it must leave such a message to the general algorithm and
/// the scan, which see the body's 34 and 43.
#[test]
fn header_tags_defined_in_a_body_are_still_found() {
    let xml = r#"<fix type='FIX' major='4' minor='2' servicepack='0'>
 <header>
  <field name='BeginString' required='Y' />
  <field name='BodyLength' required='Y' />
  <field name='MsgType' required='Y' />
  <field name='SenderCompID' required='Y' />
 </header>
 <trailer><field name='CheckSum' required='Y' /></trailer>
 <messages>
  <message name='Heartbeat' msgtype='0' msgcat='admin'>
   <field name='MsgSeqNum' required='N' />
   <field name='PossDupFlag' required='N' />
   <field name='TestReqID' required='N' />
  </message>
 </messages>
 <components />
 <fields>
  <field number='8' name='BeginString' type='STRING' />
  <field number='9' name='BodyLength' type='LENGTH' />
  <field number='10' name='CheckSum' type='STRING' />
  <field number='34' name='MsgSeqNum' type='SEQNUM' />
  <field number='35' name='MsgType' type='STRING' />
  <field number='43' name='PossDupFlag' type='BOOLEAN' />
  <field number='49' name='SenderCompID' type='STRING' />
  <field number='112' name='TestReqID' type='STRING' />
 </fields>
</fix>"#;
    let d = Arc::new(fix_codec::Dictionary::from_xml(xml).expect("loads"));
    let v = Validator::new(d, None, ValidationOptions::default());
    let plain = frame("FIX.4.2", b"35=0\x0149=A\x01112=T\x01");
    let h = v.validate_framed_with_header(&plain).unwrap().unwrap();
    assert_eq!(h.sender_comp_id, Some(&b"A"[..]));
    let m = frame("FIX.4.2", b"35=0\x0149=A\x0134=5\x0143=Y\x01");
    agree(&v, &m).unwrap();
    let h = v.validate_framed_with_header(&m).unwrap().unwrap();
    assert_eq!(h.seq_num, Some(5));
    assert!(h.poss_dup());
}

/// One damage to a message.
#[derive(Clone, Debug)]
enum Edit {
    /// Remove field `i`.
    Delete(usize),
    /// Repeat field `i`.
    Duplicate(usize),
    /// Move field `a` to `b`.
    Move(usize, usize),
    /// Insert `tag=value` at `i`.
    Insert(usize, u32, &'static str),
    /// Overwrite byte `i`.
    Byte(usize, u8),
}

const TAGS: [u32; 22] = [
    8, 9, 35, 34, 43, 49, 52, 56, 122, 115, 116, 128, 129, 144, 145, 97, 90, 91, 11, 55, 453, 9999,
];
const VALUES: [&str; 8] = [
    "",
    "Y",
    "N",
    "1",
    "0012",
    "20261123-10:15:30",
    "A",
    "x\x01y",
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0usize..24).prop_map(Edit::Delete),
        (0usize..24).prop_map(Edit::Duplicate),
        (0usize..24, 0usize..24).prop_map(|(a, b)| Edit::Move(a, b)),
        (
            0usize..24,
            prop::sample::select(&TAGS[..]),
            prop::sample::select(&VALUES[..])
        )
            .prop_map(|(i, t, v)| Edit::Insert(i, t, v)),
        (0usize..400, any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
    ]
}

/// Apply `edits` to the fields after BodyLength, then frame again (`reframe`) or keep the
/// original 8 and 9 and a stale CheckSum.
fn damage(m: &[u8], edits: &[Edit], reframe: bool) -> Vec<u8> {
    let mut fields: Vec<Vec<u8>> = m
        .split(|&b| b == 1)
        .filter(|f| !f.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let begin = fields
        .first()
        .and_then(|f| f.strip_prefix(b"8="))
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_else(|| "FIX.4.4".to_owned());
    let body_from = 2.min(fields.len());
    let mut body: Vec<Vec<u8>> = fields.split_off(body_from);
    if body.last().is_some_and(|f| f.starts_with(b"10=")) {
        body.pop();
    }
    let mut bytes = Vec::new();
    for e in edits {
        let n = body.len().max(1);
        match *e {
            Edit::Delete(i) if !body.is_empty() => {
                body.remove(i % n);
            }
            Edit::Duplicate(i) if !body.is_empty() => {
                let f = body[i % n].clone();
                body.insert(i % n, f);
            }
            Edit::Move(a, b) if !body.is_empty() => {
                let f = body.remove(a % n);
                let at = b % (body.len() + 1);
                body.insert(at, f);
            }
            Edit::Insert(i, t, v) => {
                let at = i % (body.len() + 1);
                body.insert(at, format!("{t}={v}").into_bytes());
            }
            Edit::Byte(i, b) => bytes.push((i, b)),
            _ => {}
        }
    }
    let mut flat: Vec<u8> = body
        .iter()
        .flat_map(|f| f.iter().copied().chain([1]))
        .collect();
    for (i, b) in bytes {
        if !flat.is_empty() {
            let n = flat.len();
            flat[i % n] = b;
        }
    }
    if reframe {
        frame(&begin, &flat)
    } else {
        let mut out: Vec<u8> = fields
            .iter()
            .flat_map(|f| f.iter().copied().chain([1]))
            .collect();
        out.extend_from_slice(&flat);
        out.extend_from_slice(b"10=000\x01");
        out
    }
}

proptest! {
    #![proptest_config(config(2048))]

    #[test]
    fn damaged_acceptance_messages_agree(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 0..4),
        v in any::<prop::sample::Index>(),
        reframe in prop::bool::weighted(0.9),
    ) {
        let m = which.get(acceptance());
        let d = damage(m, &edits, reframe);
        agree(v.get(validators()), &d)?;
    }

    #[test]
    fn damaged_fuzz_corpus_agrees(
        which in any::<prop::sample::Index>(),
        edits in prop::collection::vec(edit(), 0..3),
        v in any::<prop::sample::Index>(),
        reframe in any::<bool>(),
    ) {
        let m = which.get(fuzz_corpus());
        let d = damage(m, &edits, reframe);
        agree(v.get(validators()), &d)?;
    }
}
