// SPDX-License-Identifier: GPL-2.0
//! Writing into the result buffer of a status or message call (`DMEMIT`).

use core::fmt;

use kernel::alloc::KVVec;
use kernel::prelude::*;

/// A bounded writer over a C result buffer that DM allocated.
///
/// Like `DMEMIT`, output that does not fit is cut short; the buffer always
/// stays NUL-terminated, and DM reads a full buffer ([`Self::is_full`]) as a
/// request to retry with a larger one. A caller that cannot produce the
/// same output twice keeps what does not fit ([`Self::keep_overflow`]).
pub(crate) struct Emitter<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: Option<Overflow>,
}

/// Output past the end of the buffer, up to a bound.
struct Overflow {
    bytes: KVVec<u8>,
    /// Bytes of output, in the buffer and here, beyond which output is cut.
    max: usize,
    /// Whether output was cut (everything after it is dropped too).
    cut: bool,
}

impl<'a> Emitter<'a> {
    /// Wraps `buf` (the whole buffer, terminator included) and empties it.
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        Self { buf, len: 0, overflow: None }
    }

    /// Bytes written (without the terminator).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Whether DM will see the buffer as full and ask again with a larger
    /// one (`dm_message_test_buffer_overflow`: the output and its terminator
    /// reach the end).
    pub(crate) fn is_full(&self) -> bool {
        self.len.saturating_add(1) >= self.buf.len()
    }

    /// From now on, output that does not fit the buffer is kept (until the
    /// whole output reaches `max` bytes, or memory runs out) instead of cut.
    pub(crate) fn keep_overflow(&mut self, max: usize) {
        self.overflow = Some(Overflow { bytes: KVVec::new(), max, cut: false });
    }

    /// All the output: what the buffer holds, then what was kept past it.
    /// `ENOMEM` when that cannot be allocated.
    pub(crate) fn output(&self) -> Result<KVVec<u8>> {
        let kept = self.overflow.as_ref().map_or(&[][..], |o| o.bytes.as_slice());
        let mut all = KVVec::with_capacity(self.len.saturating_add(kept.len()), GFP_KERNEL)?;
        all.extend_from_slice(self.buf.get(..self.len).unwrap_or_default(), GFP_KERNEL)?;
        all.extend_from_slice(kept, GFP_KERNEL)?;
        Ok(all)
    }

    /// Writes `bytes` as they are (cut short like any output).
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) -> fmt::Result {
        let room = self.buf.len().saturating_sub(self.len.saturating_add(1));
        let n = room.min(bytes.len());
        // Both exactly `n` long when present.
        let dst = self.buf.get_mut(self.len..).and_then(|tail| tail.get_mut(..n));
        if let (Some(dst), Some(src)) = (dst, bytes.get(..n)) {
            dst.copy_from_slice(src);
            self.len = self.len.saturating_add(n);
        }
        if let Some(nul) = self.buf.get_mut(self.len) {
            *nul = 0;
        }
        let rest = bytes.get(n..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(());
        }
        let Some(o) = &mut self.overflow else {
            return Err(fmt::Error);
        };
        let fits = self.len.saturating_add(o.bytes.len()).saturating_add(rest.len()) <= o.max;
        if o.cut || !fits || o.bytes.extend_from_slice(rest, GFP_KERNEL).is_err() {
            o.cut = true;
            return Err(fmt::Error);
        }
        Ok(())
    }
}

impl fmt::Write for Emitter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes())
    }
}
