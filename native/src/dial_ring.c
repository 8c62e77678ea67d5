/*
 * The dial through io_uring (tcp_sockets.c's tcpConnect): a socket's two options, its bind and its
 * connect go to the kernel as one linked submission, one io_uring_enter instead of five syscalls
 * (IP_BIND_ADDRESS_NO_PORT and TCP_NODELAY as IORING_OP_URING_CMD setsockopts, Linux 6.7;
 * IORING_OP_BIND, 6.11; IORING_OP_CONNECT), and the connect's completion says whether the
 * handshake is done, where the syscall path reads TCP_INFO for it. On loopback the kernel runs the
 * whole handshake inside the connect (the SYN-ACK waits in the socket's backlog until the socket
 * lock is released, and is processed then), so the ring's connect finds the socket writable at
 * once and its completion is in the completion queue when io_uring_enter returns: the dial stays
 * synchronous, and JavaScript hears nothing more than before. (The socket itself is made by
 * socket(2): IORING_OP_SOCKET returns a descriptor only in its completion, so the ops after it
 * could not name it, except as a direct descriptor, which would need installing and releasing: two
 * more requests.)
 *
 * The ring is the dial's and the accept's (below) alone, one per thread, and used only
 * synchronously: nothing stays in it between calls, and libuv never polls it (the relay's ring, uring.c, carries completions that
 * must not be handled inside a JavaScript call). A connect that does not finish at once (the
 * listener dropped the SYN: its accept queue is full) has its ring request cancelled; the socket
 * goes on connecting, and tcp_sockets.c waits for it as on the syscall path.
 *
 * Measured on 6.18 (a C loop dialling a loopback listener, 30,000 dials x 5 alternating runs):
 * 28.0 us of CPU per dial (accept and close included) against 31.3 us for the syscalls.
 *
 * Env KPATH_DIAL=syscalls keeps the syscalls; a kernel without one of the opcodes (probed at setup,
 * IORING_REGISTER_PROBE), io_uring refused (seccomp, kernel.io_uring_disabled) or any setup error
 * does too, saying why (tcpDialEngine()).
 */
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "addon.h"
#include "ring_map.h"
#include "dial_ring.h"

/* Newer than the 6.1 header we build against (include/uapi/linux/io_uring.h's enum io_uring_op and
 * the socket uring_cmd's cmd_op values): */
#define KP_OP_BIND 56                 /* Linux 6.11 */
#define KP_SOCKET_URING_OP_SETSOCKOPT 3 /* Linux 6.7 */
#ifndef IORING_SETUP_SINGLE_ISSUER
#define IORING_SETUP_SINGLE_ISSUER (1U << 12)
#endif
#ifndef IORING_SETUP_COOP_TASKRUN
#define IORING_SETUP_COOP_TASKRUN (1U << 8)
#endif
#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define KP_DIAL_SQ 32 /* room for a batch of accepts (KP_ACCEPT_BATCH) */
#ifndef IORING_ACCEPT_DONTWAIT
#define IORING_ACCEPT_DONTWAIT (1U << 1) /* Linux 6.10 */
#endif
enum { STEP_NOPORT = 1, STEP_NODELAY = 2, STEP_BIND = 3, STEP_CONNECT = 4, STEP_CANCEL = 5 };

static __thread int ring_fd = -1;
static __thread int state = -1; /* -1 not decided yet; 0 syscalls; 1 the ring */
static __thread char why[160] = "not tried";
/* The ring's queues (ring_map.h). */
static __thread struct kp_ring_map q;
static __thread unsigned sq_tail;
static __thread uint64_t seq;
static __thread uint64_t dials, slow; /* dials through the ring; of them, connects that did not finish at once */
static __thread int accept_on = -1;    /* accepts through the ring: -1 not tried yet, 0 the kernel refused them */
static __thread double accepted, accept_batches;
static __thread unsigned accept_bad_bit; /* tests: KPATH_TEST_ACCEPT_EINVAL=1 */

static int enter(unsigned to_submit, unsigned min_complete, unsigned flags) {
  return (int)syscall(__NR_io_uring_enter, ring_fd, to_submit, min_complete, flags, NULL, 0);
}

static int give_up(const char *what, int e) {
  if (e) snprintf(why, sizeof why, "syscalls: io_uring unavailable (%s: %s)", what, kp_errname(e));
  else snprintf(why, sizeof why, "syscalls: %s", what);
  if (ring_fd >= 0) close(ring_fd); /* the mappings stay (a few pages) */
  ring_fd = -1;
  state = 0;
  return 0;
}

static int supported(const struct io_uring_probe *p, unsigned op) {
  return op <= p->last_op && op < p->ops_len && (p->ops[op].flags & IO_URING_OP_SUPPORTED);
}

static int open_ring(void) {
  struct io_uring_params p;
  unsigned tries[] = {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_COOP_TASKRUN, 0};
  for (int i = 0; i < 2; i++) {
    memset(&p, 0, sizeof p);
    p.flags = tries[i];
    ring_fd = (int)syscall(__NR_io_uring_setup, KP_DIAL_SQ, &p);
    if (ring_fd >= 0 || errno != EINVAL) break;
  }
  if (ring_fd < 0) return give_up("io_uring_setup", errno);
  if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_NODROP))
    return give_up("io_uring features", ENOSYS);
  size_t probe_len = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
  struct io_uring_probe *probe = calloc(1, probe_len);
  if (!probe) return give_up("probe", ENOMEM);
  if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PROBE, probe, 256) < 0) {
    int e = errno;
    free(probe);
    return give_up("IORING_REGISTER_PROBE", e);
  }
  /* Tests only: KPATH_TEST_DIAL_PROBE=nobind answers as a kernel before 6.11 would. */
  const char *t = getenv("KPATH_TEST_DIAL_PROBE");
  int nobind = t && strcmp(t, "nobind") == 0;
  const char *missing = !supported(probe, KP_OP_BIND) || nobind ? "IORING_OP_BIND (Linux 6.11)"
                        : !supported(probe, IORING_OP_URING_CMD)  ? "IORING_OP_URING_CMD (Linux 5.19)"
                        : !supported(probe, IORING_OP_CONNECT)    ? "IORING_OP_CONNECT (Linux 5.5)"
                        : !supported(probe, IORING_OP_ASYNC_CANCEL) ? "IORING_OP_ASYNC_CANCEL (Linux 5.5)"
                                                                    : NULL;
  free(probe);
  if (missing) {
    char what[96];
    snprintf(what, sizeof what, "this kernel has no %s", missing);
    return give_up(what, 0);
  }
  const char *failed = kp_ring_map(ring_fd, &p, &q);
  if (failed) return give_up(failed, errno);
  sq_tail = *q.sq_ktail;
  snprintf(why, sizeof why, "uring: setsockopt, bind and connect in one submission (flags 0x%x)", p.flags);
  state = 1;
  return 1;
}

int kp_dial_ring_on(void) {
  if (state < 0) {
    const char *e = getenv("KPATH_DIAL");
    if (e && strcmp(e, "syscalls") == 0) return give_up("KPATH_DIAL=syscalls", 0);
    return open_ring();
  }
  return state;
}

int kp_dial_ring_choose(int want) {
  if (want == 0) {
    if (state == 1) {
      close(ring_fd);
      ring_fd = -1;
    }
    state = 0;
    snprintf(why, sizeof why, "syscalls: tcpDialEngine('syscalls')");
    return 0;
  }
  if (state == 1) return 1;
  state = -1;
  return open_ring();
}

const char *kp_dial_ring_why(void) { return why; }

void kp_dial_ring_counts(double *n, double *n_slow) {
  *n = (double)dials;
  *n_slow = (double)slow;
}

static struct io_uring_sqe *sqe(unsigned step, uint8_t flags) {
  struct io_uring_sqe *e = &q.sqes[sq_tail & q.sq_mask];
  memset(e, 0, sizeof *e);
  sq_tail++;
  e->flags = flags;
  e->user_data = (seq << 4) | step;
  return e;
}

/* IORING_OP_URING_CMD SOCKET_URING_OP_SETSOCKOPT: cmd_op in the low half of `off`, level and
 * optname in `addr`, optlen where file_index is, optval in addr3. */
static void sqe_setsockopt(int fd, unsigned step, int level, int name, const int *val) {
  struct io_uring_sqe *e = sqe(step, IOSQE_IO_HARDLINK | IOSQE_CQE_SKIP_SUCCESS);
  e->opcode = IORING_OP_URING_CMD;
  e->fd = fd;
  e->off = KP_SOCKET_URING_OP_SETSOCKOPT;
  e->addr = (uint64_t)(uint32_t)level | ((uint64_t)(uint32_t)name << 32);
  e->file_index = sizeof *val;
  e->addr3 = (uint64_t)(uintptr_t)val;
}

/* Reap this dial's completions: the connect's result in *conn (unless *got_conn already), a bind
 * error in *bind_err, whether the cancel's has come in *got_cancel. Others' (none: the ring is used
 * only here, synchronously) are dropped. */
static void reap(int *got_conn, int *conn, int *bind_err, int *got_cancel) {
  unsigned head = *q.cq_khead;
  unsigned tail = atomic_load_explicit((_Atomic unsigned *)q.cq_ktail, memory_order_acquire);
  for (; head != tail; head++) {
    struct io_uring_cqe *c = &q.cqes[head & q.cq_mask];
    if ((c->user_data >> 4) != seq) continue;
    unsigned step = (unsigned)(c->user_data & 15);
    if (step == STEP_CONNECT) {
      *got_conn = 1;
      *conn = c->res;
    } else if (step == STEP_BIND && c->res < 0) *bind_err = c->res;
    else if (step == STEP_CANCEL) *got_cancel = 1;
  }
  atomic_store_explicit((_Atomic unsigned *)q.cq_khead, head, memory_order_release);
}

int kp_dial_ring_connect(int fd, const struct sockaddr *src, socklen_t slen, const struct sockaddr *dst,
                         socklen_t dlen) {
  static const int one = 1;
  seq++;
  sqe_setsockopt(fd, STEP_NOPORT, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one);
  sqe_setsockopt(fd, STEP_NODELAY, IPPROTO_TCP, TCP_NODELAY, &one);
  struct io_uring_sqe *e = sqe(STEP_BIND, IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS);
  e->opcode = KP_OP_BIND;
  e->fd = fd;
  e->addr = (uint64_t)(uintptr_t)src;
  e->off = slen;
  e = sqe(STEP_CONNECT, 0);
  e->opcode = IORING_OP_CONNECT;
  e->fd = fd;
  e->addr = (uint64_t)(uintptr_t)dst;
  e->off = dlen;
  atomic_store_explicit((_Atomic unsigned *)q.sq_ktail, sq_tail, memory_order_release);
  int r;
  do r = enter(4, 0, 0);
  while (r < 0 && errno == EINTR);
  if (r != 4) {
    /* Not expected of an empty ring; whatever was taken may have run: the caller starts over with
     * a new socket, by syscalls from now on. */
    char what[64];
    snprintf(what, sizeof what, "io_uring_enter submitted %d of 4", r);
    give_up(what, r < 0 ? errno : EIO);
    return KP_DIAL_REDO;
  }
  dials++;
  int got_conn = 0, conn = 0, bind_err = 0, got_cancel = 0;
  reap(&got_conn, &conn, &bind_err, &got_cancel);
  /* A failed bind ends the link; its connect posts no completion of its own (the bind skipped its
   * success CQE, and the kernel then skips the CQEs of the rest of a link it cuts). */
  if (bind_err) return bind_err;
  if (!got_conn) {
    /* Still connecting (the SYN was not answered at once): take the request back; the socket goes
     * on connecting by itself, and the caller waits for it to turn writable. */
    slow++;
    e = sqe(STEP_CANCEL, 0);
    e->opcode = IORING_OP_ASYNC_CANCEL;
    e->fd = -1;
    e->addr = (seq << 4) | STEP_CONNECT;
    atomic_store_explicit((_Atomic unsigned *)q.sq_ktail, sq_tail, memory_order_release);
    /* Both completions come at once (a poll is cancelled where it waits); the wait is bounded all
     * the same, so that a surprise cannot stall the event loop: then the ring goes, with them. */
    struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
    struct io_uring_getevents_arg ga;
    memset(&ga, 0, sizeof ga);
    ga.ts = (uint64_t)(uintptr_t)&ts;
    for (int tries = 0; !got_conn || !got_cancel; tries++) {
      unsigned submit = sq_tail - atomic_load_explicit((_Atomic unsigned *)q.sq_khead, memory_order_acquire);
      if (tries == 5) {
        give_up("the dial's cancelled connect did not complete", ETIME);
        return KP_DIAL_REDO;
      }
      r = (int)syscall(__NR_io_uring_enter, ring_fd, submit, 1, IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, &ga,
                       sizeof ga);
      if (r < 0 && errno != EINTR && errno != ETIME) {
        give_up("io_uring_enter (cancel)", errno);
        return KP_DIAL_REDO;
      }
      reap(&got_conn, &conn, &bind_err, &got_cancel);
    }
    if (conn == -ECANCELED) return KP_DIAL_PENDING;
  }
  return conn;
}

/* ---- accepts ---------------------------------------------------------------------------------
 *
 * A listener's wakeup accepts what is waiting in batches of IORING_OP_ACCEPT requests, one
 * io_uring_enter each, instead of one accept4 per connection and one more for the EAGAIN that ends
 * the loop. IORING_ACCEPT_DONTWAIT (Linux 6.10) makes a request that finds the queue empty fail at
 * once with EAGAIN, as accept4 does, instead of arming a poll: every request of a batch completes
 * inside the submission, so the batch is as synchronous as the accept4 loop was, and each request
 * writes its own peer address. A kernel without the flag rejects the requests (EINVAL): accept4
 * from then on. Measured (a C loop, 24 connections waiting per wakeup, batches of 16): 1.3 us per
 * accept against 2.5 for accept4; with one waiting, a batch of 16 costs more than accept4 twice
 * (18 us against 6.6), a batch of 2 less (5.9): tcp_sockets.c sizes batches by the last wakeup.
 */
int kp_ring_accept(int lfd, int n, kp_accepted *out, int *more, int *err) {
  *more = 0;
  *err = 0;
  if (accept_on == 0 || kp_dial_ring_on() != 1) return -1;
  if (accept_on < 0) {
    const char *t = getenv("KPATH_TEST_ACCEPT_EINVAL");
    if (t && strcmp(t, "1") == 0) accept_bad_bit = 1u << 15;
    accept_on = 1;
  }
  if (n > KP_ACCEPT_BATCH) n = KP_ACCEPT_BATCH;
  seq++;
  static __thread socklen_t lens[KP_ACCEPT_BATCH];
  for (int i = 0; i < n; i++) {
    struct io_uring_sqe *e = sqe((unsigned)i, 0);
    e->opcode = IORING_OP_ACCEPT;
    e->fd = lfd;
    lens[i] = sizeof out[i].peer;
    e->addr = (uint64_t)(uintptr_t)&out[i].peer;
    e->off = (uint64_t)(uintptr_t)&lens[i];
    e->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
    e->ioprio = IORING_ACCEPT_DONTWAIT | accept_bad_bit;
  }
  atomic_store_explicit((_Atomic unsigned *)q.sq_ktail, sq_tail, memory_order_release);
  int r;
  do r = enter((unsigned)n, 0, 0);
  while (r < 0 && errno == EINTR);
  if (r != n) {
    char what[64];
    snprintf(what, sizeof what, "io_uring_enter submitted %d of %d accepts", r, n);
    give_up(what, r < 0 ? errno : EIO);
    return -1; /* what was taken and accepted is lost with the ring: not expected of an empty ring */
  }
  accept_batches++;
  int fds[KP_ACCEPT_BATCH];
  int seen = 0, again = 0, einval = 0;
  for (int i = 0; i < n; i++) fds[i] = INT32_MIN;
  unsigned head = *q.cq_khead;
  unsigned tail = atomic_load_explicit((_Atomic unsigned *)q.cq_ktail, memory_order_acquire);
  for (; head != tail; head++) {
    struct io_uring_cqe *c = &q.cqes[head & q.cq_mask];
    if ((c->user_data >> 4) != seq) continue;
    unsigned i = (unsigned)(c->user_data & 15);
    if (i < (unsigned)n && fds[i] == INT32_MIN) {
      fds[i] = c->res;
      seen++;
    }
  }
  atomic_store_explicit((_Atomic unsigned *)q.cq_khead, head, memory_order_release);
  /* In the order the kernel took them (the requests ran in order); the first failure ends it. */
  int got = 0;
  for (int i = 0; i < n; i++) {
    int res = fds[i];
    if (res >= 0) {
      out[got] = out[i];
      out[got++].fd = res;
    } else if (res == -EAGAIN) again = 1;
    else if (res == -EINVAL) einval = 1;
    else if (res == INT32_MIN) again = 1; /* no completion (not expected): treated as the end */
    else if (!*err && res != -ECONNABORTED && res != -EINTR) *err = -res;
  }
  if (einval && got == 0) {
    accept_on = 0; /* before 6.10: no IORING_ACCEPT_DONTWAIT */
    return -1;
  }
  if (seen < n) {
    give_up("accept completions missing", EIO);
    return got;
  }
  accepted += got;
  *more = !again && !*err && !einval;
  return got;
}

const char *kp_ring_accept_why(void) {
  return accept_on == 0 ? "accept4 (this kernel has no IORING_ACCEPT_DONTWAIT, Linux 6.10)"
         : state == 1   ? "io_uring accept batches"
                        : "accept4";
}

void kp_ring_accept_counts(double *n, double *batches) {
  *n = accepted;
  *batches = accept_batches;
}
