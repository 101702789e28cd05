/* Memory hints for the engine (Swift has no prefetch intrinsic, and Glibc stays out of
 * the engine): a CPU prefetch for the batch lookahead, and transparent huge pages for the
 * connection table's large arrays. */
#ifndef CPREFETCH_H
#define CPREFETCH_H
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>

static inline void uvs_prefetch(const void *p) { __builtin_prefetch(p, 1, 3); }

/* Asks for 2 MiB pages over the whole 2 MiB pages inside [p, p + len), before the memory
 * is first touched: random lookups in a table of hundreds of MB then miss the TLB far
 * less (4 KiB pages need a page walk, itself a cache miss, on most of them). A hint: when
 * the kernel refuses, nothing changes. */
static inline void uvs_advise_huge_pages(void *p, size_t len) {
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(huge - 1);
    if (end > start) (void)madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    (void)p; (void)len;
#endif
}
#endif
