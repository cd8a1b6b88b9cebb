//! The inputs of the QuickFIX acceptance scripts 14a..14i, 2q, 15 and 21 (fix40, fix41, fix42,
//! fix44) and the reject each script expects (reason and RefTagID).

mod dict_util;

use dict_util::{check, err, validator};
use fix_codec::RejectReason::*;
use fix_codec::{RejectReason, ValidationError};

/// (dictionary, BeginString, CompID of the counterparty)
const VERSIONS: [(&str, &str, &str); 4] = [
    ("FIX40.xml", "FIX.4.0", "TW40"),
    ("FIX41.xml", "FIX.4.1", "TW41"),
    ("FIX42.xml", "FIX.4.2", "TW42"),
    ("FIX44.xml", "FIX.4.4", "TW44"),
];

fn each(f: impl Fn(&str, &str, &str)) {
    for (file, begin, tw) in VERSIONS {
        f(file, begin, tw);
    }
}

#[test]
fn s14a_bad_field() {
    each(|file, begin, tw| {
        let v = validator(file);
        let hb = format!("35=0|34=2|49={tw}|52=<TIME>|56=ISLD|");
        assert_eq!(
            check(&v, begin, &format!("{hb}999=HI|")),
            err(InvalidTagNumber, 999)
        );
        assert_eq!(
            check(&v, begin, &format!("{hb}0=HI|")),
            err(InvalidTagNumber, 0)
        );
        let m = dict_util::msg(begin, &dict_util::t(&format!("{hb}-1=HI|")));
        assert_eq!(
            v.validate(&m),
            Err(ValidationError {
                reason: InvalidTagNumber,
                tag: None
            }),
            "{file}"
        );
        assert_eq!(fix_codec::dict::first_malformed_tag(&m), Some(&b"-1"[..]));
        assert_eq!(
            check(&v, begin, &format!("{hb}5000=HI|")),
            err(InvalidTagNumber, 5000)
        );
        assert_eq!(check(&v, begin, &hb), Ok(()));
    });
}

#[test]
fn s14b_required_field_missing() {
    each(|file, begin, tw| {
        let v = validator(file);
        assert_eq!(
            check(&v, begin, &format!("35=0|34=2|49={tw}|52=<TIME>|")),
            err(RequiredTagMissing, 56),
            "{file}"
        );
    });
    let v = validator("FIX40.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.0",
            "35=D|49=TW40|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|38=100|21=3|11=id|"
        ),
        err(RequiredTagMissing, 55)
    );
    let v = validator("FIX41.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.1",
            "35=D|49=TW41|34=3|56=ISLD|52=<TIME>|38=100|40=1|60=<TIME>|54=1|21=3|11=id|"
        ),
        err(RequiredTagMissing, 55)
    );
    let v = validator("FIX42.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.2",
            "35=D|49=TW42|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=3|11=id|"
        ),
        err(RequiredTagMissing, 55)
    );
    let v = validator("FIX44.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.4",
            "35=D|49=TW44|34=3|56=ISLD|52=<TIME>|40=1|60=<TIME>|54=1|21=3|"
        ),
        err(RequiredTagMissing, 11)
    );
}

#[test]
fn s14c_tag_not_defined_for_message_type() {
    each(|file, begin, tw| {
        let v = validator(file);
        assert_eq!(
            check(
                &v,
                begin,
                &format!("35=0|34=2|49={tw}|52=<TIME>|56=ISLD|55=MSFT|")
            ),
            err(TagNotDefinedForMessageType, 55),
            "{file}"
        );
    });
}

#[test]
fn s14d_tag_specified_without_value() {
    each(|file, begin, tw| {
        let v = validator(file);
        assert_eq!(
            check(&v, begin, &format!("35=0|34=2|49={tw}|52=<TIME>|56=|")),
            err(TagSpecifiedWithoutValue, 56),
            "{file}"
        );
    });
}

#[test]
fn s14e_incorrect_enum_value() {
    each(|file, begin, tw| {
        let v = validator(file);
        let order = |extra: &str, hand: &str| {
            format!(
                "35=D|34=2|49={tw}|52=<TIME>|56=ISLD|11=ID|21={hand}|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|{extra}"
            )
        };
        assert_eq!(
            check(&v, begin, &order("", "4")),
            err(ValueIsIncorrect, 21),
            "{file}"
        );
        if file == "FIX42.xml" || file == "FIX44.xml" {
            assert_eq!(
                check(&v, begin, &order("167=BOO|", "1")),
                err(ValueIsIncorrect, 167),
                "{file}"
            );
        }
    });
    assert_eq!(
        check(
            &validator("FIX42.xml"),
            "FIX.4.2",
            "35=D|34=4|49=TW42|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|167=FUT|"
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &validator("FIX44.xml"),
            "FIX.4.4",
            "35=D|34=4|49=TW44|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=002000.00|55=INTC|60=<TIME>|167=CS|"
        ),
        Ok(())
    );
}

#[test]
fn s14f_incorrect_data_format() {
    each(|file, begin, tw| {
        let v = validator(file);
        assert_eq!(
            check(
                &v,
                begin,
                &format!(
                    "35=D|34=2|49={tw}|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=+200.00|55=INTC|60=<TIME>|"
                )
            ),
            err(IncorrectDataFormat, 38),
            "{file}"
        );
    });
}

#[test]
fn s14g_header_body_trailer_fields_out_of_order() {
    each(|file, begin, tw| {
        let v = validator(file);
        // FIX.4.0 scripts carry OrderQty and no TransactTime; the expected reject is the same.
        let (qty, tt) = if file == "FIX40.xml" {
            ("38=100|", "")
        } else {
            ("", "60=<TIME>|")
        };
        assert_eq!(
            check(
                &v,
                begin,
                &format!(
                    "35=D|11=id|21=3|{qty}40=1|54=1|55=MSFT|{tt}34=2|49={tw}|52=<TIME>|56=ISLD|"
                )
            ),
            err(TagSpecifiedOutOfRequiredOrder, 34),
            "{file}"
        );
        assert_eq!(
            check(
                &v,
                begin,
                &format!(
                    "35=D|55=MSFT|34=3|49={tw}|52=<TIME>|56=ISLD|11=id|21=3|{qty}40=1|54=1|{tt}"
                )
            ),
            err(TagSpecifiedOutOfRequiredOrder, 34),
            "{file}"
        );
    });
}

#[test]
fn s14h_repeated_tag() {
    each(|file, begin, tw| {
        let v = validator(file);
        assert_eq!(
            check(
                &v,
                begin,
                &format!(
                    "35=D|34=2|49={tw}|52=<TIME>|56=ISLD|11=ID|21=1|40=1|40=2|54=1|38=200|55=INTC|60=<TIME>|"
                )
            ),
            err(TagAppearsMoreThanOnce, 40),
            "{file}"
        );
    });
}

#[test]
fn s14i_repeating_group_count_not_equal() {
    for (file, begin, tw) in [
        ("FIX42.xml", "FIX.4.2", "TW42"),
        ("FIX44.xml", "FIX.4.4", "TW44"),
    ] {
        let v = validator(file);
        let body = |n: u32| {
            format!(
                "35=D|34=2|49={tw}|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=1|38=200.00|55=INTC|386={n}|336=PRE-OPEN|336=AFTER-HOURS|60=<TIME>|"
            )
        };
        assert_eq!(
            check(&v, begin, &body(3)),
            err(IncorrectNumInGroupCount, 386),
            "{file}"
        );
        assert_eq!(
            check(&v, begin, &body(1)),
            err(IncorrectNumInGroupCount, 386)
        );
        assert_eq!(check(&v, begin, &body(2)), Ok(()), "{file}");
    }
}

#[test]
fn s15_header_and_body_fields_ordered_differently() {
    each(|file, begin, tw| {
        let v = validator(file);
        let (qty, tt) = if file == "FIX40.xml" || file == "FIX41.xml" {
            ("38=100|", "")
        } else {
            ("", "60=<TIME>|")
        };
        assert_eq!(
            check(
                &v,
                begin,
                &format!(
                    "35=D|34=2|49={tw}|52=<TIME>|56=ISLD|11=id|21=3|{qty}40=1|54=1|55=MSFT|{tt}"
                )
            ),
            Ok(()),
            "{file}"
        );
        assert_eq!(
            check(
                &v,
                begin,
                &format!(
                    "35=D|49={tw}|34=3|56=ISLD|52=<TIME>|{qty}40=1|55=MSFT|{tt}54=1|21=3|11=id|"
                )
            ),
            Ok(()),
            "{file}"
        );
    });
}

#[test]
fn s2q_msg_type_not_valid() {
    each(|file, begin, tw| {
        let v = validator(file);
        assert_eq!(
            check(&v, begin, &format!("35=*|34=2|49={tw}|52=<TIME>|56=ISLD|")),
            Err(ValidationError {
                reason: RejectReason::InvalidMsgType,
                tag: None
            }),
            "{file}"
        );
    });
}

#[test]
fn s2r_unregistered_msg_type_is_valid() {
    let v = validator("FIX42.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.2",
            "35=8|34=2|49=TW42|52=<TIME>|56=ISLD|37=id|17=id|20=0|150=0|39=0|55=WLRI|54=1|151=100|14=0|6=0.0|"
        ),
        Ok(())
    );
}

#[test]
fn s21_repeating_group_specifier_with_value_of_zero() {
    assert_eq!(
        check(
            &validator("FIX42.xml"),
            "FIX.4.2",
            "35=d|34=2|49=TW42|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|167=OPT|336=ONE_MAIN|58=No Products found for this Class Symbol|393=0|146=0|"
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &validator("FIX44.xml"),
            "FIX.4.4",
            "35=d|34=2|49=TW44|56=ISLD|52=<TIME>|320=JCD1091-20021011|322=1034356488676|323=6|55=TBS|22=8|167=CS|336=ONE_MAIN|58=No Products found for this Class Symbol|454=0|"
        ),
        Ok(())
    );
}

#[test]
fn session_messages_of_the_scripts_are_valid() {
    each(|file, begin, tw| {
        let v = validator(file);
        for body in [
            format!("35=A|34=1|49={tw}|52=<TIME>|56=ISLD|98=0|108=2|"),
            format!("35=5|34=6|49={tw}|52=<TIME>|56=ISLD|"),
            format!("35=1|34=3|49={tw}|52=<TIME>|56=ISLD|112=TEST|"),
            format!("35=2|34=3|49={tw}|52=<TIME>|56=ISLD|7=1|16=0|"),
            format!("35=4|34=3|49={tw}|52=<TIME>|56=ISLD|123=Y|36=5|"),
            format!("35=0|34=3|43=Y|49={tw}|52=<TIME>|56=ISLD|122=<TIME>|"),
        ] {
            assert_eq!(check(&v, begin, &body), Ok(()), "{file} {body}");
        }
    });
}

/// fix40/ReverseRoute.def: `OnBehalfOfLocationID <144>` and `DeliverToLocationID <145>` are not
/// FIX.4.0 fields, but QuickFIX files them under the header, which it validates before the body,
/// so the undefined tag outranks the bad `OrdType <40>`; an undefined body tag does not.
#[test]
fn reverse_route_undefined_header_tag_outranks_a_bad_body_value() {
    let v = validator("FIX40.xml");
    let order = "11=ID|21=3|38=100|40=w|54=1|55=INTC|60=<TIME>|";
    let hdr = "35=D|34=6|49=TW40|52=<TIME>|56=ISLD|";
    assert_eq!(
        check(
            &v,
            "FIX.4.0",
            &format!("{hdr}115=JCD|116=CS|144=CHI|{order}")
        ),
        err(InvalidTagNumber, 144)
    );
    assert_eq!(
        check(
            &v,
            "FIX.4.0",
            &format!("{hdr}128=JCD|129=CS|145=CHI|{order}")
        ),
        err(InvalidTagNumber, 145)
    );
    assert_eq!(
        check(&v, "FIX.4.0", &format!("{hdr}128=JCD|129=CS|{order}")),
        err(ValueIsIncorrect, 40)
    );
    assert_eq!(
        check(
            &v,
            "FIX.4.0",
            &format!("{hdr}128=JCD|129=CS|{order}4999=x|")
        ),
        err(ValueIsIncorrect, 40)
    );
    // FIX.4.2 defines 144: the same message is rejected for its OrdType.
    assert_eq!(
        check(
            &validator("FIX42.xml"),
            "FIX.4.2",
            "35=D|34=6|49=TW42|52=<TIME>|56=ISLD|115=JCD|116=CS|144=CHI|11=ID|21=3|38=100|40=w|54=1|55=INTC|60=<TIME>|"
        ),
        err(ValueIsIncorrect, 40)
    );
}
