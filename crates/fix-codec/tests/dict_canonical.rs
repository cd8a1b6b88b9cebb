//! Canonical body order, as the acceptance scripts expect echoed messages.

mod dict_util;

use dict_util::{fixt_validator, msg, show, t, validator};
use fix_codec::{EncodeBuffer, Validator};

/// The canonical body of `body` (acceptance syntax), rendered with `|`.
fn canon(v: &Validator, begin: &str, body: &str) -> String {
    let m = msg(begin, &t(body));
    let mut buf = EncodeBuffer::default();
    let mut enc = buf.encoder(b"FIX.4.4", b"X");
    v.write_body_canonical(&m, &mut enc).expect("readable");
    let out = enc.finish().to_vec();
    // Strip `8=..|9=..|35=X|` and `10=...|`.
    let s = show(&out);
    let start = s.find("35=X|").unwrap() + 5;
    s[start..s.len() - 7].to_owned()
}

#[test]
fn s15_ascending_order() {
    for (file, begin) in [("FIX42.xml", "FIX.4.2"), ("FIX44.xml", "FIX.4.4")] {
        let v = validator(file);
        let got = canon(
            &v,
            begin,
            "35=D|49=TW|34=3|56=ISLD|52=<TIME>|40=1|55=MSFT|60=<TIME>|54=1|21=3|11=id|",
        );
        assert_eq!(got, t("11=id|21=3|40=1|54=1|55=MSFT|60=<TIME>|"), "{file}");
    }
}

#[test]
fn s14e_values_byte_for_byte() {
    let v = validator("FIX44.xml");
    let got = canon(
        &v,
        "FIX.4.4",
        "35=D|34=4|49=TW44|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|167=CS|",
    );
    assert_eq!(
        got,
        t("11=ID|21=1|38=002000.00|40=1|54=1|55=INTC|60=<TIME>|167=CS|")
    );
}

#[test]
fn s21_empty_group() {
    let v = validator("FIX42.xml");
    let got = canon(
        &v,
        "FIX.4.2",
        "35=d|34=2|49=TW42|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|167=OPT|336=ONE_MAIN|58=No Products found for this Class Symbol|393=0|146=0|",
    );
    assert_eq!(
        got,
        "22=8|55=TBS|58=No Products found for this Class Symbol|146=0|167=OPT|320=JCD1091-20021011|322=1034356488676|323=6|336=ONE_MAIN|393=0|"
    );
}

#[test]
fn group_members_follow_their_count_in_dictionary_order() {
    let v = validator("FIX44.xml");
    // Parties: 448 (delimiter), 447, 452, 802 -> (523, 803); written shuffled within entries.
    let got = canon(
        &v,
        "FIX.4.4",
        "35=D|34=2|49=A|52=<TIME>|56=B|60=<TIME>|453=2|448=P1|802=2|523=S1|803=1|523=S2|803=2|452=1|447=D|448=P2|452=3|11=ID|1=ACC|",
    );
    assert_eq!(
        got,
        t(
            "1=ACC|11=ID|60=<TIME>|453=2|448=P1|447=D|452=1|802=2|523=S1|803=1|523=S2|803=2|448=P2|452=3|"
        )
    );
}

#[test]
fn header_and_trailer_fields_are_left_out() {
    let v = validator("FIX44.xml");
    let got = canon(
        &v,
        "FIX.4.4",
        "35=0|34=2|49=A|52=<TIME>|56=B|627=1|628=H|629=<TIME>|112=X|93=2|89=ab|",
    );
    assert_eq!(got, "112=X|");
}

#[test]
fn data_fields_are_copied_with_their_length() {
    let v = validator("FIX44.xml");
    let got = canon(
        &v,
        "FIX.4.4",
        "35=A|34=1|49=A|52=<TIME>|56=B|108=30|98=0|95=3|96=a\x01b|",
    );
    assert_eq!(got, "95=3|96=a|b|98=0|108=30|");
}

#[test]
fn unknown_msg_type_is_sorted_without_groups() {
    let v = validator("FIX44.xml");
    let got = canon(
        &v,
        "FIX.4.4",
        "35=ZZ|34=2|49=A|52=<TIME>|56=B|9001=b|453=1|448=x|",
    );
    assert_eq!(got, "448=x|453=1|9001=b|");
}

#[test]
fn fixt_application_message() {
    let v = fixt_validator();
    let got = canon(
        &v,
        "FIXT.1.1",
        "35=D|34=2|49=A|52=<TIME>|56=B|1128=9|60=<TIME>|54=1|11=ID|40=1|",
    );
    assert_eq!(got, t("11=ID|40=1|54=1|60=<TIME>|"));
}

#[test]
fn garbled_input_is_an_error() {
    let v = validator("FIX44.xml");
    let m = msg("FIX.4.4", &t("35=0|34=2|49=A|52=<TIME>|56=B|x=1|"));
    let mut buf = EncodeBuffer::default();
    let mut enc = buf.encoder(b"FIX.4.4", b"0");
    assert!(
        v.write_body_canonical(&m, &mut enc)
            .unwrap_err()
            .is_garbled()
    );
}

#[test]
fn canonical_output_validates_and_is_stable() {
    let v = validator("FIX44.xml");
    let body = t(
        "35=D|34=2|49=A|52=<TIME>|56=B|60=<TIME>|453=1|448=P1|447=D|452=1|802=1|523=S|803=1|11=ID|55=X|54=1|40=1|",
    );
    let m = msg("FIX.4.4", &body);
    assert_eq!(v.validate(&m), Ok(()));
    // Rebuild a full message: header in order, then the canonical body.
    let mut buf = EncodeBuffer::default();
    let mut enc = buf.encoder(b"FIX.4.4", b"D");
    enc.field(34, b"2")
        .field(49, b"A")
        .field(52, t("<TIME>").as_bytes())
        .field(56, b"B");
    v.write_body_canonical(&m, &mut enc).unwrap();
    let once = enc.finish().to_vec();
    assert_eq!(v.validate(&once), Ok(()));
    let mut buf2 = EncodeBuffer::default();
    let mut enc2 = buf2.encoder(b"FIX.4.4", b"D");
    enc2.field(34, b"2")
        .field(49, b"A")
        .field(52, t("<TIME>").as_bytes())
        .field(56, b"B");
    v.write_body_canonical(&once, &mut enc2).unwrap();
    assert_eq!(show(enc2.finish()), show(&once));
}

#[test]
fn entries_split_as_quickfix_splits_them() {
    // A delimiter always starts an entry; a member before the first delimiter starts one too.
    let v = validator("FIX44.xml");
    let got = canon(
        &v,
        "FIX.4.4",
        "35=D|34=2|49=A|52=<TIME>|56=B|453=1|448=P1|802=2|803=1|523=S1|523=S2|803=2|",
    );
    assert_eq!(got, "453=1|448=P1|802=2|803=1|523=S1|523=S2|803=2|");
}
