/*
 * One io_uring instance per thread, for the relay's copy path (relay.c), made with raw syscalls
 * (no liburing): the ring's descriptor is watched by one libuv poll handle (readable when
 * completions are waiting), so a wakeup reaps every completion from shared memory and sends
 * everything it queued in one io_uring_enter. What JavaScript queues meanwhile (relayStart,
 * relayClose) goes out from a prepare handle, just before the loop waits.
 *
 * Setup flags: IORING_SETUP_SINGLE_ISSUER (only this thread submits) and IORING_SETUP_COOP_TASKRUN
 * (no interrupt to run completion work while the thread runs: it runs at its next syscall), with
 * SUBMIT_ALL and a large completion queue; a kernel that refuses them gets a plain ring. Not
 * IORING_SETUP_DEFER_TASKRUN: its completion work waits for the next io_uring_enter, and the
 * ring's descriptor does not turn readable for it when the data arrives from another context
 * (measured on 6.18: an epoll_wait on the ring sleeps through it). A registered eventfd does wake
 * libuv for it (tried in session 8: the eventfd polled instead of the ring, drained per wakeup,
 * every io_uring_enter with GETEVENTS to run the deferred work, TASKRUN_FLAG to see more pending),
 * but it cost 1.66x the CPU per keepalive request of this setup (median of 5 rounds; 1.01x per
 * short connection) and 0.38 syscalls per request against 0.07. Not SQPOLL (a kernel thread
 * spinning on the queue costs a core).
 *
 * Provided buffers: a buffer ring (IORING_REGISTER_PBUF_RING, Linux 5.19) of KP_RING_BUFS buffers
 * (env KPATH_RELAY_BUFS: another power of two) of KP_RING_BUF_SIZE bytes each; a receive takes one
 * only when data is there, so idle connections hold none; one that finds none waits (relay.c). Any failure here (ENOSYS on an old kernel or under seccomp, EPERM with
 * kernel.io_uring_disabled, EINVAL) leaves the ring unused and the relay on epoll.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"
#include "reactor.h"
#include "ring_map.h"
#include "uring.h"

/* Newer than the 6.1 header we build against: */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12) /* Linux 6.0 */
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8) /* Linux 5.19 */
#endif

#define KP_RING_SQ 1024
#define KP_RING_CQ 4096
#define KP_RING_BUFS 128 /* default; a power of two; buffers are held only while a send is under way */
#define KP_RING_ROUNDS 32 /* reap/submit rounds per wakeup before yielding to the rest of the loop */

static __thread int ring_fd = -1;
static __thread int opened = 0; /* 1: usable; -errno: failed */
static __thread char why[96] = "not tried";
static __thread kp_ring_cqe_fn on_cqe;
static __thread kp_ring_batch_fn on_batch_end;
static __thread uv_poll_t poll_handle;
static __thread uv_prepare_t prepare_handle;
static __thread int holds = 0, refd = 0, running = 0;

/* The ring's queues (ring_map.h), and where ours stand in the submission queue. */
static __thread struct kp_ring_map q;
static __thread unsigned sq_entries;
static __thread unsigned sq_tail;      /* ours: entries queued up to here */
static __thread unsigned sq_published; /* written to the kernel's tail */
/* Provided buffers */
static __thread struct io_uring_buf_ring *br;
static __thread char *bufs;
static __thread unsigned br_tail;
static __thread unsigned n_bufs = KP_RING_BUFS; /* KPATH_RELAY_BUFS: a power of two, 1..32768 */

static int enter(unsigned to_submit, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, ring_fd, to_submit, 0, flags, NULL, 0);
}

/* Hand the queued entries to the kernel. */
static int submit(void) {
  while (sq_published != sq_tail) {
    atomic_store_explicit((_Atomic unsigned *)q.sq_ktail, sq_tail, memory_order_release);
    unsigned n = sq_tail - sq_published;
    int r = enter(n, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -errno; /* EBUSY/EAGAIN: completions must be reaped first; the entries stay queued */
    }
    sq_published += (unsigned)r;
    if (r == 0) return -EAGAIN;
  }
  return 0;
}

int kp_ring_reserve(unsigned n) {
  unsigned head = atomic_load_explicit((_Atomic unsigned *)q.sq_khead, memory_order_acquire);
  if (sq_tail - head + n <= sq_entries) return 0;
  int r = submit();
  head = atomic_load_explicit((_Atomic unsigned *)q.sq_khead, memory_order_acquire);
  if (sq_tail - head + n <= sq_entries) return 0;
  return r < 0 ? r : -EBUSY;
}

struct io_uring_sqe *kp_ring_sqe(void) {
  if (opened != 1 || kp_ring_reserve(1) != 0) return NULL;
  struct io_uring_sqe *e = &q.sqes[sq_tail & q.sq_mask];
  memset(e, 0, sizeof *e);
  sq_tail++;
  return e;
}

char *kp_ring_buf(unsigned bid) { return bufs + (size_t)bid * KP_RING_BUF_SIZE; }

unsigned kp_ring_nbufs(void) { return n_bufs; }

void kp_ring_buf_put(unsigned bid) {
  struct io_uring_buf *b = &br->bufs[br_tail & (n_bufs - 1)];
  b->addr = (uint64_t)(uintptr_t)kp_ring_buf(bid);
  b->len = KP_RING_BUF_SIZE;
  b->bid = (uint16_t)bid;
  br_tail++;
  atomic_store_explicit((_Atomic uint16_t *)&br->tail, (uint16_t)br_tail, memory_order_release);
}

/* Reap every completion, submit what that queued, and again, until both are empty (or a bound). */
static void run(void) {
  if (running) return;
  running = 1;
  for (int round = 0; round < KP_RING_ROUNDS; round++) {
    unsigned head = *q.cq_khead;
    unsigned tail = atomic_load_explicit((_Atomic unsigned *)q.cq_ktail, memory_order_acquire);
    int handled = head != tail;
    while (head != tail) {
      struct io_uring_cqe *c = &q.cqes[head & q.cq_mask];
      uint64_t ud = c->user_data;
      int32_t res = c->res;
      uint32_t flags = c->flags;
      head++;
      atomic_store_explicit((_Atomic unsigned *)q.cq_khead, head, memory_order_release);
      if (ud != 0) on_cqe(ud, res, flags);
      if (head == tail) tail = atomic_load_explicit((_Atomic unsigned *)q.cq_ktail, memory_order_acquire);
    }
    if (handled && on_batch_end) on_batch_end();
    if (sq_published != sq_tail) {
      submit();
      continue; /* what completed inline is in the queue now */
    }
    if (atomic_load_explicit((_Atomic unsigned *)q.cq_ktail, memory_order_acquire) == *q.cq_khead) break;
  }
  running = 0;
}

static void on_ready(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)events;
  if (status < 0) return;
  run();
}

/* Before the loop waits: send what callbacks and JavaScript queued since the last wakeup, and take
 * what completed at once (a receive of data that was already there). */
static void on_prepare(uv_prepare_t *h) {
  (void)h;
  if (sq_published != sq_tail) run();
}

void kp_ring_hold(int delta) {
  holds += delta;
  if (opened != 1) return;
  kp_ref_while_held((uv_handle_t *)&poll_handle, holds, &refd);
}

const char *kp_ring_why(void) { return why; }

static int give_up(const char *what, int e) {
  snprintf(why, sizeof why, "%s: %s", what, kp_errname(e));
  if (ring_fd >= 0) close(ring_fd); /* unmaps nothing: the mappings below are left (a few pages) */
  ring_fd = -1;
  opened = -e;
  return -e;
}

int kp_ring_in_batch(void) { return running; }

int kp_ring_open(uv_loop_t *loop, kp_ring_cqe_fn fn, kp_ring_batch_fn batch_end) {
  if (opened != 0) return opened == 1 ? 0 : opened;
  struct io_uring_params p;
  unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN | IORING_SETUP_SUBMIT_ALL, 0};
  for (int i = 0; i < 2; i++) {
    memset(&p, 0, sizeof p);
    p.flags = tries[i] | IORING_SETUP_CQSIZE;
    p.cq_entries = KP_RING_CQ;
    ring_fd = (int)syscall(__NR_io_uring_setup, KP_RING_SQ, &p);
    if (ring_fd >= 0 || errno != EINVAL) break;
  }
  if (ring_fd < 0) return give_up("io_uring_setup", errno);
  if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_NODROP))
    return give_up("io_uring features", ENOSYS);
  const char *failed = kp_ring_map(ring_fd, &p, &q);
  if (failed) return give_up(failed, errno);
  sq_entries = p.sq_entries;
  sq_tail = sq_published = *q.sq_ktail;

  /* The buffer ring and its buffers: untouched pages cost nothing until a receive uses them. */
  const char *nb = getenv("KPATH_RELAY_BUFS");
  if (nb && *nb) {
    char *end;
    unsigned long v = strtoul(nb, &end, 10);
    if (*end || v < 1 || v > 32768 || (v & (v - 1))) return give_up("KPATH_RELAY_BUFS (a power of two, 1..32768)", EINVAL);
    n_bufs = (unsigned)v;
  }
  size_t br_len = n_bufs * sizeof(struct io_uring_buf);
  void *b = mmap(NULL, br_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (b == MAP_FAILED) return give_up("mmap buffer ring", errno);
  br = b;
  void *data = mmap(NULL, (size_t)n_bufs * KP_RING_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                    -1, 0);
  if (data == MAP_FAILED) return give_up("mmap buffers", errno);
  bufs = data;
  struct io_uring_buf_reg reg;
  memset(&reg, 0, sizeof reg);
  reg.ring_addr = (uint64_t)(uintptr_t)br;
  reg.ring_entries = n_bufs;
  reg.bgid = KP_RING_BGID;
  if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
    return give_up("IORING_REGISTER_PBUF_RING", errno);
  br_tail = 0;
  for (unsigned i = 0; i < n_bufs; i++) kp_ring_buf_put(i);

  int r = uv_poll_init(loop, &poll_handle, ring_fd);
  if (r == 0) r = uv_poll_start(&poll_handle, UV_READABLE, on_ready);
  if (r == 0) r = uv_prepare_init(loop, &prepare_handle);
  if (r == 0) r = uv_prepare_start(&prepare_handle, on_prepare);
  if (r != 0) return give_up("uv_poll_init", -r);
  uv_unref((uv_handle_t *)&poll_handle);
  uv_unref((uv_handle_t *)&prepare_handle);
  on_cqe = fn;
  on_batch_end = batch_end;
  opened = 1;
  snprintf(why, sizeof why, "io_uring (flags 0x%x, %u/%u entries, %u buffers of %u bytes)", p.flags, p.sq_entries,
           p.cq_entries, n_bufs, KP_RING_BUF_SIZE);
  refd = 0;
  kp_ring_hold(0);
  return 0;
}
