// SPDX-License-Identifier: GPL-2.0
//! A coarse bitmap over the main device that says "no remap here" cheaply,
//! so that I/O far from every remapped block skips the table search.

use super::extent::Extent;

/// Words in the bitmap: 4096 buckets in 512 bytes.
pub const FILTER_WORDS: usize = 64;
const FILTER_BITS: u64 = (FILTER_WORDS * 64) as u64;

/// One bit per bucket of `1 << shift` blocks; a clear bit means no extent
/// touches the bucket. Never says "no" for a remapped block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegativeFilter {
    shift: u32,
    bits: [u64; FILTER_WORDS],
}

impl NegativeFilter {
    /// An empty filter for a main device of `device_blocks` blocks.
    pub fn new(device_blocks: u64) -> Self {
        let mut shift = 0;
        while shift < 63 && (device_blocks >> shift) > FILTER_BITS {
            shift += 1;
        }
        Self { shift, bits: [0; FILTER_WORDS] }
    }

    /// A filter with every extent of `table` marked.
    pub fn build(device_blocks: u64, table: &[Extent]) -> Self {
        let mut f = Self::new(device_blocks);
        for e in table {
            f.insert(e.main, u64::from(e.len));
        }
        f
    }

    fn buckets(&self, block: u64, blocks: u64) -> (u64, u64) {
        let last = block.saturating_add(blocks.max(1) - 1);
        (block >> self.shift, last >> self.shift)
    }

    fn bit(&mut self, bucket: u64) -> Option<&mut u64> {
        self.bits.get_mut(usize::try_from((bucket % FILTER_BITS) / 64).ok()?)
    }

    /// Marks `blocks` blocks from `block`.
    pub fn insert(&mut self, block: u64, blocks: u64) {
        let (first, last) = self.buckets(block, blocks);
        let last = last.min(first.saturating_add(FILTER_BITS - 1));
        let mut b = first;
        while b <= last {
            if let Some(w) = self.bit(b) {
                *w |= 1 << (b % 64);
            }
            b += 1;
        }
    }

    /// Whether any of `blocks` blocks from `block` may be remapped.
    pub fn may_contain(&self, block: u64, blocks: u64) -> bool {
        let (first, last) = self.buckets(block, blocks);
        if last - first >= 64 {
            return true;
        }
        (first..=last).any(|b| {
            let word = usize::try_from((b % FILTER_BITS) / 64).ok();
            word.and_then(|w| self.bits.get(w)).is_some_and(|w| w & (1 << (b % 64)) != 0)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extent::ExtentState;
    use proptest::prelude::*;

    #[test]
    fn empty_filter_says_no() {
        let f = NegativeFilter::new(1 << 30);
        assert!(!f.may_contain(0, 256));
        assert!(!f.may_contain((1 << 30) - 1, 1));
    }

    proptest! {
        #[test]
        fn never_misses_a_remapped_block(
            dev in 1u64..(1 << 40),
            ext in prop::collection::vec((0u64..(1 << 40), 1u16..300), 0..50),
            probe in 0u64..(1 << 40), len in 1u64..2048,
        ) {
            let table: Vec<Extent> = ext.iter()
                .map(|&(m, l)| Extent { main: m % dev, spare: 0, len: l, state: ExtentState::Ok })
                .collect();
            let f = NegativeFilter::build(dev, &table);
            let hit = table.iter().any(|e| e.main < probe.saturating_add(len) && probe < e.main_end());
            if hit {
                prop_assert!(f.may_contain(probe, len));
            }
        }
    }
}
