/* kpath's native fast paths (Linux only). The TypeScript side works without them. */
#ifndef KPATH_ADDON_H
#define KPATH_ADDON_H

#include <node_api.h>
#include <stdint.h>
#include <sys/socket.h>

/* Throw `message` as an Error whose .code is `code`; returns NULL for the caller to return. */
napi_value kp_throw(napi_env env, const char *code, const char *message);

/* The errno's name ("EADDRINUSE"), as Node puts in an error's `code`. */
const char *kp_errname(int e);

/* Call the function behind `ref` (receiver: the global object) in `actx`, as napi_make_callback does
 * (microtasks and ticks run after it); an exception it throws is cleared, since the caller is a
 * libuv callback with nobody to hand it to. */
void kp_call_js(napi_env env, napi_async_context actx, napi_ref ref, size_t argc, napi_value *argv);

/* The pointer of an external handed to JavaScript, or NULL after throwing ERR_INVALID_ARG_TYPE
 * ("expected a kpath <what> handle"). */
void *kp_external(napi_env env, napi_value v, const char *what);

/* Make the next close() of a TCP socket send RST instead of FIN (SO_LINGER 0). */
void kp_set_rst(int fd);

/* An IPv4 or IPv6 literal and a port as a sockaddr; returns AF_INET, AF_INET6, or -1. */
int kp_parse_addr(const char *host, uint32_t port, struct sockaddr_storage *ss, socklen_t *len);

/* Register the batched UDP socket functions on `exports`. */
napi_status kp_udp_init(napi_env env, napi_value exports);

/* Register the TCP relay (splice) functions on `exports`. */
napi_status kp_relay_init(napi_env env, napi_value exports);

/* Segments the kernel received on a TCP socket (TCP_INFO tcpi_segs_in), or -1. */
double kp_tcp_segs_in(int fd);

/* A TCP socket's state (TCP_ESTABLISHED, TCP_SYN_SENT, TCP_CLOSE, ... from TCP_INFO), or -1. */
int kp_tcp_state(int fd);

/* Register tcpListen, tcpListenClose, tcpConnect and fdClose on `exports`. */
napi_status kp_tcp_sockets_init(napi_env env, napi_value exports);

#endif
