/* Module entry: one .node file holding every native fast path. */
#include "addon.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

const char *kp_errname(int e) {
  const char *n = strerrorname_np(e);
  return n ? n : "EIO";
}

int kp_parse_addr(const char *host, uint32_t port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    *len = sizeof *a6;
    return AF_INET6;
  }
  return -1;
}

napi_value kp_throw(napi_env env, const char *code, const char *message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  napi_throw(env, err);
  return NULL;
}

void kp_call_js(napi_env env, napi_async_context actx, napi_ref ref, size_t argc, napi_value *argv) {
  napi_value cb, recv, result;
  napi_get_reference_value(env, ref, &cb);
  napi_get_global(env, &recv); /* napi_make_callback wants an object receiver */
  if (cb && napi_make_callback(env, actx, recv, cb, argc, argv, &result) == napi_pending_exception) {
    napi_value ignored;
    napi_get_and_clear_last_exception(env, &ignored);
  }
}

void *kp_external(napi_env env, napi_value v, const char *what) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    char msg[64];
    snprintf(msg, sizeof msg, "expected a kpath %s handle", what);
    kp_throw(env, "ERR_INVALID_ARG_TYPE", msg);
    return NULL;
  }
  return p;
}

void kp_set_rst(int fd) {
  struct linger l = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

static napi_value init(napi_env env, napi_value exports) {
  if (kp_udp_init(env, exports) != napi_ok) return NULL;
  if (kp_relay_init(env, exports) != napi_ok) return NULL;
  if (kp_tcp_sockets_init(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
