//! The validator's fast path (one pass that proves ordinary messages valid) must never change a
//! verdict: `validate` and `validate_framed` must equal `validate_reference` (the general
//! algorithm alone) on valid messages and on every kind of damage, for every dictionary pairing
//! and every option setting.
//!
//! Runs are deterministic (fixed seed); set `PROPTEST_RNG_SEED` / `PROPTEST_CASES` to explore.

mod dict_util;

mod prop_util;

use dict_util::{dict, msg, t};
use fix_codec::{FieldIndex, MessageRef, ValidationOptions, Validator};
use proptest::prelude::*;
use std::sync::Arc;

fn config(cases: u32) -> ProptestConfig {
    prop_util::config(cases, 0x00f1_c0de_fa57_0001)
}

/// (dictionary pairing, BeginString, valid bodies).
fn bases() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let order = "11=ID|21=1|40=2|44=10.5|54=1|38=100|55=INTC|60=<TIME>|";
    let hdr = "34=2|49=TW|52=<TIME>|56=ISLD|";
    let fix4 = |mt: &str, body: &str| t(&format!("35={mt}|{hdr}{body}"));
    vec![
        (
            "FIX44",
            "FIX.4.4",
            vec![
                fix4("D", order),
                fix4(
                    "D",
                    &format!("{order}453=2|448=P1|447=D|452=1|448=P2|447=D|452=3|"),
                ),
                fix4("D", &format!("{order}453=1|448=P1|")),
                fix4("0", ""),
                fix4("1", "112=TEST|"),
                fix4("A", "98=0|108=30|141=Y|"),
                fix4("A", "95=3|96=a\x01b|98=0|108=30|"),
                fix4("0", "627=1|628=H1|629=<TIME>|"),
                fix4(
                    "8",
                    "6=101.25|11=ORD-1|14=100|17=E-1|31=101.25|32=100|37=O-1|38=100|39=2|\
                     54=1|55=MSFT|150=F|151=0|",
                ),
                fix4("0", "93=2|89=ab|"),
            ],
        ),
        (
            "FIX42",
            "FIX.4.2",
            vec![
                fix4("D", order),
                fix4("D", &format!("{order}78=2|79=A|80=10|79=B|80=20|")),
                fix4("5", "58=bye|"),
            ],
        ),
        (
            "FIX40",
            "FIX.4.0",
            vec![fix4("D", "11=ID|21=1|40=1|54=1|38=100|55=INTC|")],
        ),
        (
            "FIXT",
            "FIXT.1.1",
            vec![
                fix4("D", &format!("1128=9|{order}")),
                fix4("A", "98=0|108=30|1137=9|"),
                fix4("0", ""),
            ],
        ),
    ]
}

fn validators(pairing: &str) -> Vec<(Validator, Validator)> {
    let (tr, app) = match pairing {
        "FIXT" => (dict("FIXT11.xml"), Some(dict("FIX50SP2.xml"))),
        other => (dict(&format!("{other}.xml")), None),
    };
    let mut out = Vec::new();
    for bits in 0u8..32 {
        let options = ValidationOptions {
            check_fields_out_of_order: bits & 1 != 0,
            check_fields_have_values: bits & 2 != 0,
            check_user_defined_fields: bits & 4 != 0,
            allow_unknown_message_fields: bits & 8 != 0,
            validate_length_and_checksum: bits & 16 != 0,
        };
        let v = Validator::new(Arc::clone(&tr), app.clone(), options);
        let unframed = Validator::new(
            Arc::clone(&tr),
            app.clone(),
            ValidationOptions {
                validate_length_and_checksum: false,
                ..options
            },
        );
        out.push((v, unframed));
    }
    out
}

/// One damage to a body (fields separated by `|`).
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize),
    Duplicate(usize),
    Swap(usize, usize),
    SetValue(usize, &'static str),
    Insert(usize, u32, &'static str),
    Byte(usize, u8),
}

const VALUES: [&str; 14] = [
    "",
    "Z",
    "1",
    "0",
    "2",
    "Y",
    "1e5",
    "-3",
    "10.5",
    "20240230-23:59:60.5",
    "20240101-24:00:00",
    "ABC DEF",
    "12:00:00",
    "x",
];

const TAGS: [u32; 32] = [
    8, 9, 10, 34, 35, 43, 49, 52, 56, 89, 93, 95, 96, 97, 11, 38, 40, 44, 54, 55, 78, 79, 453, 448,
    627, 1128, 144, 370, 4999, 5001, 9999, 0,
];

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (0usize..20).prop_map(Edit::Delete),
        (0usize..20).prop_map(Edit::Duplicate),
        (0usize..20, 0usize..20).prop_map(|(a, b)| Edit::Swap(a, b)),
        (0usize..20, prop::sample::select(&VALUES[..])).prop_map(|(i, v)| Edit::SetValue(i, v)),
        (
            0usize..20,
            prop::sample::select(&TAGS[..]),
            prop::sample::select(&VALUES[..])
        )
            .prop_map(|(i, t, v)| Edit::Insert(i, t, v)),
        (0usize..200, any::<u8>()).prop_map(|(i, b)| Edit::Byte(i, b)),
    ]
}

fn apply(body: &str, edits: &[Edit]) -> Vec<u8> {
    let mut fields: Vec<String> = body
        .split('|')
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    let mut bytes_edits = Vec::new();
    for e in edits {
        let n = fields.len().max(1);
        match *e {
            Edit::Delete(i) if !fields.is_empty() => {
                fields.remove(i % n);
            }
            Edit::Duplicate(i) if !fields.is_empty() => {
                let f = fields[i % n].clone();
                fields.insert(i % n, f);
            }
            Edit::Swap(a, b) if !fields.is_empty() => fields.swap(a % n, b % n),
            Edit::SetValue(i, v) if !fields.is_empty() => {
                let f = &mut fields[i % n];
                let tag = f.split('=').next().unwrap_or("").to_owned();
                *f = format!("{tag}={v}");
            }
            Edit::Insert(i, tag, v) => {
                let at = i % (fields.len() + 1);
                fields.insert(at, format!("{tag}={v}"));
            }
            Edit::Byte(i, b) => bytes_edits.push((i, b)),
            _ => {}
        }
    }
    let mut body = fields.join("|");
    body.push('|');
    let mut bytes = body.into_bytes();
    for (i, b) in bytes_edits {
        if !bytes.is_empty() {
            let n = bytes.len();
            bytes[i % n] = b;
        }
    }
    bytes
}

/// `primers`: valid messages validated through the index first, so that it remembers their
/// shapes (the layouts it proves cheaply) when `m` comes: the verdict must not change.
fn same_verdicts(
    v: &Validator,
    unframed: &Validator,
    m: &[u8],
    primers: &[Vec<u8>],
) -> Result<(), TestCaseError> {
    let reference = v.validate_reference(m);
    prop_assert_eq!(v.validate(m), reference, "validate");
    prop_assert_eq!(
        v.validate_framed(m),
        unframed.validate_reference(m),
        "validate_framed"
    );
    same_lookups(unframed, m, &[])?;
    same_lookups(unframed, m, primers)?;
    Ok(())
}

/// The valid messages of a dictionary pairing.
fn primers(pairing: &str) -> Vec<Vec<u8>> {
    bases()
        .into_iter()
        .filter(|(p, _, _)| *p == pairing)
        .flat_map(|(_, begin, bodies)| bodies.into_iter().map(move |b| msg(begin, &b)))
        .collect()
}

/// The indexing validation gives the verdict and header of the plain one, and an index whose
/// lookups find what a scan of the bytes finds, whatever the index proved before (`primers`).
/// Returns whether the message was indexed.
fn same_lookups(
    unframed: &Validator,
    m: &[u8],
    primers: &[Vec<u8>],
) -> Result<bool, TestCaseError> {
    let mut index = FieldIndex::new();
    for p in primers {
        // Twice: the second proves by the shape the first taught the index.
        for _ in 0..2 {
            prop_assert_eq!(
                unframed.validate_framed_indexed(p, &mut index),
                unframed.validate_framed_with_header(p),
                "primer"
            );
        }
    }
    let indexed = unframed.validate_framed_indexed(m, &mut index);
    prop_assert_eq!(
        &indexed,
        &unframed.validate_framed_with_header(m),
        "verdict"
    );
    if indexed.is_err() {
        prop_assert!(!index.describes(m), "an invalid message left an index");
    }
    let with = MessageRef::with_index(m, &index);
    let scan = MessageRef::new(m);
    let mut tags: Vec<u32> = scan.fields().map_while(Result::ok).map(|f| f.tag).collect();
    tags.extend([9999, 1, 43]);
    for &t in &tags {
        prop_assert_eq!(with.get(t), scan.get(t), "tag {}", t);
    }
    let many = [11, 55, 54, 38, 43, 35, 10];
    prop_assert_eq!(with.get_many(many), scan.get_many(many));
    prop_assert_eq!(with.msg_type(), scan.msg_type());
    prop_assert_eq!(with.begin_string(), scan.begin_string());
    Ok(with.is_indexed())
}

#[test]
fn valid_bases_pass_both_ways() {
    for (pairing, begin, bodies) in bases() {
        for (v, unframed) in validators(pairing) {
            for body in &bodies {
                let m = msg(begin, body);
                assert_eq!(v.validate_reference(&m), Ok(()), "{pairing} {body}");
                assert_eq!(v.validate(&m), Ok(()), "{pairing} {body}");
                assert_eq!(unframed.validate_framed(&m), Ok(()), "{pairing} {body}");
                // Repeating groups and data fields are the general algorithm's: not indexed.
                let general = ["453=", "78=", "627=", "95=", "93="]
                    .iter()
                    .any(|t| body.contains(t));
                let indexed = same_lookups(&unframed, &m, &[]).unwrap();
                assert_eq!(indexed, !general, "{pairing} {body}");
                let again = same_lookups(&unframed, &m, std::slice::from_ref(&m)).unwrap();
                assert_eq!(again, !general, "{pairing} {body}, by its shape");
            }
        }
    }
}

/// Group counts without their entries, and entries without their count: the fast path must
/// leave every one of these to the general algorithm.
#[test]
fn group_fields_out_of_place() {
    let order = "11=ID|21=1|40=2|44=10.5|54=1|38=100|55=INTC|60=<TIME>|";
    let cases = [
        (
            "FIX44",
            "FIX.4.4",
            format!("35=D|34=2|49=A|52=<TIME>|56=B|{order}453=1|"),
        ),
        (
            "FIX44",
            "FIX.4.4",
            format!("35=D|34=2|49=A|52=<TIME>|56=B|{order}453=0|"),
        ),
        (
            "FIX44",
            "FIX.4.4",
            format!("35=D|34=2|49=A|52=<TIME>|56=B|{order}448=P|"),
        ),
        (
            "FIX44",
            "FIX.4.4",
            t("35=0|34=2|49=A|52=<TIME>|56=B|627=1|"),
        ),
        (
            "FIX44",
            "FIX.4.4",
            t("35=0|34=2|49=A|52=<TIME>|56=B|628=H|"),
        ),
        (
            "FIX42",
            "FIX.4.2",
            format!("35=D|34=2|49=A|52=<TIME>|56=B|{order}78=2|"),
        ),
        (
            "FIX42",
            "FIX.4.2",
            format!("35=D|34=2|49=A|52=<TIME>|56=B|{order}78=0|"),
        ),
    ];
    let mut errors = 0;
    for (pairing, begin, body) in &cases {
        for (v, unframed) in validators(pairing) {
            let m = msg(begin, &t(body));
            let reference = v.validate_reference(&m);
            errors += usize::from(reference.is_err());
            assert_eq!(v.validate(&m), reference, "{pairing} {body}");
            assert_eq!(
                v.validate_framed(&m),
                unframed.validate_reference(&m),
                "{pairing} {body}"
            );
        }
    }
    assert!(errors > 0, "the cases include invalid messages");
}

proptest! {
    #![proptest_config(config(768))]

    #[test]
    fn fast_path_never_changes_a_verdict(
        base in 0usize..64,
        edits in prop::collection::vec(edit(), 0..4),
        option_set in 0usize..32,
        raw in any::<bool>(),
    ) {
        let all = bases();
        let flat: Vec<(&str, &str, &String)> = all
            .iter()
            .flat_map(|(p, b, bodies)| bodies.iter().map(move |body| (*p, *b, body)))
            .collect();
        let (pairing, begin, body) = flat[base % flat.len()];
        let damaged = apply(body, &edits);
        let text = String::from_utf8_lossy(&damaged).into_owned();
        // Framed by the test helper (correct BodyLength and CheckSum), or the damaged bytes
        // spliced into the original frame unchanged (wrong BodyLength or CheckSum, usually).
        let m = if raw {
            let mut m = format!("8={begin}\x019={}\x01", damaged.len()).into_bytes();
            m.extend_from_slice(&damaged.iter().map(|&b| if b == b'|' { 1 } else { b }).collect::<Vec<u8>>());
            m.extend_from_slice(b"10=000\x01");
            m
        } else {
            msg(begin, &text)
        };
        let vs = validators(pairing);
        let (v, unframed) = &vs[option_set % vs.len()];
        // The undamaged message first, so that a damaged copy of the same layout meets the
        // shape it was learned from.
        let mut primers = vec![msg(begin, body)];
        primers.extend(self::primers(pairing));
        same_verdicts(v, unframed, &m, &primers)?;
    }

    #[test]
    fn fast_path_agrees_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..64),
        option_set in 0usize..32,
    ) {
        for pairing in ["FIX44", "FIXT"] {
            let vs = validators(pairing);
            let (v, unframed) = &vs[option_set % vs.len()];
            same_verdicts(v, unframed, &bytes, &primers(pairing))?;
        }
    }
}
