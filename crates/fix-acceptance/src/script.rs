//! Parsing of the QuickFIX `.def` script format.
//!
//! One step per line: `iCONNECT`, `iDISCONNECT`, `I<fix>`, `E<fix>`, `eDISCONNECT`, each optionally
//! followed by `<N>,` right after the command letter to name connection `N` (default 1). Blank lines
//! and lines starting with `#` are ignored; a trailing CR (CRLF files) is dropped.

use std::fmt;

/// Connection number inside a script (`i2,CONNECT` is connection 2). Starts at 1.
pub type ConnId = u32;

/// Highest connection number a script may use. Keeps per-connection tables small and bounded.
pub const MAX_CONNECTIONS: ConnId = 64;

/// The connection a step uses when the line does not name one.
pub const DEFAULT_CONN: ConnId = 1;

/// One action of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// `iCONNECT` / `iN,CONNECT`: open connection N to the engine.
    Connect(ConnId),
    /// `iDISCONNECT` / `iN,DISCONNECT`: close connection N from the runner's side.
    Disconnect(ConnId),
    /// `I<fix>` / `IN,<fix>`: transform the template and send it on connection N.
    Send(ConnId, Vec<u8>),
    /// `E<fix>` / `EN,<fix>`: read the next message on connection N and compare it with the
    /// transformed template.
    Expect(ConnId, Vec<u8>),
    /// `eDISCONNECT` / `eN,DISCONNECT`: the engine must close connection N having sent nothing more.
    ExpectDisconnect(ConnId),
}

impl Step {
    /// The connection this step acts on.
    pub fn conn(&self) -> ConnId {
        match self {
            Self::Connect(n)
            | Self::Disconnect(n)
            | Self::Send(n, _)
            | Self::Expect(n, _)
            | Self::ExpectDisconnect(n) => *n,
        }
    }
}

/// A step together with the 1-based line of the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// What to do.
    pub step: Step,
}

/// A parsed script: its name and its steps in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The name given to [`Script::parse`] (usually `dir/file.def`).
    pub name: String,
    /// Steps in file order; comments and blank lines are gone.
    pub steps: Vec<ScriptLine>,
}

/// A line that is not one of the known kinds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{script}: line {line}: {reason}: `{text}`")]
pub struct ParseError {
    /// Script name.
    pub script: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: ParseErrorReason,
    /// The offending line (lossy UTF-8, SOH shown as `|`, cut to a readable length).
    pub text: String,
}

/// Why a line was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorReason {
    /// The first byte is not one of `i`, `I`, `e`, `E`, `#`.
    UnknownCommand,
    /// `i`/`e` followed by something other than `CONNECT` / `DISCONNECT` (only `DISCONNECT` for `e`).
    UnknownAction,
    /// The connection number is 0, too large, or not followed by `,`.
    BadConnection,
}

impl fmt::Display for ParseErrorReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnknownCommand => "unknown line kind",
            Self::UnknownAction => "unknown action (expected CONNECT or DISCONNECT)",
            Self::BadConnection => "bad connection number",
        })
    }
}

/// Longest connection number prefix looked at (`64,` has two digits; a few more are tolerated so the
/// error says "bad connection number" rather than misreading a message).
const MAX_CONN_DIGITS: usize = 4;

impl Script {
    /// Parse a script. `name` is only used in messages.
    pub fn parse(name: &str, bytes: &[u8]) -> Result<Self, ParseError> {
        let mut steps = Vec::new();
        for (idx, raw) in bytes.split(|&b| b == b'\n').enumerate() {
            let line_no = idx + 1;
            let line = raw.strip_suffix(b"\r").unwrap_or(raw);
            if line.iter().all(u8::is_ascii_whitespace) || line.starts_with(b"#") {
                continue;
            }
            let err = |reason| ParseError {
                script: name.to_owned(),
                line: line_no,
                reason,
                text: printable(line, 120),
            };
            let (cmd, rest) = (line[0], &line[1..]);
            if !matches!(cmd, b'i' | b'I' | b'e' | b'E') {
                return Err(err(ParseErrorReason::UnknownCommand));
            }
            let (conn, rest) =
                split_conn(rest).map_err(|()| err(ParseErrorReason::BadConnection))?;
            let step = match cmd {
                b'i' => match rest {
                    b"CONNECT" => Step::Connect(conn),
                    b"DISCONNECT" => Step::Disconnect(conn),
                    _ => return Err(err(ParseErrorReason::UnknownAction)),
                },
                b'e' => match rest {
                    b"DISCONNECT" => Step::ExpectDisconnect(conn),
                    _ => return Err(err(ParseErrorReason::UnknownAction)),
                },
                b'I' => Step::Send(conn, rest.to_vec()),
                _ => Step::Expect(conn, rest.to_vec()),
            };
            steps.push(ScriptLine {
                line: line_no,
                step,
            });
        }
        Ok(Self {
            name: name.to_owned(),
            steps,
        })
    }
}

/// Split an optional `N,` prefix. Digits not followed by a comma belong to the message
/// (`I35=0...` is a message starting with tag 35 on connection 1).
fn split_conn(rest: &[u8]) -> Result<(ConnId, &[u8]), ()> {
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || rest.get(digits) != Some(&b',') {
        return Ok((DEFAULT_CONN, rest));
    }
    if digits > MAX_CONN_DIGITS {
        return Err(());
    }
    let n = rest[..digits]
        .iter()
        .fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'));
    if n == 0 || n > MAX_CONNECTIONS {
        return Err(());
    }
    Ok((n, &rest[digits + 1..]))
}

/// Lossy text of `bytes` with SOH shown as `|`, cut after `max` characters (with `...`).
pub fn printable(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mut out: String = text
        .chars()
        .take(max)
        .map(|c| if c == '\u{1}' { '|' } else { c })
        .collect();
    if text.chars().count() > max {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_with_and_without_connection_numbers() {
        let text = b"# comment\r\n\r\niCONNECT\r\ni2,CONNECT\nI8=FIX.4.2\x0135=A\x01\nI2,8=X\x01\n\
E1,8=Y\x01\nI35=0\x018=FIX.4.2\x01\n   \ne2,DISCONNECT\ni1,DISCONNECT\neDISCONNECT";
        let s = Script::parse("t", text).unwrap();
        let steps: Vec<_> = s.steps.iter().map(|l| (l.line, l.step.clone())).collect();
        assert_eq!(
            steps,
            vec![
                (3, Step::Connect(1)),
                (4, Step::Connect(2)),
                (5, Step::Send(1, b"8=FIX.4.2\x0135=A\x01".to_vec())),
                (6, Step::Send(2, b"8=X\x01".to_vec())),
                (7, Step::Expect(1, b"8=Y\x01".to_vec())),
                (8, Step::Send(1, b"35=0\x018=FIX.4.2\x01".to_vec())),
                (10, Step::ExpectDisconnect(2)),
                (11, Step::Disconnect(1)),
                (12, Step::ExpectDisconnect(1)),
            ]
        );
    }

    #[test]
    fn refuses_unknown_lines_with_their_number() {
        for (text, reason) in [
            (&b"iCONNECT\nX8=FIX\n"[..], ParseErrorReason::UnknownCommand),
            (b"iCONNECT\niCONNECTED\n", ParseErrorReason::UnknownAction),
            (b"iCONNECT\neCONNECT\n", ParseErrorReason::UnknownAction),
            (b"iCONNECT\ni0,CONNECT\n", ParseErrorReason::BadConnection),
            (b"iCONNECT\ni65,CONNECT\n", ParseErrorReason::BadConnection),
            (b"iCONNECT\nI99999,8=FIX\n", ParseErrorReason::BadConnection),
            (b"iCONNECT\n CONNECT\n", ParseErrorReason::UnknownCommand),
        ] {
            let e = Script::parse("s.def", text).unwrap_err();
            assert_eq!((e.line, e.reason), (2, reason), "{e}");
            assert!(e.to_string().starts_with("s.def: line 2: "), "{e}");
        }
    }

    #[test]
    fn printable_shows_soh_and_cuts() {
        assert_eq!(printable(b"8=A\x019=1\x01", 100), "8=A|9=1|");
        assert_eq!(printable(b"abcdef", 3), "abc...");
    }
}
