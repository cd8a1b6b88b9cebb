//! Strict comparison of a received message with an `E` line.
//!
//! Both are split on SOH; the field counts must be equal; field by field the tags must be equal and
//! in the same order; values must be equal, except for tags listed in `fields.fmt`, whose received
//! value must match that tag's regular expression (unanchored, as in QuickFIX's runner).

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use regex::bytes::Regex;

use crate::script::printable;
use fix_codec::SOH;

/// QuickFIX's `fields.fmt` (`test/definitions/fields.fmt`), embedded so the runner works without
/// `../shared`. Attribution: see the README.
pub const DEFAULT_FIELDS_FMT: &str = include_str!("fields.fmt");

/// Longest text kept for a value or a message in a [`Mismatch`] (characters).
const SHOW_VALUE: usize = 80;
/// Longest text kept for a whole message in a [`Mismatch`] (characters).
const SHOW_MESSAGE: usize = 400;

/// Per-tag value patterns (`fields.fmt`: one `tag=regex` per line).
#[derive(Debug, Clone)]
pub struct FieldFormats {
    patterns: BTreeMap<Vec<u8>, Regex>,
}

/// A `fields.fmt` that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatsError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A line is not `tag=regex`.
    #[error("fields.fmt line {line}: expected `tag=regex`")]
    Syntax {
        /// 1-based line number.
        line: usize,
    },
    /// The regular expression does not compile.
    #[error("fields.fmt line {line}: {source}")]
    Regex {
        /// 1-based line number.
        line: usize,
        /// The compiler's complaint.
        source: Box<regex::Error>,
    },
}

impl Default for FieldFormats {
    fn default() -> Self {
        // The embedded table is fixed and tested; failing to parse it is a build defect.
        Self::parse(DEFAULT_FIELDS_FMT).expect("embedded fields.fmt is valid")
    }
}

impl FieldFormats {
    /// No patterns: every value is compared exactly.
    pub fn exact() -> Self {
        Self {
            patterns: BTreeMap::new(),
        }
    }

    /// Parse `fields.fmt` text: `tag=regex` per line; blank lines and `#` comments are skipped, CR
    /// before LF is dropped. The tag is everything before the first `=`, the pattern everything after.
    pub fn parse(text: &str) -> Result<Self, FormatsError> {
        let mut patterns = BTreeMap::new();
        for (idx, raw) in text.lines().enumerate() {
            let line = idx + 1;
            let l = raw.strip_suffix('\r').unwrap_or(raw);
            if l.trim().is_empty() || l.starts_with('#') {
                continue;
            }
            let Some((tag, pattern)) = l.split_once('=') else {
                return Err(FormatsError::Syntax { line });
            };
            if tag.is_empty() {
                return Err(FormatsError::Syntax { line });
            }
            let re = Regex::new(pattern).map_err(|e| FormatsError::Regex {
                line,
                source: Box::new(e),
            })?;
            patterns.insert(tag.as_bytes().to_vec(), re);
        }
        Ok(Self { patterns })
    }

    /// Read and parse a `fields.fmt` file.
    pub fn load(path: &Path) -> Result<Self, FormatsError> {
        let text = std::fs::read_to_string(path).map_err(|source| FormatsError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// The pattern for `tag`, if its values are matched rather than compared.
    pub fn pattern(&self, tag: &[u8]) -> Option<&Regex> {
        self.patterns.get(tag)
    }

    /// Tags that have a pattern, ascending by their text.
    pub fn tags(&self) -> impl Iterator<Item = &[u8]> {
        self.patterns.keys().map(Vec::as_slice)
    }
}

/// The first difference between an expected and a received message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// What differs (boxed: keeps `Result<(), Mismatch>` small).
    pub kind: Box<MismatchKind>,
    /// When the first difference is `BodyLength <9>`, the first difference after it: a different
    /// length only says that something else differs, this says what.
    pub then: Option<Box<MismatchKind>>,
    /// The expected message (transformed `E` line), SOH shown as `|`.
    pub expected: String,
    /// The received message, SOH shown as `|`.
    pub actual: String,
}

/// The kind of the first difference. Field indexes are 1-based.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MismatchKind {
    /// Field `index` has a different tag.
    Tag {
        /// 1-based field index.
        index: usize,
        /// Expected tag.
        expected: String,
        /// Received tag.
        actual: String,
    },
    /// Field `index` has the right tag and a different value.
    Value {
        /// 1-based field index.
        index: usize,
        /// The tag.
        tag: String,
        /// Expected value.
        expected: String,
        /// Received value.
        actual: String,
    },
    /// Field `index` has a pattern tag whose received value does not match.
    Pattern {
        /// 1-based field index.
        index: usize,
        /// The tag.
        tag: String,
        /// The `fields.fmt` pattern.
        pattern: String,
        /// Received value.
        actual: String,
    },
    /// Every common field matches but the counts differ.
    FieldCount {
        /// Number of expected fields.
        expected: usize,
        /// Number of received fields.
        actual: usize,
        /// The first field present on one side only.
        first_extra: String,
    },
}

impl fmt::Display for MismatchKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag {
                index,
                expected,
                actual,
            } => write!(
                f,
                "field {index}: expected tag {expected}, got tag {actual}"
            ),
            Self::Value {
                index,
                tag,
                expected,
                actual,
            } => write!(
                f,
                "field {index} (tag {tag}): expected `{expected}`, got `{actual}`"
            ),
            Self::Pattern {
                index,
                tag,
                pattern,
                actual,
            } => write!(
                f,
                "field {index} (tag {tag}): `{actual}` does not match /{pattern}/"
            ),
            Self::FieldCount {
                expected,
                actual,
                first_extra,
            } => {
                let side = if actual > expected {
                    "unexpected"
                } else {
                    "missing"
                };
                write!(
                    f,
                    "expected {expected} fields, got {actual} ({side} field {} `{first_extra}`)",
                    expected.min(actual) + 1
                )
            }
        }
    }
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.kind)?;
        if let Some(then) = &self.then {
            write!(f, "; then {then}")?;
        }
        write!(f, "; expected `{}`, got `{}`", self.expected, self.actual)
    }
}

impl std::error::Error for Mismatch {}

/// Fields of a message: split on SOH, without the empty piece after a final SOH.
fn split_fields(msg: &[u8]) -> impl Iterator<Item = &[u8]> {
    msg.strip_suffix(&[SOH]).unwrap_or(msg).split(|&b| b == SOH)
}

/// `(tag, value)`; a field without `=` is all tag and no value (so it can only match itself).
fn tag_value(field: &[u8]) -> (&[u8], Option<&[u8]>) {
    match field.iter().position(|&b| b == b'=') {
        Some(p) => (&field[..p], Some(&field[p + 1..])),
        None => (field, None),
    }
}

/// Compare a received message with the expected (already transformed) one.
pub fn compare(expected: &[u8], actual: &[u8], formats: &FieldFormats) -> Result<(), Mismatch> {
    let kind = first_difference(expected, actual, formats, false);
    match kind {
        None => Ok(()),
        Some(kind) => Err(Mismatch {
            then: matches!(&kind, MismatchKind::Value { tag, .. } if tag == "9")
                .then(|| first_difference(expected, actual, formats, true))
                .flatten()
                .map(Box::new),
            kind: Box::new(kind),
            expected: printable(expected, SHOW_MESSAGE),
            actual: printable(actual, SHOW_MESSAGE),
        }),
    }
}

/// The first difference; with `skip_body_length`, a different `BodyLength <9>` value is passed over.
fn first_difference(
    expected: &[u8],
    actual: &[u8],
    formats: &FieldFormats,
    skip_body_length: bool,
) -> Option<MismatchKind> {
    let show = |b: &[u8]| printable(b, SHOW_VALUE);
    let mut exp = split_fields(expected);
    let mut act = split_fields(actual);
    let mut index = 0;
    loop {
        index += 1;
        let (e, a) = match (exp.next(), act.next()) {
            (None, None) => return None,
            (Some(e), Some(a)) => (e, a),
            (e, a) => {
                let extra = e.or(a).unwrap_or_default();
                return Some(MismatchKind::FieldCount {
                    expected: index - 1 + usize::from(e.is_some()) + exp.count(),
                    actual: index - 1 + usize::from(a.is_some()) + act.count(),
                    first_extra: show(extra),
                });
            }
        };
        let ((et, ev), (at, av)) = (tag_value(e), tag_value(a));
        if et != at {
            return Some(MismatchKind::Tag {
                index,
                expected: show(et),
                actual: show(at),
            });
        }
        match (formats.pattern(et), ev, av) {
            (Some(re), Some(_), Some(av)) => {
                if !re.is_match(av) {
                    return Some(MismatchKind::Pattern {
                        index,
                        tag: show(et),
                        pattern: re.as_str().to_owned(),
                        actual: show(av),
                    });
                }
            }
            _ if ev == av => {}
            _ if skip_body_length && et == b"9" => {}
            _ => {
                return Some(MismatchKind::Value {
                    index,
                    tag: show(et),
                    expected: show(ev.unwrap_or_default()),
                    actual: show(av.unwrap_or_default()),
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn soh(s: &str) -> Vec<u8> {
        s.replace('|', "\x01").into_bytes()
    }

    fn cmp(e: &str, a: &str) -> Result<(), Mismatch> {
        compare(&soh(e), &soh(a), &FieldFormats::default())
    }

    const LOGON_EXPECTED: &str =
        "8=FIX.4.2|9=62|35=A|34=1|49=ISLD|52=00000000-00:00:00.000|56=TW42|98=0|108=2|10=0|";
    const LOGON_ACTUAL: &str =
        "8=FIX.4.2|9=62|35=A|34=1|49=ISLD|52=20240229-23:59:58.123|56=TW42|98=0|108=2|10=153|";

    #[test]
    fn default_formats_are_quickfix_table() {
        let f = FieldFormats::default();
        let tags: Vec<_> = f
            .tags()
            .map(|t| String::from_utf8_lossy(t).into_owned())
            .collect();
        assert_eq!(tags, ["10", "122", "42", "52", "60"]);
    }

    #[test]
    fn pattern_fields_match_by_regex() {
        cmp(LOGON_EXPECTED, LOGON_ACTUAL).unwrap();
        // Seconds precision also matches 52's pattern.
        cmp("52=x|", "52=20240229-23:59:58|").unwrap();
        // 10 must be three digits.
        let e = cmp("35=0|10=0|", "35=0|10=12|").unwrap_err();
        assert_eq!(
            *e.kind,
            MismatchKind::Pattern {
                index: 2,
                tag: "10".into(),
                pattern: r"\d{3}".into(),
                actual: "12".into()
            }
        );
        // Unanchored, as QuickFIX's runner: a longer value containing a match passes.
        cmp("10=0|", "10=1234|").unwrap();
        // 122 without the time.
        assert!(matches!(
            *cmp("122=0|", "122=20240229|").unwrap_err().kind,
            MismatchKind::Pattern { index: 1, .. }
        ));
    }

    #[test]
    fn other_values_compare_exactly() {
        let e = cmp("35=D|38=002000.00|", "35=D|38=2000|").unwrap_err();
        assert_eq!(
            *e.kind,
            MismatchKind::Value {
                index: 2,
                tag: "38".into(),
                expected: "002000.00".into(),
                actual: "2000".into()
            }
        );
        // BodyLength is not a pattern field.
        assert!(matches!(
            *cmp(LOGON_EXPECTED, &LOGON_ACTUAL.replace("9=62", "9=63"))
                .unwrap_err()
                .kind,
            MismatchKind::Value { index: 2, .. }
        ));
    }

    #[test]
    fn body_length_difference_names_what_follows() {
        // The engine left out PossResend <97>: BodyLength differs first, the missing tag is next.
        let e = cmp(
            "8=FIX.4.2|9=20|35=D|97=Y|11=id|10=0|",
            "8=FIX.4.2|9=15|35=D|11=id|10=000|",
        )
        .unwrap_err();
        assert!(matches!(*e.kind, MismatchKind::Value { index: 2, .. }));
        assert_eq!(
            e.then.as_deref(),
            Some(&MismatchKind::Tag {
                index: 4,
                expected: "97".into(),
                actual: "11".into()
            })
        );
        assert!(
            e.to_string().starts_with(
                "field 2 (tag 9): expected `20`, got `15`; then field 4: expected tag 97, got tag 11; expected `8=FIX"
            ),
            "{e}"
        );
        // Other first differences carry no `then`.
        assert!(cmp("35=D|11=a|", "35=D|11=b|").unwrap_err().then.is_none());
    }

    #[test]
    fn count_mismatch() {
        let e = cmp("35=0|34=2|", "35=0|34=2|369=1|").unwrap_err();
        assert_eq!(
            *e.kind,
            MismatchKind::FieldCount {
                expected: 2,
                actual: 3,
                first_extra: "369=1".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "expected 2 fields, got 3 (unexpected field 3 `369=1`); expected `35=0|34=2|`, got `35=0|34=2|369=1|`"
        );
        let e = cmp("35=0|34=2|112=TEST|58=x|", "35=0|34=2|").unwrap_err();
        assert_eq!(
            *e.kind,
            MismatchKind::FieldCount {
                expected: 4,
                actual: 2,
                first_extra: "112=TEST".into()
            }
        );
        assert!(
            e.to_string()
                .starts_with("expected 4 fields, got 2 (missing field 3 `112=TEST`)")
        );
    }

    #[test]
    fn order_mismatch() {
        let e = cmp("35=3|45=2|58=x|", "35=3|58=x|45=2|").unwrap_err();
        assert_eq!(
            *e.kind,
            MismatchKind::Tag {
                index: 2,
                expected: "45".into(),
                actual: "58".into()
            }
        );
        assert!(
            e.to_string()
                .starts_with("field 2: expected tag 45, got tag 58; expected `35=3|45=2|58=x|`")
        );
    }

    #[test]
    fn field_without_equals_and_empty_values() {
        cmp("35=0|garbled|", "35=0|garbled|").unwrap();
        cmp("58=|", "58=|").unwrap();
        assert!(cmp("58=|", "58|").is_err());
        assert!(cmp("58|", "58=|").is_err());
        // A pattern tag without a value does not match a valued one, nor the reverse.
        assert!(cmp("52|", "52=20240229-23:59:58|").is_err());
        assert!(cmp("52=x|", "52|").is_err());
    }

    #[test]
    fn trailing_soh_is_not_a_field() {
        cmp("35=0|34=2|", "35=0|34=2").unwrap();
        cmp("", "").unwrap();
        assert!(cmp("", "35=0|").is_err());
    }

    #[test]
    fn parse_formats() {
        let f = FieldFormats::parse("# c\r\n\r\n52=^\\d+$\r\nfoo=a=b\n").unwrap();
        assert!(f.pattern(b"52").unwrap().is_match(b"123"));
        assert!(!f.pattern(b"52").unwrap().is_match(b"12a"));
        assert_eq!(f.pattern(b"foo").unwrap().as_str(), "a=b");
        assert!(matches!(
            FieldFormats::parse("52"),
            Err(FormatsError::Syntax { line: 1 })
        ));
        assert!(matches!(
            FieldFormats::parse("\n=x"),
            Err(FormatsError::Syntax { line: 2 })
        ));
        assert!(matches!(
            FieldFormats::parse("52=("),
            Err(FormatsError::Regex { line: 1, .. })
        ));
        // Exact mode: 52 compared literally.
        assert!(compare(&soh("52=x|"), &soh("52=y|"), &FieldFormats::exact()).is_err());
    }
}
