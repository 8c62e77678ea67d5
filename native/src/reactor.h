/* The addon's own epoll instance (reactor.c). */
#ifndef KPATH_REACTOR_H
#define KPATH_REACTOR_H

#include <stdint.h>
#include <uv.h>

typedef struct kp_watch kp_watch;
typedef void (*kp_watch_cb)(kp_watch *w, uint32_t events);
struct kp_watch {
  kp_watch_cb cb;
};

/* epoll_ctl on the reactor (created on first use on this thread's loop); 0 or -errno. */
int kp_reactor_ctl(uv_loop_t *loop, int op, int fd, kp_watch *w, uint32_t events);

/* Keep the event loop alive while something is registered: +1 when a watcher starts, -1 when done. */
void kp_reactor_hold(int delta);

/* Reference `h` while `holds` > 0 and unreference it otherwise, like any libuv handle that is active
 * only while something uses it; `*refd` tracks which it is (the reactor's and the ring's poll handles). */
void kp_ref_while_held(uv_handle_t *h, int holds, int *refd);

/* Run fn(arg) once the batch of events being dispatched is over (at once when none is). */
typedef void (*kp_after_dispatch_fn)(void *arg);
void kp_reactor_after_dispatch(kp_after_dispatch_fn fn, void *arg);

#endif
