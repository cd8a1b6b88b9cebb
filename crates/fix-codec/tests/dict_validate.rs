//! Validation: every single-message SessionRejectReason, precedence, options, repeating groups
//! (nested too), FIXT.1.1 + FIX.5.0SP2, garbled input.

mod dict_util;

use dict_util::{check, err, fixt_validator, msg, t, validator, validator_with};
use fix_codec::RejectReason::*;
use fix_codec::{ValidationError, ValidationOptions};

const H42: &str = "35=D|34=2|49=TW42|52=<TIME>|56=ISLD|";
const H44: &str = "35=D|34=2|49=TW44|52=<TIME>|56=ISLD|";
const ORDER: &str = "11=ID|21=1|40=2|44=10.5|54=1|38=100|55=INTC|60=<TIME>|";

fn v42(body: &str) -> Result<(), ValidationError> {
    check(&validator("FIX42.xml"), "FIX.4.2", &format!("{H42}{body}"))
}

fn v44(body: &str) -> Result<(), ValidationError> {
    check(&validator("FIX44.xml"), "FIX.4.4", &format!("{H44}{body}"))
}

#[test]
fn valid_orders() {
    assert_eq!(v42(ORDER), Ok(()));
    assert_eq!(v44(ORDER), Ok(()));
}

#[test]
fn data_formats_by_type() {
    // Fields of ORDER replaced by malformed values, on FIX.4.2 NewOrderSingle.
    for (from, to, tag) in [
        ("44=10.5|", "44=1e5|", 44), // PRICE
        ("54=1|", "54=12|", 54),     // CHAR: one byte
        ("38=100|", "38=1,0|", 38),  // QTY
    ] {
        assert_eq!(
            v42(&ORDER.replace(from, to)),
            err(IncorrectDataFormat, tag),
            "{to}"
        );
    }
    assert_eq!(
        v42(&ORDER.replace("44=10.5|", "44=|")),
        err(TagSpecifiedWithoutValue, 44)
    );
    // Optional fields added with malformed values.
    for (extra, tag) in [
        ("114=X|", 114),                 // BOOLEAN LocateReqd
        ("126=20240102-25:00:00|", 126), // UTCTIMESTAMP
        ("126=20240102|", 126),          // UTCTIMESTAMP without time
        ("432=20241301|", 432),          // LOCALMKTDATE
        ("200=2024|", 200),              // MONTHYEAR
        ("205=32|", 205),                // DAYOFMONTH
        ("210=1.0.0|", 210),             // QTY MaxShow
        ("223=abc|", 223),               // FLOAT CouponRate
    ] {
        assert_eq!(
            v42(&format!("{ORDER}{extra}")),
            err(IncorrectDataFormat, tag),
            "{extra}"
        );
    }
    // Valid values of the same types.
    for extra in [
        "114=Y|",
        "126=20240102-23:59:59|",
        "126=20240102-23:59:59.123456|",
        "432=20240229|",
        "200=202401|",
        "200=20240115|",
        "200=202401w2|",
        "205=31|",
        "210=-5|",
        "210=5.25|",
        "223=.5|",
        "15=USD|",
        "207=N|",
        "18=1 2|",
    ] {
        assert_eq!(v42(&format!("{ORDER}{extra}")), Ok(()), "{extra}");
    }
    // Header types: BOOLEAN PossDupFlag, UTCTIMESTAMP SendingTime, INT MsgSeqNum (4.2), SEQNUM (4.4).
    let v = validator("FIX42.xml");
    assert_eq!(
        check(&v, "FIX.4.2", "35=0|34=2|43=X|49=A|52=<TIME>|56=B|"),
        err(IncorrectDataFormat, 43)
    );
    assert_eq!(
        check(&v, "FIX.4.2", "35=0|34=2|49=A|52=2024-01-02 03:04:05|56=B|"),
        err(IncorrectDataFormat, 52)
    );
    assert_eq!(
        check(&v, "FIX.4.2", "35=0|34=x|49=A|52=<TIME>|56=B|"),
        err(IncorrectDataFormat, 34)
    );
    let v = validator("FIX44.xml");
    assert_eq!(
        check(&v, "FIX.4.4", "35=0|34=2.0|49=A|52=<TIME>|56=B|"),
        err(IncorrectDataFormat, 34)
    );
    assert_eq!(
        check(&v, "FIX.4.4", "35=A|34=1|49=A|52=<TIME>|56=B|98=0|108=x|"),
        err(IncorrectDataFormat, 108)
    );
}

#[test]
fn enumerations() {
    assert_eq!(
        v44(&ORDER.replace("40=2|", "40=Z|")),
        err(ValueIsIncorrect, 40)
    );
    // MULTIPLEVALUESTRING: every space-separated value must be listed.
    assert_eq!(v44(&format!("{ORDER}18=G 1|")), Ok(()));
    assert_eq!(v44(&format!("{ORDER}18=G %|")), err(ValueIsIncorrect, 18));
    // Before FIX.4.2 CHAR fields are strings: a two-byte Side is out of range, not malformed.
    let v = validator("FIX41.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.1",
            "35=D|34=2|49=TW41|52=<TIME>|56=ISLD|11=ID|21=1|40=1|54=12|38=100|55=INTC|"
        ),
        err(ValueIsIncorrect, 54)
    );
}

#[test]
fn precedence_follows_quickfix() {
    // Field by field in ascending tag order: the lowest tag's problem wins.
    assert_eq!(
        v44(&ORDER.replace("21=1|", "21=9|").replace("38=100|", "38=+1|")),
        err(ValueIsIncorrect, 21)
    );
    assert_eq!(
        v44(&format!(
            "{}9999=x|",
            ORDER.replace("60=<TIME>|", "60=bad|")
        )),
        err(IncorrectDataFormat, 60)
    );
    // Required fields are checked before any field's value.
    assert_eq!(
        v44(&ORDER.replace("21=1|", "21=9|").replace("11=ID|", "")),
        err(RequiredTagMissing, 11)
    );
    // Out of order beats everything but garbling.
    assert_eq!(
        check(
            &validator("FIX44.xml"),
            "FIX.4.4",
            "35=D|11=ID|21=9|34=2|49=TW44|52=<TIME>|56=ISLD|"
        ),
        err(TagSpecifiedOutOfRequiredOrder, 34)
    );
    // Invalid MsgType beats missing fields.
    assert_eq!(
        check(
            &validator("FIX44.xml"),
            "FIX.4.4",
            "35=ZZ|34=2|49=TW44|52=<TIME>|"
        ),
        Err(ValidationError {
            reason: InvalidMsgType,
            tag: None
        })
    );
    // Header fields come before body fields even with higher tags.
    assert_eq!(
        check(
            &validator("FIX44.xml"),
            "FIX.4.4",
            &format!("{H44}97=Q|{}", ORDER.replace("21=1|", "21=9|"))
        ),
        err(IncorrectDataFormat, 97)
    );
    // A repeated tag: the first occurrence's own problem outranks the repetition.
    assert_eq!(
        v44(&ORDER.replace("40=2|", "40=Z|40=2|")),
        err(ValueIsIncorrect, 40)
    );
    assert_eq!(
        v44(&ORDER.replace("40=2|", "40=2|40=Z|")),
        err(TagAppearsMoreThanOnce, 40)
    );
    // Repeated header field.
    assert_eq!(
        check(
            &validator("FIX42.xml"),
            "FIX.4.2",
            "35=0|34=2|49=A|49=A|52=<TIME>|56=B|"
        ),
        err(TagAppearsMoreThanOnce, 49)
    );
    // An empty undefined tag is "without a value" before it is "invalid".
    assert_eq!(
        v44(&format!("{ORDER}999=|")),
        err(TagSpecifiedWithoutValue, 999)
    );
}

#[test]
fn field_after_trailer_is_out_of_order() {
    // SignatureLength / Signature are trailer fields: a body field after them is out of order.
    let v = validator("FIX44.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.4",
            "35=0|34=2|49=A|52=<TIME>|56=B|93=2|89=ab|112=x|"
        ),
        err(TagSpecifiedOutOfRequiredOrder, 112)
    );
    assert_eq!(
        check(
            &v,
            "FIX.4.4",
            "35=0|34=2|49=A|52=<TIME>|56=B|112=x|93=2|89=ab|"
        ),
        Ok(())
    );
    let off = validator_with(
        "FIX44.xml",
        ValidationOptions {
            check_fields_out_of_order: false,
            ..ValidationOptions::default()
        },
    );
    assert_eq!(
        check(&off, "FIX.4.4", "35=0|112=x|34=2|49=A|52=<TIME>|56=B|"),
        Ok(())
    );
}

#[test]
fn options_fields_have_values() {
    let off = validator_with(
        "FIX44.xml",
        ValidationOptions {
            check_fields_have_values: false,
            ..ValidationOptions::default()
        },
    );
    // Empty values pass the value checks; the fields must still be defined for the message.
    let b = format!("{H44}{}", ORDER.replace("44=10.5|", "44=|"));
    assert_eq!(check(&off, "FIX.4.4", &b), Ok(()));
    assert_eq!(
        check(&off, "FIX.4.4", "35=0|34=2|49=A|52=<TIME>|56=|"),
        Ok(())
    );
    assert_eq!(
        check(&off, "FIX.4.4", "35=0|34=2|49=A|52=<TIME>|56=B|55=|"),
        err(TagNotDefinedForMessageType, 55)
    );
}

#[test]
fn options_user_defined_and_unknown_fields() {
    let hb = "35=0|34=2|49=A|52=<TIME>|56=B|";
    let strict = validator("FIX44.xml");
    assert_eq!(
        check(&strict, "FIX.4.4", &format!("{hb}5001=x|")),
        err(InvalidTagNumber, 5001)
    );
    let udf_off = validator_with(
        "FIX44.xml",
        ValidationOptions {
            check_user_defined_fields: false,
            ..ValidationOptions::default()
        },
    );
    assert_eq!(check(&udf_off, "FIX.4.4", &format!("{hb}5001=x|")), Ok(()));
    // Still repeated, still empty, and tags below 5000 still checked.
    assert_eq!(
        check(&udf_off, "FIX.4.4", &format!("{hb}5001=x|5001=y|")),
        err(TagAppearsMoreThanOnce, 5001)
    );
    assert_eq!(
        check(&udf_off, "FIX.4.4", &format!("{hb}5001=|")),
        err(TagSpecifiedWithoutValue, 5001)
    );
    assert_eq!(
        check(&udf_off, "FIX.4.4", &format!("{hb}4999=x|")),
        err(InvalidTagNumber, 4999)
    );
    let allow = validator_with(
        "FIX44.xml",
        ValidationOptions {
            allow_unknown_message_fields: true,
            ..ValidationOptions::default()
        },
    );
    assert_eq!(check(&allow, "FIX.4.4", &format!("{hb}4999=x|")), Ok(()));
    assert_eq!(check(&allow, "FIX.4.4", &format!("{hb}55=x|")), Ok(()));
    assert_eq!(
        check(&allow, "FIX.4.4", &format!("{hb}5001=x|")),
        err(InvalidTagNumber, 5001)
    );
    // Values are still checked.
    assert_eq!(
        check(&allow, "FIX.4.4", &format!("{hb}54=Z|")),
        err(ValueIsIncorrect, 54)
    );
}

#[test]
fn repeating_groups_fix42() {
    // NoAllocs <78>: AllocAccount <79> delimits, AllocShares <80>.
    let ok = format!("{ORDER}78=2|79=A|80=10|79=B|80=20|");
    assert_eq!(v42(&ok), Ok(()));
    assert_eq!(
        v42(&format!("{ORDER}78=3|79=A|80=10|79=B|80=20|")),
        err(IncorrectNumInGroupCount, 78)
    );
    // A member repeated within an entry starts a new entry, as in QuickFIX.
    assert_eq!(v42(&format!("{ORDER}78=2|79=A|80=10|80=20|")), Ok(()));
    // A member outside its group is not a body field.
    assert_eq!(
        v42(&format!("{ORDER}79=A|")),
        err(TagNotDefinedForMessageType, 79)
    );
    // A member with a bad value inside the group.
    assert_eq!(
        v42(&format!("{ORDER}78=1|79=A|80=x|")),
        err(IncorrectDataFormat, 80)
    );
    // An empty count with no entries, and a non-numeric count.
    assert_eq!(v42(&format!("{ORDER}78=0|")), Ok(()));
    assert_eq!(v42(&format!("{ORDER}78=x|")), err(IncorrectDataFormat, 78));
    // The group ends at the first non-member; later body fields are checked normally.
    assert_eq!(
        v42(&format!("{}78=1|79=A|59=Z|", ORDER)),
        err(ValueIsIncorrect, 59)
    );
}

#[test]
fn nested_repeating_groups_fix44() {
    // Parties <453>: PartyID <448>, PartyIDSource <447>, PartyRole <452>, PtysSubGrp <802>
    // (PartySubID <523>, PartySubIDType <803>).
    let ok = format!(
        "{ORDER}453=2|448=P1|447=D|452=1|802=2|523=S1|803=1|523=S2|803=2|448=P2|447=D|452=3|"
    );
    assert_eq!(v44(&ok), Ok(()));
    assert_eq!(
        v44(&ok.replace("802=2|", "802=3|")),
        err(IncorrectNumInGroupCount, 802)
    );
    assert_eq!(
        v44(&ok.replace("453=2|", "453=1|")),
        err(IncorrectNumInGroupCount, 453)
    );
    assert_eq!(
        v44(&ok.replace("803=2|", "803=x|")),
        err(IncorrectDataFormat, 803)
    );
    assert_eq!(
        v44(&ok.replace("447=D|452=3|", "447=?|452=3|")),
        err(ValueIsIncorrect, 447)
    );
    // Errors inside a group rank after the count field and before higher body tags...
    assert_eq!(
        v44(&ok
            .replace("803=2|", "803=x|")
            .replace("60=<TIME>|", "60=bad|")),
        err(IncorrectDataFormat, 60)
    );
    // ...but after lower ones.
    assert_eq!(
        v44(&format!(
            "{}453=1|448=P1|447=?|",
            ORDER.replace("21=1|", "21=9|")
        )),
        err(ValueIsIncorrect, 21)
    );
    assert_eq!(
        v44(&format!("{ORDER}453=1|448=P1|447=?|9001=x|")),
        err(ValueIsIncorrect, 447)
    );
    // Nested group fields outside their entry end the outer group.
    assert_eq!(
        v44(&format!("{ORDER}453=1|448=P1|523=S1|")),
        err(TagNotDefinedForMessageType, 523)
    );
}

#[test]
fn required_fields_in_required_groups() {
    // FIX.4.2 ListStatus <35=N>: NoOrders <73> is a required group whose entries require ClOrdID
    // <11>, CumQty <14>, OrdStatus <39>, LeavesQty <151>, CxlQty <84>, AvgPx <6>.
    let d = dict_util::dict("FIX42.xml");
    let req = d.required_tags(b"N").unwrap();
    assert!(req.contains(&73), "{req:?}");
    let v = validator("FIX42.xml");
    let head = "35=N|34=2|49=A|52=<TIME>|56=B|66=L1|68=2|82=1|83=1|429=2|431=2|";
    let entry = "11=C1|14=0|39=0|151=0|84=0|6=0|";
    assert_eq!(check(&v, "FIX.4.2", &format!("{head}73=1|{entry}")), Ok(()));
    assert_eq!(
        check(
            &v,
            "FIX.4.2",
            &format!("{head}73=1|11=C1|39=0|151=0|84=0|6=0|")
        ),
        err(RequiredTagMissing, 14)
    );
    assert_eq!(
        check(
            &v,
            "FIX.4.2",
            &format!("{head}73=2|{entry}11=C2|14=0|39=0|151=0|84=0|")
        ),
        err(RequiredTagMissing, 6)
    );
    // The group count itself is required.
    assert_eq!(check(&v, "FIX.4.2", head), err(RequiredTagMissing, 73));
}

#[test]
fn header_group_fix44() {
    // NoHops <627> in the FIX.4.4 header.
    let v = validator("FIX44.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.4",
            "35=0|34=2|49=A|52=<TIME>|56=B|627=2|628=H1|629=<TIME>|628=H2|"
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &v,
            "FIX.4.4",
            "35=0|34=2|49=A|52=<TIME>|56=B|627=1|628=H1|629=bad|"
        ),
        err(IncorrectDataFormat, 629)
    );
}

#[test]
fn data_fields_may_contain_soh() {
    let v = validator("FIX44.xml");
    assert_eq!(
        check(
            &v,
            "FIX.4.4",
            "35=A|34=1|49=A|52=<TIME>|56=B|95=5|96=a\x01b=c|98=0|108=30|"
        ),
        Ok(())
    );
}

#[test]
fn garbled_messages() {
    let v = validator("FIX44.xml");
    for body in [
        "35=0|34=2|49=A|52=<TIME>|56=B|abc=x|",
        "35=0|34=2|49=A|52=<TIME>|56=B|112|",
        "35=A|34=1|49=A|52=<TIME>|56=B|95=50|96=short|98=0|108=30|",
    ] {
        let e = check(&v, "FIX.4.4", body).unwrap_err();
        assert!(e.is_garbled(), "{body}: {e:?}");
    }
    // BodyLength and CheckSum are verified again (QuickFIX's validateLengthAndChecksum).
    let good = msg("FIX.4.4", &t("35=0|34=2|49=A|52=<TIME>|56=B|"));
    assert_eq!(v.validate(&good), Ok(()));
    let mut bad_sum = good.clone();
    let n = bad_sum.len();
    bad_sum[n - 2] = if bad_sum[n - 2] == b'0' { b'1' } else { b'0' };
    assert!(v.validate(&bad_sum).unwrap_err().is_garbled());
    let bad_len = String::from_utf8(good.clone())
        .unwrap()
        .replacen("9=", "9=1", 1);
    assert!(v.validate(bad_len.as_bytes()).unwrap_err().is_garbled());
    assert!(v.validate(b"").unwrap_err().is_garbled());
    assert!(v.validate(b"8=FIX.4.4\x01").unwrap_err().is_garbled());
    let lax = validator_with(
        "FIX44.xml",
        ValidationOptions {
            validate_length_and_checksum: false,
            ..ValidationOptions::default()
        },
    );
    assert_eq!(lax.validate(&bad_sum), Ok(()));
}

#[test]
fn missing_msg_type() {
    let v = validator("FIX44.xml");
    assert_eq!(
        check(&v, "FIX.4.4", "34=2|49=A|52=<TIME>|56=B|"),
        err(RequiredTagMissing, 35)
    );
}

#[test]
fn fixt_admin_messages_use_the_transport_dictionary() {
    let v = fixt_validator();
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            "35=A|34=1|49=TW50SP2|52=<TIME>|56=ISLD|98=0|108=30|1137=9|"
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            "35=A|34=1|49=TW50SP2|52=<TIME>|56=ISLD|98=0|108=30|"
        ),
        err(RequiredTagMissing, 1137)
    );
    // Symbol is not even defined in FIXT11.xml.
    assert_eq!(
        check(&v, "FIXT.1.1", "35=0|34=2|49=A|52=<TIME>|56=B|55=X|"),
        err(InvalidTagNumber, 55)
    );
    assert_eq!(
        check(&v, "FIXT.1.1", "35=0|34=2|49=A|52=<TIME>|56=B|108=3|"),
        err(TagNotDefinedForMessageType, 108)
    );
    assert_eq!(
        check(&v, "FIXT.1.1", "35=0|34=2|49=A|52=<TIME>|56=B|999=X|"),
        err(InvalidTagNumber, 999)
    );
}

#[test]
fn fixt_application_messages_use_the_application_dictionary() {
    let v = fixt_validator();
    let h = "35=D|34=2|49=TW50SP2|52=<TIME>|56=ISLD|";
    assert_eq!(check(&v, "FIXT.1.1", &format!("{h}{ORDER}")), Ok(()));
    // ApplVerID <1128> is a FIXT header field.
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            &format!("35=D|34=2|49=A|52=<TIME>|56=B|1128=9|{ORDER}")
        ),
        Ok(())
    );
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            &format!("{h}{}", ORDER.replace("40=2|", "40=?|"))
        ),
        err(ValueIsIncorrect, 40)
    );
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            &format!("{h}{}", ORDER.replace("11=ID|", ""))
        ),
        err(RequiredTagMissing, 11)
    );
    assert_eq!(
        check(&v, "FIXT.1.1", &format!("{h}{ORDER}98=0|")),
        err(TagNotDefinedForMessageType, 98)
    );
    // Header fields after the body, and header types from the transport dictionary.
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            &format!("35=D|49=A|52=<TIME>|56=B|{ORDER}34=2|")
        ),
        err(TagSpecifiedOutOfRequiredOrder, 34)
    );
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            &format!("35=D|34=2|43=maybe|49=A|52=<TIME>|56=B|{ORDER}")
        ),
        err(IncorrectDataFormat, 43)
    );
    // Unknown application MsgType.
    assert_eq!(
        check(&v, "FIXT.1.1", "35=*|34=2|49=A|52=<TIME>|56=B|"),
        Err(ValidationError {
            reason: InvalidMsgType,
            tag: None
        })
    );
    // Nested groups in FIX.5.0SP2: Parties with PtysSubGrp.
    let parties = "453=1|448=P1|447=D|452=1|802=1|523=S|803=1|";
    assert_eq!(
        check(&v, "FIXT.1.1", &format!("{h}{ORDER}{parties}")),
        Ok(())
    );
    assert_eq!(
        check(
            &v,
            "FIXT.1.1",
            &format!("{h}{ORDER}{}", parties.replace("802=1", "802=2"))
        ),
        err(IncorrectNumInGroupCount, 802)
    );
}

#[test]
fn every_fix50_application_dictionary_pairs_with_fixt() {
    for app in ["FIX50.xml", "FIX50SP1.xml", "FIX50SP2.xml"] {
        let v = fix_codec::Validator::new(
            dict_util::dict("FIXT11.xml"),
            Some(dict_util::dict(app)),
            ValidationOptions::default(),
        );
        assert_eq!(
            check(&v, "FIXT.1.1", &format!("{H44}{ORDER}")),
            Ok(()),
            "{app}"
        );
        assert_eq!(
            check(&v, "FIXT.1.1", "35=5|34=3|49=A|52=<TIME>|56=B|"),
            Ok(()),
            "{app}"
        );
        assert_eq!(v.body_dictionary(b"D").version(), v.app().version());
        assert_eq!(v.body_dictionary(b"0").version(), "FIXT.1.1");
    }
}

#[test]
fn reject_reason_codes_and_texts() {
    use fix_codec::RejectReason;
    let all = [
        (InvalidTagNumber, 0, "Invalid tag number"),
        (RequiredTagMissing, 1, "Required tag missing"),
        (
            TagNotDefinedForMessageType,
            2,
            "Tag not defined for this message type",
        ),
        (UndefinedTag, 3, "Undefined Tag"),
        (TagSpecifiedWithoutValue, 4, "Tag specified without a value"),
        (
            ValueIsIncorrect,
            5,
            "Value is incorrect (out of range) for this tag",
        ),
        (IncorrectDataFormat, 6, "Incorrect data format for value"),
        (CompIdProblem, 9, "CompID problem"),
        (
            SendingTimeAccuracyProblem,
            10,
            "SendingTime accuracy problem",
        ),
        (InvalidMsgType, 11, "Invalid MsgType"),
        (TagAppearsMoreThanOnce, 13, "Tag appears more than once"),
        (
            TagSpecifiedOutOfRequiredOrder,
            14,
            "Tag specified out of required order",
        ),
        (
            IncorrectNumInGroupCount,
            16,
            "Incorrect NumInGroup count for repeating group",
        ),
        (Other, 99, "Other"),
    ];
    for (r, code, text) in all {
        assert_eq!(r.code(), code);
        assert_eq!(r.text(), text);
        assert_eq!(RejectReason::from_code(code), Some(r));
    }
    for code in 0..=17 {
        assert_eq!(
            RejectReason::from_code(code).map(RejectReason::code),
            Some(code)
        );
    }
    assert_eq!(RejectReason::from_code(18), None);
    assert_eq!(RejectReason::from_code(100), None);
}

#[test]
fn validator_is_shareable_across_threads() {
    let v = std::sync::Arc::new(validator("FIX44.xml"));
    let m = msg("FIX.4.4", &t(&format!("{H44}{ORDER}")));
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let v = std::sync::Arc::clone(&v);
            let m = m.clone();
            std::thread::spawn(move || (0..100).all(|_| v.validate(&m).is_ok()))
        })
        .collect();
    for h in handles {
        assert!(h.join().unwrap());
    }
}
