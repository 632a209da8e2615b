// SPDX-License-Identifier: GPL-2.0
//! Sorting without allocation or panic paths: core's slice sorts carry
//! panic paths that the kernel's objtool does not know.

/// Heapsort by `key`: in place, O(n log n), no allocation, not stable.
pub fn heapsort_by_key<T, K: Ord>(v: &mut [T], key: impl Fn(&T) -> K) {
    let less = |v: &[T], a: usize, b: usize| v.get(a).map(&key) < v.get(b).map(&key);
    let sift_down = |v: &mut [T], mut root: usize, end: usize| loop {
        // Saturating: `end <= v.len()`, so a saturated index stops the loop.
        let mut child = root.saturating_mul(2).saturating_add(1);
        if child >= end {
            break;
        }
        let right = child.saturating_add(1);
        if right < end && less(v, child, right) {
            child = right;
        }
        if !less(v, root, child) {
            break;
        }
        swap(v, root, child);
        root = child;
    };
    let n = v.len();
    for start in (0..n / 2).rev() {
        sift_down(v, start, n);
    }
    for end in (1..n).rev() {
        swap(v, 0, end);
        sift_down(v, 0, end);
    }
}

/// `v.swap(a, b)` when both are in bounds (always, here), without the
/// bounds check's panic path.
fn swap<T>(v: &mut [T], a: usize, b: usize) {
    if a < b {
        if let Some([x, .., y]) = v.get_mut(a..=b) {
            core::mem::swap(x, y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn sorts_like_the_standard_sort(mut v in prop::collection::vec(any::<u16>(), 0..200)) {
            let mut want = v.clone();
            want.sort_unstable();
            heapsort_by_key(&mut v, |x| *x);
            prop_assert_eq!(v, want);
        }
    }
}
