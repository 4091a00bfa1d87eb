/*
 * pollwise-qemu-harness: a virtio-blk-shaped data path on QEMU's own
 * AioContext, to measure QEMU's adaptive polling (aio_poll()) on a real
 * disk without a guest.
 *
 * Copyright (c) 2026 the pollwise authors
 *
 * This program is free software; you can redistribute it and/or modify it
 * under the terms of the GNU General Public License as published by the Free
 * Software Foundation; either version 2 of the License, or (at your option)
 * any later version. It is built inside a QEMU source tree by pollwise's
 * qemu/build.sh and linked with QEMU's libraries (GPL-2.0-or-later).
 *
 * Shape (see qemu/README.md in pollwise):
 *
 *  guest side   numjobs threads, each with iodepth requests in flight. A job
 *               spends --guest-cpu-ns busy per I/O, pushes requests on a
 *               ring (its queue's avail ring) and kicks (writes
 *               the queue's host notifier) only while notifications are
 *               enabled. It waits for completions on its own eventfd (the
 *               irqfd) and reads them from its used list.
 *  virtqueues   max(numjobs, iothreads) queues, as multiqueue virtio-blk
 *               with iothread-vq-mapping: job j uses queue j, queue i is
 *               served by IOThread i % iothreads.
 *  IOThreads    --iothreads threads, each with its own AioContext (and so
 *               its own linux-aio state) running aio_poll(ctx, true) in a
 *               loop, as iothread_run() does. Each queue's host notifier is
 *               its own handler in its IOThread's context, registered
 *               with aio_set_event_notifier() with an io_poll callback and
 *               io_poll_begin/io_poll_end that disable/enable notifications,
 *               as virtio_queue_aio_attach_host_notifier() does. The handler
 *               pops requests like virtio_blk_handle_vq() and submits them
 *               with blk_aio_preadv()/blk_aio_pwritev() on a BlockBackend
 *               opened with driver=file, aio=native, cache.direct=on, so
 *               linux-aio's own completion handler, poll callback and
 *               bottom halves run. Completions notify the job through
 *               defer_call(), as virtio_notify_irqfd() does.
 *
 * Output: one CSV row in pollwise's RunRow columns (source "qemu").
 * With --trace FILE, QEMU's poll_* and run_poll_handlers_* trace events
 * (log backend) are written to FILE; they slow the loop, so measured runs
 * leave them off.
 *
 * With --waits FILE, the first IOThread's iterations in the measured span
 * as CSV block_ns,handler,in_flight,how (the trace `pollwise policy ratio`
 * reads): per aio_poll() call that saw work, the time from the call to the
 * work. The work is seen when an io_poll callback finds a request, a kick
 * is read, or a completion reaches the block layer's callback (linux-aio's
 * own handler has run by then). how says where the wait ends: "seen" (the
 * work as it was seen), "doorbell" (the first work was a kick the guest
 * wrote after the call began, which woke it or met its ppoll(): the wait
 * ends at the kick, stamped by the guest when it wrote the notifier).
 * handler: the queue's index in its IOThread, or the queue count for the
 * completions; in_flight: requests the IOThread had submitted and not yet
 * completed when the call began. Calls that saw no work (a bottom half
 * alone) have no row. It costs a few clock reads and a buffered line per
 * iteration.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qemu/main-loop.h"
#include "qemu/rcu.h"
#include "qemu/thread.h"
#include "qemu/atomic.h"
#include "qemu/event_notifier.h"
#include "qemu/defer-call.h"
#include "qemu/log.h"
#include "qemu/iov.h"
#include "trace/control.h"
#include "block/aio.h"
#include "block/block.h"
#include "system/block-backend.h"
#include "../../util/aio-posix.h"
#include "pollwise-variant.h"

#include "qemu/memalign.h"
#include "qemu/module.h"

#include <getopt.h>
#include <poll.h>

#ifndef PW_HAS_POLL_WEIGHT
#define PW_HAS_POLL_WEIGHT 0
#endif

/* ---- options ------------------------------------------------------------ */

typedef struct Options {
    const char *file;
    const char *dir;
    uint64_t size;
    const char *rw;
    uint64_t bs;
    unsigned numjobs;
    unsigned iodepth;
    uint64_t duration_ms;
    uint64_t warmup_ms;
    uint64_t seed;
    int64_t poll_max_ns;
    int64_t poll_grow;
    int64_t poll_shrink;
    int64_t poll_weight;
    uint64_t guest_cpu_ns;
    unsigned iothreads;
    const char *policy;
    const char *params;
    const char *preset;
    const char *trace;
    const char *windows;
    const char *waits;
    bool header;
} Options;

static Options opt = {
    .size = 256 << 20,
    .rw = "randread",
    .bs = 4096,
    .numjobs = 1,
    .iodepth = 1,
    .duration_ms = 3000,
    .warmup_ms = 500,
    .seed = 1,
    .poll_max_ns = 32768,
    .iothreads = 1,
    .header = true,
};

static bool is_write, is_random;

/* ---- small helpers ------------------------------------------------------ */

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* Voluntary context switches of the calling thread: one per time it slept. */
static uint64_t thread_voluntary_switches(void)
{
    FILE *f = fopen("/proc/thread-self/status", "r");
    char line[256];
    uint64_t v = 0;

    if (!f) {
        return 0;
    }
    while (fgets(line, sizeof(line), f)) {
        if (sscanf(line, "voluntary_ctxt_switches: %" SCNu64, &v) == 1) {
            break;
        }
    }
    fclose(f);
    return v;
}

static void busy_wait_ns(uint64_t ns)
{
    if (ns) {
        uint64_t end = now_ns() + ns;
        while (now_ns() < end) {
            /* guest CPU */
        }
    }
}

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* Log-linear latency histogram: 64 sub-buckets per power of two. */
#define HIST_SUB 64
#define HIST_BUCKETS (64 * HIST_SUB)

typedef struct Hist {
    uint64_t count[HIST_BUCKETS];
    uint64_t n;
    double sum;
} Hist;

static unsigned hist_index(uint64_t v)
{
    if (v < HIST_SUB) {
        return v;
    }
    unsigned msb = 63 - __builtin_clzll(v);
    unsigned sub = (v >> (msb - 6)) & (HIST_SUB - 1);
    return (msb - 5) * HIST_SUB + sub;
}

static uint64_t hist_value(unsigned i)
{
    if (i < HIST_SUB) {
        return i;
    }
    unsigned msb = i / HIST_SUB + 5;
    unsigned sub = i % HIST_SUB;
    /* the middle of the bucket */
    uint64_t lo = ((uint64_t)HIST_SUB + sub) << (msb - 6);
    return lo + ((1ull << (msb - 6)) >> 1);
}

static void hist_add(Hist *h, uint64_t v)
{
    h->count[hist_index(v)]++;
    h->n++;
    h->sum += v;
}

static double hist_pct(const Hist *h, double p)
{
    uint64_t rank, seen = 0;

    if (!h->n) {
        return 0;
    }
    rank = (uint64_t)(p / 100.0 * h->n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->count[i];
        if (seen >= rank) {
            return hist_value(i);
        }
    }
    return 0;
}

/* ---- the virtqueue -------------------------------------------------------- */

typedef struct GuestJob GuestJob;
typedef struct VQ VQ;
typedef struct IoThread IoThread;

typedef struct Req {
    struct Req *next;
    GuestJob *job;
    uint64_t offset;
    uint64_t t_submit;
    int ret;
    QEMUIOVector qiov;
    struct iovec iov;
} Req;

struct GuestJob {
    unsigned id;
    VQ *vq;                     /* the queue this job submits on */
    QemuThread thread;
    EventNotifier irq;          /* the irqfd */
    QemuMutex used_lock;
    Req *used;                  /* completed, not yet reaped */
    uint64_t rng;
    uint64_t blocks;
    unsigned inflight;
    Hist lat;
    uint64_t ios;               /* completions counted in the window */
    uint64_t kicks;
    uint64_t irqs;              /* interrupts raised (IOThread side) */
};

struct VQ {
    EventNotifier host_notifier; /* the guest kicks this */
    QemuMutex avail_lock;
    Req *avail_head, *avail_tail;
    unsigned avail_count;       /* read without the lock by io_poll */
    int notification;           /* 1: the guest must kick */
    bool polling;               /* between io_poll_begin and io_poll_end */
    uint64_t kick_at;           /* --waits: the first kick not yet read */
};

static VQ *vqs;
static unsigned nvqs;
static GuestJob *jobs;
static BlockBackend *blk;

enum { PHASE_WARMUP, PHASE_MEASURE, PHASE_DRAIN, PHASE_STOP };
static int phase;

/* IOThread-side counters, touched only by the IOThread. */
typedef struct LoopStats {
    uint64_t t_start, t_end;
    uint64_t cpu_start, cpu_end;
    uint64_t vcs_start, vcs_end;
    uint64_t iterations;
    uint64_t poll_ns;           /* time busy-polling */
    uint64_t poll_begin_calls;  /* io_poll_begin on the ring */
    uint64_t polled_events;     /* ring events found by polling */
    uint64_t notified_events;   /* ring events found by a kick */
    /* window statistics, time-weighted, over the measured span */
    uint64_t win_last_t;
    uint64_t win_cur;
    double win_weighted;
    uint64_t win_total, win_zero;
    uint64_t abrupt_resets;
    bool measuring;
} LoopStats;

/* The waits file (--waits): the first IOThread's iterations. */
static FILE *waits_out;

/* One IOThread: its context and counters, touched only by its thread. */
struct IoThread {
    unsigned id;
    QemuThread thread;
    AioContext *ctx;
    LoopStats ls;
    /* Per aio_poll() iteration: start of the busy-poll phase, 0 if none. */
    uint64_t it_poll_start;
    /*
     * --waits, per aio_poll() call: when it began, when work was first
     * seen (0: not yet), the kick it read, the handlers with work (bit h:
     * handler h), and the requests submitted and not completed.
     */
    uint64_t it_start, it_seen, it_kick, it_handlers;
    unsigned it_in_flight, in_flight;
};

static IoThread *iothreads;
/* The IOThread the calling thread is (NULL in the guest's threads). */
static __thread IoThread *self;

static FILE *windows_out;

static void poll_phase_end(void)
{
    IoThread *it = self;

    if (it && it->it_poll_start) {
        if (it->ls.measuring) {
            it->ls.poll_ns += now_ns() - it->it_poll_start;
        }
        it->it_poll_start = 0;
    }
}

/* --waits: handler h of the calling IOThread has work now. */
static void work_seen(unsigned h)
{
    IoThread *it = self;

    if (waits_out && it && it->id == 0) {
        if (!it->it_seen) {
            it->it_seen = now_ns();
        }
        it->it_handlers |= 1ull << h;
    }
}

/* --waits: the handler id of queue vq in its IOThread. */
static unsigned vq_handler(VQ *vq);

/* The handler id of the completions: the IOThread's queue count. */
static unsigned aio_handler(void);

/* virtio_queue_set_notification() */
static void vq_set_notification(VQ *vq, int enable)
{
    qatomic_set(&vq->notification, enable);
    if (enable) {
        /* Pairs with the guest's barrier between push and notify check. */
        smp_mb();
    }
}

static Req *vq_pop_all(VQ *vq)
{
    Req *r;

    qemu_mutex_lock(&vq->avail_lock);
    r = vq->avail_head;
    vq->avail_head = vq->avail_tail = NULL;
    qatomic_set(&vq->avail_count, 0);
    qemu_mutex_unlock(&vq->avail_lock);
    return r;
}

static bool vq_empty(VQ *vq)
{
    return qatomic_read(&vq->avail_count) == 0;
}

/* Guest: add requests to the avail ring, then kick if the host wants it. */
static void guest_push(GuestJob *j, Req *first, Req *last, unsigned n)
{
    VQ *vq = j->vq;

    qemu_mutex_lock(&vq->avail_lock);
    if (vq->avail_tail) {
        vq->avail_tail->next = first;
    } else {
        vq->avail_head = first;
    }
    vq->avail_tail = last;
    qatomic_set(&vq->avail_count, vq->avail_count + n);
    qemu_mutex_unlock(&vq->avail_lock);
    smp_mb();
    if (qatomic_read(&vq->notification)) {
        if (waits_out) {
            qatomic_cmpxchg(&vq->kick_at, 0, now_ns());
        }
        event_notifier_set(&vq->host_notifier);
        if (qatomic_read(&phase) == PHASE_MEASURE) {
            j->kicks++;
        }
    }
}

/* ---- IOThread: completions -------------------------------------------------- */

static void irq_notify(void *opaque)
{
    GuestJob *j = opaque;

    if (self && self->ls.measuring) {
        j->irqs++;
    }
    event_notifier_set(&j->irq);
}

static void req_complete(void *opaque, int ret)
{
    Req *r = opaque;
    GuestJob *j = r->job;

    poll_phase_end();
    if (self) {
        work_seen(aio_handler());
        if (self->in_flight) {
            self->in_flight--;
        }
    }
    r->ret = ret;
    qemu_mutex_lock(&j->used_lock);
    r->next = j->used;
    j->used = r;
    qemu_mutex_unlock(&j->used_lock);
    /* One interrupt per job per batch, as virtio_notify_irqfd() defers. */
    defer_call(irq_notify, j);
}

/* ---- IOThread: the virtqueue handler -------------------------------------- */

static void submit(Req *r)
{
    if (self) {
        self->in_flight++;
    }
    if (is_write) {
        blk_aio_pwritev(blk, r->offset, &r->qiov, 0, req_complete, r);
    } else {
        blk_aio_preadv(blk, r->offset, &r->qiov, 0, req_complete, r);
    }
}

/* virtio_blk_handle_vq() */
static void handle_vq(VQ *vq)
{
    defer_call_begin();
    do {
        bool suppress = qatomic_read(&vq->notification);
        Req *r, *next;

        if (suppress) {
            vq_set_notification(vq, 0);
        }
        for (r = vq_pop_all(vq); r; r = next) {
            next = r->next;
            r->next = NULL;
            submit(r);
        }
        if (suppress) {
            vq_set_notification(vq, 1);
        }
    } while (!vq_empty(vq));
    defer_call_end();
}

static VQ *vq_of(void *notifier)
{
    return container_of((EventNotifier *)notifier, VQ, host_notifier);
}

static unsigned vq_handler(VQ *vq)
{
    return (unsigned)(vq - vqs) / opt.iothreads;
}

static unsigned aio_handler(void)
{
    return (nvqs - self->id + opt.iothreads - 1) / opt.iothreads;
}

/* virtio_queue_host_notifier_read() */
static void vq_host_notifier_read(EventNotifier *n)
{
    if (event_notifier_test_and_clear(n)) {
        VQ *vq = vq_of(n);
        uint64_t kick = waits_out ? qatomic_xchg(&vq->kick_at, 0) : 0;

        if (kick > self->it_start && !self->it_kick) {
            self->it_kick = kick;
        }
        work_seen(vq_handler(vq));
        poll_phase_end();
        if (self->ls.measuring) {
            self->ls.notified_events++;
        }
        handle_vq(vq_of(n));
    }
}

/* virtio_queue_host_notifier_aio_poll() */
static bool vq_poll(void *opaque)
{
    VQ *vq = vq_of(opaque);
    bool ready = !vq_empty(vq);

    if (vq->polling && !self->it_poll_start) {
        self->it_poll_start = now_ns();
    }
    if (ready && vq->polling) {
        poll_phase_end();
    }
    if (ready) {
        work_seen(vq_handler(vq));
    }
    return ready;
}

/* virtio_queue_host_notifier_aio_poll_ready() */
static void vq_poll_ready(EventNotifier *n)
{
    if (self->ls.measuring) {
        self->ls.polled_events++;
    }
    work_seen(vq_handler(vq_of(n)));
    handle_vq(vq_of(n));
}

/* virtio_queue_host_notifier_aio_poll_begin() */
static void vq_poll_begin(EventNotifier *n)
{
    if (self->ls.measuring) {
        self->ls.poll_begin_calls++;
    }
    vq_of(n)->polling = true;
    vq_set_notification(vq_of(n), 0);
}

/* virtio_queue_host_notifier_aio_poll_end() */
static void vq_poll_end(EventNotifier *n)
{
    poll_phase_end();
    vq_of(n)->polling = false;
    /* The caller polls once more after this, as QEMU does. */
    vq_set_notification(vq_of(n), 1);
}

/* ---- IOThread: the loop --------------------------------------------------- */

/* The window the next aio_poll() iteration will poll for. */
static uint64_t current_window(AioContext *ctx)
{
#if PW_WINDOW_PER_HANDLER
    AioHandler *node;
    int64_t w = 0;

    QLIST_FOREACH(node, &ctx->poll_aio_handlers, node_poll) {
        w = MAX(w, node->poll.ns);
    }
    return w;
#else
    return ctx->poll_ns;
#endif
}

/*
 * pollwise's core is_abrupt_reset() with PolicyKind::shrink_bound(): a fall
 * below before/divisor that is not the permitted drop to 0 from below the
 * floor. QEMU's rule: divisor max(poll-shrink, 1), floor 4000 (grow start);
 * the weighted rule: divisor poll-shrink (0 means 2), floor 0.
 */
static bool abrupt_reset(uint64_t before, uint64_t after)
{
#if PW_WINDOW_PER_HANDLER
    uint64_t divisor = opt.poll_shrink ? opt.poll_shrink : 1;
    uint64_t floor = 4000;
#else
    uint64_t divisor = opt.poll_shrink ? opt.poll_shrink : 2;
    uint64_t floor = 0;
#endif
    uint64_t gentle = before / divisor;

    return after < gentle && !(after == 0 && gentle < floor);
}

static void window_account(IoThread *it, uint64_t t)
{
    LoopStats *l = &it->ls;
    uint64_t w = current_window(it->ctx);

    if (l->measuring) {
        uint64_t dt = t - l->win_last_t;

        l->win_weighted += (double)l->win_cur * dt;
        l->win_total += dt;
        if (l->win_cur == 0) {
            l->win_zero += dt;
        }
        if (w < l->win_cur && abrupt_reset(l->win_cur, w)) {
            l->abrupt_resets++;
        }
    }
    /* The window file follows the first IOThread. */
    if (windows_out && it->id == 0 && w != l->win_cur) {
        fprintf(windows_out, "%" PRIu64 ",%" PRIu64 "\n", t, w);
    }
    l->win_cur = w;
    l->win_last_t = t;
}

/*
 * --waits: an aio_poll() call begins; a kick stamped before it announced
 * work already waiting, so its stamp is dropped.
 */
static void waits_begin(IoThread *it)
{
    for (unsigned i = it->id; i < nvqs; i += opt.iothreads) {
        qatomic_set(&vqs[i].kick_at, 0);
    }
    it->it_start = now_ns();
    it->it_seen = it->it_kick = it->it_handlers = 0;
    it->it_in_flight = it->in_flight;
}

/* --waits: the row of the aio_poll() call that just returned. */
static void waits_row(IoThread *it)
{
    bool kicked = it->it_kick && it->it_kick <= it->it_seen;
    uint64_t end = kicked ? it->it_kick : it->it_seen;
    const char *sep = "";

    if (!it->it_seen) {
        return;
    }
    fprintf(waits_out, "%" PRIu64 ",", end - it->it_start);
    for (unsigned h = 0; h < 64; h++) {
        if (it->it_handlers & (1ull << h)) {
            fprintf(waits_out, "%s%u", sep, h);
            sep = ";";
        }
    }
    fprintf(waits_out, ",%u,%s\n", it->it_in_flight, kicked ? "doorbell" : "seen");
}

static QemuMutex init_lock;
static QemuCond init_cond;
static unsigned init_done;

/* Queue i is served by IOThread i % iothreads (iothread-vq-mapping). */
static void iothread_attach_queues(IoThread *it)
{
    for (unsigned i = it->id; i < nvqs; i += opt.iothreads) {
        VQ *vq = &vqs[i];

        event_notifier_init(&vq->host_notifier, 0);
        aio_set_event_notifier(it->ctx, &vq->host_notifier,
                               vq_host_notifier_read, vq_poll, vq_poll_ready);
        aio_set_event_notifier_poll(it->ctx, &vq->host_notifier,
                                    vq_poll_begin, vq_poll_end);
        vq_set_notification(vq, 1);
    }
}

static void iothread_phase(IoThread *it, int from, int to)
{
    LoopStats *l = &it->ls;

    if (to >= PHASE_MEASURE && from < PHASE_MEASURE) {
        l->t_start = now_ns();
        l->cpu_start = thread_cpu_ns();
        l->vcs_start = thread_voluntary_switches();
        l->win_last_t = l->t_start;
        l->measuring = true;
    }
    if (to >= PHASE_DRAIN && from < PHASE_DRAIN) {
        window_account(it, now_ns());
        l->measuring = false;
        l->t_end = now_ns();
        l->cpu_end = thread_cpu_ns();
        l->vcs_end = thread_voluntary_switches();
    }
}

static void *iothread_run(void *opaque)
{
    IoThread *it = opaque;
    Error *err = NULL;
    int cur_phase = PHASE_WARMUP;

    self = it;
    rcu_register_thread();
    it->ctx = aio_context_new(&error_abort);
    qemu_set_current_aio_context(it->ctx);
#if PW_HAS_POLL_WEIGHT
    aio_context_set_poll_params(it->ctx, opt.poll_max_ns, opt.poll_grow,
                                opt.poll_shrink, opt.poll_weight, &err);
#else
    aio_context_set_poll_params(it->ctx, opt.poll_max_ns, opt.poll_grow,
                                opt.poll_shrink, &err);
#endif
    if (err) {
        error_report_err(err);
        exit(2);
    }
    iothread_attach_queues(it);

    qemu_mutex_lock(&init_lock);
    init_done++;
    qemu_cond_signal(&init_cond);
    qemu_mutex_unlock(&init_lock);

    it->ls.win_last_t = now_ns();
    for (;;) {
        int p = qatomic_read(&phase);
        uint64_t t;

        if (p != cur_phase) {
            iothread_phase(it, cur_phase, p);
            cur_phase = p;
            if (p == PHASE_STOP) {
                break;
            }
        }
        if (waits_out && it->id == 0) {
            waits_begin(it);
        }
        aio_poll(it->ctx, true);
        poll_phase_end();
        t = now_ns();
        if (it->ls.measuring) {
            it->ls.iterations++;
        }
        if (waits_out && it->id == 0 && it->ls.measuring) {
            waits_row(it);
        }
        window_account(it, t);
    }

    for (unsigned i = it->id; i < nvqs; i += opt.iothreads) {
        aio_set_event_notifier(it->ctx, &vqs[i].host_notifier, NULL, NULL,
                               NULL);
    }
    rcu_unregister_thread();
    return NULL;
}

/* Wakes every IOThread's loop; each reads the phase itself. */
static void wake_iothreads(void);

static void stop_bh(void *opaque)
{
    /* Only wakes the loop; it reads the phase itself. */
}

static void wake_iothreads(void)
{
    for (unsigned i = 0; i < opt.iothreads; i++) {
        aio_bh_schedule_oneshot(iothreads[i].ctx, stop_bh, NULL);
    }
}

/* ---- guest jobs ---------------------------------------------------------- */

static uint64_t next_offset(GuestJob *j, uint64_t *seq)
{
    uint64_t block;

    if (is_random) {
        block = xorshift(&j->rng) % j->blocks;
    } else {
        block = (*seq)++ % j->blocks;
    }
    return block * opt.bs;
}

static void *job_run(void *opaque)
{
    GuestJob *j = opaque;
    uint64_t seq = j->id * (j->blocks / MAX(opt.numjobs, 1));
    Req *first = NULL, *last = NULL;
    unsigned n = 0;

    /* Fill the queue. */
    for (unsigned i = 0; i < opt.iodepth; i++) {
        Req *r = g_new0(Req, 1);
        void *buf = qemu_memalign(4096, opt.bs);

        memset(buf, 0x5a, opt.bs);
        r->job = j;
        r->iov.iov_base = buf;
        r->iov.iov_len = opt.bs;
        qemu_iovec_init_external(&r->qiov, &r->iov, 1);
        busy_wait_ns(opt.guest_cpu_ns);
        r->offset = next_offset(j, &seq);
        r->t_submit = now_ns();
        if (last) {
            last->next = r;
        } else {
            first = r;
        }
        last = r;
        n++;
    }
    j->inflight = n;
    guest_push(j, first, last, n);

    while (j->inflight) {
        Req *done, *r, *next;
        int p;

        /* The vCPU halts until the interrupt. */
        while (!event_notifier_test_and_clear(&j->irq)) {
            struct pollfd pfd = {
                .fd = event_notifier_get_fd(&j->irq), .events = POLLIN,
            };
            poll(&pfd, 1, 1000);
        }
        qemu_mutex_lock(&j->used_lock);
        done = j->used;
        j->used = NULL;
        qemu_mutex_unlock(&j->used_lock);

        p = qatomic_read(&phase);
        first = last = NULL;
        n = 0;
        for (r = done; r; r = next) {
            uint64_t t = now_ns();

            next = r->next;
            r->next = NULL;
            j->inflight--;
            if (r->ret < 0) {
                fprintf(stderr, "I/O error at offset %" PRIu64 ": %s\n",
                        r->offset, strerror(-r->ret));
                exit(1);
            }
            if (p == PHASE_MEASURE) {
                hist_add(&j->lat, t - r->t_submit);
                j->ios++;
            }
            if (p >= PHASE_DRAIN) {
                continue;
            }
            busy_wait_ns(opt.guest_cpu_ns);
            r->offset = next_offset(j, &seq);
            r->t_submit = now_ns();
            if (last) {
                last->next = r;
            } else {
                first = r;
            }
            last = r;
            n++;
        }
        if (n) {
            j->inflight += n;
            guest_push(j, first, last, n);
        }
    }
    return NULL;
}

/* ---- the target file ----------------------------------------------------- */

static char *scratch_path;

static void create_scratch(void)
{
    int fd;
    void *buf;
    const size_t chunk = 1 << 20;
    uint64_t rng = opt.seed | 1;

    scratch_path = g_strdup_printf("%s/pollwise-qemu-%d.img", opt.dir,
                                   (int)getpid());
    fd = open(scratch_path, O_CREAT | O_EXCL | O_WRONLY | O_DIRECT, 0600);
    if (fd < 0) {
        fprintf(stderr, "cannot create %s with O_DIRECT: %s (pick another "
                "--dir on a filesystem that supports O_DIRECT)\n",
                scratch_path, strerror(errno));
        exit(1);
    }
    buf = qemu_memalign(4096, chunk);
    for (uint64_t off = 0; off < opt.size; off += chunk) {
        uint64_t *p = buf;
        for (size_t i = 0; i < chunk / 8; i++) {
            p[i] = xorshift(&rng);
        }
        if (pwrite(fd, buf, chunk, off) != (ssize_t)chunk) {
            fprintf(stderr, "cannot fill %s: %s\n", scratch_path,
                    strerror(errno));
            unlink(scratch_path);
            exit(1);
        }
    }
    fsync(fd);
    close(fd);
    qemu_vfree(buf);
    opt.file = scratch_path;
}

static void remove_scratch(void)
{
    if (scratch_path) {
        unlink(scratch_path);
    }
}

/* ---- main ---------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
"usage: pollwise-qemu-harness (--dir DIR [--size BYTES] | --file PATH) [options]\n"
"  --rw randread|read|randwrite|write   (writes only to a scratch file)\n"
"  --bs BYTES --numjobs N --iodepth N --duration-ms MS --warmup-ms MS\n"
"  --seed N --guest-cpu-ns NS --iothreads N   (queues: max(numjobs, N))\n"
"  --poll-max-ns NS --poll-grow N --poll-shrink N --poll-weight N\n"
"  --policy NAME --params TEXT --preset TEXT   (labels for the row)\n"
"  --trace FILE     QEMU's poll_* / run_poll_handlers_* trace events\n"
"  --windows FILE   the window after each change, as CSV time_ns,window_ns\n"
"  --waits FILE     the first IOThread's waits, as CSV block_ns,handler,\n"
"                   in_flight,how (see the top of the source)\n"
"  --no-header      print the row without the CSV header\n"
"variant: %s\n", PW_VARIANT);
}

static uint64_t parse_u64(const char *name, const char *s)
{
    char *end;
    uint64_t v;

    errno = 0;
    v = strtoull(s, &end, 0);
    if (errno || end == s || *end || s[0] == '-') {
        fprintf(stderr, "--%s: '%s' is not a non-negative integer\n", name, s);
        exit(2);
    }
    return v;
}

static void csv_field(const char *s)
{
    if (strpbrk(s, ",\"\n")) {
        putchar('"');
        for (; *s; s++) {
            if (*s == '"') {
                putchar('"');
            }
            putchar(*s);
        }
        putchar('"');
    } else {
        fputs(s, stdout);
    }
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "file", required_argument, NULL, 'f' },
        { "dir", required_argument, NULL, 'd' },
        { "size", required_argument, NULL, 'S' },
        { "rw", required_argument, NULL, 'r' },
        { "bs", required_argument, NULL, 'b' },
        { "numjobs", required_argument, NULL, 'n' },
        { "iodepth", required_argument, NULL, 'q' },
        { "duration-ms", required_argument, NULL, 'D' },
        { "warmup-ms", required_argument, NULL, 'W' },
        { "seed", required_argument, NULL, 's' },
        { "guest-cpu-ns", required_argument, NULL, 'g' },
        { "iothreads", required_argument, NULL, 'i' },
        { "poll-max-ns", required_argument, NULL, 'm' },
        { "poll-grow", required_argument, NULL, 'G' },
        { "poll-shrink", required_argument, NULL, 'K' },
        { "poll-weight", required_argument, NULL, 'w' },
        { "policy", required_argument, NULL, 'p' },
        { "params", required_argument, NULL, 'P' },
        { "preset", required_argument, NULL, 'R' },
        { "trace", required_argument, NULL, 't' },
        { "windows", required_argument, NULL, 'o' },
        { "waits", required_argument, NULL, 'a' },
        { "no-header", no_argument, NULL, 'H' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    Error *err = NULL;
    QDict *options;
    uint64_t kicks = 0, irqs = 0, ios = 0;
    LoopStats sum = { 0 };
    Hist *lat;
    char *params_buf = NULL;
    int c;

    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f': opt.file = optarg; break;
        case 'd': opt.dir = optarg; break;
        case 'S': opt.size = parse_u64("size", optarg); break;
        case 'r': opt.rw = optarg; break;
        case 'b': opt.bs = parse_u64("bs", optarg); break;
        case 'n': opt.numjobs = parse_u64("numjobs", optarg); break;
        case 'q': opt.iodepth = parse_u64("iodepth", optarg); break;
        case 'D': opt.duration_ms = parse_u64("duration-ms", optarg); break;
        case 'W': opt.warmup_ms = parse_u64("warmup-ms", optarg); break;
        case 's': opt.seed = parse_u64("seed", optarg); break;
        case 'g': opt.guest_cpu_ns = parse_u64("guest-cpu-ns", optarg); break;
        case 'i': opt.iothreads = parse_u64("iothreads", optarg); break;
        case 'm': opt.poll_max_ns = parse_u64("poll-max-ns", optarg); break;
        case 'G': opt.poll_grow = parse_u64("poll-grow", optarg); break;
        case 'K': opt.poll_shrink = parse_u64("poll-shrink", optarg); break;
        case 'w': opt.poll_weight = parse_u64("poll-weight", optarg); break;
        case 'p': opt.policy = optarg; break;
        case 'P': opt.params = optarg; break;
        case 'R': opt.preset = optarg; break;
        case 't': opt.trace = optarg; break;
        case 'o': opt.windows = optarg; break;
        case 'a': opt.waits = optarg; break;
        case 'H': opt.header = false; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc || (!opt.file == !opt.dir)) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(opt.rw, "randread")) {
        is_random = true;
    } else if (!strcmp(opt.rw, "read")) {
    } else if (!strcmp(opt.rw, "randwrite")) {
        is_random = is_write = true;
    } else if (!strcmp(opt.rw, "write")) {
        is_write = true;
    } else {
        fprintf(stderr, "--rw: '%s' is not one of randread, read, randwrite, "
                "write\n", opt.rw);
        return 2;
    }
    if (is_write && !opt.dir) {
        fprintf(stderr, "--rw %s writes: it runs only on a scratch file "
                "(--dir), never on --file\n", opt.rw);
        return 2;
    }
    if (!opt.bs || opt.bs % 512 || !opt.numjobs || !opt.iodepth ||
        !opt.duration_ms || opt.numjobs > 256 || opt.iodepth > 1024 ||
        !opt.iothreads || opt.iothreads > 64) {
        fprintf(stderr, "bad workload: bs must be a non-zero multiple of 512; "
                "numjobs 1..256, iodepth 1..1024, iothreads 1..64, "
                "duration-ms > 0\n");
        return 2;
    }
    if (opt.poll_weight && !PW_HAS_POLL_WEIGHT) {
        fprintf(stderr, "--poll-weight: variant %s has no poll-weight\n",
                PW_VARIANT);
        return 2;
    }
    if (!opt.policy) {
        opt.policy = !strcmp(PW_VARIANT, "stock") ? "qemu" : PW_VARIANT;
    }
    if (!opt.params) {
        if (opt.poll_max_ns == 0 && !strcmp(PW_VARIANT, "stock")) {
            params_buf = g_strdup_printf("poll-max-ns=0 poll-grow=%" PRId64
                                         " poll-shrink=%" PRId64,
                                         opt.poll_grow, opt.poll_shrink);
        } else if (PW_HAS_POLL_WEIGHT) {
            params_buf = g_strdup_printf("poll-max-ns=%" PRId64 " poll-grow=%"
                                         PRId64 " poll-shrink=%" PRId64
                                         " poll-weight=%" PRId64,
                                         opt.poll_max_ns, opt.poll_grow,
                                         opt.poll_shrink, opt.poll_weight);
        } else {
            params_buf = g_strdup_printf("poll-max-ns=%" PRId64 " poll-grow=%"
                                         PRId64 " poll-shrink=%" PRId64,
                                         opt.poll_max_ns, opt.poll_grow,
                                         opt.poll_shrink);
        }
        opt.params = params_buf;
    }
    if (!opt.preset) {
        opt.preset = g_strdup_printf("qemu-%s-%s", QEMU_VERSION, PW_VARIANT);
    }

    if (opt.dir) {
        create_scratch();
        atexit(remove_scratch);
    }

    bdrv_init();
    qemu_init_main_loop(&error_abort);

    if (opt.trace) {
        /* Registers the trace event groups, as qemu-img's main() does. */
        module_call_init(MODULE_INIT_TRACE);
        if (!qemu_set_log_filename(opt.trace, &err)) {
            error_report_err(err);
            return 1;
        }
        trace_enable_events("poll_*");
        trace_enable_events("run_poll_handlers_*");
        qemu_set_log(LOG_TRACE, &error_abort);
    }
    if (opt.windows) {
        windows_out = fopen(opt.windows, "w");
        if (!windows_out) {
            fprintf(stderr, "cannot write %s: %s\n", opt.windows,
                    strerror(errno));
            return 1;
        }
        fprintf(windows_out, "time_ns,window_ns\n");
    }
    if (opt.waits) {
        /* Handler ids are bits of a 64-bit mask: at most 63 queues. */
        if ((MAX(opt.numjobs, opt.iothreads) + opt.iothreads - 1) /
            opt.iothreads > 63) {
            fprintf(stderr, "--waits: at most 63 queues per IOThread "
                    "(numjobs / iothreads)\n");
            return 2;
        }
        waits_out = fopen(opt.waits, "w");
        if (!waits_out) {
            fprintf(stderr, "cannot write %s: %s\n", opt.waits,
                    strerror(errno));
            return 1;
        }
        fprintf(waits_out, "block_ns,handler,in_flight,how\n");
    }

    options = qdict_new();
    qdict_put_str(options, "driver", "file");
    qdict_put_str(options, "aio", "native");
    qdict_put_str(options, "cache.direct", "on");
    qdict_put_str(options, "cache.no-flush", "off");
    qdict_put_str(options, "locking", "off");
    blk = blk_new_open(opt.file, NULL, options,
                       (is_write ? BDRV_O_RDWR : 0) | BDRV_O_NOCACHE |
                       BDRV_O_NATIVE_AIO, &err);
    if (!blk) {
        error_reportf_err(err, "cannot open %s with aio=native, "
                          "cache.direct=on: ", opt.file);
        return 1;
    }
    {
        int64_t len = blk_getlength(blk);
        if (len < (int64_t)opt.bs) {
            fprintf(stderr, "%s is smaller than one block\n", opt.file);
            return 1;
        }
        opt.size = len;
    }

    nvqs = MAX(opt.numjobs, opt.iothreads);
    vqs = g_new0(VQ, nvqs);
    for (unsigned i = 0; i < nvqs; i++) {
        qemu_mutex_init(&vqs[i].avail_lock);
    }
    qemu_mutex_init(&init_lock);
    qemu_cond_init(&init_cond);
    iothreads = g_new0(IoThread, opt.iothreads);
    /*
     * Named as pollwise's own loop names its threads (within the kernel's
     * 15 characters), so that scripts/sched-placement.sh tells the loop
     * from the jobs in the kernel's scheduling events.
     */
    qemu_thread_naming(true);
    for (unsigned i = 0; i < opt.iothreads; i++) {
        char name[32];

        iothreads[i].id = i;
        snprintf(name, sizeof(name), "pollwise-iot%u", i);
        qemu_thread_create(&iothreads[i].thread, name, iothread_run,
                           &iothreads[i], QEMU_THREAD_JOINABLE);
    }
    qemu_mutex_lock(&init_lock);
    while (init_done < opt.iothreads) {
        qemu_cond_wait(&init_cond, &init_lock);
    }
    qemu_mutex_unlock(&init_lock);

    /*
     * The BlockBackend's home is the first IOThread, as virtio-blk sets it
     * with iothread-vq-mapping; every IOThread submits to it (multiqueue
     * block layer) and completes in its own context.
     */
    if (blk_set_aio_context(blk, iothreads[0].ctx, &err) < 0) {
        error_report_err(err);
        return 1;
    }

    jobs = g_new0(GuestJob, opt.numjobs);
    for (unsigned i = 0; i < opt.numjobs; i++) {
        GuestJob *j = &jobs[i];
        j->id = i;
        j->vq = &vqs[i];
        j->rng = (opt.seed * 0x9e3779b97f4a7c15ull) ^ (i + 1) * 0xbf58476d1ce4e5b9ull;
        if (!j->rng) {
            j->rng = 1;
        }
        j->blocks = opt.size / opt.bs;
        event_notifier_init(&j->irq, 0);
        qemu_mutex_init(&j->used_lock);
    }
    for (unsigned i = 0; i < opt.numjobs; i++) {
        char name[32];
        snprintf(name, sizeof(name), "pollwise-job%u", i);
        qemu_thread_create(&jobs[i].thread, name, job_run, &jobs[i],
                           QEMU_THREAD_JOINABLE);
    }

    g_usleep(opt.warmup_ms * 1000);
    qatomic_set(&phase, PHASE_MEASURE);
    wake_iothreads();
    g_usleep(opt.duration_ms * 1000);
    qatomic_set(&phase, PHASE_DRAIN);
    wake_iothreads();
    for (unsigned i = 0; i < opt.numjobs; i++) {
        qemu_thread_join(&jobs[i].thread);
    }
    qatomic_set(&phase, PHASE_STOP);
    wake_iothreads();
    for (unsigned i = 0; i < opt.iothreads; i++) {
        qemu_thread_join(&iothreads[i].thread);
    }
    if (windows_out) {
        fclose(windows_out);
    }
    if (waits_out && fclose(waits_out)) {
        fprintf(stderr, "cannot write %s: %s\n", opt.waits, strerror(errno));
        return 1;
    }
    if (opt.trace) {
        qemu_set_log(0, &error_abort);
    }

    lat = g_new0(Hist, 1);
    for (unsigned i = 0; i < opt.numjobs; i++) {
        GuestJob *j = &jobs[i];
        kicks += j->kicks;
        irqs += j->irqs;
        ios += j->ios;
        for (unsigned b = 0; b < HIST_BUCKETS; b++) {
            lat->count[b] += j->lat.count[b];
        }
        lat->n += j->lat.n;
        lat->sum += j->lat.sum;
    }
    /*
     * CPU, wake-ups, poll time and window time summed over the IOThreads
     * (pollwise divides the CPU by the IOThread count); the span is the
     * first IOThread's.
     */
    sum.t_start = iothreads[0].ls.t_start;
    sum.t_end = iothreads[0].ls.t_end;
    for (unsigned i = 0; i < opt.iothreads; i++) {
        LoopStats *l = &iothreads[i].ls;

        sum.cpu_end += l->cpu_end - l->cpu_start;
        sum.vcs_end += l->vcs_end - l->vcs_start;
        sum.poll_ns += l->poll_ns;
        sum.iterations += l->iterations;
        sum.polled_events += l->polled_events;
        sum.notified_events += l->notified_events;
        sum.poll_begin_calls += l->poll_begin_calls;
        sum.win_weighted += l->win_weighted;
        sum.win_total += l->win_total;
        sum.win_zero += l->win_zero;
        sum.abrupt_resets += l->abrupt_resets;
    }

    /*
     * Raw counts over the measured span, not rates: pollwise turns them
     * into its result row with the same function as for its other backends
     * (pollwise_core::run_row).
     */
    if (opt.header) {
        printf("source,preset,policy,params,rw,bs,numjobs,iodepth,iothreads,"
               "duration_ms,seed,span_ns,completions,kicks,wakeups,cpu_ns,"
               "poll_ns,lat_mean_ns,lat_p50_ns,lat_p99_ns,lat_p999_ns,"
               "window_weighted,window_total_ns,window_zero_ns,"
               "abrupt_resets\n");
    }
    printf("qemu,");
    csv_field(opt.preset);
    putchar(',');
    csv_field(opt.policy);
    putchar(',');
    csv_field(opt.params);
    printf(",%s,%" PRIu64 ",%u,%u,%u,%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
           ",%" PRIu64 ",%.1f,%.1f,%.1f,%.1f,%.0f,%" PRIu64 ",%" PRIu64
           ",%" PRIu64 "\n",
           opt.rw, opt.bs, opt.numjobs, opt.iodepth, opt.iothreads,
           opt.duration_ms, opt.seed, sum.t_end - sum.t_start, ios, kicks,
           sum.vcs_end, sum.cpu_end, sum.poll_ns,
           lat->n ? lat->sum / lat->n : 0.0, hist_pct(lat, 50),
           hist_pct(lat, 99), hist_pct(lat, 99.9), sum.win_weighted,
           sum.win_total, sum.win_zero, sum.abrupt_resets);
    fprintf(stderr, "variant %s: %" PRIu64 " I/Os, %" PRIu64 " iterations, "
            "ring events %" PRIu64 " polled / %" PRIu64 " notified, "
            "io_poll_begin %" PRIu64 ", kicks %" PRIu64 ", irqs %" PRIu64 "\n", PW_VARIANT, ios, sum.iterations,
            sum.polled_events, sum.notified_events, sum.poll_begin_calls, kicks,
            irqs);
    fflush(stdout);
    fflush(stderr);
    remove_scratch();
    _exit(0);
}
