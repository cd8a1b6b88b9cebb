//! Reversible mapping from a session identity string to a directory name.
//!
//! Bytes outside `[A-Za-z0-9._-]` become `%XX` (upper-case hex), and so does a leading `.`, so no
//! identity can name `.`, `..`, a hidden file, or escape the root with `/`. `%` itself is encoded,
//! which makes the mapping injective and therefore reversible.

use crate::StoreError;

/// Longest encoded name accepted; file systems commonly allow 255 bytes per component.
pub const MAX_ENCODED_LEN: usize = 240;

fn is_plain(b: u8, first: bool) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !first)
}

/// Encodes a session identity (e.g. `FIX.4.4-SENDER-TARGET`) into a safe directory name.
pub fn encode_identity(identity: &str) -> Result<String, StoreError> {
    if identity.is_empty() {
        return Err(StoreError::InvalidIdentity("empty"));
    }
    let mut out = String::with_capacity(identity.len());
    for (i, &b) in identity.as_bytes().iter().enumerate() {
        if is_plain(b, i == 0) {
            out.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
        if out.len() > MAX_ENCODED_LEN {
            return Err(StoreError::InvalidIdentity("too long once encoded"));
        }
    }
    Ok(out)
}

/// Inverse of [`encode_identity`]; `None` for a name it cannot have produced.
pub fn decode_identity(name: &str) -> Option<String> {
    let b = name.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| match c {
                b'0'..=b'9' => Some(c - b'0'),
                b'A'..=b'F' => Some(c - b'A' + 10),
                _ => None,
            };
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            let v = (hi << 4) | lo;
            if is_plain(v, out.is_empty()) {
                return None; // not canonical: the encoder would have written it plainly
            }
            out.push(v);
            i += 3;
        } else if is_plain(b[i], out.is_empty()) {
            out.push(b[i]);
            i += 1;
        } else {
            return None;
        }
    }
    if out.is_empty() {
        return None;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typical_identity_is_unchanged() {
        assert_eq!(
            encode_identity("FIX.4.4-SENDER-TARGET").unwrap(),
            "FIX.4.4-SENDER-TARGET"
        );
    }

    #[test]
    fn unsafe_characters_are_encoded() {
        assert_eq!(encode_identity("../x/y").unwrap(), "%2E.%2Fx%2Fy");
        assert_eq!(encode_identity("a b%").unwrap(), "a%20b%25");
        assert_eq!(encode_identity(".").unwrap(), "%2E");
        assert!(encode_identity("").is_err());
        assert!(encode_identity(&"x".repeat(MAX_ENCODED_LEN + 1)).is_err());
        assert_eq!(decode_identity("%2e"), None);
        assert_eq!(decode_identity("%41"), None);
        assert_eq!(decode_identity("a/b"), None);
    }

    proptest! {
        #[test]
        fn round_trips(s in "\\PC{1,20}") {
            let enc = encode_identity(&s).unwrap();
            prop_assert!(enc.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-%".contains(&b)));
            prop_assert!(!enc.starts_with('.'));
            prop_assert_eq!(decode_identity(&enc), Some(s));
        }
    }
}
