/* Mapping an io_uring's queues into this process: shared by the relay's ring (uring.c) and the
 * dial's (dial_ring.c), each of which keeps the pointers in its own thread-local variables. */
#ifndef KPATH_RING_MAP_H
#define KPATH_RING_MAP_H

#include <errno.h>
#include <linux/io_uring.h>
#include <stddef.h>
#include <sys/mman.h>

struct kp_ring_map {
  unsigned *sq_khead, *sq_ktail, sq_mask;
  struct io_uring_sqe *sqes;
  unsigned *cq_khead, *cq_ktail, cq_mask;
  struct io_uring_cqe *cqes;
};

/* Maps the queues of the ring `ring_fd` set up with `p` (IORING_FEAT_SINGLE_MMAP: one mapping for
 * both rings, one for the submission entries) and fills the submission array so that entry i is
 * always slot i. Returns NULL, or what failed (errno says why). */
static inline const char *kp_ring_map(int ring_fd, const struct io_uring_params *p, struct kp_ring_map *out) {
  size_t sq_len = p->sq_off.array + p->sq_entries * sizeof(unsigned);
  size_t cq_len = p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe);
  size_t len = sq_len > cq_len ? sq_len : cq_len;
  char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
  if (m == MAP_FAILED) return "mmap ring";
  void *s = mmap(NULL, p->sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                 MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQES);
  if (s == MAP_FAILED) return "mmap sqes";
  out->sqes = s;
  out->sq_khead = (unsigned *)(m + p->sq_off.head);
  out->sq_ktail = (unsigned *)(m + p->sq_off.tail);
  out->sq_mask = *(unsigned *)(m + p->sq_off.ring_mask);
  unsigned *array = (unsigned *)(m + p->sq_off.array);
  for (unsigned i = 0; i < p->sq_entries; i++) array[i] = i;
  out->cq_khead = (unsigned *)(m + p->cq_off.head);
  out->cq_ktail = (unsigned *)(m + p->cq_off.tail);
  out->cq_mask = *(unsigned *)(m + p->cq_off.ring_mask);
  out->cqes = (struct io_uring_cqe *)(m + p->cq_off.cqes);
  return NULL;
}

#endif
