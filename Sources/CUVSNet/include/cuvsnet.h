/* The small C layer under the live director: what Swift's Glibc module does not show
 * (TPACKET_V3 ring layout, sendmmsg/struct mmsghdr, PACKET_FANOUT_CBPF, CPU affinity,
 * rtnetlink). Everything here is called per batch or at setup, never per packet,
 * except the static inline ring accessors. */
#ifndef CUVSNET_H
#define CUVSNET_H
#include <stdint.h>
#include <stddef.h>
#include <linux/filter.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <sys/uio.h>

/* ---- TPACKET_V3 receive ring ---- */
typedef struct uvs_ring {
    int fd;
    uint8_t *map;
    size_t map_len;
    uint32_t block_size, block_nr, current;
} uvs_ring;

/* Opens an ETH_P_ALL packet socket on ifindex with a V3 ring of block_nr x block_size,
 * `reserve` bytes of headroom before every frame, outgoing frames ignored. The socket is
 * bound; with fanout_group != 0 it joins that PACKET_FANOUT_CBPF group running `fanout`.
 * Returns 0 or -errno (and a description in err). */
int uvs_ring_open(uvs_ring *r, int ifindex, uint32_t block_size, uint32_t block_nr, uint32_t tov_ms,
                  uint32_t reserve, const struct sock_filter *filter, unsigned filter_len,
                  uint16_t fanout_group, const struct sock_filter *fanout, unsigned fanout_len,
                  char *err, size_t errlen);
int uvs_ring_set_filter(int fd, const struct sock_filter *filter, unsigned filter_len);
int uvs_ring_set_fanout(int fd, const struct sock_filter *filter, unsigned filter_len);
void uvs_ring_close(uvs_ring *r);
/* PACKET_STATISTICS (counters reset by every read, as the kernel does). */
int uvs_ring_stats(int fd, uint32_t *packets, uint32_t *drops);

static inline struct tpacket_block_desc *uvs_ring_block(uvs_ring *r) {
    struct tpacket_block_desc *bd = (struct tpacket_block_desc *)(r->map + (size_t)r->current * r->block_size);
    return (__atomic_load_n(&bd->hdr.bh1.block_status, __ATOMIC_ACQUIRE) & TP_STATUS_USER) ? bd : NULL;
}
static inline void uvs_ring_release(uvs_ring *r, struct tpacket_block_desc *bd) {
    __atomic_store_n(&bd->hdr.bh1.block_status, TP_STATUS_KERNEL, __ATOMIC_RELEASE);
    r->current = r->current + 1 == r->block_nr ? 0 : r->current + 1;
}
static inline uint32_t uvs_block_count(const struct tpacket_block_desc *bd) { return bd->hdr.bh1.num_pkts; }
static inline struct tpacket3_hdr *uvs_block_first(struct tpacket_block_desc *bd) {
    return (struct tpacket3_hdr *)((uint8_t *)bd + bd->hdr.bh1.offset_to_first_pkt);
}
static inline struct tpacket3_hdr *uvs_frame_next(struct tpacket3_hdr *h) {
    return (struct tpacket3_hdr *)((uint8_t *)h + h->tp_next_offset);
}
static inline uint8_t *uvs_frame_data(struct tpacket3_hdr *h) { return (uint8_t *)h + h->tp_mac; }
static inline uint32_t uvs_frame_snaplen(const struct tpacket3_hdr *h) { return h->tp_snaplen; }
static inline uint32_t uvs_frame_len(const struct tpacket3_hdr *h) { return h->tp_len; }
/* The 802.1Q VLAN ID the NIC (or veth) stripped, -1 when the frame had none. */
static inline int32_t uvs_frame_vlan(const struct tpacket3_hdr *h) {
    return (h->tp_status & TP_STATUS_VLAN_VALID) ? (int32_t)(h->hv1.tp_vlan_tci & 0x0fff) : -1;
}

/* The transport checksum is still the sender's partial one (a local veth/tap sender). */
static inline int uvs_frame_csum_pending(const struct tpacket3_hdr *h) { return (h->tp_status & TP_STATUS_CSUMNOTREADY) != 0; }

/* Waits for any of fds to be readable, at most timeout_ms. Returns poll()'s result. */
int uvs_wait(const int *fds, unsigned nfds, int timeout_ms);

/* ---- batched transmission (sendmmsg) ---- */
typedef struct uvs_tx {
    int fd;
    unsigned n, cap;
    struct mmsghdr *msgs;
    struct iovec *iov;
    uint64_t sent, errors;
} uvs_tx;

/* bypass_qdisc: PACKET_QDISC_BYPASS (straight to the driver: no qdisc, no tc egress, and
 * taps such as tcpdump on this interface do not see the frames). */
int uvs_tx_open(uvs_tx *t, int ifindex, unsigned cap, int bypass_qdisc, char *err, size_t errlen);
void uvs_tx_flush(uvs_tx *t);
void uvs_tx_close(uvs_tx *t);
static inline void uvs_tx_add(uvs_tx *t, void *frame, unsigned len) {
    t->iov[t->n].iov_base = frame;
    t->iov[t->n].iov_len = len;
    if (++t->n == t->cap) uvs_tx_flush(t);
}

/* ---- misc ---- */
/* Re-binds a packet socket to protocol 0: it stops receiving (no per-frame clone). */
int uvs_packet_unhook(int fd, int ifindex);
int uvs_eventfd(void);
void uvs_eventfd_signal(int fd);
void uvs_eventfd_drain(int fd);
/* Pins the calling thread to cpu (ignored when cpu < 0). */
int uvs_pin_thread(int cpu);
/* Lets the calling thread run on any of cpus[0..n) (ignored when n <= 0). */
int uvs_pin_thread_set(const int *cpus, int n);
/* CPUs the process may run on, in order, into cpus; returns how many. */
int uvs_allowed_cpus(int *cpus, int max);
uint64_t uvs_monotonic_ns(void);

/* ---- rtnetlink ---- */
/* One neighbour-table entry: family AF_INET/AF_INET6, addr 4 or 16 bytes, NUD_* state. */
typedef void (*uvs_neigh_cb)(void *ctx, int ifindex, int family, const uint8_t *addr,
                             const uint8_t *mac, uint16_t state);
/* Dumps the kernel neighbour table (RTM_GETNEIGH). Returns 0 or -errno. */
int uvs_neigh_dump(uvs_neigh_cb cb, void *ctx);
/* The IPv4 default gateway via ifindex from the main table, 0 if none (network order in *gw). */
int uvs_default_gateway4(int ifindex, uint32_t *gw);

/* VRRP (vrrp_socket.c). Addresses are 4 or 16 bytes in network order. Returns -errno on failure. */
int uvs_vrrp_open(int family, int ifindex, const char *ifname, const uint8_t *src, const uint8_t *group);
/* One advert: the VRRP message into buf, its source, destination and TTL / hop limit. 0: not VRRP. */
ssize_t uvs_vrrp_recv(int fd, int family, uint8_t *buf, size_t cap, uint8_t *src, uint8_t *dst, int *ttl);
int uvs_vrrp_send(int fd, int family, int ifindex, const uint8_t *dst, const uint8_t *msg, size_t len);
/* 1 when the interface is up and running (carrier), 0 when not, -errno. */
int uvs_link_up(const char *ifname);

#endif
