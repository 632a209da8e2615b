// SPDX-License-Identifier: GPL-2.0
//! Writing into the result buffer of a status or message call (`DMEMIT`).

use core::fmt;

/// A bounded writer over a C result buffer that DM allocated.
///
/// Like `DMEMIT`, output that does not fit is cut short; the buffer always
/// stays NUL-terminated, and DM reads a full buffer as a request to retry
/// with a larger one.
pub(crate) struct Emitter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl<'a> Emitter<'a> {
    /// Wraps `buf` (the whole buffer, terminator included) and empties it.
    pub(super) fn new(buf: &'a mut [u8]) -> Self {
        if let Some(first) = buf.first_mut() {
            *first = 0;
        }
        Self { buf, len: 0 }
    }

    /// Bytes written (without the terminator).
    pub(super) fn len(&self) -> usize {
        self.len
    }
}

impl fmt::Write for Emitter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // Room left before the terminator.
        let room = self.buf.len().saturating_sub(self.len + 1);
        let n = room.min(s.len());
        let end = self.len + n;
        if let (Some(dst), Some(src)) = (self.buf.get_mut(self.len..end), s.as_bytes().get(..n)) {
            dst.copy_from_slice(src);
            self.len = end;
        }
        if let Some(nul) = self.buf.get_mut(self.len) {
            *nul = 0;
        }
        if n == s.len() {
            Ok(())
        } else {
            Err(fmt::Error)
        }
    }
}
