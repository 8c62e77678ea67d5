/*
 * A UDP socket that receives and answers datagrams in batches: one recvmmsg(2) fills up to `slots`
 * datagrams, JavaScript answers the whole batch in one call, one sendmmsg(2) sends the replies back
 * to each datagram's source. Node's dgram costs a syscall, a Buffer and an rinfo object per datagram,
 * which caps a DNS server at about 100 k datagrams/s per core before any DNS work.
 *
 * Shared memory with JavaScript (ArrayBuffers the engine owns, so they outlive this socket safely):
 *   in    slots x slotSize   datagram i at i * slotSize
 *   out   slots x slotSize   reply i at i * slotSize (JavaScript writes it)
 *   meta  slots x KP_META int32:
 *           [0] in length  [1] flags (1 = truncated)  [2] source port  [3] family (4 | 6)
 *           [4..7] source address bytes (IPv4 in [4]'s bytes; IPv6 in all four)
 *           [8] out length (JavaScript sets it; 0 = no reply)   [9] unused
 *
 * Errors never reach JavaScript as exceptions from the poll loop: a datagram that cannot be read or
 * sent is counted (stats), as the kernel counts a full socket buffer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "addon.h"

#define KP_META 10
#define KP_MAX_BATCHES_PER_WAKEUP 16

typedef struct {
  napi_env env;
  int fd;
  uint32_t slots;
  uint32_t slot_size;
  uint8_t *in;
  uint8_t *out;
  int32_t *meta;
  napi_ref in_ref, out_ref, meta_ref, cb_ref;
  napi_async_context actx;
  int has_actx;
  uv_poll_t poll;
  int started;
  int closed;    /* udpClose was called (or the handle was collected) */
  int released;  /* the fd and everything but this struct are gone */
  int finalized; /* the JavaScript handle is gone: the last one of the two frees the struct */
  struct sockaddr_storage *peers;
  struct mmsghdr *rmsg;
  struct mmsghdr *smsg;
  struct iovec *riov;
  struct iovec *siov;
  double received, sent, send_drops, batches;
} kp_udp;

static napi_value throw_errno(napi_env env, const char *what, int e) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s: %s (%s)", what, strerror(e), kp_errname(e));
  return kp_throw(env, kp_errname(e), msg);
}

/* Everything but the struct itself, which the JavaScript handle points at until it is collected. */
static void release_sock(kp_udp *s) {
  napi_env env = s->env;
  if (s->fd >= 0) close(s->fd);
  s->fd = -1;
  if (s->in_ref) napi_delete_reference(env, s->in_ref);
  if (s->out_ref) napi_delete_reference(env, s->out_ref);
  if (s->meta_ref) napi_delete_reference(env, s->meta_ref);
  if (s->cb_ref) napi_delete_reference(env, s->cb_ref);
  if (s->has_actx) napi_async_destroy(env, s->actx);
  s->in_ref = s->out_ref = s->meta_ref = s->cb_ref = NULL;
  s->has_actx = 0;
  free(s->peers);
  free(s->rmsg);
  free(s->smsg);
  free(s->riov);
  free(s->siov);
  s->peers = NULL;
  s->rmsg = s->smsg = NULL;
  s->riov = s->siov = NULL;
  s->released = 1;
  if (s->finalized) free(s);
}

static void on_closed(uv_handle_t *h) { release_sock(h->data); }

/* Stop and release. Safe to call from inside the batch callback: the memory lives until on_closed. */
static void close_sock(kp_udp *s) {
  if (s->closed) return;
  s->closed = 1;
  if (s->started) {
    /* The fd may be closed once its poll handle is stopped: close it now, so the port is free when
     * udpClose returns (a rebind right after must work), and release the rest when libuv is done. */
    uv_poll_stop(&s->poll);
    close(s->fd);
    s->fd = -1;
    uv_close((uv_handle_t *)&s->poll, on_closed);
  } else {
    release_sock(s);
  }
}

static void fill_meta(kp_udp *s, uint32_t i) {
  int32_t *m = s->meta + i * KP_META;
  struct sockaddr_storage *ss = &s->peers[i];
  m[0] = (int32_t)s->rmsg[i].msg_len;
  m[1] = (s->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) ? 1 : 0;
  m[8] = 0;
  if (ss->ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    m[2] = ntohs(a->sin_port);
    m[3] = 4;
    memcpy(&m[4], &a->sin_addr, 4);
  } else {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
    m[2] = ntohs(a->sin6_port);
    m[3] = 6;
    memcpy(&m[4], &a->sin6_addr, 16);
  }
}

static void send_replies(kp_udp *s, uint32_t n) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n; i++) {
    int32_t len = s->meta[i * KP_META + 8];
    if (len <= 0 || (uint32_t)len > s->slot_size) continue;
    s->siov[k].iov_base = s->out + (size_t)i * s->slot_size;
    s->siov[k].iov_len = (size_t)len;
    memset(&s->smsg[k].msg_hdr, 0, sizeof s->smsg[k].msg_hdr);
    s->smsg[k].msg_hdr.msg_name = &s->peers[i];
    s->smsg[k].msg_hdr.msg_namelen = s->rmsg[i].msg_hdr.msg_namelen;
    s->smsg[k].msg_hdr.msg_iov = &s->siov[k];
    s->smsg[k].msg_hdr.msg_iovlen = 1;
    k++;
  }
  uint32_t off = 0;
  while (off < k) {
    int r = sendmmsg(s->fd, s->smsg + off, k - off, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
        s->send_drops += k - off;
        return;
      }
      /* This one datagram cannot go (its destination is unreachable, say): skip it. */
      s->send_drops += 1;
      off++;
      continue;
    }
    s->sent += r;
    off += (uint32_t)r;
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  kp_udp *s = h->data;
  if (status < 0 || s->closed) return;
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  for (int b = 0; b < KP_MAX_BATCHES_PER_WAKEUP && !s->closed; b++) {
    for (uint32_t i = 0; i < s->slots; i++) {
      s->riov[i].iov_base = s->in + (size_t)i * s->slot_size;
      s->riov[i].iov_len = s->slot_size;
      memset(&s->rmsg[i].msg_hdr, 0, sizeof s->rmsg[i].msg_hdr);
      s->rmsg[i].msg_hdr.msg_name = &s->peers[i];
      s->rmsg[i].msg_hdr.msg_namelen = sizeof s->peers[i];
      s->rmsg[i].msg_hdr.msg_iov = &s->riov[i];
      s->rmsg[i].msg_hdr.msg_iovlen = 1;
    }
    int n = recvmmsg(s->fd, s->rmsg, s->slots, MSG_DONTWAIT, NULL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    for (uint32_t i = 0; i < (uint32_t)n; i++) fill_meta(s, i);
    s->received += n;
    s->batches += 1;
    napi_value argv[1];
    napi_create_uint32(env, (uint32_t)n, &argv[0]);
    kp_call_js(env, s->actx, s->cb_ref, 1, argv);
    if (s->closed) break;
    send_replies(s, (uint32_t)n);
    if ((uint32_t)n < s->slots) break;
  }
  napi_close_handle_scope(env, scope);
}

static kp_udp *unwrap(napi_env env, napi_value v) { return kp_external(env, v, "UDP"); }

static void finalize_handle(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  kp_udp *s = data;
  s->finalized = 1;
  if (!s->closed) close_sock(s); /* JavaScript dropped an open socket */
  else if (s->released) free(s);
}

static napi_value make_ab(napi_env env, size_t len, void **data, napi_ref *ref) {
  napi_value ab;
  if (napi_create_arraybuffer(env, len, data, &ab) != napi_ok) return NULL;
  napi_create_reference(env, ab, 1, ref);
  return ab;
}

/* udpOpen(host, port, slots, slotSize) -> { handle, port, in, out, meta } */
static napi_value udp_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "udpOpen(host, port, slots, slotSize)");
  char host[64];
  size_t hlen = 0;
  if (napi_get_value_string_utf8(env, argv[0], host, sizeof host, &hlen) != napi_ok)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "udpOpen: host must be a string");
  uint32_t port, slots, slot_size;
  napi_get_value_uint32(env, argv[1], &port);
  napi_get_value_uint32(env, argv[2], &slots);
  napi_get_value_uint32(env, argv[3], &slot_size);
  if (port > 65535 || slots == 0 || slots > 1024 || slot_size < 512 || slot_size > 65536)
    return kp_throw(env, "ERR_OUT_OF_RANGE", "udpOpen: port 0..65535, slots 1..1024, slotSize 512..65536");

  struct sockaddr_storage addr;
  socklen_t alen;
  int family = kp_parse_addr(host, port, &addr, &alen);
  if (family < 0) return kp_throw(env, "ERR_INVALID_IP_ADDRESS", "udpOpen: host must be an IPv4 or IPv6 literal");

  int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return throw_errno(env, "socket", errno);
  if (family == AF_INET6) {
    int one = 1;
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  if (bind(fd, (struct sockaddr *)&addr, alen) < 0) {
    int e = errno;
    close(fd);
    char what[96];
    snprintf(what, sizeof what, "bind %s:%u", host, port);
    return throw_errno(env, what, e);
  }
  struct sockaddr_storage bound;
  socklen_t blen = sizeof bound;
  getsockname(fd, (struct sockaddr *)&bound, &blen);
  uint32_t bport = family == AF_INET ? ntohs(((struct sockaddr_in *)&bound)->sin_port)
                                     : ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);

  kp_udp *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return kp_throw(env, "ENOMEM", "udpOpen: out of memory");
  }
  s->env = env;
  s->fd = fd;
  s->slots = slots;
  s->slot_size = slot_size;
  s->peers = calloc(slots, sizeof *s->peers);
  s->rmsg = calloc(slots, sizeof *s->rmsg);
  s->smsg = calloc(slots, sizeof *s->smsg);
  s->riov = calloc(slots, sizeof *s->riov);
  s->siov = calloc(slots, sizeof *s->siov);
  napi_value in_ab = make_ab(env, (size_t)slots * slot_size, (void **)&s->in, &s->in_ref);
  napi_value out_ab = make_ab(env, (size_t)slots * slot_size, (void **)&s->out, &s->out_ref);
  napi_value meta_ab = make_ab(env, (size_t)slots * KP_META * sizeof(int32_t), (void **)&s->meta, &s->meta_ref);
  if (!s->peers || !s->rmsg || !s->smsg || !s->riov || !s->siov || !in_ab || !out_ab || !meta_ab) {
    s->finalized = 1;
    release_sock(s);
    return kp_throw(env, "ENOMEM", "udpOpen: out of memory");
  }
  napi_value obj, handle, pv;
  napi_create_object(env, &obj);
  napi_create_external(env, s, finalize_handle, NULL, &handle);
  napi_create_uint32(env, bport, &pv);
  napi_set_named_property(env, obj, "handle", handle);
  napi_set_named_property(env, obj, "port", pv);
  napi_set_named_property(env, obj, "in", in_ab);
  napi_set_named_property(env, obj, "out", out_ab);
  napi_set_named_property(env, obj, "meta", meta_ab);
  return obj;
}

/* udpStart(handle, onBatch(n)) */
static napi_value udp_start(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 2) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "udpStart(handle, onBatch)");
  kp_udp *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  if (s->closed || s->started) return kp_throw(env, "ERR_SOCKET_DGRAM_IS_CONNECTED", "udpStart: closed or started");
  napi_valuetype t;
  napi_typeof(env, argv[1], &t);
  if (t != napi_function) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "udpStart: onBatch must be a function");
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return kp_throw(env, "EIO", "udpStart: no event loop");
  napi_create_reference(env, argv[1], 1, &s->cb_ref);
  napi_value resource, name;
  napi_create_object(env, &resource);
  napi_create_string_utf8(env, "kpath.udpBatch", NAPI_AUTO_LENGTH, &name);
  if (napi_async_init(env, resource, name, &s->actx) == napi_ok) s->has_actx = 1;
  int r = uv_poll_init(loop, &s->poll, s->fd);
  if (r != 0) return kp_throw(env, uv_err_name(r), uv_strerror(r));
  s->poll.data = s;
  s->started = 1;
  r = uv_poll_start(&s->poll, UV_READABLE, on_poll);
  if (r != 0) return kp_throw(env, uv_err_name(r), uv_strerror(r));
  return NULL;
}

/* udpSendTo(handle, bytes, port, host) -> 0 or an errno name (a reply that was answered later). */
static napi_value udp_send_to(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4], ret;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) return kp_throw(env, "ERR_INVALID_ARG_TYPE", "udpSendTo(handle, bytes, port, host)");
  kp_udp *s = unwrap(env, argv[0]);
  if (!s) return NULL;
  void *data;
  size_t len;
  if (napi_get_typedarray_info(env, argv[1], NULL, &len, &data, NULL, NULL) != napi_ok)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "udpSendTo: bytes must be a Uint8Array");
  uint32_t port;
  napi_get_value_uint32(env, argv[2], &port);
  char host[64];
  size_t hlen;
  napi_get_value_string_utf8(env, argv[3], host, sizeof host, &hlen);
  struct sockaddr_storage to;
  socklen_t tlen;
  if (kp_parse_addr(host, port, &to, &tlen) < 0)
    return kp_throw(env, "ERR_INVALID_IP_ADDRESS", "udpSendTo: host must be an IP literal");
  const char *result = NULL;
  if (s->closed) {
    result = "EBADF";
  } else if (sendto(s->fd, data, len, MSG_DONTWAIT, (struct sockaddr *)&to, tlen) < 0) {
    result = kp_errname(errno);
    s->send_drops += 1;
  } else {
    s->sent += 1;
  }
  if (result) napi_create_string_utf8(env, result, NAPI_AUTO_LENGTH, &ret);
  else napi_create_uint32(env, 0, &ret);
  return ret;
}

/* udpStats(handle) -> { received, sent, sendDrops, batches } */
static napi_value udp_stats(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], obj, v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  kp_udp *s = argc ? unwrap(env, argv[0]) : NULL;
  if (!s) return NULL;
  napi_create_object(env, &obj);
  napi_create_double(env, s->received, &v);
  napi_set_named_property(env, obj, "received", v);
  napi_create_double(env, s->sent, &v);
  napi_set_named_property(env, obj, "sent", v);
  napi_create_double(env, s->send_drops, &v);
  napi_set_named_property(env, obj, "sendDrops", v);
  napi_create_double(env, s->batches, &v);
  napi_set_named_property(env, obj, "batches", v);
  return obj;
}

/* udpClose(handle): idempotent. */
static napi_value udp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  kp_udp *s = argc ? unwrap(env, argv[0]) : NULL;
  if (!s) return NULL;
  close_sock(s);
  return NULL;
}

napi_status kp_udp_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"udpOpen", NULL, udp_open, NULL, NULL, NULL, napi_default, NULL},
      {"udpStart", NULL, udp_start, NULL, NULL, NULL, napi_default, NULL},
      {"udpSendTo", NULL, udp_send_to, NULL, NULL, NULL, napi_default, NULL},
      {"udpStats", NULL, udp_stats, NULL, NULL, NULL, napi_default, NULL},
      {"udpClose", NULL, udp_close, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
