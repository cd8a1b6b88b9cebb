//! Regression tests for framing bugs found by the property tests (`prop_frame.rs`).

use fix_codec::{FrameError, FrameStatus, Framer};

/// A frame limit shorter than the BeginString field made the search for an out-of-order `9=`
/// slice `buf[bs_end..limit]` with `limit < bs_end`, and panicked. It must report the frame as too
/// large instead.
#[test]
fn tiny_limit_with_out_of_order_body_length_does_not_panic() {
    // The shrunk input proptest found, then the same shape with a real BeginString.
    let buf = b"8=129=9=8=10=\x0110=\x0110=";
    for max in 0..=buf.len() {
        if let FrameStatus::Garbled { skip, .. } = Framer::new(max).next_frame(buf) {
            assert!(skip >= 1 && skip <= buf.len(), "max {max}: skip {skip}");
        }
    }
    let buf = b"8=FIX.4.4\x0135=0\x019=5\x01";
    assert_eq!(
        Framer::new(3).next_frame(buf),
        FrameStatus::Garbled {
            skip: buf.len(),
            error: FrameError::TooLarge { max: 3 }
        }
    );
}
