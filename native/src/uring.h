/* The addon's own io_uring instance (uring.c): one ring per thread, its descriptor watched by one
 * libuv poll handle as reactor.c's epoll descriptor is. */
#ifndef KPATH_URING_H
#define KPATH_URING_H

#include <linux/io_uring.h>
#include <stdint.h>
#include <uv.h>

/* Every completion goes to this function (the ring has one user: relay.c). user_data 0 is never
 * passed: requests whose result nobody needs carry 0 and are dropped. */
typedef void (*kp_ring_cqe_fn)(uint64_t user_data, int32_t res, uint32_t flags);

/* Called after each batch of completions has been handled, before what they queued is submitted. */
typedef void (*kp_ring_batch_fn)(void);

/* Set this thread's ring up on `loop` (once; later calls return the first call's result): 0, or
 * -errno when io_uring cannot be used here (kp_ring_why() says why). */
int kp_ring_open(uv_loop_t *loop, kp_ring_cqe_fn fn, kp_ring_batch_fn batch_end);

/* Whether completions are being handled now (batch_end will run before the next submission). */
int kp_ring_in_batch(void);
const char *kp_ring_why(void);

/* Room for n more requests (submitting what is queued when the queue is that full): 0 or -errno.
 * Requests that must go in one submission (a link) reserve their room first. */
int kp_ring_reserve(unsigned n);

/* The next submission entry, zeroed, queued for the next submission (before the loop next waits,
 * or at the end of the current batch of completions); NULL only when the ring cannot take it. */
struct io_uring_sqe *kp_ring_sqe(void);

/* Keep the event loop alive while relays use the ring: +1 when one starts, -1 when it is released. */
void kp_ring_hold(int delta);

/* Provided buffers (group KP_RING_BGID): a receive with IOSQE_BUFFER_SELECT takes one; its
 * completion names it (IORING_CQE_F_BUFFER, id in flags >> IORING_CQE_BUFFER_SHIFT); it goes back
 * with kp_ring_buf_put. */
#define KP_RING_BGID 7
#define KP_RING_BUF_SIZE (1 << 14)
char *kp_ring_buf(unsigned bid);
void kp_ring_buf_put(unsigned bid);
/* How many provided buffers there are (their ids are 0 .. n-1). */
unsigned kp_ring_nbufs(void);

#endif
