//! Property tests for the write and read paths together: `Encoder` -> `Framer` -> `FieldIter`, framing
//! of arbitrary bytes, of streams mixing valid frames and garbage, and of split reads.
//!
//! Runs are deterministic (fixed seed); set `PROPTEST_RNG_SEED` / `PROPTEST_CASES` to explore further.

mod prop_util;

use fix_codec::field::data_tag_for_length;
use fix_codec::{EncodeBuffer, FieldIter, FrameStatus, Framer, MessageRef, SOH};
use proptest::prelude::*;

/// Fixed seed unless the environment asks for another: CI runs must be reproducible.
fn config(cases: u32) -> ProptestConfig {
    prop_util::config(cases, 0x00f1_c0de_c0de_0001)
}

const BEGIN_STRINGS: [&[u8]; 6] = [
    b"FIX.4.0",
    b"FIX.4.1",
    b"FIX.4.2",
    b"FIX.4.3",
    b"FIX.4.4",
    b"FIXT.1.1",
];

/// Every length tag the scanner knows, so generated data fields cover them all.
const LENGTH_TAGS: [u32; 20] = [
    90, 93, 95, 212, 348, 350, 352, 354, 356, 358, 360, 362, 364, 445, 618, 621, 1184, 1277, 1400,
    1402,
];

#[derive(Debug, Clone)]
enum BodyField {
    /// An ordinary field; `value` has no SOH.
    Plain { tag: u32, value: Vec<u8> },
    /// A length field followed by its data field; `data` may contain SOH.
    Data { len_tag: u32, data: Vec<u8> },
}

/// Which lookalikes of a trailer a generated body may contain.
#[derive(Debug, Clone, Copy)]
enum Lookalikes {
    /// Anything: tag 10 in the body, `SOH 10=` inside data values.
    Allowed,
    /// No `SOH 10=` anywhere in the body, so that only the real trailer ends a trailer search.
    Excluded,
}

fn plain_value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Printable text, the common case.
        "[ -~]{0,12}".prop_map(String::into_bytes),
        // Any byte but SOH (0x00 and 0x80.. included).
        proptest::collection::vec(prop_oneof![Just(0u8), 2u8..=255], 0..12),
    ]
}

fn plain_tag(lookalikes: Lookalikes) -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => 1u32..200,
        2 => 200u32..20_000,
        1 => 1u32..=fix_codec::field::MAX_TAG,
    ]
    .prop_filter("length tags are generated as data pairs", |t| {
        data_tag_for_length(*t).is_none()
    })
    .prop_filter("tag 10 only when lookalikes are allowed", move |t| {
        matches!(lookalikes, Lookalikes::Allowed) || *t != 10
    })
}

fn data_value(lookalikes: Lookalikes) -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        2 => any::<u8>(),
        1 => Just(SOH),
        1 => Just(b'1'),
        1 => Just(b'0'),
        1 => Just(b'='),
    ];
    proptest::collection::vec(byte, 0..24).prop_map(move |mut v| {
        if matches!(lookalikes, Lookalikes::Excluded) {
            // Without '=' there can be no `SOH 10=` (nor `SOH 8=`) inside the data.
            for b in &mut v {
                if *b == b'=' {
                    *b = b':';
                }
            }
        }
        v
    })
}

fn body_field(lookalikes: Lookalikes) -> impl Strategy<Value = BodyField> {
    prop_oneof![
        4 => (plain_tag(lookalikes), plain_value())
            .prop_map(|(tag, value)| BodyField::Plain { tag, value }),
        1 => (proptest::sample::select(&LENGTH_TAGS[..]), data_value(lookalikes))
            .prop_map(|(len_tag, data)| BodyField::Data { len_tag, data }),
    ]
}

#[derive(Debug, Clone)]
struct Message {
    begin_string: &'static [u8],
    msg_type: Vec<u8>,
    body: Vec<BodyField>,
}

fn message(lookalikes: Lookalikes) -> impl Strategy<Value = Message> {
    (
        proptest::sample::select(&BEGIN_STRINGS[..]),
        prop_oneof![
            proptest::sample::select(&["0", "A", "D", "8", "AE", "j"][..])
                .prop_map(|s| s.as_bytes().to_vec()),
            proptest::collection::vec(2u8..=255, 0..4),
        ],
        proptest::collection::vec(body_field(lookalikes), 0..12),
    )
        .prop_map(|(begin_string, msg_type, body)| Message {
            begin_string,
            msg_type,
            body,
        })
}

impl Message {
    fn encode(&self) -> Vec<u8> {
        let mut buf = EncodeBuffer::with_capacity(64);
        let mut e = buf.encoder(self.begin_string, &self.msg_type);
        for f in &self.body {
            match f {
                BodyField::Plain { tag, value } => {
                    e.field(*tag, value);
                }
                BodyField::Data { len_tag, data } => {
                    let data_tag = data_tag_for_length(*len_tag).expect("a length tag");
                    e.field_u64(*len_tag, data.len() as u64)
                        .field(data_tag, data);
                }
            }
        }
        e.finish().to_vec()
    }

    /// The (tag, value) pairs the scanner must see after `8`, `9`, `35` and before `10`.
    fn expected_body(&self) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        for f in &self.body {
            match f {
                BodyField::Plain { tag, value } => out.push((*tag, value.clone())),
                BodyField::Data { len_tag, data } => {
                    out.push((*len_tag, data.len().to_string().into_bytes()));
                    out.push((data_tag_for_length(*len_tag).unwrap(), data.clone()));
                }
            }
        }
        out
    }
}

fn naive_checksum(bytes: &[u8]) -> u8 {
    (bytes.iter().map(|&b| u64::from(b)).sum::<u64>() % 256) as u8
}

/// An independent check that `frame` is what the framer may call complete: `8=` first, `9=` second
/// with the exact body length, and a `10=DDD SOH` trailer with the right checksum.
fn is_verified_frame(frame: &[u8]) -> bool {
    let Some(rest) = frame.strip_prefix(b"8=") else {
        return false;
    };
    let Some(soh) = rest.iter().position(|&b| b == SOH) else {
        return false;
    };
    let Some(rest) = rest[soh + 1..].strip_prefix(b"9=") else {
        return false;
    };
    let Some(digits) = rest.iter().position(|&b| b == SOH) else {
        return false;
    };
    let Ok(Ok(declared)) = std::str::from_utf8(&rest[..digits]).map(str::parse::<usize>) else {
        return false;
    };
    if !rest[..digits].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let body_start = frame.len() - rest.len() + digits + 1;
    if frame.len() < body_start + 7 {
        return false;
    }
    let trailer_start = frame.len() - 7;
    let trailer = &frame[trailer_start..];
    if !trailer.starts_with(b"10=")
        || trailer[6] != SOH
        || !trailer[3..6].iter().all(u8::is_ascii_digit)
        || frame[trailer_start - 1] != SOH
    {
        return false;
    }
    let declared_sum: u32 = std::str::from_utf8(&trailer[3..6])
        .unwrap()
        .parse()
        .unwrap();
    declared == trailer_start - body_start
        && declared_sum == u32::from(naive_checksum(&frame[..trailer_start]))
}

/// Checks what every status must satisfy for any input.
fn check_status(framer: &Framer, buf: &[u8], status: FrameStatus) -> Result<(), TestCaseError> {
    match status {
        FrameStatus::Complete { len } => {
            prop_assert!(len >= 1 && len <= buf.len(), "len {} of {}", len, buf.len());
            prop_assert!(len <= framer.max_frame_len());
            prop_assert!(
                is_verified_frame(&buf[..len]),
                "accepted an unverifiable frame {:?}",
                String::from_utf8_lossy(&buf[..len])
            );
        }
        FrameStatus::Garbled { skip, .. } => {
            prop_assert!(
                skip >= 1 && skip <= buf.len(),
                "skip {} of {}",
                skip,
                buf.len()
            );
        }
        FrameStatus::NeedMore => {}
    }
    Ok(())
}

/// Frame `buf` to the end the way an I/O loop does; returns the complete frames as
/// (offset, len) and whether a fatal error stopped framing.
fn frame_all(framer: &Framer, buf: &[u8]) -> Result<(Vec<(usize, usize)>, bool), TestCaseError> {
    let mut frames = Vec::new();
    let mut pos = 0;
    // Every step consumes at least one byte or stops: buf.len() + 1 steps bound the loop.
    for _ in 0..=buf.len() {
        let status = framer.next_frame(&buf[pos..]);
        check_status(framer, &buf[pos..], status)?;
        match status {
            FrameStatus::Complete { len } => {
                frames.push((pos, len));
                pos += len;
            }
            FrameStatus::Garbled { skip, error } => {
                if error.is_fatal() {
                    return Ok((frames, true));
                }
                pos += skip;
            }
            FrameStatus::NeedMore => return Ok((frames, false)),
        }
    }
    Err(TestCaseError::fail("framing loop did not terminate"))
}

/// The same as [`frame_all`] but with bytes arriving in chunks of the given sizes (cycled).
fn frame_chunked(
    framer: &Framer,
    stream: &[u8],
    chunks: &[usize],
) -> Result<Vec<(usize, usize)>, TestCaseError> {
    let mut frames = Vec::new();
    let mut received = 0;
    let mut pos = 0;
    let mut chunk = chunks.iter().cycle();
    while received < stream.len() {
        received = (received + chunk.next().copied().unwrap_or(1).max(1)).min(stream.len());
        for _ in 0..=received - pos {
            let buf = &stream[pos..received];
            let status = framer.next_frame(buf);
            check_status(framer, buf, status)?;
            match status {
                FrameStatus::Complete { len } => {
                    frames.push((pos, len));
                    pos += len;
                }
                FrameStatus::Garbled { skip, error } => {
                    prop_assert!(!error.is_fatal(), "fatal {:?} at {}", error, pos);
                    pos += skip;
                }
                FrameStatus::NeedMore => break,
            }
        }
    }
    Ok(frames)
}

/// One element of a stream given to the framer.
#[derive(Debug, Clone)]
enum Piece {
    /// A valid frame: must be delivered.
    Valid(Vec<u8>),
    /// Bytes with no `8=` in them, then SOH: skipped.
    Noise(Vec<u8>),
    /// A frame whose CheckSum is wrong or malformed: dropped whole.
    BadCheckSum(Vec<u8>),
    /// A frame whose BodyLength is too short: dropped whole.
    ShortBodyLength(Vec<u8>),
    /// A frame with `35=` before `9=`: dropped whole.
    OutOfOrder(Vec<u8>),
    /// A frame whose BodyLength is too long by 1..=len(next) bytes, then the valid frame it
    /// swallows: both dropped (QuickFIX's rule).
    TooLongThenSwallowed(Vec<u8>, Vec<u8>),
}

impl Piece {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Piece::Valid(b)
            | Piece::Noise(b)
            | Piece::BadCheckSum(b)
            | Piece::ShortBodyLength(b)
            | Piece::OutOfOrder(b) => b.clone(),
            Piece::TooLongThenSwallowed(a, b) => [a.as_slice(), b.as_slice()].concat(),
        }
    }
}

/// Split an encoded frame into (begin string field incl. SOH, declared length, body, trailer).
fn split_frame(frame: &[u8]) -> (&[u8], usize, &[u8], &[u8]) {
    let bs_end = frame.iter().position(|&b| b == SOH).unwrap() + 1;
    let len_end = bs_end + frame[bs_end..].iter().position(|&b| b == SOH).unwrap() + 1;
    let declared: usize = std::str::from_utf8(&frame[bs_end + 2..len_end - 1])
        .unwrap()
        .parse()
        .unwrap();
    let trailer_start = frame.len() - 7;
    assert_eq!(trailer_start - len_end, declared);
    (
        &frame[..bs_end],
        declared,
        &frame[len_end..trailer_start],
        &frame[trailer_start..],
    )
}

/// Reassemble with a chosen BodyLength value and a correct checksum for the new bytes.
fn with_body_length(frame: &[u8], declared: usize) -> Vec<u8> {
    let (bs, _, body, _) = split_frame(frame);
    let mut m = [bs, format!("9={declared}\x01").as_bytes(), body].concat();
    let sum = naive_checksum(&m);
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

fn noise() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        prop_oneof![any::<u8>(), Just(SOH), Just(b'8'), Just(b'='), Just(b'1')],
        0..24,
    )
    .prop_map(|mut v| {
        for i in 1..v.len() {
            if v[i - 1] == b'8' && v[i] == b'=' {
                v[i] = b':';
            }
        }
        v.push(SOH);
        v
    })
}

fn piece() -> impl Strategy<Value = Piece> {
    let frame = || message(Lookalikes::Excluded).prop_map(|m| m.encode());
    prop_oneof![
        4 => frame().prop_map(Piece::Valid),
        2 => noise().prop_map(Piece::Noise),
        1 => (frame(), 1u8..=255, prop::bool::ANY, "[^\x01]{0,5}").prop_map(
            |(f, delta, digits, text)| {
                let head = f[..f.len() - 7].to_vec();
                let wrong = if digits {
                    let right = naive_checksum(&head);
                    format!("{:03}", right.wrapping_add(delta))
                } else {
                    // Malformed: never three digits, since it always holds a letter.
                    format!("{text}x")
                };
                Piece::BadCheckSum([head, format!("10={wrong}\x01").into_bytes()].concat())
            }
        ),
        1 => (frame(), any::<prop::sample::Index>()).prop_map(|(f, i)| {
            let (_, declared, _, _) = split_frame(&f);
            Piece::ShortBodyLength(with_body_length(&f, i.index(declared)))
        }),
        1 => frame().prop_map(|f| {
            // 8=BS SOH 35=X SOH 9=N SOH rest: N counts the bytes after its own SOH.
            let (bs, _, body, _) = split_frame(&f);
            let mt_end = body.iter().position(|&b| b == SOH).unwrap() + 1;
            let (mt, rest) = body.split_at(mt_end);
            let mut m = [bs, mt, format!("9={}\x01", rest.len()).as_bytes(), rest].concat();
            let sum = naive_checksum(&m);
            m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
            Piece::OutOfOrder(m)
        }),
        1 => (frame(), frame(), any::<prop::sample::Index>()).prop_map(|(a, b, i)| {
            let (_, declared, _, _) = split_frame(&a);
            let excess = 1 + i.index(b.len());
            Piece::TooLongThenSwallowed(with_body_length(&a, declared + excess), b)
        }),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    /// Encoder output frames whole and scans back to exactly the fields written.
    #[test]
    fn encode_frame_scan_round_trip(msg in message(Lookalikes::Allowed)) {
        let bytes = msg.encode();
        let framer = Framer::default();
        prop_assert_eq!(framer.next_frame(&bytes), FrameStatus::Complete { len: bytes.len() });
        prop_assert!(is_verified_frame(&bytes));

        let fields: Vec<(u32, Vec<u8>)> = FieldIter::new(&bytes)
            .map(|f| f.map(|f| (f.tag, f.value.to_vec())))
            .collect::<Result<_, _>>()
            .map_err(|e| TestCaseError::fail(format!("scan error {e}")))?;
        let n = fields.len();
        prop_assert!(n >= 4);
        prop_assert_eq!(&fields[0], &(8, msg.begin_string.to_vec()));
        prop_assert_eq!(fields[1].0, 9);
        prop_assert_eq!(&fields[2], &(35, msg.msg_type.clone()));
        prop_assert_eq!(&fields[3..n - 1], &msg.expected_body()[..]);
        prop_assert_eq!(fields[n - 1].0, 10);

        // 9= counts the bytes from after its SOH up to `10=`; 10= is the byte sum before it.
        let body_len: usize = std::str::from_utf8(&fields[1].1).unwrap().parse().unwrap();
        let header_len = 2 + msg.begin_string.len() + 1 + 2 + fields[1].1.len() + 1;
        prop_assert_eq!(body_len, bytes.len() - header_len - 7);
        let sum = naive_checksum(&bytes[..bytes.len() - 7]);
        prop_assert_eq!(fields[n - 1].1.clone(), format!("{sum:03}").into_bytes());

        let m = MessageRef::new(&bytes);
        prop_assert_eq!(m.begin_string(), Some(msg.begin_string));
        prop_assert_eq!(m.msg_type(), Some(&msg.msg_type[..]));
    }

    /// Split reads: every strict prefix of a frame needs more bytes; any prefix of a stream that
    /// holds the whole first frame yields exactly that frame.
    #[test]
    fn split_reads_at_every_boundary(
        a in message(Lookalikes::Allowed),
        b in message(Lookalikes::Allowed),
    ) {
        let (a, b) = (a.encode(), b.encode());
        let framer = Framer::default();
        for cut in 0..a.len() {
            prop_assert_eq!(framer.next_frame(&a[..cut]), FrameStatus::NeedMore, "cut {}", cut);
        }
        let both = [a.as_slice(), b.as_slice()].concat();
        for cut in a.len()..=both.len() {
            prop_assert_eq!(
                framer.next_frame(&both[..cut]),
                FrameStatus::Complete { len: a.len() },
                "cut {}",
                cut
            );
        }
    }

    /// Arbitrary bytes never panic the framer (with any size limit), and every status is sane.
    #[test]
    fn arbitrary_bytes_are_framed_sanely(
        buf in proptest::collection::vec(any::<u8>(), 0..300),
        max in prop_oneof![Just(Framer::DEFAULT_MAX_FRAME_LEN), 0usize..400],
    ) {
        let framer = Framer::new(max);
        frame_all(&framer, &buf)?;
        // Every suffix too: the I/O loop calls the framer at arbitrary positions.
        for start in 0..buf.len() {
            let status = framer.next_frame(&buf[start..]);
            check_status(&framer, &buf[start..], status)?;
        }
    }

    /// Bytes built from FIX-like tokens reach the framer's deeper branches; still no panic.
    #[test]
    fn fix_like_tokens_are_framed_sanely(
        tokens in proptest::collection::vec(
            prop_oneof![
                Just(&b"8="[..]), Just(&b"FIX.4.4"[..]), Just(&b"\x01"[..]), Just(&b"9="[..]),
                Just(&b"10="[..]), Just(&b"35=0"[..]), Just(&b"0"[..]), Just(&b"12"[..]),
                Just(&b"999999999"[..]), Just(&b"x"[..]), Just(&b"\x0110=000\x01"[..]),
            ],
            0..40,
        ),
        max in prop_oneof![Just(Framer::DEFAULT_MAX_FRAME_LEN), 0usize..200],
    ) {
        let buf = tokens.concat();
        let framer = Framer::new(max);
        frame_all(&framer, &buf)?;
        for start in 0..buf.len() {
            check_status(&framer, &buf[start..], framer.next_frame(&buf[start..]))?;
        }
    }

    /// Valid frames with a few bytes flipped, inserted or deleted: never a panic, and anything
    /// reported complete verifies independently.
    #[test]
    fn mutated_frames_are_framed_sanely(
        msgs in proptest::collection::vec(message(Lookalikes::Allowed), 1..4),
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..6),
    ) {
        let mut buf: Vec<u8> = msgs.iter().flat_map(Message::encode).collect();
        for (at, byte, kind) in edits {
            if buf.is_empty() {
                break;
            }
            let i = at.index(buf.len());
            match kind {
                0 => buf[i] = byte,
                1 => buf.insert(i, byte),
                _ => {
                    buf.remove(i);
                }
            }
        }
        frame_all(&Framer::default(), &buf)?;
    }

    /// Streams of valid frames and garbage: every valid frame not swallowed by a too-long
    /// BodyLength is delivered, at its offset, and nothing else is; arrival in arbitrary
    /// chunks changes nothing.
    #[test]
    fn valid_frames_survive_garbage(
        pieces in proptest::collection::vec(piece(), 0..10),
        chunks in proptest::collection::vec(1usize..64, 1..8),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for p in &pieces {
            if let Piece::Valid(b) = p {
                expected.push((stream.len(), b.len()));
            }
            stream.extend_from_slice(&p.bytes());
        }
        let framer = Framer::default();
        let (frames, fatal) = frame_all(&framer, &stream)?;
        prop_assert!(!fatal);
        prop_assert_eq!(&frames, &expected);
        let chunked = frame_chunked(&framer, &stream, &chunks)?;
        prop_assert_eq!(&chunked, &expected);
    }
}
