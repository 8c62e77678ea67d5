/*
 * A TCP relay between two connected sockets on the Node event loop. Each direction copies through a
 * small buffer until a read fills it, then moves bytes in the kernel: splice(2) from one socket into
 * a pipe and from the pipe into the other. No byte passes through JavaScript, which only hears about
 * the connection's end. Two engines run the copy path (chosen per thread, for relays started after):
 *   uring   io_uring (uring.c; the ring engine below): one multishot receive per direction into
 *           shared provided buffers (or one receive per message, the send linked to the next),
 *           closes through the ring; the default where io_uring works;
 *   epoll   the addon's epoll (reactor.c): recv and send per wakeup (env KPATH_RELAY=epoll, or the
 *           fallback when io_uring cannot be set up).
 * The splice path is the epoll one under both.
 *
 *   relayOnClosed(onClosed)   the function every relay of this thread calls when it ends (set once)
 *   relayStart(clientFd, upstreamFd, token, own, keepAliveSec, segs = true) -> handle (a number)
 *       own: the relay takes the descriptors (tcp_sockets.c's, which already have TCP_NODELAY, the
 *       client's keepalive from its listener); keepalive after keepAliveSec idle (0: off) is set on
 *       the endpoint socket once the relay has lasted a second (KP_KA_DELAY_MS). Else it dups them
 *       and the caller closes its own (a net.Socket's), and the relay sets TCP_NODELAY, and
 *       keepalive, on both at once.
 *       segs: read both sockets' segment counts (TCP_INFO) when the relay ends, for onClosed; false
 *       (conntrack accounting off, as Linux's nf_conntrack_acct=0) spares the two reads, and onClosed
 *       gets -1 for both counts.
 *   onClosed(token, reason, bytesIn, bytesOut, segsIn, segsOut)   the relay started with `token`
 *       ended: the one call to JavaScript per connection, with the final counts (as relayBytes
 *       would give them; segments -1 when started without `segs`)
 *   relayBytes(handle, segs = true)
 *       [client->endpoint bytes, endpoint->client bytes, bytes in flight, idle ms,
 *        segments received from the client, from the endpoint (TCP_INFO; read now only if `segs`),
 *        FINs seen: 1 the client's, 2 the endpoint's, 3 both]
 *   relayClose(handle, reset)   close both sides now (reset: with RST, as SO_LINGER 0 does)
 *   relayEngine(which?, multishot?) -> [engine, why, buffer waits, backpressure stops, FINs with close]
 *       the engine new relays use, and why (uring: with multishot receives or not); how many ring
 *       receives found no free buffer, how many multishot receives were stopped because their sends
 *       fell behind, and how many FINs went out with the relay's close instead of a shutdown (both
 *       sides' FINs in one batch of ring completions: see ring_fin)
 *   A handle is a slot number and its generation, not a JavaScript object: a relay costs no external,
 *   finalizer or reference. Once a relay has ended and is freed its handle is stale: relayBytes
 *   returns undefined, relayClose does nothing.
 *   (the segment counts come from tcp_info.c)
 *
 * What it keeps from TCP, as the pure-Node path does:
 *   - half-close: one side's FIN becomes shutdown(SHUT_WR) on the other once its data is through;
 *     the relay ends when both directions have ended (the second FIN is the close's own).
 *   - resets: an error on one side (ECONNRESET, EPIPE, ...) resets the other and ends the relay.
 *   - backpressure: a direction reads only when its pipe is empty, so at most one pipe's worth
 *     (64 KiB) is in flight per direction; a slow reader stops the writer's reads. (A copied read
 *     that the other socket cannot take whole leaves the rest in the pipe, and waits the same way.)
 * Half-closes are not reported as they happen (JavaScript reads them with relayBytes when it lists
 * the connection), and all relays share one async context: a connection costs JavaScript one call.
 * Pipes come from a small shared pool and go back to it whenever they are empty, so an idle
 * connection holds its two sockets and nothing else (on the ring engine: and its two armed receives,
 * about 1.7 KB of kernel memory, against two epoll entries).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"
#include "reactor.h"
#include "uring.h"

#define KP_CHUNK (1 << 16)
/* A direction starts by copying through this buffer (recv, send) and moves to splice once a read
 * fills it: for the few hundred bytes of a request or a reply, two copies cost less than moving
 * pages through a pipe, and need no pipe (HAProxy's splice-auto makes the same choice). */
#define KP_COPY (1 << 14)
#define KP_ROUNDS 16     /* splice rounds per direction per wakeup, so one stream cannot starve others */
#define KP_POOL_MAX 256  /* empty pipes kept for reuse */

enum { WANT_NOTHING = 0, WANT_READ = 1, WANT_WRITE = 2, DEAD = 3 };

typedef struct {
  int r, w;
} kp_pipe;

/* Per thread: each Node worker thread that loads the addon runs its own event loop and relays. */
static __thread kp_pipe pool[KP_POOL_MAX];
static __thread int pool_n = 0;
static __thread char copybuf[KP_COPY];

static int pipe_get(kp_pipe *p) {
  if (pool_n > 0) {
    *p = pool[--pool_n];
    return 0;
  }
  int fds[2];
  if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return -1;
  p->r = fds[0];
  p->w = fds[1];
  return 0;
}

static void pipe_put(kp_pipe *p) {
  if (p->r < 0) return;
  if (pool_n < KP_POOL_MAX) {
    pool[pool_n++] = *p;
  } else {
    close(p->r);
    close(p->w);
  }
  p->r = p->w = -1;
}

static void pipe_drop(kp_pipe *p) {
  if (p->r < 0) return;
  close(p->r);
  close(p->w);
  p->r = p->w = -1;
}

typedef struct kp_relay kp_relay;

/* The reactor's handle on one of the relay's descriptors. */
typedef struct {
  kp_watch base;
  kp_relay *r;
  int side;
} kp_side;

struct kp_relay {
  napi_env env;
  uv_loop_t *loop;
  int fd[2];           /* 0: client, 1: endpoint */
  kp_side w[2];
  uint32_t events[2];  /* the epoll events each descriptor is registered for (0: not registered) */
  int want[2];         /* what each direction waits for: WANT_READ, WANT_WRITE or WANT_NOTHING */
  kp_pipe pipe[2];     /* direction d moves fd[d] -> fd[1 - d] */
  size_t inpipe[2];
  unsigned char eof[2];
  unsigned char shut[2];
  unsigned char spliced[2]; /* direction d moves by splice (a read filled the copy buffer) */
  double bytes[2];
  double segs[2];      /* segments received on each socket (TCP_INFO), kept from the last reading */
  int acct;            /* read the segment counts at the end (relayStart's `segs`) */
  uint64_t last_ms;
  int done;            /* closing started: no more pumping, no more events */
  int released;        /* ended, and the batch of events that might point at it is over */
  int starting;        /* relayStart or a completion handler is still using it: not freed yet */
  /* The uring engine (relay_uring below): direction d copies through the ring while ring[d]; a
   * read that fills a buffer hands it to the epoll splice path above for good. */
  unsigned char uring;   /* started on the ring */
  unsigned char ring[2];
  unsigned char waiting[2]; /* its receive waits for a free provided buffer */
  unsigned char ms;         /* started with multishot receives (the thread's choice then) */
  unsigned char mshot[2];   /* a multishot receive is armed (its last completion is still to come) */
  unsigned char stopping[2]; /* that receive is being cancelled (backpressure, or the move to splice) */
  uint16_t bid[2];       /* the provided buffer direction d's send is sending */
  uint32_t sending[2];   /* bytes in that send (0: none under way) */
  int32_t qhead[2], qtail[2]; /* multishot: received buffers waiting for that send (-1: none) */
  int inflight;          /* ring requests (or buffer waits) that still name this relay */
  unsigned char fin_later;  /* a FIN to pass on (shutdown) at the end of the ring's batch: fin_dir's */
  unsigned char fin_dir;
  kp_relay *fin_next;
  double token;        /* JavaScript's name for it, passed back to onClosed */
  uint32_t slot;       /* its handle's slot */
  /* Keepalive on the endpoint socket, set once the relay has run KP_KA_DELAY_MS (see below). */
  uint32_t ka_sec;
  int ka_queued;       /* in the keepalive queue: not freed before it leaves */
  kp_relay *ka_next;
  uint64_t started_ms;
};

/* ---- handles: slot + generation * 2^KP_SLOT_BITS ------------------------------------------- */

#define KP_SLOT_BITS 24
#define KP_GEN_MASK 0x1fffffffu /* handles stay below 2^53 */

typedef struct {
  kp_relay *r;
  uint32_t gen;
} kp_slot;

static __thread kp_slot *slots;
static __thread uint32_t *free_slots;
static __thread uint32_t n_slots, cap_slots, n_free;

static double slot_take(kp_relay *r) {
  uint32_t i;
  if (n_free > 0) i = free_slots[--n_free];
  else {
    if (n_slots == cap_slots) {
      uint32_t cap = cap_slots ? cap_slots * 2 : 1024;
      if (cap > (1u << KP_SLOT_BITS)) return -1;
      kp_slot *s = realloc(slots, cap * sizeof *s);
      if (!s) return -1;
      slots = s;
      uint32_t *f = realloc(free_slots, cap * sizeof *f);
      if (!f) return -1;
      free_slots = f;
      cap_slots = cap;
    }
    i = n_slots++;
    slots[i].gen = 0;
  }
  slots[i].r = r;
  r->slot = i;
  return (double)slots[i].gen * (double)(1u << KP_SLOT_BITS) + (double)i;
}

static void slot_give(kp_relay *r) {
  kp_slot *s = &slots[r->slot];
  s->r = NULL;
  s->gen = (s->gen + 1) & KP_GEN_MASK;
  free_slots[n_free++] = r->slot;
}

static void maybe_free(kp_relay *r) {
  if (r->released && !r->ka_queued && !r->starting && r->inflight == 0 && !r->fin_later) {
    slot_give(r);
    free(r);
  }
}

/*
 * Keepalive on a dialed socket (own: tcp_sockets.c's) is set by the relay once the connection has
 * lasted KP_KA_DELAY_MS, not at the dial: a connection that ends sooner (most of them, for a
 * request-per-connection client) never needed probes, and was spared two setsockopt calls. The
 * first probe can come at most that much later than keepAliveSec after the last segment. The client
 * side inherits keepalive from the listener at no cost, and keeps it from the start.
 */
#define KP_KA_DELAY_MS 1000
static __thread kp_relay *ka_head, *ka_tail;
static __thread uv_timer_t ka_timer;
static __thread int ka_timer_ready = 0;

static void set_keepalive(int fd, uint32_t sec) {
  int one = 1, idle = (int)sec;
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
  setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
}

static void on_ka_timer(uv_timer_t *t) {
  uint64_t now = uv_now(t->loop);
  while (ka_head && ka_head->started_ms + KP_KA_DELAY_MS <= now) {
    kp_relay *r = ka_head;
    ka_head = r->ka_next;
    if (!ka_head) ka_tail = NULL;
    r->ka_next = NULL;
    r->ka_queued = 0;
    if (!r->done) set_keepalive(r->fd[1], r->ka_sec);
    maybe_free(r);
  }
  if (ka_head) uv_timer_start(t, on_ka_timer, ka_head->started_ms + KP_KA_DELAY_MS - now, 0);
}

/* Queue the relay for its endpoint keepalive; 0 when it was set at once (no timer). */
static void ka_queue(kp_relay *r) {
  if (!ka_timer_ready) {
    if (uv_timer_init(r->loop, &ka_timer) != 0) {
      set_keepalive(r->fd[1], r->ka_sec);
      return;
    }
    uv_unref((uv_handle_t *)&ka_timer); /* never keeps the process alive */
    ka_timer_ready = 1;
  }
  r->ka_queued = 1;
  r->ka_next = NULL;
  if (ka_tail) ka_tail->ka_next = r;
  else {
    ka_head = r;
    uv_timer_start(&ka_timer, on_ka_timer, KP_KA_DELAY_MS, 0);
  }
  ka_tail = r;
}

/* The async context every relay's callback runs in, and the callback (per thread: one Node
 * environment each). */
static __thread napi_async_context shared_actx;
static __thread napi_ref shared_cb;
static __thread napi_env shared_env;

/* The environment is going away (a worker thread ends): a later one on this thread makes its own. */
static void forget_shared_context(void *arg) {
  (void)arg;
  shared_env = NULL;
  shared_actx = NULL;
  shared_cb = NULL;
}

static int bind_env(napi_env env) {
  if (shared_env != env) {
    napi_value resource, name;
    napi_create_object(env, &resource);
    napi_create_string_utf8(env, "kpath.relay", NAPI_AUTO_LENGTH, &name);
    if (napi_async_init(env, resource, name, &shared_actx) != napi_ok) return -1;
    shared_env = env;
    shared_cb = NULL;
    napi_add_env_cleanup_hook(env, forget_shared_context, NULL);
  }
  return 0;
}

/* After the relay ended and the batch of events that may still point at it is over. */
static void release(void *arg) {
  kp_relay *r = arg;
  r->released = 1;
  if (r->uring) kp_ring_hold(-1);
  else kp_reactor_hold(-1);
  maybe_free(r);
}

static void ring_close(kp_relay *r);

/* onClosed(token, reason, bytes in, bytes out, segments in, segments out) */
static void emit_closed(kp_relay *r, const char *reason) {
  napi_env env = r->env;
  if (shared_env != env || !shared_cb) return;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value argv[6];
  napi_create_double(env, r->token, &argv[0]);
  napi_create_string_utf8(env, reason, NAPI_AUTO_LENGTH, &argv[1]);
  napi_create_double(env, r->bytes[0], &argv[2]);
  napi_create_double(env, r->bytes[1], &argv[3]);
  napi_create_double(env, r->segs[0], &argv[4]);
  napi_create_double(env, r->segs[1], &argv[5]);
  kp_call_js(env, shared_actx, shared_cb, 6, argv);
  napi_close_handle_scope(env, scope);
}

/* End the relay: close everything (reset[i]: close fd[i] with RST), tell JavaScript. Closing a
 * descriptor removes it from the reactor. */
static void finish(kp_relay *r, const char *reason, int reset0, int reset1) {
  if (r->done) return;
  r->done = 1;
  if (r->acct) {
    for (int i = 0; i < 2; i++) {
      double s = kp_tcp_segs_in(r->fd[i]);
      if (s >= 0) r->segs[i] = s;
    }
  } else r->segs[0] = r->segs[1] = -1; /* even if relayBytes read them meanwhile: none at the end */
  if (r->uring) ring_close(r); /* cancels its requests, returns its queued buffers; the closes go
                                  through the ring */
  for (int i = 0; i < 2; i++) {
    if (i == 0 ? reset0 : reset1) kp_set_rst(r->fd[i]);
    if (!r->uring) close(r->fd[i]);
    else {
      struct io_uring_sqe *e = kp_ring_sqe();
      if (!e) close(r->fd[i]);
      else {
        e->opcode = IORING_OP_CLOSE;
        e->fd = r->fd[i];
        e->flags = IOSQE_CQE_SKIP_SUCCESS;
      }
    }
    r->fd[i] = -1;
    /* A pipe that still holds bytes cannot be reused: they would reach the next connection. */
    if (r->inpipe[i] > 0) pipe_drop(&r->pipe[i]);
    else pipe_put(&r->pipe[i]);
  }
  emit_closed(r, reason);
  kp_reactor_after_dispatch(release, r);
}

static const char *side_reason(int side, int err, char *buf, size_t n) {
  snprintf(buf, n, "%s %s", side == 0 ? "client" : "endpoint", kp_errname(err));
  return buf;
}

/* An error on `side`: reset the other side and end. */
static void fail(kp_relay *r, int side, int err) {
  char buf[48];
  finish(r, side_reason(side, err, buf, sizeof buf), side == 1, side == 0);
}

/* Move what can be moved in direction d without blocking. */
static int pump(kp_relay *r, int d) {
  int src = r->fd[d], dst = r->fd[1 - d];
  int drained = 0; /* the last read was short: the socket is very likely empty, skip the EAGAIN read */
  for (int round = 0; round < KP_ROUNDS; round++) {
    if (r->inpipe[d] > 0) {
      ssize_t n = splice(r->pipe[d].r, NULL, dst, NULL, r->inpipe[d], SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN) return WANT_WRITE;
        fail(r, 1 - d, errno);
        return DEAD;
      }
      r->inpipe[d] -= (size_t)n;
      if (r->inpipe[d] > 0) continue;
      pipe_put(&r->pipe[d]);
    }
    if (r->eof[d]) {
      if (!r->shut[d]) {
        r->shut[d] = 1;
        /* The other direction is over too: the relay ends now, and close() sends this FIN (dst's
         * receive queue is empty, its EOF was read, so the close is a FIN, not a reset). */
        if (!r->shut[1 - d]) shutdown(dst, SHUT_WR);
      }
      return WANT_NOTHING;
    }
    if (drained) return WANT_READ; /* level-triggered: more data wakes the poll again */
    if (!r->spliced[d]) {
      ssize_t n = recv(src, copybuf, KP_COPY, MSG_DONTWAIT);
      if (n == 0) {
        r->eof[d] = 1;
        continue;
      }
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return WANT_READ;
        fail(r, d, errno);
        return DEAD;
      }
      r->bytes[d] += (double)n;
      r->last_ms = uv_now(r->loop);
      if (n == KP_COPY) r->spliced[d] = 1;
      else drained = 1;
      ssize_t s = send(dst, copybuf, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (s < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
          fail(r, 1 - d, errno);
          return DEAD;
        }
        s = 0;
      }
      if (s == n) continue;
      /* dst is full: the rest waits in the direction's pipe (empty, and larger than the buffer) and
       * goes out as dst drains, as spliced bytes do; nothing more is read meanwhile. */
      if (r->pipe[d].r < 0 && pipe_get(&r->pipe[d]) < 0) {
        fail(r, d, errno);
        return DEAD;
      }
      ssize_t w = write(r->pipe[d].w, copybuf + s, (size_t)(n - s));
      if (w != n - s) {
        if (w > 0) r->inpipe[d] = (size_t)w; /* dropped with the pipe by finish */
        fail(r, d, w < 0 ? errno : ENOBUFS);
        return DEAD;
      }
      r->inpipe[d] = (size_t)w;
      return WANT_WRITE;
    }
    if (r->pipe[d].r < 0 && pipe_get(&r->pipe[d]) < 0) {
      fail(r, d, errno);
      return DEAD;
    }
    ssize_t n = splice(src, NULL, r->pipe[d].w, NULL, KP_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n == 0) {
      r->eof[d] = 1;
      continue;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pipe_put(&r->pipe[d]);
        return WANT_READ;
      }
      fail(r, d, errno);
      return DEAD;
    }
    r->inpipe[d] += (size_t)n;
    r->bytes[d] += (double)n;
    if (n < KP_CHUNK) drained = 1;
    r->last_ms = uv_now(r->loop);
  }
  /* Still busy after KP_ROUNDS: come back on the next wakeup. */
  return r->inpipe[d] > 0 ? WANT_WRITE : WANT_READ;
}

static void on_event(kp_watch *w, uint32_t events);

static void rearm(kp_relay *r, int w0, int w1) {
  /* Direction 0 reads fd 0 and writes fd 1; direction 1 reads fd 1 and writes fd 0. */
  uint32_t want[2] = {0, 0};
  if (r->ring[0]) w0 = WANT_NOTHING; /* on the ring: not in the epoll set */
  if (r->ring[1]) w1 = WANT_NOTHING;
  if (w0 == WANT_READ) want[0] |= EPOLLIN;
  if (w0 == WANT_WRITE) want[1] |= EPOLLOUT;
  if (w1 == WANT_READ) want[1] |= EPOLLIN;
  if (w1 == WANT_WRITE) want[0] |= EPOLLOUT;
  if (r->shut[0] && r->shut[1]) {
    finish(r, "closed", 0, 0);
    return;
  }
  for (int i = 0; i < 2; i++) {
    if (want[i] == r->events[i]) continue;
    /* A descriptor nobody waits on leaves the set: epoll would still report its hang-up or error,
     * level-triggered, over and over, while the other side is what the relay waits for. */
    int op = want[i] == 0 ? EPOLL_CTL_DEL : r->events[i] == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;
    int e = kp_reactor_ctl(r->loop, op, r->fd[i], &r->w[i].base, want[i]);
    if (e < 0) {
      char buf[48];
      finish(r, side_reason(i, -e, buf, sizeof buf), i == 1, i == 0);
      return;
    }
    r->events[i] = want[i];
  }
}

static void on_event(kp_watch *w, uint32_t events) {
  kp_side *sw = (kp_side *)w;
  kp_relay *r = sw->r;
  if (r->done) return;
  int side = sw->side;
  /* fd `side` readable: direction `side` can read. Writable: direction `1 - side` can write. An
   * error or hang-up: let both directions find out what it is from their next splice. */
  int run[2] = {0, 0};
  if (events & EPOLLIN) run[side] = 1;
  if (events & EPOLLOUT) run[1 - side] = 1;
  if (events & (EPOLLERR | EPOLLHUP)) run[0] = run[1] = 1;
  for (int d = 0; d < 2; d++) {
    if (!run[d] || r->want[d] == WANT_NOTHING) continue;
    r->want[d] = pump(r, d);
    if (r->want[d] == DEAD) return;
  }
  rearm(r, r->want[0], r->want[1]);
}


/* ---- the uring engine ------------------------------------------------------------------------
 *
 * Each direction arms one receive (IORING_OP_RECV with a provided buffer, uring.c) on its source;
 * its completion queues a send of those bytes to the other socket (MSG_WAITALL: the ring finishes
 * a partial send itself, waiting for room) linked to the next receive (IOSQE_IO_LINK), so the
 * receive starts only once everything is through: one buffer in flight per direction, as the
 * epoll path's backpressure bound. A receive that fills the buffer marks the direction for splice:
 * after its send the direction leaves the ring for the epoll splice path above (bulk streams move
 * in the kernel, as before). The FIN (a receive of 0) becomes shutdown(SHUT_WR) on the other side
 * (a syscall: see ring_on_recv); the end closes both sockets with IORING_OP_CLOSE after cancelling
 * what is still armed on them. The rest needs no syscall of its own: the wakeup's one
 * io_uring_enter carries it all.
 *
 * Multishot receives (the default where the kernel has them, Linux 6.0; KPATH_RELAY_MULTISHOT=0
 * keeps one receive per message): each direction arms one IORING_RECV_MULTISHOT receive for the
 * relay's life instead of one receive per message, so the kernel does not allocate and arm a poll
 * for every request and reply (io_arm_apoll and its task work: ~3 % of a keepalive request's CPU).
 * Its completions keep coming while a send is under way, so they queue per direction (a list
 * threaded through the provided buffers' ids, no memory per relay) and go out one send at a time,
 * in order. Backpressure: when a second buffer queues behind a send, the receive is cancelled and
 * armed again only once the queue has drained, so a direction holds at most the few buffers that
 * arrive before the cancel lands (the epoll path's bound is one pipe). A FIN or a full buffer
 * (the move to splice) waits the same way for what is queued before it.
 *
 * A request's user_data is the relay's address (calloc: 16-byte aligned) | direction | op << 1.
 * The relay is freed only when no request names it any more (inflight).
 */
enum { KP_OP_RECV = 1, KP_OP_SEND = 2 };
#define KP_UD(r, d, op) ((uint64_t)(uintptr_t)(r) | (uint64_t)(d) | ((uint64_t)(op) << 1))

/* Receives that found no free buffer (ENOBUFS), re-armed as buffers come back. */
typedef struct {
  kp_relay *r;
  int d;
} kp_bufwait;
static __thread kp_bufwait *bwait;
static __thread unsigned bwait_n, bwait_cap;
static __thread double bwaits; /* receives that had to wait (relayEngine()[2]) */
static __thread double bpstops; /* multishot receives stopped for backpressure (relayEngine()[3]) */

/* Multishot receives: -1 not decided yet (KPATH_RELAY_MULTISHOT decides at the first relay), 0
 * off (one receive per message, the send linked to the next), 1 on. The queue of each direction is
 * threaded through the buffer ids: q_next[bid] follows bid, q_len[bid] is its byte count. */
static __thread int mshot = -1;
static __thread int mshot_seen = 0; /* a multishot receive has delivered data: the kernel has them */
static __thread uint16_t *q_next;
static __thread uint32_t *q_len;
/* Tests only (KPATH_TEST_MULTISHOT_EINVAL=1): multishot receives carry an ioprio bit no kernel knows,
 * so the kernel rejects them with EINVAL as one before 6.0 rejects IORING_RECV_MULTISHOT, and the
 * fallback below runs on this kernel too. */
static __thread unsigned mshot_bad_bit;

/* Multishot receives for relays started from now on (want: 1 or 0; -1: the thread's setting, from
 * KPATH_RELAY_MULTISHOT the first time). Only with the ring open (the queues' size is its). */
static int mshot_on(int want) {
  if (want < 0 && mshot < 0) {
    const char *e = getenv("KPATH_RELAY_MULTISHOT");
    want = !(e && strcmp(e, "0") == 0);
    const char *t = getenv("KPATH_TEST_MULTISHOT_EINVAL");
    if (t && strcmp(t, "1") == 0) mshot_bad_bit = 1u << 15;
  }
  if (want >= 0) mshot = want;
  if (mshot == 1 && !q_next) {
    q_next = calloc(kp_ring_nbufs(), sizeof *q_next);
    q_len = calloc(kp_ring_nbufs(), sizeof *q_len);
    if (!q_next || !q_len) {
      free(q_next);
      free(q_len);
      q_next = NULL;
      q_len = NULL;
      mshot = 0;
    }
  }
  return mshot;
}

static void q_push(kp_relay *r, int d, unsigned bid, uint32_t len) {
  q_len[bid] = len;
  if (r->qtail[d] >= 0) q_next[r->qtail[d]] = (uint16_t)bid;
  else r->qhead[d] = (int32_t)bid;
  r->qtail[d] = (int32_t)bid;
}

static int q_pop(kp_relay *r, int d, uint32_t *len) {
  int bid = r->qhead[d];
  if (bid < 0) return -1;
  *len = q_len[bid];
  if (bid == r->qtail[d]) r->qhead[d] = r->qtail[d] = -1;
  else r->qhead[d] = q_next[bid];
  return bid;
}

static void ring_buf_put(unsigned bid);

static void ring_recv(kp_relay *r, int d, int poll_first) {
  struct io_uring_sqe *e = kp_ring_sqe();
  if (!e) {
    fail(r, d, ENOMEM);
    return;
  }
  e->opcode = IORING_OP_RECV;
  e->fd = r->fd[d];
  e->len = KP_RING_BUF_SIZE;
  e->flags = IOSQE_BUFFER_SELECT;
  e->buf_group = KP_RING_BGID;
  /* Waiting for the peer's next bytes (not at the start, when they may be there already): arm the
   * poll without trying the read first. */
  e->ioprio = poll_first ? IORING_RECVSEND_POLL_FIRST : 0;
  if (r->ms) {
    e->ioprio |= IORING_RECV_MULTISHOT | mshot_bad_bit;
    e->len = 0; /* each completion takes one whole buffer */
    r->mshot[d] = 1;
  }
  e->user_data = KP_UD(r, d, KP_OP_RECV);
  r->inflight++;
}

static void ring_send(kp_relay *r, int d, unsigned bid, uint32_t len, int link) {
  struct io_uring_sqe *e = kp_ring_sqe(); /* room reserved by the caller when linked */
  if (!e) {
    ring_buf_put(bid);
    fail(r, d, ENOMEM);
    return;
  }
  e->opcode = IORING_OP_SEND;
  e->fd = r->fd[1 - d];
  e->addr = (uint64_t)(uintptr_t)kp_ring_buf(bid);
  e->len = len;
  e->msg_flags = MSG_WAITALL | MSG_NOSIGNAL;
  e->user_data = KP_UD(r, d, KP_OP_SEND);
  r->bid[d] = (uint16_t)bid;
  r->sending[d] = len;
  r->inflight++;
  if (link) {
    e->flags = IOSQE_IO_LINK;
    ring_recv(r, d, 1);
  }
}

/* Cancel direction d's armed receive by its user_data (nothing to look up by descriptor); its last
 * completion (-ECANCELED, or whatever ended it first) comes back through ring_on_recv. */
static void ring_stop_recv(kp_relay *r, int d) {
  struct io_uring_sqe *e = kp_ring_sqe();
  if (!e) return; /* the receive goes on; the queue grows instead */
  e->opcode = IORING_OP_ASYNC_CANCEL;
  e->fd = -1;
  e->addr = KP_UD(r, d, KP_OP_RECV);
  e->flags = IOSQE_CQE_SKIP_SUCCESS;
  r->stopping[d] = 1;
}

/* Relays whose FIN waits for the end of the ring's batch (ring_fin), and how many such FINs went
 * out with the close instead of a shutdown (relayEngine()[4]). */
static __thread kp_relay *fin_head;
static __thread double fins_saved;

/* The source's FIN, once everything before it has gone out. */
static void ring_fin(kp_relay *r, int d) {
  if (r->shut[d]) return;
  r->shut[d] = 1;
  if (r->shut[1 - d]) {
    finish(r, "closed", 0, 0); /* the close sends this FIN */
    return;
  }
  /* Not IORING_OP_SHUTDOWN: the kernel always runs it in an io-wq worker (io_uring/net.c: forced
   * async, or -EAGAIN from the inline try), which looks the descriptor up only then, after this
   * relay's IORING_OP_CLOSE may have freed the number and an accept reused it (seen: another
   * connection's client half-closed before its reply).
   * Inside a batch of completions the shutdown waits for the batch's end (fin_flush): when the
   * other side's FIN is in the same batch (a request-per-connection client closes as the server
   * does), the relay ends, and the close sends this FIN without a syscall of its own. Either way
   * the peer gets the FIN within the same wakeup, after every byte before it. */
  if (kp_ring_in_batch()) {
    r->fin_later = 1;
    r->fin_dir = (unsigned char)d;
    r->fin_next = fin_head;
    fin_head = r;
    return;
  }
  shutdown(r->fd[1 - d], SHUT_WR);
}

/* The end of a batch of ring completions: the FINs ring_fin held back, for relays that go on. */
static void fin_flush(void) {
  while (fin_head) {
    kp_relay *r = fin_head;
    fin_head = r->fin_next;
    r->fin_next = NULL;
    r->fin_later = 0;
    if (!r->done) shutdown(r->fd[1 - r->fin_dir], SHUT_WR);
    else fins_saved++;
    maybe_free(r);
  }
}

/* Multishot: what direction d does next, after anything about it changed. Returns 1 when it armed
 * a receive. */
static int ring_next(kp_relay *r, int d) {
  if (r->done) return 0;
  if (!r->sending[d]) {
    uint32_t len;
    int bid = q_pop(r, d, &len);
    if (bid >= 0) {
      ring_send(r, d, (unsigned)bid, len, 0);
      if (r->done) return 0;
    }
  }
  if (r->mshot[d]) {
    /* A second buffer behind the send, or the stream moves to splice: stop receiving. */
    if (!r->stopping[d] && (r->qhead[d] >= 0 || r->spliced[d])) {
      if (!r->spliced[d]) bpstops++;
      ring_stop_recv(r, d);
    }
    return 0;
  }
  if (r->sending[d] || r->waiting[d]) return 0;
  if (r->eof[d]) {
    ring_fin(r, d);
    return 0;
  }
  if (r->spliced[d]) {
    /* A stream: from now on this direction splices, driven by the epoll reactor. */
    r->ring[d] = 0;
    r->want[d] = pump(r, d);
    if (r->want[d] == DEAD) return 0;
    rearm(r, r->want[0], r->want[1]);
    return 0;
  }
  ring_recv(r, d, 1); /* after a backpressure stop, or a receive the kernel ended */
  return 1;
}

static void ring_buf_put(unsigned bid) {
  kp_ring_buf_put(bid);
  while (bwait_n > 0) {
    kp_bufwait w = bwait[--bwait_n];
    w.r->waiting[w.d] = 0;
    w.r->inflight--;
    if (!w.r->done) {
      if (!w.r->ms) {
        ring_recv(w.r, w.d, 0);
        return;
      }
      w.r->starting++;
      int armed = ring_next(w.r, w.d);
      w.r->starting--;
      maybe_free(w.r);
      if (armed) return;
      continue;
    }
    maybe_free(w.r);
  }
}

static void ring_wait_buffer(kp_relay *r, int d) {
  if (bwait_n == bwait_cap) {
    unsigned cap = bwait_cap ? bwait_cap * 2 : 64;
    kp_bufwait *b = realloc(bwait, cap * sizeof *b);
    if (!b) {
      fail(r, d, ENOBUFS);
      return;
    }
    bwait = b;
    bwait_cap = cap;
  }
  bwait[bwait_n].r = r;
  bwait[bwait_n].d = d;
  bwait_n++;
  bwaits++;
  r->waiting[d] = 1;
  r->inflight++;
}

static void ring_on_recv(kp_relay *r, int d, int32_t res, uint32_t flags) {
  int more = (flags & IORING_CQE_F_MORE) != 0; /* a multishot receive that goes on */
  int was_mshot = r->mshot[d];
  if (!more) {
    r->inflight--;
    r->mshot[d] = r->stopping[d] = 0;
  }
  int has_buf = (flags & IORING_CQE_F_BUFFER) != 0;
  unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
  if (r->done) {
    if (has_buf) ring_buf_put(bid);
    return;
  }
  if (was_mshot && res == -EINVAL && !mshot_seen) {
    /* A kernel without multishot receives (before 6.0): one receive per message from now on (the
     * relay's other direction, armed the same way, comes back here too). */
    mshot = 0;
    r->ms = 0;
    ring_recv(r, d, 0);
    return;
  }
  if (res == -ENOBUFS) {
    ring_wait_buffer(r, d);
    return;
  }
  if (res == -EINTR || res == -EAGAIN || (res == -ECANCELED && r->ms)) {
    if (has_buf) ring_buf_put(bid);
    if (r->ms) ring_next(r, d); /* -ECANCELED: stopped by ring_next; armed again once drained */
    else ring_recv(r, d, 1);
    return;
  }
  if (res <= 0 || !has_buf) {
    if (has_buf) ring_buf_put(bid);
    if (res < 0) {
      fail(r, d, -res);
      return;
    }
    if (res > 0) {
      fail(r, d, EIO);
      return;
    }
    /* The source's FIN. Single receives: nothing of this direction is under way (its send finished
     * before this receive started), so it goes on at once; multishot: after what is queued. */
    r->eof[d] = 1;
    if (r->ms) ring_next(r, d);
    else ring_fin(r, d);
    return;
  }
  r->bytes[d] += (double)res;
  r->last_ms = uv_now(r->loop);
  if (res >= KP_RING_BUF_SIZE) r->spliced[d] = 1;
  if (r->ms) {
    mshot_seen = 1;
    q_push(r, d, bid, (uint32_t)res);
    ring_next(r, d);
    return;
  }
  int link = !r->spliced[d];
  if (kp_ring_reserve(link ? 2 : 1) != 0) {
    ring_buf_put(bid);
    fail(r, d, ENOMEM);
    return;
  }
  ring_send(r, d, bid, (uint32_t)res, link);
}

static void ring_on_send(kp_relay *r, int d, int32_t res) {
  r->inflight--;
  uint32_t len = r->sending[d];
  unsigned bid = r->bid[d];
  r->sending[d] = 0;
  /* A failed send also cancels the receive linked to it (-ECANCELED, after the end). */
  if (!r->done && (res < 0 || (uint32_t)res != len)) {
    ring_buf_put(bid);
    fail(r, 1 - d, res < 0 ? -res : EPIPE);
    return;
  }
  ring_buf_put(bid); /* may hand the buffer to a waiting receive, this relay's too */
  if (r->done) return;
  if (r->ms) {
    ring_next(r, d);
    return;
  }
  if (r->spliced[d]) {
    /* A stream: from now on this direction splices, driven by the epoll reactor. */
    r->ring[d] = 0;
    r->want[d] = pump(r, d);
    if (r->want[d] == DEAD) return;
    rearm(r, r->want[0], r->want[1]);
  }
}

static void ring_cqe(uint64_t ud, int32_t res, uint32_t flags) {
  kp_relay *r = (kp_relay *)(uintptr_t)(ud & ~(uint64_t)7);
  int d = (int)(ud & 1);
  r->starting++; /* not freed under the handler's feet */
  if (((ud >> 1) & 3) == KP_OP_RECV) ring_on_recv(r, d, res, flags);
  else ring_on_send(r, d, res);
  r->starting--;
  maybe_free(r);
}

/* finish() on the ring engine: out of the epoll set (a direction that went to splice), and cancel
 * what is armed on both sockets, before finish queues their closes behind the cancels (a socket
 * goes away when its last request lets go of it). */
static void ring_close(kp_relay *r) {
  for (int d = 0; d < 2; d++) {
    uint32_t len;
    int bid;
    while ((bid = q_pop(r, d, &len)) >= 0) ring_buf_put((unsigned)bid);
  }
  for (int i = 0; i < 2; i++) {
    if (r->events[i]) kp_reactor_ctl(r->loop, EPOLL_CTL_DEL, r->fd[i], &r->w[i].base, 0);
    r->events[i] = 0;
  }
  if (r->inflight <= r->waiting[0] + r->waiting[1]) return;
  /* Keyed by user_data, not by descriptor: nothing to look up, so nothing that a reused descriptor
   * number could point elsewhere. One that matches nothing fails with ENOENT (a dropped CQE). */
  for (int d = 0; d < 2; d++) {
    if (!r->ring[d]) continue;
    for (int op = KP_OP_RECV; op <= KP_OP_SEND; op++) {
      struct io_uring_sqe *e = kp_ring_sqe();
      if (!e) return; /* the requests end with the sockets' errors instead */
      e->opcode = IORING_OP_ASYNC_CANCEL;
      e->fd = -1;
      e->addr = KP_UD(r, d, op);
      e->cancel_flags = IORING_ASYNC_CANCEL_ALL;
      e->flags = IOSQE_CQE_SKIP_SUCCESS;
    }
  }
}

/* Which engine new relays of this thread use: -1 not chosen yet (KPATH_RELAY decides at the first
 * relay), 0 epoll, 1 uring. */
static __thread int engine = -1;
static __thread char engine_why[160];

static int choose_uring(uv_loop_t *loop, const char *how) {
  if (kp_ring_open(loop, ring_cqe, fin_flush) == 0) {
    engine = 1;
    snprintf(engine_why, sizeof engine_why, "%s: %s", how, kp_ring_why());
  } else {
    engine = 0;
    snprintf(engine_why, sizeof engine_why, "%s, but io_uring is unavailable (%s)", how, kp_ring_why());
  }
  return engine;
}

static int use_uring(uv_loop_t *loop) {
  if (engine < 0) {
    const char *e = getenv("KPATH_RELAY");
    if (e && strcmp(e, "epoll") == 0) {
      engine = 0;
      snprintf(engine_why, sizeof engine_why, "KPATH_RELAY=epoll");
    } else choose_uring(loop, e && strcmp(e, "uring") == 0 ? "KPATH_RELAY=uring" : "default");
  }
  return engine == 1;
}

/* The relay a handle names; NULL when it is stale (the relay ended and was freed), or after throwing
 * when it is not a handle at all. */
static kp_relay *unwrap(napi_env env, napi_value v) {
  double id = -1;
  if (napi_get_value_double(env, v, &id) != napi_ok || !(id >= 0) || id != (double)(uint64_t)id) {
    kp_throw(env, "ERR_INVALID_ARG_TYPE", "expected a kpath relay handle");
    return NULL;
  }
  uint64_t n = (uint64_t)id;
  uint32_t i = (uint32_t)(n & ((1u << KP_SLOT_BITS) - 1));
  if (i >= n_slots || slots[i].r == NULL || slots[i].gen != (uint32_t)(n >> KP_SLOT_BITS)) return NULL;
  return slots[i].r;
}

/* relayOnClosed(onClosed) */
static napi_value relay_on_closed(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t != napi_function) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "relayOnClosed(onClosed)");
  if (bind_env(env) != 0) return kp_throw(env, "EIO", "relayOnClosed: no async context");
  if (shared_cb) napi_delete_reference(env, shared_cb);
  shared_cb = NULL;
  if (napi_create_reference(env, argv[0], 1, &shared_cb) != napi_ok) {
    shared_cb = NULL;
    return kp_throw(env, "EIO", "relayOnClosed: cannot keep the function");
  }
  return NULL;
}

/* relayStart(clientFd, upstreamFd, token, own, keepAliveSec, segs) -> handle */
static napi_value relay_start(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "relayStart(clientFd, upstreamFd, token)");
  int32_t fds[2];
  if (napi_get_value_int32(env, argv[0], &fds[0]) != napi_ok || napi_get_value_int32(env, argv[1], &fds[1]) != napi_ok ||
      fds[0] < 0 || fds[1] < 0)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "relayStart: fds must be non-negative integers");
  double token;
  if (napi_get_value_double(env, argv[2], &token) != napi_ok)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "relayStart: token must be a number");
  if (shared_env != env || !shared_cb) return kp_throw(env, "ERR_INVALID_STATE", "relayStart: call relayOnClosed first");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return kp_throw(env, "EIO", "relayStart: no event loop");

  bool own = false, acct = true;
  uint32_t keepalive = 0;
  if (argc > 3) napi_get_value_bool(env, argv[3], &own);
  if (argc > 4) napi_get_value_uint32(env, argv[4], &keepalive);
  if (argc > 5) napi_get_value_bool(env, argv[5], &acct); /* not a boolean (undefined): stays true */
  kp_relay *r = calloc(1, sizeof *r);
  if (!r) return kp_throw(env, "ENOMEM", "relayStart: out of memory");
  double id = slot_take(r);
  if (id < 0) {
    free(r);
    return kp_throw(env, "ENOMEM", "relayStart: out of memory");
  }
  r->env = env;
  r->token = token;
  r->acct = acct;
  r->pipe[0].r = r->pipe[0].w = r->pipe[1].r = r->pipe[1].w = -1;
  r->qhead[0] = r->qhead[1] = r->qtail[0] = r->qtail[1] = -1;
  for (int i = 0; i < 2; i++) {
    r->fd[i] = own ? fds[i] : fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
    if (r->fd[i] < 0) {
      int e = errno;
      if (i == 1 && !own) close(r->fd[0]);
      slot_give(r);
      free(r);
      return kp_throw(env, kp_errname(e), "relayStart: cannot take the socket");
    }
    int one = 1;
    if (own) continue; /* tcp_sockets.c's: non-blocking, TCP_NODELAY (keepalive: ka_queue below) */
    /* A net.Socket's descriptor: O_NONBLOCK is shared with it (one open file) and Node set
     * TCP_NODELAY; set both to be sure. */
    fcntl(r->fd[i], F_SETFL, fcntl(r->fd[i], F_GETFL) | O_NONBLOCK);
    setsockopt(r->fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (keepalive > 0) {
      int idle = (int)keepalive;
      setsockopt(r->fd[i], SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
      setsockopt(r->fd[i], IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    }
  }
  napi_value handle;
  r->loop = loop;
  r->last_ms = r->started_ms = uv_now(loop);
  for (int i = 0; i < 2; i++) {
    r->w[i].base.cb = on_event;
    r->w[i].r = r;
    r->w[i].side = i;
  }
  napi_create_double(env, id, &handle);
  /* Start by reading both sides: whatever arrived before the handoff is still in the sockets. */
  r->starting = 1;
  if (use_uring(loop)) {
    r->uring = r->ring[0] = r->ring[1] = 1;
    r->want[0] = r->want[1] = WANT_NOTHING;
    kp_ring_hold(1);
    r->ms = (unsigned char)mshot_on(-1);
    ring_recv(r, 0, 0);
    /* The endpoint rarely has bytes yet (multishot: arm the poll at once; it still finds them). */
    if (!r->done) ring_recv(r, 1, r->ms);
  } else {
    kp_reactor_hold(1);
    r->want[0] = r->want[1] = WANT_READ;
    rearm(r, WANT_READ, WANT_READ);
  }
  r->starting = 0;
  if (own && keepalive > 0 && !r->done) {
    r->ka_sec = keepalive;
    ka_queue(r);
  }
  maybe_free(r); /* it ended at once (its descriptors failed): freed now */
  return handle;
}

/* relayBytes(handle, segs = true) -> [bytes client->endpoint, bytes endpoint->client, bytes in
 * flight, idle ms, segments from the client, segments from the endpoint, FINs seen (1 client, 2
 * endpoint)] */
static napi_value relay_bytes(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], arr, v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  kp_relay *r = argc ? unwrap(env, argv[0]) : NULL;
  if (!r) return NULL;
  bool segs = true;
  if (argc > 1) napi_get_value_bool(env, argv[1], &segs);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  if (!r->done && segs) {
    for (int i = 0; i < 2; i++) {
      double s = kp_tcp_segs_in(r->fd[i]);
      if (s >= 0) r->segs[i] = s;
    }
  }
  double queued = 0;
  for (int d = 0; d < 2; d++)
    for (int b = r->qhead[d]; b >= 0; b = b == r->qtail[d] ? -1 : q_next[b]) queued += q_len[b];
  double vals[7] = {r->bytes[0], r->bytes[1],
                    (double)(r->inpipe[0] + r->inpipe[1] + r->sending[0] + r->sending[1]) + queued,
                    (double)(uv_now(loop) - r->last_ms), r->segs[0], r->segs[1],
                    (double)(r->eof[0] | (r->eof[1] << 1))};
  napi_create_array_with_length(env, 7, &arr);
  for (uint32_t i = 0; i < 7; i++) {
    napi_create_double(env, vals[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

/* relayClose(handle, reset): end now; reset closes both sockets with RST. Idempotent. */
static napi_value relay_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  kp_relay *r = argc ? unwrap(env, argv[0]) : NULL;
  if (!r) return NULL;
  bool reset = false;
  if (argc > 1) napi_get_value_bool(env, argv[1], &reset);
  finish(r, reset ? "reset" : "closed by kpath", reset, reset);
  return NULL;
}

/* relayEngine(which?, multishot?) -> [engine, why, buffer waits, backpressure stops]: the engine new
 * relays of this thread use (and, on uring, whether with multishot receives: `multishot` sets it)
 * ("uring" or "epoll") and why; `which` ("uring" or "epoll") chooses it first (uring falls back to
 * epoll when io_uring cannot be used: see why); how many ring receives found no free buffer. */
static napi_value relay_engine(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2], arr, v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return kp_throw(env, "EIO", "relayEngine: no event loop");
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    char want[8] = "";
    size_t n = 0;
    napi_get_value_string_utf8(env, argv[0], want, sizeof want, &n);
    if (strcmp(want, "epoll") == 0) {
      engine = 0;
      snprintf(engine_why, sizeof engine_why, "relayEngine('epoll')");
    } else if (strcmp(want, "uring") == 0) choose_uring(loop, "relayEngine('uring')");
    else return kp_throw(env, "ERR_INVALID_ARG_VALUE", "relayEngine: expected 'uring' or 'epoll'");
  } else if (t != napi_undefined) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "relayEngine('uring' | 'epoll')");
  int u = use_uring(loop);
  bool multishot = true;
  if (u && argc >= 2 && napi_get_value_bool(env, argv[1], &multishot) == napi_ok) mshot_on(multishot ? 1 : 0);
  napi_create_array_with_length(env, 5, &arr);
  napi_create_string_utf8(env, u ? "uring" : "epoll", NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, arr, 0, v);
  char why[256];
  snprintf(why, sizeof why, "%s%s", engine_why,
           !u ? "" : mshot_on(-1) ? "; multishot receives" : "; one receive per message (KPATH_RELAY_MULTISHOT=0, or none in this kernel)");
  napi_create_string_utf8(env, why, NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, arr, 1, v);
  napi_create_double(env, bwaits, &v);
  napi_set_element(env, arr, 2, v);
  napi_create_double(env, bpstops, &v);
  napi_set_element(env, arr, 3, v);
  napi_create_double(env, fins_saved, &v);
  napi_set_element(env, arr, 4, v);
  return arr;
}

/* relayPipePool() -> empty pipes kept for reuse on this thread (two descriptors each). */
static napi_value relay_pipe_pool(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value v;
  napi_create_int32(env, pool_n, &v);
  return v;
}

napi_status kp_relay_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"relayPipePool", NULL, relay_pipe_pool, NULL, NULL, NULL, napi_default, NULL},
      {"relayOnClosed", NULL, relay_on_closed, NULL, NULL, NULL, napi_default, NULL},
      {"relayStart", NULL, relay_start, NULL, NULL, NULL, napi_default, NULL},
      {"relayBytes", NULL, relay_bytes, NULL, NULL, NULL, napi_default, NULL},
      {"relayClose", NULL, relay_close, NULL, NULL, NULL, napi_default, NULL},
      {"relayEngine", NULL, relay_engine, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
