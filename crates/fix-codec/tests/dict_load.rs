//! Loading: every vendored dictionary, metadata accessors, and load errors.

mod dict_util;

use dict_util::{dict, spec_path};
use fix_codec::dict::{DictError, appl_ver_id_for_version, appl_ver_id_version};
use fix_codec::{Dictionary, FieldType};

#[test]
fn all_nine_vendored_dictionaries_load() {
    let expected = [
        ("FIX40.xml", "FIX.4.0", false),
        ("FIX41.xml", "FIX.4.1", false),
        ("FIX42.xml", "FIX.4.2", false),
        ("FIX43.xml", "FIX.4.3", false),
        ("FIX44.xml", "FIX.4.4", false),
        ("FIX50.xml", "FIX.5.0", false),
        ("FIX50SP1.xml", "FIX.5.0SP1", false),
        ("FIX50SP2.xml", "FIX.5.0SP2", false),
        ("FIXT11.xml", "FIXT.1.1", true),
    ];
    for (file, version, transport) in expected {
        let d = Dictionary::from_file(&spec_path(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(d.version(), version, "{file}");
        assert_eq!(d.is_transport(), transport, "{file}");
        assert!(d.field_count() > 50, "{file}");
        assert!(d.msg_type_count() >= 7, "{file}");
        if version.starts_with("FIX.5") {
            // Application dictionaries: header and trailer live in FIXT.1.1.
            assert!(!d.is_header_tag(49), "{file}");
            assert!(!d.is_trailer_tag(10), "{file}");
            assert!(d.has_msg_type(b"D"), "{file}");
        } else {
            assert!(d.is_header_tag(49) && d.is_header_tag(8), "{file}");
            assert!(d.is_trailer_tag(10), "{file}");
            assert!(d.has_msg_type(b"A") && d.is_admin_msg_type(b"A"), "{file}");
        }
    }
}

#[test]
fn message_types_and_categories() {
    let d = dict("FIX44.xml");
    assert!(d.has_msg_type(b"D"));
    assert!(!d.is_admin_msg_type(b"D"));
    assert!(d.is_admin_msg_type(b"0"));
    assert!(d.has_msg_type(b"AE"));
    assert!(!d.has_msg_type(b"*"));
    assert!(!d.has_msg_type(b""));
    assert!(!d.has_msg_type(b"DDDDDDDDDDDD"));
    assert_eq!(d.msg_type_name(b"D"), Some("NewOrderSingle"));
    let t = dict("FIXT11.xml");
    assert!(t.is_admin_msg_type(b"A"));
    assert!(!t.has_msg_type(b"D"));
}

#[test]
fn fields_names_and_types() {
    let d = dict("FIX44.xml");
    assert_eq!(d.field_name(11), Some("ClOrdID"));
    assert_eq!(d.field_tag("ClOrdID"), Some(11));
    assert_eq!(d.field_name(999), None);
    assert_eq!(d.field_name(0), None);
    assert_eq!(d.field_name(u32::MAX), None);
    assert_eq!(d.field_type(38), Some(FieldType::Float));
    assert_eq!(d.field_type(54), Some(FieldType::Char));
    assert_eq!(d.field_type(52), Some(FieldType::UtcTimestamp));
    assert_eq!(d.field_type(386), Some(FieldType::NumInGroup));
    assert_eq!(d.field_type(15), Some(FieldType::Code));
    // Before FIX.4.2 QuickFIX reads CHAR as STRING.
    assert_eq!(dict("FIX41.xml").field_type(54), Some(FieldType::String));
    assert_eq!(dict("FIX42.xml").field_type(54), Some(FieldType::Char));
    assert!(d.is_valid_value(54, b"1"));
    assert!(!d.is_valid_value(54, b"Z"));
    assert!(d.is_valid_value(58, b"anything"));
    // MULTIPLECHARVALUE / MULTIPLEVALUESTRING: every space-separated value must be listed.
    assert_eq!(d.field_type(18), Some(FieldType::MultipleValue));
    assert!(d.is_valid_value(18, b"G"));
    assert!(d.is_valid_value(18, b"G 1"));
    assert!(!d.is_valid_value(18, b"G #"));
}

#[test]
fn required_fields_and_groups() {
    let d = dict("FIX44.xml");
    // NewOrderSingle: the vendored FIX44.xml has Symbol optional inside the required Instrument.
    assert_eq!(d.required_tags(b"D"), Some(&[11, 40, 54, 60][..]));
    // FIX.4.2 ExecutionReport: plain required fields, ascending.
    let req = dict("FIX42.xml").required_tags(b"8").unwrap().to_vec();
    for t in [6, 14, 17, 20, 37, 39, 54, 55, 150, 151] {
        assert!(req.contains(&t), "{t} in {req:?}");
    }
    assert!(req.windows(2).all(|w| w[0] < w[1]));
    assert!(d.is_msg_field(b"D", 386));
    assert!(!d.is_msg_field(b"D", 336)); // a group member, not a body field
    assert!(!d.is_msg_field(b"0", 55));
    assert_eq!(d.group_members(b"D", 386), Some(vec![336, 625]));
    // Parties: PartyID first (the delimiter), the nested PtysSubGrp count among the members.
    let parties = d.group_members(b"D", 453).unwrap();
    assert_eq!(parties[0], 448);
    assert!(parties.contains(&802));
    assert_eq!(d.group_members(b"D", 11), None);
    let f42 = dict("FIX42.xml");
    assert_eq!(f42.group_members(b"D", 386), Some(vec![336]));
    assert_eq!(f42.required_tags(b"0"), Some(&[][..]));
}

#[test]
fn appl_ver_id_mapping() {
    assert_eq!(appl_ver_id_version(b"9"), Some("FIX.5.0SP2"));
    assert_eq!(appl_ver_id_version(b"7"), Some("FIX.5.0"));
    assert_eq!(appl_ver_id_version(b"FIX.5.0SP1"), Some("FIX.5.0SP1"));
    assert_eq!(appl_ver_id_version(b"10"), None);
    assert_eq!(appl_ver_id_for_version("FIX.4.4"), Some("6"));
    assert_eq!(appl_ver_id_for_version("FIXT.1.1"), None);
    for file in ["FIX50.xml", "FIX50SP1.xml", "FIX50SP2.xml"] {
        let v = dict(file).version().to_owned();
        let code = appl_ver_id_for_version(&v).unwrap();
        assert_eq!(appl_ver_id_version(code.as_bytes()), Some(v.as_str()));
    }
}

const MINI: &str = r#"<fix type='FIX' major='4' minor='2' servicepack='0'>
 <header>
  <field name='BeginString' required='Y' />
  <field name='BodyLength' required='Y' />
  <field name='MsgType' required='Y' />
 </header>
 <trailer><field name='CheckSum' required='Y' /></trailer>
 <messages>
  <message name='Heartbeat' msgtype='0' msgcat='admin'>
   <field name='TestReqID' required='N' />
  </message>
 </messages>
 <components />
 <fields>
  <field number='8' name='BeginString' type='STRING' />
  <field number='9' name='BodyLength' type='LENGTH' />
  <field number='10' name='CheckSum' type='STRING' />
  <field number='35' name='MsgType' type='STRING' />
  <field number='112' name='TestReqID' type='STRING' />
 </fields>
</fix>"#;

#[test]
fn minimal_dictionary_loads() {
    let d = Dictionary::from_xml(MINI).unwrap();
    assert_eq!(d.version(), "FIX.4.2");
    assert!(d.is_admin_msg_type(b"0"));
    assert_eq!(d.field_type(9), Some(FieldType::Length));
}

fn load_err(xml: &str) -> String {
    match Dictionary::from_xml(xml) {
        Ok(_) => panic!("loaded: {xml}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn load_errors_are_reported() {
    assert!(load_err("<fix").contains("XML"));
    assert!(load_err("<notfix/>").contains("<fix>"));
    assert!(load_err(&MINI.replace(" minor='2'", "")).contains("minor"));
    assert!(load_err(&MINI.replace("type='FIX'", "type='FOO'")).contains("FIX or FIXT"));
    let unknown = MINI.replace("name='TestReqID' required", "name='NoSuchField' required");
    assert!(load_err(&unknown).contains("NoSuchField"));
    let dup = MINI.replace(
        "<field number='112' name='TestReqID' type='STRING' />",
        "<field number='112' name='TestReqID' type='STRING' /><field number='112' name='Other' type='STRING' />",
    );
    assert!(load_err(&dup).contains("112"));
    let bad_num = MINI.replace("number='112'", "number='x'");
    assert!(load_err(&bad_num).contains("number"));
    let comp = MINI.replace(
        "<field name='TestReqID' required='N' />",
        "<component name='Missing' required='N' />",
    );
    assert!(load_err(&comp).contains("Missing"));
    // A component that includes itself must not recurse forever.
    let cyclic = MINI
        .replace(
            "<field name='TestReqID' required='N' />",
            "<component name='Loop' required='N' />",
        )
        .replace(
            "<components />",
            "<components><component name='Loop'><component name='Loop' required='N'/></component></components>",
        );
    assert!(load_err(&cyclic).contains("nested"));
    assert!(
        load_err(
            &MINI
                .replace("<header>", "<nothing>")
                .replace("</header>", "</nothing>")
        )
        .contains("header")
    );
}

#[test]
fn file_errors_name_the_file() {
    let missing = spec_path("NOPE.xml");
    let e = Dictionary::from_file(&missing).unwrap_err();
    assert!(matches!(e, DictError::Io { .. }));
    assert!(e.to_string().contains("NOPE.xml"), "{e}");

    let dir = std::env::temp_dir().join(format!("fix-codec-dict-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("BROKEN.xml");
    std::fs::write(&bad, "<fix type='FIX' major='4' minor='2'><fields/></fix>").unwrap();
    let e = Dictionary::from_file(&bad).unwrap_err();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(matches!(e, DictError::InFile { .. }));
    assert!(e.to_string().contains("BROKEN.xml"), "{e}");
}
