// SPDX-License-Identifier: GPL-2.0
//! `remap` and `remap_list` messages that libdevmapper sends again.
//!
//! When a message's result fills the buffer, DM flags it and libdevmapper
//! sends the same message again with a buffer twice as large (from 16 KiB).
//! A second run of `remap` finds the blocks remapped by the first and would
//! report `remapped 0 lost 0`, losing the `lost` lines. So a report that
//! fills the buffer is kept (up to [`REPORT_MAX`] bytes), with the message's
//! arguments and the metadata generation after it; the same message, while
//! the generation has not moved, gets the kept report instead of a second
//! run. The report is forgotten once it was delivered whole, or when another
//! `remap` or `remap_list` message comes. A `remap_list` is recognised by
//! its word count and a CRC32C of its words.

use kernel::alloc::KVVec;
use kernel::new_mutex;
use kernel::prelude::*;
use kernel::sync::Mutex;

use super::target::RemapTarget;
use crate::dm::log::dm_warn_limited;
use crate::dm::Emitter;
use crate::dm_remap_core::crc32c;
use crate::dm_remap_core::message::RangeList;

/// The largest report kept (longer ones are cut short): 1 MiB holds some
/// 80000 `lost` lines.
const REPORT_MAX: usize = 1 << 20;

/// Which message produced a report.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Request {
    Range { sector: u64, sectors: u64 },
    List { words: usize, crc: u32 },
}

impl Request {
    fn of_list(list: RangeList<'_>) -> Self {
        let crc = list.words().iter().fold(0, |crc, w| crc32c::update(crc32c::update(crc, w), b" "));
        Self::List { words: list.len(), crc }
    }
}

/// A report that did not fit, and the message that produced it.
struct Kept {
    request: Request,
    generation: u64,
    text: KVVec<u8>,
}

/// The last `remap` report, while DM may ask for it again.
pub(super) struct LastReport(Pin<KBox<Mutex<Option<Kept>>>>);

impl LastReport {
    pub(super) fn new() -> Result<Self> {
        Ok(Self(KBox::pin_init(new_mutex!(None), GFP_KERNEL)?))
    }
}

impl RemapTarget {
    /// `remap <sector> <sectors>`, answered from the kept report when this is
    /// libdevmapper sending it again.
    pub(super) fn remap_or_resend(&self, sector: u64, sectors: u64, out: &mut Emitter<'_>) -> Result<bool> {
        self.run_or_resend(Request::Range { sector, sectors }, out, |out| self.remap_message(sector, sectors, out))
    }

    /// `remap_list <ranges>`, the same way.
    pub(super) fn remap_list_or_resend(&self, list: RangeList<'_>, out: &mut Emitter<'_>) -> Result<bool> {
        self.run_or_resend(Request::of_list(list), out, |out| self.remap_list_message(list, out))
    }

    fn run_or_resend(
        &self,
        request: Request,
        out: &mut Emitter<'_>,
        run: impl FnOnce(&mut Emitter<'_>) -> Result<bool>,
    ) -> Result<bool> {
        // Held across the remap: remap messages run one at a time anyway
        // (the writer lock), and this one must see the last one's report.
        let mut last = self.last_report.0.lock();
        if let Some(kept) = last.take() {
            if kept.request == request && kept.generation == self.spare_state.generation() {
                // Cut short if still too big; DM then asks again.
                let _ = out.write_bytes(&kept.text);
                if out.is_full() {
                    *last = Some(kept);
                }
                return Ok(true);
            }
        }
        out.keep_overflow(REPORT_MAX);
        let result = run(out)?;
        if out.is_full() {
            match out.output() {
                Ok(text) => {
                    let generation = self.spare_state.generation();
                    *last = Some(Kept { request, generation, text });
                }
                Err(_) => dm_warn_limited!(self.name, "remap: no memory to keep the report\n"),
            }
        }
        Ok(result)
    }
}
