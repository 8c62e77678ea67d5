/*
 * TCP_INFO readings: the kernel's own count of the segments a TCP socket received (tcpi_segs_in),
 * which the relay reads for both of its sockets so `kpath conntrack` shows real packet counts, and a
 * socket's state (tcpi_state), which tells a dial whether connect() already finished.
 *
 * Apart from relay.c because libuv's headers pull in glibc's <netinet/tcp.h>, whose struct tcp_info
 * predates these counters; <linux/tcp.h> has them and cannot be mixed with it.
 */
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "addon.h"

double kp_tcp_segs_in(int fd) {
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  memset(&ti, 0, sizeof ti);
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0) return -1;
  return ti.tcpi_segs_in;
}

int kp_tcp_state(int fd) {
  unsigned char state = 0; /* tcpi_state is the first byte of struct tcp_info */
  socklen_t len = 1;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &state, &len) < 0 || len < 1) return -1;
  return state;
}
