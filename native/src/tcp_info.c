/*
 * The kernel's own counters of a TCP socket (TCP_INFO): segments and payload bytes each way. kpath's
 * live conntrack entries read them, so `kpath conntrack` shows real packets and bytes.
 *
 * Apart from relay.c because libuv's headers pull in glibc's <netinet/tcp.h>, whose struct tcp_info
 * predates these counters; <linux/tcp.h> has them and cannot be mixed with it.
 */
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "addon.h"

/* tcpInfo(fd) -> [segments in, segments out, bytes received, bytes acked] from the kernel's TCP_INFO. */
static napi_value tcp_info_fn(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], arr, v;
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t fd = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &fd) != napi_ok)
    return kp_throw(env, "ERR_INVALID_ARG_TYPE", "tcpInfo(fd)");
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) {
    napi_get_undefined(env, &arr);
    return arr;
  }
  double vals[4] = {ti.tcpi_segs_in, ti.tcpi_segs_out, (double)ti.tcpi_bytes_received, (double)ti.tcpi_bytes_acked};
  napi_create_array_with_length(env, 4, &arr);
  for (uint32_t i = 0; i < 4; i++) {
    napi_create_double(env, vals[i], &v);
    napi_set_element(env, arr, i, v);
  }
  return arr;
}

double kp_tcp_segs_in(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return -1;
  return ti.tcpi_segs_in;
}

napi_status kp_tcp_info_init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tcpInfo", NULL, tcp_info_fn, NULL, NULL, NULL, napi_default, NULL},
  };
  return napi_define_properties(env, exports, 1, props);
}
