/*
 * TCP listening, accepting and dialing on raw descriptors, for `kpath up`'s native path: a connection
 * is an fd from accept4 to the relay (relay.c) without a net.Socket, so JavaScript pays only for the
 * decision (the emulated kernel's verdict), not for two stream objects per connection.
 *
 *   tcpListen(host, port, backlog, onAccept(fd, peerHost, peerPort), keepAliveSec?) -> { handle, port }
 *       A wakeup accepts what waits through the dial's ring in batches (dial_ring.c: one
 *       io_uring_enter for up to 16 connections, each with its peer's address), or by accept4 where
 *       the ring does not accept (KPATH_DIAL=syscalls, a kernel before 6.10).
 *       TCP_NODELAY (and keepalive after keepAliveSec idle, 0: off) are set on the listening socket:
 *       accepted sockets inherit them, so an accept costs no setsockopt
 *   tcpListenClose(handle)                 stop accepting (accepted connections are not touched)
 *   tcpConnect(srcHost, dstHost, dstPort, timeoutMs, onDone(fd, code, localPort), keepAliveSec?)
 *       bound to srcHost with the port left to connect() (IP_BIND_ADDRESS_NO_PORT), TCP_NODELAY and
 *       keepalive set. Returns:
 *         a number   connected at once (on loopback the kernel usually runs the whole handshake
 *                    inside connect()): fd * 65536 + localPort; onDone is never called
 *         a string   failed at once with that errno name; onDone is never called
 *         undefined  in progress: onDone(fd, undefined, localPort) once connected, or
 *                    onDone(-1, errno name or ETIMEDOUT, 0)
 *       The setsockopts, bind and connect go to the kernel as one io_uring submission where the
 *       kernel has the opcodes (dial_ring.c; env KPATH_DIAL=syscalls: five syscalls and a TCP_INFO
 *       read instead), with the same results.
 *   tcpDialEngine(which?) -> [engine, why, dials, slow, accept, accepts, acceptBatches]   "uring" or
 *       "syscalls", and why; `which` chooses first ("uring" stays "syscalls" where the ring cannot
 *       be set up); dials through the ring so far, and how many of them did not connect at once;
 *       how listeners accept (io_uring batches on the same ring, or accept4), connections accepted
 *       through the ring, and in how many batches
 *   fdClose(fd, reset)                     close a descriptor this module handed out; reset: RST
 *
 * Errors carry the errno name as `code`, as Node's do, so listen errors read the same either way.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "dial_ring.h"
#include "reactor.h"

#define KP_ACCEPTS_PER_WAKEUP 64

static uint32_t port_of(const struct sockaddr_storage *ss) {
  return ss->ss_family == AF_INET ? ntohs(((const struct sockaddr_in *)ss)->sin_port)
                                  : ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static void host_of(const struct sockaddr_storage *ss, char *buf, size_t n) {
  if (ss->ss_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, n);
  else inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, n);
}

static bool get_str(napi_env env, napi_value v, char *buf, size_t n) {
  size_t len;
  return napi_get_value_string_utf8(env, v, buf, n, &len) == napi_ok;
}

/* TCP_NODELAY, and keepalive probes after `keepalive` seconds idle (0: off). */
static void set_conn_opts(int fd, uint32_t keepalive) {
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (keepalive > 0) {
    int idle = (int)keepalive;
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
  }
}

/* ---- listening ------------------------------------------------------------------------------- */

typedef struct {
  napi_env env;
  int fd;
  uv_poll_t poll;
  uv_timer_t backoff; /* out of descriptors: stop accepting for a moment instead of spinning */
  napi_ref cb;
  napi_async_context actx;
  int closed;
  int handles;
  int finalized;
  int last_accepts; /* how many the last wakeup accepted: the size of the next one's first batch */
} kp_listener;

static void listener_maybe_free(kp_listener *l) {
  if (l->closed && l->handles == 0 && l->finalized) free(l);
}

static void listener_handle_closed(uv_handle_t *h) {
  kp_listener *l = h->data;
  if (--l->handles == 0) {
    napi_delete_reference(l->env, l->cb);
    napi_async_destroy(l->env, l->actx);
  }
  listener_maybe_free(l);
}

static void on_accept(uv_poll_t *h, int status, int events);

static void on_backoff(uv_timer_t *t) {
  kp_listener *l = t->data;
  if (!l->closed) uv_poll_start(&l->poll, UV_READABLE, on_accept);
}

/* One wakeup's calls into JavaScript: one callback scope for all of them, opened at the first, so
 * microtasks and ticks run once after the batch instead of after every connection (as one
 * napi_make_callback each would). */
typedef struct {
  napi_env env;
  kp_listener *l;
  napi_callback_scope cscope;
  napi_value cb, recv;
  int batched; /* -1: not tried yet; 0: one napi_make_callback per connection after all */
} kp_accept_batch;

static void deliver(kp_accept_batch *b, int cfd, const struct sockaddr_storage *peer) {
  napi_env env = b->env;
  char host[INET6_ADDRSTRLEN];
  host_of(peer, host, sizeof host);
  napi_value argv[3], result;
  napi_create_int32(env, cfd, &argv[0]);
  napi_create_string_utf8(env, host, NAPI_AUTO_LENGTH, &argv[1]);
  napi_create_uint32(env, port_of(peer), &argv[2]);
  if (b->batched < 0) {
    napi_value resource;
    b->batched = 0;
    if (napi_create_object(env, &resource) == napi_ok &&
        napi_open_callback_scope(env, resource, b->l->actx, &b->cscope) == napi_ok &&
        napi_get_reference_value(env, b->l->cb, &b->cb) == napi_ok && b->cb != NULL &&
        napi_get_global(env, &b->recv) == napi_ok)
      b->batched = 1;
  }
  if (!b->batched) kp_call_js(env, b->l->actx, b->l->cb, 3, argv);
  else if (napi_call_function(env, b->recv, b->cb, 3, argv, &result) == napi_pending_exception) {
    napi_value ignored; /* the handler catches its own; nobody here to hand an exception to */
    napi_get_and_clear_last_exception(env, &ignored);
  }
}

/* Out of descriptors or memory: stop accepting for a moment instead of spinning. */
static int accept_backoff(kp_listener *l, int e) {
  if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
    uv_poll_stop(&l->poll);
    uv_timer_start(&l->backoff, on_backoff, 100, 0);
  }
  return 1;
}

static void on_accept(uv_poll_t *h, int status, int events) {
  (void)events;
  kp_listener *l = h->data;
  if (l->closed || status < 0) return;
  napi_env env = l->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  kp_accept_batch b = {env, l, NULL, NULL, NULL, -1};
  int total = 0;
  /* Through the ring (dial_ring.c), in batches sized by what the last wakeup found: a batch much
   * larger than the queue costs more than the accept4 calls it replaces. */
  int n = l->last_accepts + 1;
  if (n < 2) n = 2;
  while (total < KP_ACCEPTS_PER_WAKEUP && !l->closed) {
    kp_accepted got[KP_ACCEPT_BATCH];
    int more = 0, err = 0;
    int k = kp_ring_accept(l->fd, n, got, &more, &err);
    if (k < 0) break; /* accept4 below */
    for (int i = 0; i < k; i++) {
      if (l->closed) close(got[i].fd); /* the handler closed the listener: nobody for these */
      else deliver(&b, got[i].fd, &got[i].peer);
    }
    total += k;
    if (err) accept_backoff(l, err);
    if (!more || err) {
      total = -total - 1; /* done: no accept4 */
      break;
    }
    n = KP_ACCEPT_BATCH;
  }
  if (total >= 0) {
    for (; total < KP_ACCEPTS_PER_WAKEUP && !l->closed; total++) {
      struct sockaddr_storage peer;
      socklen_t plen = sizeof peer;
      int cfd = accept4(l->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (cfd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        accept_backoff(l, errno);
        break;
      }
      deliver(&b, cfd, &peer);
    }
  } else total = -total - 1;
  l->last_accepts = total;
  if (b.cscope) napi_close_callback_scope(env, b.cscope);
  napi_close_handle_scope(env, scope);
}

static void listener_close(kp_listener *l) {
  if (l->closed) return;
  l->closed = 1;
  uv_poll_stop(&l->poll);
  uv_timer_stop(&l->backoff);
  close(l->fd);
  l->fd = -1;
  uv_close((uv_handle_t *)&l->poll, listener_handle_closed);
  uv_close((uv_handle_t *)&l->backoff, listener_handle_closed);
}

static void listener_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  kp_listener *l = data;
  l->finalized = 1;
  listener_close(l);
  listener_maybe_free(l);
}

static napi_value tcp_listen(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char host[64];
  uint32_t port = 0, backlog = 511, keepalive = 0;
  napi_valuetype t = napi_undefined;
  if (argc >= 4) napi_typeof(env, argv[3], &t);
  if (argc >= 5) napi_get_value_uint32(env, argv[4], &keepalive);
  if (argc < 4 || !get_str(env, argv[0], host, sizeof host) || napi_get_value_uint32(env, argv[1], &port) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &backlog) != napi_ok || t != napi_function || port > 65535)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "tcpListen(host, port, backlog, onAccept)");
  struct sockaddr_storage ss;
  socklen_t len;
  int family = kp_parse_addr(host, port, &ss, &len);
  if (family < 0) return kp_throw(env, "ERR_INVALID_IP_ADDRESS", "tcpListen: host must be an IP literal");
  int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return kp_throw(env, kp_errname(errno), strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as libuv does for TCP servers */
  if (family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  set_conn_opts(fd, keepalive);
  if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, (int)backlog) < 0) {
    int e = errno;
    close(fd);
    char msg[128];
    snprintf(msg, sizeof msg, "listen %s:%u: %s", host, port, strerror(e));
    return kp_throw(env, kp_errname(e), msg);
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  kp_listener *l = calloc(1, sizeof *l);
  if (!l) {
    close(fd);
    return kp_throw(env, "ENOMEM", "tcpListen: out of memory");
  }
  l->env = env;
  l->fd = fd;
  napi_create_reference(env, argv[3], 1, &l->cb);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "kpath.tcpListen", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &l->actx);
  uv_poll_init(loop, &l->poll, fd);
  uv_timer_init(loop, &l->backoff);
  l->poll.data = l;
  l->backoff.data = l;
  l->handles = 2;
  uv_poll_start(&l->poll, UV_READABLE, on_accept);
  napi_value obj, handle, pv;
  napi_create_object(env, &obj);
  napi_create_external(env, l, listener_finalize, NULL, &handle);
  napi_create_uint32(env, port_of(&bound), &pv);
  napi_set_named_property(env, obj, "handle", handle);
  napi_set_named_property(env, obj, "port", pv);
  return obj;
}

static napi_value tcp_listen_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 1) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "tcpListenClose(handle)");
  kp_listener *l = kp_external(env, argv[0], "listener");
  if (l) listener_close(l);
  return NULL;
}

/* ---- dialing --------------------------------------------------------------------------------- */

typedef struct {
  kp_watch watch; /* first: the reactor hands this pointer back */
  napi_env env;
  uv_loop_t *loop;
  int fd;
  int done;
  uv_timer_t timer;
  napi_ref cb;
  napi_async_context actx;
} kp_dial;

static void dial_timer_closed(uv_handle_t *h) {
  kp_dial *d = h->data;
  napi_delete_reference(d->env, d->cb);
  napi_async_destroy(d->env, d->actx);
  free(d);
}

/* Report and tear down; the fd goes to JavaScript on success (out of the reactor first: the relay
 * registers it anew), is closed otherwise. */
static void dial_done(kp_dial *d, int ok, const char *code) {
  if (d->done) return;
  d->done = 1;
  napi_env env = d->env;
  uv_timer_stop(&d->timer);
  int fd = d->fd;
  uint32_t lport = 0;
  if (ok) {
    kp_reactor_ctl(d->loop, EPOLL_CTL_DEL, fd, &d->watch, 0);
    struct sockaddr_storage local;
    socklen_t llen = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0) lport = port_of(&local);
  } else {
    close(fd);
    fd = -1;
  }
  kp_reactor_hold(-1);
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) == napi_ok) {
    napi_value argv[3];
    napi_create_int32(env, fd, &argv[0]);
    if (code) napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &argv[1]);
    else napi_get_undefined(env, &argv[1]);
    napi_create_uint32(env, lport, &argv[2]);
    kp_call_js(env, d->actx, d->cb, 3, argv);
    napi_close_handle_scope(env, scope);
  }
  /* Freed when the timer is closed: after this loop iteration, so after the event batch too. */
  uv_close((uv_handle_t *)&d->timer, dial_timer_closed);
}

static void on_dial_event(kp_watch *w, uint32_t events) {
  (void)events;
  kp_dial *d = (kp_dial *)w;
  if (d->done) return;
  int err = 0;
  socklen_t elen = sizeof err;
  if (getsockopt(d->fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) err = errno;
  if (err == 0) dial_done(d, 1, NULL);
  else dial_done(d, 0, kp_errname(err));
}

static void on_dial_timeout(uv_timer_t *t) { dial_done(t->data, 0, "ETIMEDOUT"); }

static napi_value tcp_connect(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6], ret;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  char src[64], dst[64];
  uint32_t dport = 0, timeout = 0, keepalive = 0;
  napi_valuetype t = napi_undefined;
  if (argc >= 5) napi_typeof(env, argv[4], &t);
  if (argc >= 6) napi_get_value_uint32(env, argv[5], &keepalive);
  if (argc < 5 || !get_str(env, argv[0], src, sizeof src) || !get_str(env, argv[1], dst, sizeof dst) ||
      napi_get_value_uint32(env, argv[2], &dport) != napi_ok || napi_get_value_uint32(env, argv[3], &timeout) != napi_ok ||
      t != napi_function || dport == 0 || dport > 65535)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "tcpConnect(srcHost, dstHost, dstPort, timeoutMs, onDone)");
  struct sockaddr_storage sa, da;
  socklen_t slen = 0, dlen = 0;
  int sf = kp_parse_addr(src, 0, &sa, &slen);
  int df = kp_parse_addr(dst, dport, &da, &dlen);
  if (sf < 0 || df < 0 || sf != df)
    return kp_throw(env, "ERR_INVALID_IP_ADDRESS", "tcpConnect: addresses must be IP literals of one family");
  const char *fail = NULL;
  int fd = socket(df, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) fail = kp_errname(errno);
  int pending = 0; /* connecting still: wait below for the socket to turn writable */
  if (!fail && kp_dial_ring_on()) {
    int r = kp_dial_ring_connect(fd, (struct sockaddr *)&sa, slen, (struct sockaddr *)&da, dlen);
    if (r == KP_DIAL_REDO) {
      close(fd); /* the ring may have half-configured it; by syscalls from here on */
      fd = socket(df, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) fail = kp_errname(errno);
    } else {
      if (keepalive > 0) set_conn_opts(fd, keepalive);
      if (r < 0) fail = kp_errname(-r);
      else if (r == KP_DIAL_PENDING) pending = 1;
      else {
        struct sockaddr_storage local;
        socklen_t llen = sizeof local;
        if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0) {
          napi_create_double(env, (double)fd * 65536.0 + (double)port_of(&local), &ret);
          return ret;
        }
        pending = 1; /* not expected: the writable wait reports it */
      }
      if (fail) close(fd);
    }
  }
  if (!fail && !pending) {
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    set_conn_opts(fd, keepalive);
    if (bind(fd, (struct sockaddr *)&sa, slen) < 0) fail = kp_errname(errno);
    else if (connect(fd, (struct sockaddr *)&da, dlen) < 0 && errno != EINPROGRESS) fail = kp_errname(errno);
    else {
      /* Loopback runs the handshake (or the refusal) inside connect(): look before waiting. */
      int state = kp_tcp_state(fd);
      if (state == TCP_ESTABLISHED) {
        struct sockaddr_storage local;
        socklen_t llen = sizeof local;
        if (getsockname(fd, (struct sockaddr *)&local, &llen) == 0) {
          napi_create_double(env, (double)fd * 65536.0 + (double)port_of(&local), &ret);
          return ret;
        }
      } else if (state == TCP_CLOSE) {
        int err = 0;
        socklen_t elen = sizeof err;
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
        fail = kp_errname(err ? err : ECONNREFUSED);
      }
    }
    if (fail) close(fd);
  }
  if (fail) {
    napi_create_string_utf8(env, fail, NAPI_AUTO_LENGTH, &ret);
    return ret;
  }
  uv_loop_t *loop;
  napi_get_uv_event_loop(env, &loop);
  kp_dial *d = calloc(1, sizeof *d);
  if (!d) {
    close(fd);
    napi_create_string_utf8(env, "ENOMEM", NAPI_AUTO_LENGTH, &ret);
    return ret;
  }
  d->env = env;
  d->loop = loop;
  d->fd = fd;
  d->watch.cb = on_dial_event;
  /* Writable once connected (or failed); a connect that finished at once is reported the same way. */
  int e = kp_reactor_ctl(loop, EPOLL_CTL_ADD, fd, &d->watch, EPOLLOUT);
  if (e < 0) {
    close(fd);
    free(d);
    napi_create_string_utf8(env, kp_errname(-e), NAPI_AUTO_LENGTH, &ret);
    return ret;
  }
  kp_reactor_hold(1);
  napi_create_reference(env, argv[4], 1, &d->cb);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "kpath.tcpConnect", NAPI_AUTO_LENGTH, &name);
  napi_async_init(env, resource, name, &d->actx);
  uv_timer_init(loop, &d->timer);
  d->timer.data = d;
  uv_timer_start(&d->timer, on_dial_timeout, timeout, 0);
  napi_get_undefined(env, &ret);
  return ret;
}

static napi_value fd_close(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  bool reset = false;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "fdClose(fd, reset)");
  if (argc > 1) napi_get_value_bool(env, argv[1], &reset);
  if (reset) kp_set_rst(fd);
  close(fd);
  return NULL;
}

static napi_value tcp_dial_engine(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr, v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_valuetype t = napi_undefined;
  if (argc >= 1) napi_typeof(env, argv[0], &t);
  if (t == napi_string) {
    char want[12] = "";
    size_t n = 0;
    napi_get_value_string_utf8(env, argv[0], want, sizeof want, &n);
    if (strcmp(want, "uring") == 0) kp_dial_ring_choose(1);
    else if (strcmp(want, "syscalls") == 0) kp_dial_ring_choose(0);
    else return kp_throw(env, "ERR_INVALID_ARG_VALUE", "tcpDialEngine: expected 'uring' or 'syscalls'");
  } else if (t != napi_undefined) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "tcpDialEngine('uring' | 'syscalls')");
  int on = kp_dial_ring_on();
  double dials, slow;
  kp_dial_ring_counts(&dials, &slow);
  double acc, batches;
  kp_ring_accept_counts(&acc, &batches);
  napi_create_array_with_length(env, 7, &arr);
  napi_create_string_utf8(env, on ? "uring" : "syscalls", NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, arr, 0, v);
  napi_create_string_utf8(env, kp_dial_ring_why(), NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, arr, 1, v);
  napi_create_double(env, dials, &v);
  napi_set_element(env, arr, 2, v);
  napi_create_double(env, slow, &v);
  napi_set_element(env, arr, 3, v);
  napi_create_string_utf8(env, kp_ring_accept_why(), NAPI_AUTO_LENGTH, &v);
  napi_set_element(env, arr, 4, v);
  napi_create_double(env, acc, &v);
  napi_set_element(env, arr, 5, v);
  napi_create_double(env, batches, &v);
  napi_set_element(env, arr, 6, v);
  return arr;
}

napi_status kp_tcp_sockets_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tcpListen", NULL, tcp_listen, NULL, NULL, NULL, napi_default, NULL},
      {"tcpListenClose", NULL, tcp_listen_close, NULL, NULL, NULL, napi_default, NULL},
      {"tcpConnect", NULL, tcp_connect, NULL, NULL, NULL, napi_default, NULL},
      {"tcpDialEngine", NULL, tcp_dial_engine, NULL, NULL, NULL, napi_default, NULL},
      {"fdClose", NULL, fd_close, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
