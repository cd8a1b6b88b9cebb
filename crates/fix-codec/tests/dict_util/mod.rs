//! Shared helpers for the dictionary tests: vendored dictionaries and message building.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use fix_codec::{Dictionary, ValidationError, ValidationOptions, Validator};

pub fn spec_path(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../spec")
        .join(file)
}

fn cached(cell: &'static OnceLock<Arc<Dictionary>>, file: &str) -> Arc<Dictionary> {
    Arc::clone(cell.get_or_init(|| {
        Arc::new(Dictionary::from_file(&spec_path(file)).expect("vendored dictionary loads"))
    }))
}

pub fn dict(file: &str) -> Arc<Dictionary> {
    static FIX40: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX41: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX42: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX43: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX44: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX50: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX50SP1: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIX50SP2: OnceLock<Arc<Dictionary>> = OnceLock::new();
    static FIXT11: OnceLock<Arc<Dictionary>> = OnceLock::new();
    let cell = match file {
        "FIX40.xml" => &FIX40,
        "FIX41.xml" => &FIX41,
        "FIX42.xml" => &FIX42,
        "FIX43.xml" => &FIX43,
        "FIX44.xml" => &FIX44,
        "FIX50.xml" => &FIX50,
        "FIX50SP1.xml" => &FIX50SP1,
        "FIX50SP2.xml" => &FIX50SP2,
        "FIXT11.xml" => &FIXT11,
        other => panic!("unknown dictionary {other}"),
    };
    cached(cell, file)
}

/// A validator for a FIX.4.x dictionary with the given options.
pub fn validator_with(file: &str, options: ValidationOptions) -> Validator {
    Validator::new(dict(file), None, options)
}

pub fn validator(file: &str) -> Validator {
    validator_with(file, ValidationOptions::default())
}

/// FIXT.1.1 transport + FIX.5.0SP2 application dictionaries.
pub fn fixt_validator() -> Validator {
    Validator::new(
        dict("FIXT11.xml"),
        Some(dict("FIX50SP2.xml")),
        ValidationOptions::default(),
    )
}

/// Build a frame the way the acceptance runner does: `body` is everything after BeginString
/// (`|` for SOH, trailing `|` included); BodyLength and CheckSum are computed.
pub fn msg(begin: &str, body: &str) -> Vec<u8> {
    let body = body.replace('|', "\x01");
    let mut m = format!("8={begin}\x019={}\x01{body}", body.len()).into_bytes();
    let sum = m.iter().map(|&b| u32::from(b)).sum::<u32>() % 256;
    m.extend_from_slice(format!("10={sum:03}\x01").as_bytes());
    m
}

pub const TIME: &str = "20240102-03:04:05.678";

/// Expand `<TIME>` in an acceptance-style body.
pub fn t(body: &str) -> String {
    body.replace("<TIME>", TIME)
}

pub fn check(v: &Validator, begin: &str, body: &str) -> Result<(), ValidationError> {
    v.validate(&msg(begin, &t(body)))
}

pub fn err(reason: fix_codec::RejectReason, tag: u32) -> Result<(), ValidationError> {
    Err(ValidationError {
        reason,
        tag: Some(tag),
    })
}

/// Render SOH as `|` for readable assertions.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).replace('\x01', "|")
}
