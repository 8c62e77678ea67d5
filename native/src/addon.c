/* Module entry: one .node file holding every native fast path. */
#include "addon.h"

napi_value kp_throw(napi_env env, const char *code, const char *message) {
  napi_value c, m, err;
  napi_create_string_utf8(env, code, NAPI_AUTO_LENGTH, &c);
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &m);
  napi_create_error(env, c, m, &err);
  napi_throw(env, err);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  if (kp_udp_init(env, exports) != napi_ok) return NULL;
  if (kp_relay_init(env, exports) != napi_ok) return NULL;
  if (kp_tcp_info_init(env, exports) != napi_ok) return NULL;
  if (kp_tcp_sockets_init(env, exports) != napi_ok) return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
