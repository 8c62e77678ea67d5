/* kpath's native fast paths (Linux only). The TypeScript side works without them. */
#ifndef KPATH_ADDON_H
#define KPATH_ADDON_H

#include <node_api.h>

/* Throw `message` as an Error whose .code is `code`; returns NULL for the caller to return. */
napi_value kp_throw(napi_env env, const char *code, const char *message);

/* Register the batched UDP socket functions on `exports`. */
napi_status kp_udp_init(napi_env env, napi_value exports);

/* Register the TCP relay (splice) functions on `exports`. */
napi_status kp_relay_init(napi_env env, napi_value exports);

/* Segments the kernel received on a TCP socket (TCP_INFO tcpi_segs_in), or -1. */
double kp_tcp_segs_in(int fd);

/* Register tcpInfo(fd) on `exports`. */
napi_status kp_tcp_info_init(napi_env env, napi_value exports);

/* Register tcpListen, tcpListenClose, tcpConnect and fdClose on `exports`. */
napi_status kp_tcp_sockets_init(napi_env env, napi_value exports);

#endif
