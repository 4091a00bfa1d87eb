//! Page-aligned I/O buffers for O_DIRECT: one allocation split into
//! equal slots, one per request slot of every job.

use std::alloc::{alloc_zeroed, dealloc, Layout};

/// Alignment of every slot: a page, which satisfies any logical block size
/// up to 4096 and every device's DMA alignment.
pub const ALIGN: usize = 4096;

/// `slots` buffers of `slot_len` bytes each. The memory is written by the
/// kernel (reads) and read by it (writes) while requests are in flight, so
/// it is only handed out as raw pointers; nobody forms references to it.
pub struct BufferPool {
    ptr: *mut u8,
    layout: Layout,
    slot_len: usize,
    slots: usize,
}

// SAFETY: the pool only hands out raw pointers to disjoint slots; the owner
// of a slot (one request at a time) is the only user of its bytes.
unsafe impl Send for BufferPool {}
unsafe impl Sync for BufferPool {}

impl BufferPool {
    /// Allocates `slots` zero-filled buffers of `slot_len` bytes (rounded up
    /// to the alignment), each filled with a non-zero pattern so writes do
    /// not send all-zero blocks a device might shortcut.
    pub fn new(slots: usize, slot_len: usize) -> Result<BufferPool, String> {
        let slot_len = slot_len.div_ceil(ALIGN) * ALIGN;
        let size = slots
            .checked_mul(slot_len)
            .filter(|&s| s > 0)
            .ok_or_else(|| {
                format!("buffer pool of {slots} x {slot_len} bytes is not allocatable")
            })?;
        let layout = Layout::from_size_align(size, ALIGN).map_err(|e| e.to_string())?;
        // SAFETY: layout has non-zero size.
        let ptr = unsafe { alloc_zeroed(layout) };
        if ptr.is_null() {
            return Err(format!(
                "out of memory allocating {size} bytes of I/O buffers"
            ));
        }
        // SAFETY: ptr is valid for `size` bytes and not yet shared.
        unsafe {
            for i in 0..size {
                *ptr.add(i) = (i % 251) as u8 | 1;
            }
        }
        Ok(BufferPool {
            ptr,
            layout,
            slot_len,
            slots,
        })
    }

    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The start of slot `i`, aligned to [`ALIGN`].
    pub fn slot_ptr(&self, i: usize) -> *mut u8 {
        assert!(i < self.slots, "buffer slot {i} out of {}", self.slots);
        // SAFETY: i * slot_len is within the allocation.
        unsafe { self.ptr.add(i * self.slot_len) }
    }
}

impl Drop for BufferPool {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe { dealloc(self.ptr, self.layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_aligned_and_disjoint() {
        let pool = BufferPool::new(3, 1000).unwrap();
        assert_eq!(pool.slots(), 3);
        for i in 0..3 {
            assert_eq!(pool.slot_ptr(i) as usize % ALIGN, 0);
        }
        // 1000 bytes round up to one page per slot.
        assert_eq!(pool.slot_ptr(1) as usize - pool.slot_ptr(0) as usize, 4096);
    }

    #[test]
    fn empty_pool_is_an_error() {
        assert!(BufferPool::new(0, 4096).is_err());
    }
}
