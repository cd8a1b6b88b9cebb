//! Codec demo: frame, parse, validate and print a sample FIX.4.4 NewOrderSingle, then encode an
//! execution report.

use fix_codec::time::TimestampFormatter;
use fix_codec::{
    Dictionary, EncodeBuffer, FrameStatus, Framer, MessageRef, TimePrecision, UtcTimestamp,
    ValidationOptions, Validator,
};

fn main() {
    let sample = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../benches/data/nos44.fix"
    ))
    .expect("benches/data/nos44.fix is part of the repository");
    let framer = Framer::default();
    let FrameStatus::Complete { len } = framer.next_frame(&sample) else {
        eprintln!(
            "sample message did not frame: {:?}",
            framer.next_frame(&sample)
        );
        std::process::exit(1);
    };
    let msg = MessageRef::new(&sample[..len]);
    println!(
        "framed {len} bytes: {}",
        String::from_utf8_lossy(msg.as_bytes()).replace('\x01', "|")
    );
    for field in msg.fields() {
        match field {
            Ok(f) => println!("  {:>5} = {}", f.tag, String::from_utf8_lossy(f.value)),
            Err(e) => {
                eprintln!("malformed: {e}");
                std::process::exit(1);
            }
        }
    }
    let dictionary = concat!(env!("CARGO_MANIFEST_DIR"), "/../../spec/FIX44.xml");
    let dictionary = match Dictionary::from_file(std::path::Path::new(dictionary)) {
        Ok(d) => std::sync::Arc::new(d),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let validator = Validator::new(dictionary, None, ValidationOptions::default());
    match validator.validate(msg.as_bytes()) {
        Ok(()) => println!("valid against the FIX.4.4 dictionary"),
        Err(e) => {
            eprintln!("invalid: {} (tag {:?})", e.reason.text(), e.tag);
            std::process::exit(1);
        }
    }
    let mut out = EncodeBuffer::default();
    let mut formatter = TimestampFormatter::new();
    let now = UtcTimestamp::from_unix_secs(1_700_000_000);
    let mut e = out.encoder(b"FIX.4.4", b"8");
    e.field(49, b"EXEC").field(56, b"CLIENT").field_u64(34, 1);
    e.field_timestamp(52, now, TimePrecision::Millis, &mut formatter);
    e.field(11, msg.get(11).unwrap_or(b"?"))
        .field(17, b"E1")
        .field_char(150, b'0')
        .field_char(39, b'0');
    let er = e.finish();
    println!(
        "encoded execution report: {}",
        String::from_utf8_lossy(er).replace('\x01', "|")
    );
}
