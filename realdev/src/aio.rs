//! Linux native AIO (`io_setup`/`io_submit`/`io_getevents`/`io_destroy`)
//! through raw syscalls, with the completion ring read in user space as
//! QEMU's `aio=native` backend does (`block/linux-aio.c`,
//! `io_getevents_peek`/`io_getevents_commit`), so the loop's poll handler can
//! see completions without a system call.
//!
//! glibc has no wrappers for these calls and libaio is not a dependency, so
//! the ABI structures of `<linux/aio_abi.h>` are reproduced here.

use std::io;
use std::sync::atomic::{fence, AtomicU32, Ordering};

/// `IOCB_CMD_PREAD` / `IOCB_CMD_PWRITE` of `<linux/aio_abi.h>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u16)]
pub enum Opcode {
    Read = 0,
    Write = 1,
}

/// `IOCB_FLAG_RESFD`: signal `aio_resfd` (an eventfd) on completion.
const IOCB_FLAG_RESFD: u32 = 1;

/// `struct iocb` on a little-endian machine (`aio_key` before
/// `aio_rw_flags`). Only little-endian Linux is supported; see the
/// compile-time check below.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub struct Iocb {
    pub aio_data: u64,
    pub aio_key: u32,
    pub aio_rw_flags: i32,
    pub aio_lio_opcode: u16,
    pub aio_reqprio: i16,
    pub aio_fildes: u32,
    pub aio_buf: u64,
    pub aio_nbytes: u64,
    pub aio_offset: i64,
    pub aio_reserved2: u64,
    pub aio_flags: u32,
    pub aio_resfd: u32,
}

#[cfg(not(all(target_os = "linux", target_endian = "little")))]
compile_error!("the AIO adapter needs little-endian Linux (struct iocb layout)");

const _: () = assert!(std::mem::size_of::<Iocb>() == 64);

impl Iocb {
    /// A read or write of `len` bytes at `offset` into/from `buf`, tagged
    /// with `data` (returned in the completion), signalling `resfd`.
    pub fn new(
        op: Opcode,
        fd: i32,
        buf: *mut u8,
        len: u64,
        offset: u64,
        data: u64,
        resfd: i32,
    ) -> Iocb {
        Iocb {
            aio_data: data,
            aio_lio_opcode: op as u16,
            aio_fildes: fd as u32,
            aio_buf: buf as u64,
            aio_nbytes: len,
            aio_offset: offset as i64,
            aio_flags: IOCB_FLAG_RESFD,
            aio_resfd: resfd as u32,
            ..Iocb::default()
        }
    }
}

/// `struct io_event`: one completion. `res` is the byte count or `-errno`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct IoEvent {
    pub data: u64,
    pub obj: u64,
    pub res: i64,
    pub res2: i64,
}

/// The header of the completion ring the kernel maps at the address
/// `io_setup` returns as the context id (`struct aio_ring` in fs/aio.c).
#[repr(C)]
struct RingHeader {
    id: u32,
    nr: u32,
    head: u32,
    tail: u32,
    magic: u32,
    compat_features: u32,
    incompat_features: u32,
    header_length: u32,
}

const AIO_RING_MAGIC: u32 = 0xa10a10a1;

/// One AIO context. Dropping it destroys the context (`io_destroy`, which
/// waits for requests still in flight), so no exit path leaks one.
pub struct AioContext {
    ctx: libc::c_ulong,
    /// Whether the user-space ring layout is the one we know; otherwise every
    /// reap goes through `io_getevents`.
    ring_ok: bool,
    /// Completions fetched by `io_getevents` in fallback mode, not yet taken.
    pending: Vec<IoEvent>,
}

// The context is a kernel handle; the ring is only touched by the owning
// thread (`&mut self` for every read or write of `head`).
unsafe impl Send for AioContext {}

impl AioContext {
    /// Creates a context able to hold `nr` requests in flight.
    pub fn new(nr: u32) -> io::Result<AioContext> {
        let mut ctx: libc::c_ulong = 0;
        // SAFETY: io_setup writes the context id into `ctx`.
        let rc = unsafe { libc::syscall(libc::SYS_io_setup, nr as libc::c_long, &mut ctx) };
        if rc < 0 {
            let err = io::Error::last_os_error();
            return Err(match err.raw_os_error() {
                Some(libc::EAGAIN) => io::Error::new(
                    err.kind(),
                    format!(
                        "io_setup({nr}): the system-wide AIO request limit is reached \
                         (see /proc/sys/fs/aio-nr and /proc/sys/fs/aio-max-nr): {err}"
                    ),
                ),
                Some(libc::ENOSYS) => io::Error::new(
                    err.kind(),
                    "io_setup: this kernel has no native AIO (CONFIG_AIO is off)",
                ),
                _ => io::Error::new(err.kind(), format!("io_setup({nr}): {err}")),
            });
        }
        let mut me = AioContext {
            ctx,
            ring_ok: false,
            pending: Vec::new(),
        };
        me.ring_ok = me.ring_layout_known();
        Ok(me)
    }

    /// Whether completions are read from the shared ring without a system
    /// call (false means the `io_getevents` fallback is in use).
    pub fn user_space_ring(&self) -> bool {
        self.ring_ok
    }

    fn header(&self) -> *mut RingHeader {
        self.ctx as *mut RingHeader
    }

    fn ring_layout_known(&self) -> bool {
        let h = self.header();
        // SAFETY: the kernel maps at least one page of ring at the context
        // address; the header fields are read only, once, here.
        unsafe {
            std::ptr::read_volatile(&(*h).magic) == AIO_RING_MAGIC
                && std::ptr::read_volatile(&(*h).incompat_features) == 0
                && std::ptr::read_volatile(&(*h).header_length) as usize
                    == std::mem::size_of::<RingHeader>()
                && std::ptr::read_volatile(&(*h).nr) > 0
        }
    }

    fn head_tail(&self) -> (u32, u32, u32) {
        let h = self.header();
        // SAFETY: head and tail are 4-byte aligned u32s in the shared ring;
        // the kernel writes tail concurrently, so both are read atomically.
        unsafe {
            let nr = std::ptr::read_volatile(&(*h).nr);
            let head =
                (*(std::ptr::addr_of!((*h).head) as *const AtomicU32)).load(Ordering::Relaxed);
            let tail =
                (*(std::ptr::addr_of!((*h).tail) as *const AtomicU32)).load(Ordering::Acquire);
            (nr, head, tail)
        }
    }

    /// The poll handler: how many completions are ready. With the known ring
    /// layout this is two loads and no system call.
    pub fn ready(&mut self) -> usize {
        if self.ring_ok {
            let (nr, head, tail) = self.head_tail();
            if tail >= head {
                (tail - head) as usize
            } else {
                (nr - head + tail) as usize
            }
        } else {
            if self.pending.is_empty() {
                let mut buf = [IoEvent::default(); 64];
                if let Ok(n) = self.getevents(0, &mut buf, Some(std::time::Duration::ZERO)) {
                    self.pending.extend_from_slice(&buf[..n]);
                }
            }
            self.pending.len()
        }
    }

    /// Moves every ready completion into `out`; returns how many.
    pub fn reap(&mut self, out: &mut Vec<IoEvent>) -> usize {
        if !self.ring_ok {
            self.ready();
            let n = self.pending.len();
            out.append(&mut self.pending);
            return n;
        }
        let mut total = 0;
        loop {
            let (nr, head, tail) = self.head_tail();
            if head == tail {
                return total;
            }
            // Up to the end of the ring first, as QEMU does; the loop picks
            // up the wrapped part.
            let n = if tail > head { tail - head } else { nr - head };
            // SAFETY: events start right after the header; indices head..head+n
            // are below nr and were published by the kernel before `tail`
            // (the Acquire load above pairs with its smp_wmb).
            unsafe {
                let events = (self.header() as *const u8).add(std::mem::size_of::<RingHeader>())
                    as *const IoEvent;
                for i in head..head + n {
                    out.push(std::ptr::read_volatile(events.add(i as usize)));
                }
            }
            // The slots are free only after the events were copied out.
            fence(Ordering::Release);
            let new_head = (head + n) % nr;
            // SAFETY: as in head_tail; only this thread writes head.
            unsafe {
                (*(std::ptr::addr_of!((*self.header()).head) as *const AtomicU32))
                    .store(new_head, Ordering::Release);
            }
            total += n as usize;
        }
    }

    /// Submits requests; returns how many the kernel took (possibly fewer
    /// than given). `Ok(0)` with requests given means the kernel is out of
    /// resources (EAGAIN): reap and retry. An error refers to the first
    /// request: the caller fails it and submits the rest.
    ///
    /// # Safety
    /// Every iocb's buffer must stay valid and unmoved until its completion
    /// is reaped or the context is dropped. The iocbs themselves may be
    /// reused once this returns.
    pub unsafe fn submit(&self, iocbs: &mut [*mut Iocb]) -> io::Result<usize> {
        if iocbs.is_empty() {
            return Ok(0);
        }
        loop {
            let rc = libc::syscall(
                libc::SYS_io_submit,
                self.ctx,
                iocbs.len() as libc::c_long,
                iocbs.as_mut_ptr(),
            );
            if rc >= 0 {
                return Ok(rc as usize);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Ok(0),
                _ => return Err(err),
            }
        }
    }

    /// `io_getevents`: waits for at least `min_nr` completions (none with a
    /// zero timeout), up to `out.len()`. EINTR is retried. Used for draining
    /// at shutdown and as the fallback when the ring layout is unknown.
    pub fn getevents(
        &self,
        min_nr: usize,
        out: &mut [IoEvent],
        timeout: Option<std::time::Duration>,
    ) -> io::Result<usize> {
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs() as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(std::ptr::null(), |t| t as *const libc::timespec);
        loop {
            // SAFETY: `out` has room for out.len() events; ts_ptr is null or
            // points to a live timespec.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_io_getevents,
                    self.ctx,
                    min_nr as libc::c_long,
                    out.len() as libc::c_long,
                    out.as_mut_ptr(),
                    ts_ptr,
                )
            };
            if rc >= 0 {
                return Ok(rc as usize);
            }
            let err = io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EINTR) {
                return Err(err);
            }
        }
    }

    /// Completions reaped from `pending`/the ring first, then by waiting in
    /// the kernel until `want` more arrived in total. Used at shutdown.
    pub fn wait_for(&mut self, want: usize, out: &mut Vec<IoEvent>) -> io::Result<()> {
        let mut got = self.reap(out);
        let mut buf = [IoEvent::default(); 64];
        while got < want {
            let n = self.getevents(1, &mut buf[..(want - got).min(64)], None)?;
            out.extend_from_slice(&buf[..n]);
            got += n;
        }
        Ok(())
    }
}

impl Drop for AioContext {
    fn drop(&mut self) {
        // SAFETY: the context is ours; io_destroy waits for in-flight
        // requests, so their buffers are no longer written afterwards.
        unsafe {
            libc::syscall(libc::SYS_io_destroy, self.ctx);
        }
    }
}
