/* A CPU prefetch hint for the engine's batch lookahead (Swift has no prefetch intrinsic). */
#ifndef CPREFETCH_H
#define CPREFETCH_H
static inline void uvs_prefetch(const void *p) { __builtin_prefetch(p, 1, 3); }
#endif
