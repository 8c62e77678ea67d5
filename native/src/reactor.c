/*
 * One epoll instance of the addon's own (per thread), watched by a single libuv poll handle.
 *
 * Relays and dials register their descriptors here instead of making a uv_poll_t each: libuv's
 * uv_poll_init tests every descriptor (an epoll add and delete, and an ioctl) before it is added for
 * real, and each handle needs its own close cycle. Per connection that was about a dozen syscalls
 * more than the one epoll_ctl a descriptor needs.
 *
 * Level-triggered. Watches are freed by their owners; an owner that ends while a batch of events is
 * being dispatched must not be freed before the batch is over (kp_reactor_after_dispatch), since
 * a later event of the same batch may still point at it.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "addon.h"
#include "reactor.h"

#define KP_EVENTS 256

static __thread int epfd = -1;
static __thread uv_poll_t poll_handle;
static __thread int dispatching = 0;
/* Grows as needed: an owner freed before the batch is over could still be named by a later event. */
typedef struct {
  kp_after_dispatch_fn fn;
  void *arg;
} kp_after;
static __thread kp_after *after;
static __thread int after_n = 0, after_cap = 0;
static __thread int holds = 0;
static __thread int refd = 0;

static void on_ready(uv_poll_t *h, int status, int events) {
  (void)h;
  (void)events;
  if (status < 0) return;
  struct epoll_event evs[KP_EVENTS];
  int n = epoll_wait(epfd, evs, KP_EVENTS, 0);
  if (n <= 0) return;
  dispatching = 1;
  for (int i = 0; i < n; i++) {
    kp_watch *w = evs[i].data.ptr;
    w->cb(w, evs[i].events);
  }
  dispatching = 0;
  for (int i = 0; i < after_n; i++) after[i].fn(after[i].arg);
  after_n = 0;
}

static int ensure(uv_loop_t *loop) {
  if (epfd >= 0) return 0;
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return -errno;
  int r = uv_poll_init(loop, &poll_handle, epfd);
  if (r == 0) r = uv_poll_start(&poll_handle, UV_READABLE, on_ready);
  if (r != 0) {
    close(epfd);
    epfd = -1;
    return r;
  }
  /* Referenced only while something is registered (kp_reactor_hold), like any libuv handle. */
  uv_unref((uv_handle_t *)&poll_handle);
  refd = 0;
  kp_ref_while_held((uv_handle_t *)&poll_handle, holds, &refd);
  return 0;
}

void kp_ref_while_held(uv_handle_t *h, int holds, int *refd) {
  if (holds > 0 && !*refd) {
    uv_ref(h);
    *refd = 1;
  } else if (holds <= 0 && *refd) {
    uv_unref(h);
    *refd = 0;
  }
}

void kp_reactor_hold(int delta) {
  holds += delta;
  if (epfd < 0) return;
  kp_ref_while_held((uv_handle_t *)&poll_handle, holds, &refd);
}

int kp_reactor_ctl(uv_loop_t *loop, int op, int fd, kp_watch *w, uint32_t events) {
  int r = ensure(loop);
  if (r != 0) return r;
  struct epoll_event ev = {.events = events, .data = {.ptr = w}};
  if (epoll_ctl(epfd, op, fd, op == EPOLL_CTL_DEL ? NULL : &ev) < 0) return -errno;
  return 0;
}

void kp_reactor_after_dispatch(kp_after_dispatch_fn fn, void *arg) {
  if (!dispatching) {
    fn(arg);
    return;
  }
  if (after_n == after_cap) {
    int cap = after_cap ? after_cap * 2 : KP_EVENTS * 2;
    kp_after *a = realloc(after, (size_t)cap * sizeof *a);
    if (!a) { /* out of memory: release now (a later event of this batch for it is then unsafe) */
      fn(arg);
      return;
    }
    after = a;
    after_cap = cap;
  }
  after[after_n].fn = fn;
  after[after_n].arg = arg;
  after_n++;
}
