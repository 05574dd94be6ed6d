//! Shamir secret sharing over GF(2^8), byte-compatible with sops' `shamir` package (a fork of
//! HashiCorp Vault's).
//!
//! sops uses this only when a file has more than one key group: the 32-byte data key is split
//! into one share per group, and each share is wrapped by every master key of its group
//! (sops-compat §1.9). This module owns the arithmetic and the share layout, nothing else: which
//! groups exist, the threshold stored in the metadata and the wrapping are the caller's business.
//!
//! Compatibility facts this module pins down:
//! * The field is GF(2^8) with the AES polynomial x^8+x^4+x^3+x+1 (0x11B). Vault uses log/exp
//!   tables; the bitwise multiply here gives identical bytes without secret-indexed lookups
//!   (sops ≥ 3.10 did the same, GHSA-vq4h-9ghm-qmrr).
//! * A share is `[y_0, …, y_{n-1}, x]`: one y per secret byte, then the x-coordinate as the
//!   **last** byte.
//! * [`split`] emits x = 1, 2, …, parts in order, as sops 3.11 does (observed on real files;
//!   Vault draws them from a random permutation). [`combine`] never assumes that: it reads x from
//!   each share.
//!
//! # Security
//! Coefficients come from the OS RNG (`getrandom`), and every intermediate that depends on the
//! secret (coefficients, y samples) is zeroized. Errors never carry share or secret bytes.

use zeroize::Zeroizing;

/// Errors from [`split`] and [`combine`]. The messages match Vault's/sops' wording, lowercased,
/// and never contain secret or share bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ShamirError {
    /// `parts < threshold`.
    #[error("parts cannot be less than threshold")]
    PartsLessThanThreshold,
    /// `parts > 255`: only 255 non-zero x-coordinates exist in GF(2^8).
    #[error("parts cannot exceed 255")]
    TooManyParts,
    /// `threshold < 2`.
    #[error("threshold must be at least 2")]
    ThresholdTooSmall,
    /// `threshold > 255`.
    #[error("threshold cannot exceed 255")]
    ThresholdTooLarge,
    /// The secret to split is empty.
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// Fewer than two shares were given to [`combine`].
    #[error("less than two parts cannot be used to reconstruct the secret")]
    TooFewParts,
    /// A share is shorter than two bytes (one y byte plus the x byte).
    #[error("parts must be at least two bytes")]
    PartTooShort,
    /// The shares do not all have the same length.
    #[error("all parts must be the same length")]
    LengthMismatch,
    /// Two shares have the same x-coordinate (last byte).
    #[error("duplicate part detected")]
    DuplicatePart,
    /// The OS random number generator failed.
    #[error("failed to generate random polynomial coefficients: {0}")]
    Random(getrandom::Error),
}

/// Addition (and subtraction) in GF(2^8).
#[inline]
fn add(a: u8, b: u8) -> u8 {
    a ^ b
}

/// Multiplication in GF(2^8) modulo 0x11B, in constant time: a fixed 8-round shift-and-add loop
/// with masks instead of branches, the same formula as sops' `mult` since 3.10.
#[inline]
fn mult(a: u8, b: u8) -> u8 {
    let mut r: u8 = 0;
    for i in (0..8).rev() {
        // -(bit) is 0x00 or 0xFF: select `a` / the reduction constant without a branch.
        r = (((b >> i) & 1).wrapping_neg() & a)
            ^ ((r >> 7).wrapping_neg() & 0x1B)
            ^ r.wrapping_add(r);
    }
    r
}

/// Multiplicative inverse as a^254 (a^255 = 1 for a ≠ 0), by a fixed square-and-multiply
/// chain, so the time does not depend on `a`. `inverse(0)` is 0.
fn inverse(a: u8) -> u8 {
    // 254 = 0b1111_1110: a^2 · a^4 · … · a^128.
    let mut sq = mult(a, a); // a^2
    let mut acc = sq;
    for _ in 0..6 {
        sq = mult(sq, sq); // a^4, a^8, …, a^128
        acc = mult(acc, sq);
    }
    acc
}

/// Division in GF(2^8). Callers guarantee `b != 0` (duplicate x-coordinates are rejected before
/// interpolation, so no denominator is zero).
#[inline]
fn div(a: u8, b: u8) -> u8 {
    debug_assert!(b != 0, "division by zero in GF(2^8)");
    mult(a, inverse(b))
}

/// Evaluates the polynomial with these coefficients (constant term first) at `x`, by Horner's
/// rule.
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    // Vault special-cases the origin; Horner's rule gives the same value there.
    let mut out = 0u8;
    for &c in coefficients.iter().rev() {
        out = add(mult(out, x), c);
    }
    out
}

/// Lagrange interpolation of the points `(xs[i], ys[i])`, evaluated at `x`.
fn interpolate(xs: &[u8], ys: &[u8], x: u8) -> u8 {
    let mut result = 0u8;
    for (i, (&xi, &yi)) in xs.iter().zip(ys).enumerate() {
        let mut basis = 1u8;
        for (j, &xj) in xs.iter().enumerate() {
            if i != j {
                basis = mult(basis, div(add(x, xj), add(xi, xj)));
            }
        }
        result = add(result, mult(yi, basis));
    }
    result
}

/// Splits `secret` into `parts` shares, any `threshold` of which rebuild it.
///
/// Share `i` (0-based) is `[y_0, …, y_{n-1}, x]` with `x = i + 1`; sops wraps share `i` with the
/// master keys of key group `i`. Each secret byte gets its own random polynomial of degree
/// `threshold - 1` whose constant term is that byte.
///
/// # Errors
/// As Vault: [`ShamirError::PartsLessThanThreshold`], [`ShamirError::TooManyParts`],
/// [`ShamirError::ThresholdTooSmall`], [`ShamirError::ThresholdTooLarge`],
/// [`ShamirError::EmptySecret`]; and [`ShamirError::Random`] if the OS RNG fails.
///
/// # Security
/// The random coefficients are zeroized before returning, also on error. The returned shares are
/// secret material (fewer than `threshold` reveal nothing, but together they are the secret):
/// the caller should wrap them and zeroize them.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Vec<u8>>, ShamirError> {
    // Same checks, in the same order, as Vault's `Split`.
    if parts < threshold {
        return Err(ShamirError::PartsLessThanThreshold);
    }
    if parts > 255 {
        return Err(ShamirError::TooManyParts);
    }
    if threshold < 2 {
        return Err(ShamirError::ThresholdTooSmall);
    }
    if threshold > 255 {
        return Err(ShamirError::ThresholdTooLarge);
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }

    // All randomness up front, so nothing can fail once shares hold secret-derived bytes.
    let degree = threshold - 1;
    let mut random = Zeroizing::new(vec![0u8; secret.len() * degree]);
    getrandom::fill(&mut random).map_err(ShamirError::Random)?;

    let mut out: Vec<Vec<u8>> = (0..parts)
        .map(|i| {
            let mut share = vec![0u8; secret.len() + 1];
            // parts <= 255, so i + 1 fits: x runs 1..=parts, never 0 (x = 0 is the secret).
            share[secret.len()] = (i + 1) as u8;
            share
        })
        .collect();

    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for (idx, (&byte, rand)) in secret.iter().zip(random.chunks_exact(degree)).enumerate() {
        coefficients[0] = byte;
        coefficients[1..].copy_from_slice(rand);
        for share in &mut out {
            let x = share[secret.len()];
            share[idx] = evaluate(&coefficients, x);
        }
    }
    Ok(out)
}

/// Rebuilds the secret from shares made by [`split`] (or by sops/Vault).
///
/// Each share's x-coordinate is its last byte; the shares may come in any order. Given at least
/// the threshold number of shares, the result is the secret; given fewer, it is an unrelated
/// value of the same length (no error can tell, which is why sops also checks the MAC).
///
/// # Errors
/// [`ShamirError::TooFewParts`] (fewer than 2 shares), [`ShamirError::PartTooShort`] (a share
/// under 2 bytes), [`ShamirError::LengthMismatch`], [`ShamirError::DuplicatePart`] (two shares
/// with the same x).
///
/// # Security
/// The result is returned in a [`Zeroizing`] buffer; the y samples copied out of the shares are
/// zeroized before returning.
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    if shares.len() < 2 {
        return Err(ShamirError::TooFewParts);
    }
    let share_len = shares[0].len();
    if share_len < 2 {
        return Err(ShamirError::PartTooShort);
    }
    if shares.iter().any(|s| s.len() != share_len) {
        return Err(ShamirError::LengthMismatch);
    }

    let secret_len = share_len - 1;
    let mut xs = Vec::with_capacity(shares.len());
    for share in shares {
        let x = share[secret_len];
        if xs.contains(&x) {
            return Err(ShamirError::DuplicatePart);
        }
        xs.push(x);
    }

    let mut secret = Zeroizing::new(vec![0u8; secret_len]);
    let mut ys = Zeroizing::new(vec![0u8; shares.len()]);
    for (idx, out) in secret.iter_mut().enumerate() {
        for (y, share) in ys.iter_mut().zip(shares) {
            *y = share[idx];
        }
        *out = interpolate(&xs, &ys, 0);
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference multiply: schoolbook carry-less product, then reduction by 0x11B.
    fn slow_mult(a: u8, b: u8) -> u8 {
        let mut p: u16 = 0;
        for i in 0..8 {
            if (b >> i) & 1 == 1 {
                p ^= (a as u16) << i;
            }
        }
        for bit in (8..16).rev() {
            if (p >> bit) & 1 == 1 {
                p ^= 0x11B << (bit - 8);
            }
        }
        p as u8
    }

    fn random_bytes(n: usize) -> Vec<u8> {
        let mut v = vec![0u8; n];
        getrandom::fill(&mut v).unwrap();
        v
    }

    fn hex(s: &str) -> Vec<u8> {
        assert!(s.len().is_multiple_of(2));
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// All subsets (as index lists) of 0..n.
    fn subsets(n: usize) -> Vec<Vec<usize>> {
        (0u32..1 << n)
            .map(|mask| (0..n).filter(|i| mask >> i & 1 == 1).collect())
            .collect()
    }

    #[test]
    fn mult_known_values() {
        // FIPS-197 §4.2: {57}·{83} = {c1}, {57}·{13} = {fe}; {53} and {ca} are inverses.
        assert_eq!(mult(0x57, 0x83), 0xC1);
        assert_eq!(mult(0x57, 0x13), 0xFE);
        assert_eq!(mult(0x53, 0xCA), 0x01);
        assert_eq!(mult(0xCA, 0x53), 0x01);
        assert_eq!(mult(0x02, 0x80), 0x1B);
        assert_eq!(mult(0, 0xFF), 0);
        assert_eq!(mult(1, 0xAB), 0xAB);
    }

    #[test]
    fn mult_matches_reference_and_vault_exp_table() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mult(a, b), slow_mult(a, b), "{a:#x}*{b:#x}");
            }
        }
        // Vault's expTable starts with successive powers of the generator 0xE5.
        let expected = [0x01, 0xE5, 0x4C, 0xB5, 0xFB, 0x9F, 0xFC, 0x12, 0x03, 0x34];
        let mut p = 1u8;
        for e in expected {
            assert_eq!(p, e);
            p = mult(p, 0xE5);
        }
    }

    #[test]
    fn inverse_and_div() {
        assert_eq!(inverse(0), 0);
        assert_eq!(inverse(1), 1);
        assert_eq!(inverse(0x53), 0xCA);
        for a in 1..=255u8 {
            assert_eq!(mult(a, inverse(a)), 1, "{a:#x}");
            for b in 1..=255u8 {
                assert_eq!(mult(div(a, b), b), a);
            }
        }
    }

    #[test]
    fn evaluate_horner() {
        // p(x) = 0x42 + 3x + x^2 at x = 2: 0x42 ^ 6 ^ 4.
        assert_eq!(evaluate(&[0x42, 3, 1], 2), 0x42 ^ 6 ^ 4);
        assert_eq!(evaluate(&[0x42, 3, 1], 0), 0x42);
    }

    #[test]
    fn hand_built_shares() {
        // Secret [0x42, 0x07], threshold 2, slopes 0x03 and 0x10: y = s + a·x.
        // x=1: [0x41, 0x17]; x=2: [0x42^0x06, 0x07^0x20] = [0x44, 0x27];
        // x=3: [0x42^0x05, 0x07^0x30] = [0x47, 0x37].
        let s1: &[u8] = &[0x41, 0x17, 1];
        let s2: &[u8] = &[0x44, 0x27, 2];
        let s3: &[u8] = &[0x47, 0x37, 3];
        for pair in [[s1, s2], [s2, s1], [s1, s3], [s3, s2]] {
            assert_eq!(&combine(&pair).unwrap()[..], &[0x42, 0x07]);
        }
        assert_eq!(&combine(&[s3, s1, s2]).unwrap()[..], &[0x42, 0x07]);
    }

    #[test]
    fn split_layout_is_y_then_sequential_x() {
        let secret = random_bytes(32);
        let shares = split(&secret, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        for (i, share) in shares.iter().enumerate() {
            assert_eq!(share.len(), 33);
            assert_eq!(share[32], i as u8 + 1);
        }
    }

    #[test]
    fn round_trip_every_threshold_and_subset_up_to_5() {
        for parts in 2..=5 {
            for threshold in 2..=parts {
                let secret = random_bytes(32);
                let shares = split(&secret, parts, threshold).unwrap();
                for subset in subsets(parts) {
                    if subset.len() < 2 {
                        continue;
                    }
                    let picked: Vec<&[u8]> = subset.iter().map(|&i| &shares[i][..]).collect();
                    let got = combine(&picked).unwrap();
                    assert_eq!(got.len(), 32);
                    if subset.len() >= threshold {
                        assert_eq!(&got[..], &secret[..], "{threshold}/{parts} {subset:?}");
                    } else {
                        // Probability of a false equality is 2^-256.
                        assert_ne!(&got[..], &secret[..], "{threshold}/{parts} {subset:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn randomized_round_trips() {
        for round in 0..200 {
            let params = random_bytes(3);
            let len = 1 + params[0] as usize % 64;
            let parts = 2 + params[1] as usize % 20;
            let threshold = 2 + params[2] as usize % (parts - 1);
            let secret = random_bytes(len);
            let shares = split(&secret, parts, threshold).unwrap();
            // Take `threshold` shares in reverse order, skipping the first.
            let picked: Vec<&[u8]> = shares
                .iter()
                .rev()
                .take(threshold)
                .map(|s| &s[..])
                .collect();
            assert_eq!(&combine(&picked).unwrap()[..], &secret[..], "round {round}");
        }
    }

    #[test]
    fn max_parts_and_threshold() {
        let secret = random_bytes(4);
        let shares = split(&secret, 255, 255).unwrap();
        assert_eq!(shares[254][4], 255);
        let all: Vec<&[u8]> = shares.iter().map(|s| &s[..]).collect();
        assert_eq!(&combine(&all).unwrap()[..], &secret[..]);
    }

    #[test]
    fn split_validation() {
        let s = [1u8; 32];
        assert!(matches!(
            split(&s, 2, 3),
            Err(ShamirError::PartsLessThanThreshold)
        ));
        assert!(matches!(split(&s, 256, 2), Err(ShamirError::TooManyParts)));
        assert!(matches!(
            split(&s, 3, 1),
            Err(ShamirError::ThresholdTooSmall)
        ));
        assert!(matches!(
            split(&s, 3, 0),
            Err(ShamirError::ThresholdTooSmall)
        ));
        assert!(matches!(split(&[], 3, 2), Err(ShamirError::EmptySecret)));
        // Vault checks parts > 255 before threshold > 255.
        assert!(matches!(
            split(&s, 256, 256),
            Err(ShamirError::TooManyParts)
        ));
    }

    #[test]
    fn combine_validation() {
        let a: &[u8] = &[1, 2, 1];
        let b: &[u8] = &[3, 4, 2];
        assert!(matches!(combine(&[]), Err(ShamirError::TooFewParts)));
        assert!(matches!(combine(&[a]), Err(ShamirError::TooFewParts)));
        assert!(matches!(
            combine(&[&[1], &[2]]),
            Err(ShamirError::PartTooShort)
        ));
        assert!(matches!(
            combine(&[a, &[1, 2]]),
            Err(ShamirError::LengthMismatch)
        ));
        assert!(matches!(
            combine(&[a, &[9, 9, 1]]),
            Err(ShamirError::DuplicatePart)
        ));
        assert!(matches!(
            combine(&[a, b, a]),
            Err(ShamirError::DuplicatePart)
        ));
    }

    #[test]
    fn error_messages_are_lowercase() {
        let errs = [
            ShamirError::PartsLessThanThreshold,
            ShamirError::TooManyParts,
            ShamirError::ThresholdTooSmall,
            ShamirError::ThresholdTooLarge,
            ShamirError::EmptySecret,
            ShamirError::TooFewParts,
            ShamirError::PartTooShort,
            ShamirError::LengthMismatch,
            ShamirError::DuplicatePart,
        ];
        for e in errs {
            let m = e.to_string();
            assert_eq!(m, m.to_lowercase());
        }
    }

    // Shares from a real sops 3.11.0 file, testdata/sops-interop/vectors/shamir-yaml.yaml
    // (3 key groups, shamir_threshold 2), obtained with
    // `age -d -i keys/keyN.txt` on group N's `enc` block. Note the sequential x = 1, 2, 3.
    const SOPS_SHARE_1: &str = "1e108f43714c32ce09f9cda08f94282f0a68fc54817f352e1d4e5cfb8d24b92001";
    const SOPS_SHARE_2: &str = "ec01564c7f27dbc862334db4e90afd91ac881ff821dbd0dd359ef4bd6fb78b6c02";
    const SOPS_SHARE_3: &str = "4b0ee8498cf775cab275c4b8cb8947fbce21b79c414e7a8c2d27657631c66ca103";

    #[test]
    fn real_sops_shares_combine() {
        let s1 = hex(SOPS_SHARE_1);
        let s2 = hex(SOPS_SHARE_2);
        let s3 = hex(SOPS_SHARE_3);
        assert_eq!((s1.len(), s2.len(), s3.len()), (33, 33, 33));
        assert_eq!((s1[32], s2[32], s3[32]), (1, 2, 3));

        let key = combine(&[&s1, &s2]).unwrap();
        assert_eq!(key.len(), 32);
        // Checked out of band: this key AES-GCM-decrypts `app.name` of that file to
        // "demo-service" (AAD "app:name:").
        assert_eq!(
            &key[..],
            &hex("b91f3146829c9cccd9bf44acad17924568c15430e1ea9f7f05f7cd30d3555eed")[..]
        );
        assert_eq!(&combine(&[&s2, &s1]).unwrap()[..], &key[..]);
        // With a threshold of 2 every pair lies on the same lines, so any pair (and all three)
        // must agree: a wrong field or a wrong x convention would break this.
        assert_eq!(&combine(&[&s1, &s3]).unwrap()[..], &key[..]);
        assert_eq!(&combine(&[&s3, &s2]).unwrap()[..], &key[..]);
        assert_eq!(&combine(&[&s1, &s2, &s3]).unwrap()[..], &key[..]);
    }

    /// Property tests over random secrets, share counts, thresholds and subsets.
    mod props {
        use super::super::*;
        use proptest::prelude::*;
        use proptest::sample::subsequence;

        /// (parts, threshold) with 2 <= threshold <= parts <= 12.
        fn params() -> impl Strategy<Value = (usize, usize)> {
            (2usize..=12).prop_flat_map(|parts| (Just(parts), 2..=parts))
        }

        /// (parts, threshold, a shuffled subset of share indices of size in `size(parts, threshold)`).
        fn subset(
            size: fn(usize, usize) -> std::ops::RangeInclusive<usize>,
        ) -> impl Strategy<Value = (usize, usize, Vec<usize>)> {
            params().prop_flat_map(move |(parts, threshold)| {
                (
                    Just(parts),
                    Just(threshold),
                    subsequence((0..parts).collect::<Vec<_>>(), size(parts, threshold))
                        .prop_shuffle(),
                )
            })
        }

        fn pick<'a>(shares: &'a [Vec<u8>], idx: &[usize]) -> Vec<&'a [u8]> {
            idx.iter().map(|&i| &shares[i][..]).collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

            /// Any threshold-or-more subset of the shares, in any order, gives the secret back.
            #[test]
            fn enough_shares_give_the_secret(
                secret in proptest::collection::vec(any::<u8>(), 1..64),
                (parts, threshold, idx) in subset(|p, t| t..=p),
            ) {
                let shares = split(&secret, parts, threshold).unwrap();
                let got = combine(&pick(&shares, &idx)).unwrap();
                prop_assert_eq!(&got[..], &secret[..]);
            }

            /// Fewer than the threshold never gives the secret (32-byte secrets, as sops' data
            /// keys: a chance equality is 2^-256); a single share is refused outright.
            #[test]
            fn too_few_shares_never_give_the_secret(
                secret in proptest::collection::vec(any::<u8>(), 32),
                (parts, threshold, idx) in subset(|_, t| 1..=t - 1),
            ) {
                let shares = split(&secret, parts, threshold).unwrap();
                match combine(&pick(&shares, &idx)) {
                    Ok(got) => {
                        prop_assert!(idx.len() >= 2);
                        prop_assert_ne!(&got[..], &secret[..]);
                    }
                    Err(e) => {
                        prop_assert_eq!(idx.len(), 1);
                        prop_assert!(matches!(e, ShamirError::TooFewParts));
                    }
                }
            }

            /// sops' layout: one y byte per secret byte, then x as the last byte, x = 1..=parts
            /// in order; each y byte lies on a polynomial of degree threshold - 1 whose value at
            /// 0 is the secret byte (checked by interpolating from exactly threshold shares).
            #[test]
            fn share_format_is_y_bytes_then_x(
                secret in proptest::collection::vec(any::<u8>(), 32),
                (parts, threshold) in params(),
            ) {
                let shares = split(&secret, parts, threshold).unwrap();
                prop_assert_eq!(shares.len(), parts);
                for (i, share) in shares.iter().enumerate() {
                    prop_assert_eq!(share.len(), 33);
                    prop_assert_eq!(usize::from(share[32]), i + 1);
                }
                let xs: Vec<u8> = shares[..threshold].iter().map(|s| s[32]).collect();
                for b in 0..32 {
                    let ys: Vec<u8> = shares[..threshold].iter().map(|s| s[b]).collect();
                    prop_assert_eq!(interpolate(&xs, &ys, 0), secret[b]);
                    // every further share lies on the same polynomial
                    for s in &shares[threshold..] {
                        prop_assert_eq!(interpolate(&xs, &ys, s[32]), s[b]);
                    }
                }
            }
        }
    }
}
