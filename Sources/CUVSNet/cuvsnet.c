#define _GNU_SOURCE 1
#include "cuvsnet.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>

static int fail(char *err, size_t errlen, const char *what, int fd) {
    int e = errno;
    if (err && errlen) snprintf(err, errlen, "%s: %s", what, strerror(e));
    if (fd >= 0) close(fd);
    return -e;
}

int uvs_ring_set_filter(int fd, const struct sock_filter *filter, unsigned filter_len) {
    struct sock_fprog prog = { .len = (unsigned short)filter_len, .filter = (struct sock_filter *)filter };
    return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) == 0 ? 0 : -errno;
}

int uvs_ring_set_fanout(int fd, const struct sock_filter *filter, unsigned filter_len) {
    /* Replaces the program of the whole fanout group this socket belongs to. */
    struct sock_fprog prog = { .len = (unsigned short)filter_len, .filter = (struct sock_filter *)filter };
    return setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof(prog)) == 0 ? 0 : -errno;
}

int uvs_ring_open(uvs_ring *r, int ifindex, uint32_t block_size, uint32_t block_nr, uint32_t tov_ms,
                  uint32_t reserve, const struct sock_filter *filter, unsigned filter_len,
                  uint16_t fanout_group, const struct sock_filter *fanout, unsigned fanout_len,
                  char *err, size_t errlen) {
    memset(r, 0, sizeof(*r));
    r->fd = -1;
    /* Protocol 0 until bound: no frame is queued before the filter is attached. */
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) return fail(err, errlen, "socket(AF_PACKET)", -1);
    int one = 1, v3 = TPACKET_V3;
    setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));
    if (filter_len && uvs_ring_set_filter(fd, filter, filter_len) != 0)
        return fail(err, errlen, "SO_ATTACH_FILTER", fd);
    if (setsockopt(fd, SOL_PACKET, PACKET_VERSION, &v3, sizeof(v3)) != 0)
        return fail(err, errlen, "PACKET_VERSION", fd);
    if (setsockopt(fd, SOL_PACKET, PACKET_RESERVE, &reserve, sizeof(reserve)) != 0)
        return fail(err, errlen, "PACKET_RESERVE", fd);
    struct tpacket_req3 req;
    memset(&req, 0, sizeof(req));
    req.tp_block_size = block_size;
    req.tp_block_nr = block_nr;
    req.tp_frame_size = 2048;
    req.tp_frame_nr = block_size / 2048 * block_nr;
    req.tp_retire_blk_tov = tov_ms;
    if (setsockopt(fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req)) != 0)
        return fail(err, errlen, "PACKET_RX_RING", fd);
    size_t len = (size_t)block_size * block_nr;
    uint8_t *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
    if (map == MAP_FAILED) return fail(err, errlen, "mmap(rx ring)", fd);
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = htons(ETH_P_ALL);
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) {
        munmap(map, len);
        return fail(err, errlen, "bind(AF_PACKET)", fd);
    }
    if (fanout_group) {
        int arg = fanout_group | (PACKET_FANOUT_CBPF << 16);
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
            munmap(map, len);
            return fail(err, errlen, "PACKET_FANOUT", fd);
        }
        struct sock_fprog prog = { .len = (unsigned short)fanout_len, .filter = (struct sock_filter *)fanout };
        if (setsockopt(fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog, sizeof(prog)) != 0) {
            munmap(map, len);
            return fail(err, errlen, "PACKET_FANOUT_DATA", fd);
        }
    }
    r->fd = fd;
    r->map = map;
    r->map_len = len;
    r->block_size = block_size;
    r->block_nr = block_nr;
    return 0;
}

void uvs_ring_close(uvs_ring *r) {
    if (r->map) munmap(r->map, r->map_len);
    if (r->fd >= 0) close(r->fd);
    r->map = NULL;
    r->fd = -1;
}

int uvs_ring_stats(int fd, uint32_t *packets, uint32_t *drops) {
    struct tpacket_stats_v3 st;
    socklen_t l = sizeof(st);
    memset(&st, 0, sizeof(st));
    if (getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &st, &l) != 0) return -errno;
    *packets = st.tp_packets;
    *drops = st.tp_drops;
    return 0;
}

int uvs_wait(const int *fds, unsigned nfds, int timeout_ms) {
    struct pollfd p[8];
    if (nfds > 8) nfds = 8;
    for (unsigned i = 0; i < nfds; i++) {
        p[i].fd = fds[i];
        p[i].events = POLLIN | POLLERR;
        p[i].revents = 0;
    }
    return poll(p, nfds, timeout_ms);
}

int uvs_tx_open(uvs_tx *t, int ifindex, unsigned cap, int bypass_qdisc, char *err, size_t errlen) {
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    int fd = socket(AF_PACKET, SOCK_RAW, 0);
    if (fd < 0) return fail(err, errlen, "socket(AF_PACKET)", -1);
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof(sndbuf));
    if (bypass_qdisc) {
        int one = 1;
        setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
    }
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0; /* transmit only */
    sll.sll_ifindex = ifindex;
    if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) != 0) return fail(err, errlen, "bind(AF_PACKET tx)", fd);
    t->msgs = calloc(cap, sizeof(*t->msgs));
    t->iov = calloc(cap, sizeof(*t->iov));
    if (!t->msgs || !t->iov) {
        free(t->msgs);
        free(t->iov);
        errno = ENOMEM;
        return fail(err, errlen, "tx batch", fd);
    }
    for (unsigned i = 0; i < cap; i++) {
        t->msgs[i].msg_hdr.msg_iov = &t->iov[i];
        t->msgs[i].msg_hdr.msg_iovlen = 1;
    }
    t->fd = fd;
    t->cap = cap;
    return 0;
}

void uvs_tx_flush(uvs_tx *t) {
    unsigned done = 0;
    while (done < t->n) {
        int r = sendmmsg(t->fd, t->msgs + done, t->n - done, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            t->errors++; /* skip the frame that failed */
            done++;
            continue;
        }
        done += (unsigned)r;
        t->sent += (uint64_t)r;
    }
    t->n = 0;
}

void uvs_tx_close(uvs_tx *t) {
    if (t->fd >= 0) close(t->fd);
    free(t->msgs);
    free(t->iov);
    t->fd = -1;
    t->msgs = NULL;
    t->iov = NULL;
}

int uvs_packet_unhook(int fd, int ifindex) {
    struct sockaddr_ll sll;
    memset(&sll, 0, sizeof(sll));
    sll.sll_family = AF_PACKET;
    sll.sll_protocol = 0;
    sll.sll_ifindex = ifindex;
    return bind(fd, (struct sockaddr *)&sll, sizeof(sll)) == 0 ? 0 : -errno;
}

int uvs_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
void uvs_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof(one));
    (void)r;
}
void uvs_eventfd_drain(int fd) {
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof(v));
    (void)r;
}

int uvs_pin_thread(int cpu) {
    if (cpu < 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int uvs_pin_thread_set(const int *cpus, int n) {
    if (n <= 0) return 0;
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int i = 0; i < n; i++)
        if (cpus[i] >= 0 && cpus[i] < CPU_SETSIZE) CPU_SET(cpus[i], &set);
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int uvs_allowed_cpus(int *cpus, int max) {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) return 0;
    int n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < max; c++)
        if (CPU_ISSET(c, &set)) cpus[n++] = c;
    return n;
}

uint64_t uvs_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One rtnetlink dump request; calls handle() for every message until NLMSG_DONE. */
static int nl_dump(int type, int family, void (*handle)(struct nlmsghdr *, void *), void *ctx) {
    int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) return -errno;
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt; /* as large as ndmsg; only the family is read */
    } req;
    memset(&req, 0, sizeof(req));
    req.nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg));
    req.nh.nlmsg_type = (unsigned short)type;
    req.nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    req.nh.nlmsg_seq = 1;
    req.rt.rtm_family = (unsigned char)family;
    if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    static __thread char buf[1 << 16];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            close(fd);
            return -e;
        }
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (unsigned)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_type == NLMSG_DONE) {
                close(fd);
                return 0;
            }
            if (nh->nlmsg_type == NLMSG_ERROR) {
                struct nlmsgerr *e = NLMSG_DATA(nh);
                close(fd);
                return e->error;
            }
            handle(nh, ctx);
        }
    }
}

struct neigh_ctx {
    uvs_neigh_cb cb;
    void *ctx;
};

static void neigh_msg(struct nlmsghdr *nh, void *p) {
    struct neigh_ctx *c = p;
    if (nh->nlmsg_type != RTM_NEWNEIGH) return;
    struct ndmsg *nd = NLMSG_DATA(nh);
    int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*nd));
    const uint8_t *addr = NULL, *mac = NULL;
    for (struct rtattr *a = (struct rtattr *)((char *)nd + NLMSG_ALIGN(sizeof(*nd))); RTA_OK(a, len);
         a = RTA_NEXT(a, len)) {
        if (a->rta_type == NDA_DST) addr = RTA_DATA(a);
        if (a->rta_type == NDA_LLADDR && RTA_PAYLOAD(a) == 6) mac = RTA_DATA(a);
    }
    if (addr && mac && (nd->ndm_family == AF_INET || nd->ndm_family == AF_INET6))
        c->cb(c->ctx, nd->ndm_ifindex, nd->ndm_family, addr, mac, nd->ndm_state);
}

int uvs_neigh_dump(uvs_neigh_cb cb, void *ctx) {
    struct neigh_ctx c = { cb, ctx };
    return nl_dump(RTM_GETNEIGH, AF_UNSPEC, neigh_msg, &c);
}

struct gw_ctx {
    int ifindex;
    uint32_t gw;
};

static void route_msg(struct nlmsghdr *nh, void *p) {
    struct gw_ctx *c = p;
    if (nh->nlmsg_type != RTM_NEWROUTE) return;
    struct rtmsg *rt = NLMSG_DATA(nh);
    if (rt->rtm_family != AF_INET || rt->rtm_dst_len != 0 || rt->rtm_table != RT_TABLE_MAIN) return;
    int len = (int)nh->nlmsg_len - (int)NLMSG_LENGTH(sizeof(*rt));
    uint32_t gw = 0;
    int oif = 0;
    for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == RTA_GATEWAY) memcpy(&gw, RTA_DATA(a), 4);
        if (a->rta_type == RTA_OIF) memcpy(&oif, RTA_DATA(a), 4);
    }
    if (gw && oif == c->ifindex && !c->gw) c->gw = gw;
}

int uvs_default_gateway4(int ifindex, uint32_t *gw) {
    struct gw_ctx c = { ifindex, 0 };
    int r = nl_dump(RTM_GETROUTE, AF_INET, route_msg, &c);
    *gw = c.gw;
    return r;
}
