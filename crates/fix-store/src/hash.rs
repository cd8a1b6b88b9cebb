//! Checksums for records and headers.
//!
//! Not cryptographic: the job is to tell a complete record from zeros, a torn write or flipped bits.
//! A folded 64x64->128 multiply per 16 bytes keeps a 200-byte message well under 100 cycles, which
//! is why this is not a byte-at-a-time CRC.

const K0: u64 = 0x9E37_79B9_7F4A_7C15;
const K1: u64 = 0xC2B2_AE3D_27D4_EB4F;
const K2: u64 = 0x1656_67B1_9E37_79F9;

#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn le64(b: &[u8]) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[..8]);
    u64::from_le_bytes(w)
}

/// 64-bit hash of `data` under `seed`.
#[inline]
pub(crate) fn hash64(seed: u64, data: &[u8]) -> u64 {
    let len = data.len() as u64;
    let mut h = fold(seed ^ K0, len ^ K1);
    let mut chunks = data.chunks_exact(16);
    for c in &mut chunks {
        // Adding `h` back keeps the state even when the multiplicand happens to be zero.
        h = fold(le64(c) ^ h ^ K1, le64(&c[8..]) ^ K2).wrapping_add(h);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut tail = [0u8; 16];
        tail[..rest.len()].copy_from_slice(rest);
        h = fold(le64(&tail) ^ h ^ K1, le64(&tail[8..]) ^ K2).wrapping_add(h);
    }
    fold(h ^ K2, len ^ K0) ^ h.rotate_left(29)
}

/// Hash of a few words (headers, sequence-number words).
#[inline]
pub(crate) fn mix(a: u64, b: u64) -> u64 {
    let h = fold(a ^ K0, b ^ K1);
    fold(h ^ K2, a.rotate_left(17) ^ K0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_single_bit_flip_changes_the_hash() {
        let data: Vec<u8> = (0..203u32).map(|i| (i * 7 + 3) as u8).collect();
        let base = hash64(42, &data);
        for byte in 0..data.len() {
            for bit in 0..8 {
                let mut d = data.clone();
                d[byte] ^= 1 << bit;
                assert_ne!(hash64(42, &d), base, "flip at {byte}:{bit}");
            }
        }
    }

    #[test]
    fn length_and_seed_matter() {
        assert_ne!(hash64(0, &[0u8; 15]), hash64(0, &[0u8; 16]));
        assert_ne!(hash64(0, b"abc"), hash64(1, b"abc"));
        assert_ne!(mix(1, 2), mix(2, 1));
    }
}
