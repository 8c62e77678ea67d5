/*
 * A TCP relay between two connected sockets, driven by the addon's epoll (reactor.c) on the Node
 * event loop. Each direction copies through a small buffer (recv, send) until a read fills it, then
 * moves bytes in the kernel: splice(2) from one socket into a pipe and from the pipe into the other.
 * No byte passes through JavaScript, which only hears about the connection's end.
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
 * connection holds its two sockets and nothing else.
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
  int starting;        /* relayStart is still using it: not freed yet */
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
  if (r->released && !r->ka_queued && !r->starting) {
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
  kp_reactor_hold(-1);
  maybe_free(r);
}

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
  for (int i = 0; i < 2; i++) {
    if (i == 0 ? reset0 : reset1) kp_set_rst(r->fd[i]);
    close(r->fd[i]);
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
  kp_reactor_hold(1);
  napi_create_double(env, id, &handle);
  /* Start by reading both sides: whatever arrived before the handoff is still in the sockets. */
  r->want[0] = r->want[1] = WANT_READ;
  r->starting = 1;
  rearm(r, WANT_READ, WANT_READ);
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
  double vals[7] = {r->bytes[0], r->bytes[1], (double)(r->inpipe[0] + r->inpipe[1]),
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
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
