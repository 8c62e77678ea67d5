/* The dial through io_uring (dial_ring.c): tcpConnect's setsockopts, bind and connect in one
 * submission, on a small ring of the thread's own that is used only synchronously. */
#ifndef KPATH_DIAL_RING_H
#define KPATH_DIAL_RING_H

#include <sys/socket.h>

/* kp_dial_ring_connect's answers besides 0 (connected) and -errno (bind or connect failed): */
#define KP_DIAL_PENDING 1 /* the handshake is not done: wait for the socket to turn writable */
#define KP_DIAL_REDO 2    /* the ring failed (and is given up): dial again by syscalls, on a new socket */

/* Whether this thread dials through the ring: set up at the first call (env KPATH_DIAL=syscalls:
 * never); 0 when io_uring or one of the opcodes is missing (kp_dial_ring_why() says why). */
int kp_dial_ring_on(void);

/* Choose: 1 the ring (when it can be set up; returns whether it is used), 0 syscalls. */
int kp_dial_ring_choose(int want);

const char *kp_dial_ring_why(void);

/* Dials through the ring so far, and how many of them did not connect at once. */
void kp_dial_ring_counts(double *n, double *n_slow);

/* IP_BIND_ADDRESS_NO_PORT and TCP_NODELAY on fd (a new non-blocking TCP socket), bind to src,
 * connect to dst, in one io_uring_enter. */
int kp_dial_ring_connect(int fd, const struct sockaddr *src, socklen_t slen, const struct sockaddr *dst,
                         socklen_t dlen);

/* A connection kp_ring_accept took: its descriptor and the peer's address. */
#define KP_ACCEPT_BATCH 16
typedef struct {
  int fd;
  struct sockaddr_storage peer;
} kp_accepted;

/* Accept up to n (at most KP_ACCEPT_BATCH) connections waiting on the non-blocking listening
 * socket lfd in one io_uring_enter. Returns how many were taken (out[0..]); *more: all n were (more
 * may wait); *err: the first error other than EAGAIN, ECONNABORTED, EINTR (0: none). -1 when the
 * ring does not accept here (KPATH_DIAL=syscalls, no io_uring, a kernel before 6.10): accept4. */
int kp_ring_accept(int lfd, int n, kp_accepted *out, int *more, int *err);
const char *kp_ring_accept_why(void);
void kp_ring_accept_counts(double *n, double *batches);

#endif
