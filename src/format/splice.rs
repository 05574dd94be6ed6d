//! The one writer. Every output byte is either copied from the source or comes from an
//! explicit edit, so nothing outside an edited span can change.

use std::ops::Range;

/// A replacement of `range` (byte offsets into the source) by `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: Vec<u8>,
}

impl Edit {
    pub fn new(range: Range<usize>, text: impl Into<Vec<u8>>) -> Self {
        Edit {
            range,
            text: text.into(),
        }
    }

    pub fn insert(at: usize, text: impl Into<Vec<u8>>) -> Self {
        Edit {
            range: at..at,
            text: text.into(),
        }
    }
}

/// Apply edits to `src`. Edits are sorted by position (stable, so insertions at one offset
/// keep their order); they must not overlap and must lie inside the source.
///
/// # Errors
/// Returns an error for overlapping or out-of-range edits: a bug in a format module, never
/// something to paper over.
pub fn splice(src: &[u8], mut edits: Vec<Edit>) -> Result<Vec<u8>, &'static str> {
    edits.sort_by_key(|e| (e.range.start, e.range.end));
    let extra: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = Vec::with_capacity(src.len() + extra);
    let mut pos = 0;
    for e in &edits {
        if e.range.start < pos || e.range.end < e.range.start || e.range.end > src.len() {
            return Err("overlapping or out-of-range edit");
        }
        out.extend_from_slice(&src[pos..e.range.start]);
        out.extend_from_slice(&e.text);
        pos = e.range.end;
    }
    out.extend_from_slice(&src[pos..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn basic() {
        let out = splice(
            b"a: 1\nb: 2\n",
            vec![
                Edit::new(9..9, "x"),
                Edit::new(3..4, "ENC"),
                Edit::insert(10, "sops"),
            ],
        )
        .unwrap();
        assert_eq!(out, b"a: ENC\nb: 2x\nsops");
        assert!(splice(b"abc", vec![Edit::new(0..2, ""), Edit::new(1..3, "")]).is_err());
        assert!(splice(b"abc", vec![Edit::new(2..4, "")]).is_err());
    }

    proptest! {
        /// Bytes outside every edited range are copied unchanged and in order, and the
        /// identity edit is the identity.
        #[test]
        fn outside_bytes_are_kept(src in proptest::collection::vec(any::<u8>(), 0..200),
                                  cuts in proptest::collection::vec((0usize..200, 0usize..8, ".{0,5}"), 0..8)) {
            let mut edits = Vec::new();
            let mut last = 0;
            let mut sorted = cuts.clone();
            sorted.sort();
            for (start, len, text) in sorted {
                let start = start.min(src.len());
                if start < last { continue; }
                let end = (start + len).min(src.len());
                edits.push(Edit::new(start..end, text.as_bytes().to_vec()));
                last = end;
            }
            let out = splice(&src, edits.clone()).unwrap();
            // rebuild the expectation independently
            let mut expect = Vec::new();
            let mut pos = 0;
            for e in &edits {
                expect.extend_from_slice(&src[pos..e.range.start]);
                expect.extend_from_slice(&e.text);
                pos = e.range.end;
            }
            expect.extend_from_slice(&src[pos..]);
            prop_assert_eq!(&out, &expect);
            let identity: Vec<Edit> = edits.iter().map(|e| Edit::new(e.range.clone(), src[e.range.clone()].to_vec())).collect();
            prop_assert_eq!(splice(&src, identity).unwrap(), src);
        }
    }
}
