// SPDX-License-Identifier: GPL-2.0
//! Moving the contents of main blocks to their new spare blocks.

use kernel::prelude::*;

use super::geometry::Geometry;
use crate::dm::{DmDev, IoBuffer};
use crate::logic::extent::{Extent, ExtentState};

/// The result of copying runs: the extents to publish (a run whose blocks
/// could not all be read is split by state) and how many blocks were lost.
pub(crate) struct Copied {
    pub(crate) extents: KVec<Extent>,
    pub(crate) lost_blocks: u64,
}

/// Copies every run from `main` to `spare`. A block that cannot be read is
/// zero-filled on the spare and its extent marked `Lost`; a failed spare
/// write fails the whole copy (nothing is published then).
pub(crate) fn copy_runs(main: &DmDev, spare: &DmDev, geo: &Geometry, runs: &[Extent]) -> Result<Copied> {
    let mut buf = IoBuffer::new()?;
    let mut out = Copied { extents: KVec::new(), lost_blocks: 0 };
    // At most 64 blocks per I/O, so one u64 holds the piece's lost-block mask.
    let per_io = geo.blocks_of_bytes(IoBuffer::BYTES).clamp(1, 64);
    for run in runs {
        let mut done = 0u64;
        while done < u64::from(run.len) {
            let n = per_io.min(u64::from(run.len) - done);
            let lost = copy_piece(main, spare, geo, &mut buf, run.main + done, u64::from(run.spare) + done, n)?;
            for k in 0..n {
                let state = if lost & (1u64 << k) != 0 { ExtentState::Lost } else { ExtentState::Ok };
                if state == ExtentState::Lost {
                    out.lost_blocks += 1;
                }
                let spare_block = u32::try_from(u64::from(run.spare) + done + k).map_err(|_| EINVAL)?;
                push_block(&mut out.extents, run.main + done + k, spare_block, state)?;
            }
            done += n;
        }
    }
    Ok(out)
}

/// Appends one block to `extents`, growing the last extent when it continues.
fn push_block(extents: &mut KVec<Extent>, main: u64, spare: u32, state: ExtentState) -> Result {
    let e = Extent { main, spare, len: 1, state };
    if let Some(last) = extents.as_mut_slice().last_mut() {
        if last.can_absorb(&e) {
            last.len += 1;
            return Ok(());
        }
    }
    extents.push(e, GFP_KERNEL)?;
    Ok(())
}

/// Copies `n` blocks (at most 64, and at most one buffer) and returns a bit
/// mask of the blocks that could not be read.
fn copy_piece(
    main: &DmDev,
    spare: &DmDev,
    geo: &Geometry,
    buf: &mut IoBuffer,
    main_block: u64,
    spare_block: u64,
    n: u64,
) -> Result<u64> {
    let bs = geo.block_bytes();
    let bytes = geo.bytes_of(n);
    let mut lost = 0u64;
    if main.read_sync(geo.main_sector(main_block), buf, bytes).is_err() {
        // Find the unreadable blocks one by one; keep what reads.
        let mut one = IoBuffer::new()?;
        for k in 0..n {
            let at = geo.bytes_of(k);
            match main.read_sync(geo.main_sector(main_block + k), &mut one, bs) {
                Ok(()) => buf.bytes(bytes).get_mut(at..at + bs).ok_or(EINVAL)?.copy_from_slice(one.bytes(bs)),
                Err(_) => {
                    buf.bytes(bytes).get_mut(at..at + bs).ok_or(EINVAL)?.fill(0);
                    lost |= 1u64 << k;
                }
            }
        }
    }
    spare.write_sync(geo.spare_sector(spare_block), buf, bytes)?;
    Ok(lost)
}
