// SPDX-License-Identifier: GPL-2.0
//! Metadata block I/O on the spare device, for the shared format code:
//! reads go through a 64 KiB read-ahead window (blocks alone once a window
//! fails), writes are gathered into 64 KiB batches until the next flush.

use kernel::prelude::*;

use crate::dm::{DmDev, IoBuffer};
use crate::dm_remap_core::commit::MetaWrite;
use crate::dm_remap_core::format::BLOCK;
use crate::dm_remap_core::load::{MetaIo, ReadFailed};

const BLOCK_SECTORS: u64 = (BLOCK / 512) as u64;

/// What the buffer holds.
#[derive(Clone, Copy)]
enum Window {
    Empty,
    /// `len` bytes read from `start`.
    Read {
        start: u64,
        len: usize,
    },
    /// `len` bytes to be written at `start`.
    Write {
        start: u64,
        len: usize,
    },
}

/// Metadata I/O on one spare device through one buffer.
pub(crate) struct SpareIo<'a> {
    dev: &'a DmDev,
    buf: &'a mut IoBuffer,
    window: Window,
    /// A window read failed: read blocks alone from then on (a failing
    /// spare can take seconds per failed read).
    single: bool,
}

impl<'a> SpareIo<'a> {
    pub(crate) fn new(dev: &'a DmDev, buf: &'a mut IoBuffer) -> Self {
        Self { dev, buf, window: Window::Empty, single: false }
    }

    /// Writes out a pending write batch (dropped, not retried, on failure).
    fn submit(&mut self) -> Result {
        if let Window::Write { start, len } = self.window {
            self.window = Window::Empty;
            self.dev.write_sync(start, self.buf, len)?;
        }
        Ok(())
    }
}

impl MetaIo for SpareIo<'_> {
    fn read_block(&mut self, sector: u64, out: &mut [u8]) -> Result<(), ReadFailed> {
        if self.submit().is_err() {
            return Err(ReadFailed);
        }
        let end = sector.checked_add(BLOCK_SECTORS).ok_or(ReadFailed)?;
        let hit = match self.window {
            Window::Read { start, len } => sector >= start && end <= start + (len as u64 >> 9),
            _ => false,
        };
        if !hit {
            let room = self.dev.sectors().saturating_sub(sector).min(IoBuffer::BYTES as u64 >> 9);
            if room < BLOCK_SECTORS {
                return Err(ReadFailed);
            }
            // `room` is at most 128 sectors.
            let len = if self.single { BLOCK } else { (room << 9) as usize };
            self.window = Window::Empty;
            // A bad sector anywhere in the window must not fail a block
            // that reads (the newest copy beside a failed commit's slot):
            // then read the block alone.
            let len = match self.dev.read_sync(sector, self.buf, len) {
                Ok(()) => len,
                Err(_) if len > BLOCK => {
                    self.single = true;
                    self.dev.read_sync(sector, self.buf, BLOCK).map_err(|_| ReadFailed)?;
                    BLOCK
                }
                Err(_) => return Err(ReadFailed),
            };
            self.window = Window::Read { start: sector, len };
        }
        let Window::Read { start, .. } = self.window else {
            return Err(ReadFailed);
        };
        let at = ((sector - start) << 9) as usize;
        let src = self.buf.all().get(at..at + BLOCK).ok_or(ReadFailed)?;
        let dst = out.get_mut(..BLOCK).ok_or(ReadFailed)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

impl MetaWrite for SpareIo<'_> {
    type Error = Error;

    fn write_block(&mut self, sector: u64, block: &[u8]) -> Result {
        let (start, len) = match self.window {
            Window::Write { start, len }
                if start.saturating_add(len as u64 >> 9) == sector && len.saturating_add(BLOCK) <= IoBuffer::BYTES =>
            {
                (start, len)
            }
            _ => {
                self.submit()?;
                (sector, 0)
            }
        };
        let dst = self.buf.all().get_mut(len..len.saturating_add(BLOCK)).ok_or(EINVAL)?;
        dst.copy_from_slice(block.get(..BLOCK).ok_or(EINVAL)?);
        self.window = Window::Write { start, len: len.saturating_add(BLOCK) };
        Ok(())
    }

    fn flush(&mut self) -> Result {
        self.submit()?;
        self.dev.flush()
    }

    fn write_durable(&mut self, sector: u64, block: &[u8]) -> Result {
        self.submit()?;
        let dst = self.buf.all().get_mut(..BLOCK).ok_or(EINVAL)?;
        dst.copy_from_slice(block.get(..BLOCK).ok_or(EINVAL)?);
        self.dev.write_durable(sector, self.buf, BLOCK)
    }
}
