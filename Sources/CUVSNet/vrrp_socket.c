// VRRP's raw IP sockets (protocol 112) as keepalived sets them up: TTL / hop limit 255,
// TOS 0xC0, no multicast loop, bound to the interface, the group joined there. Not NIO's
// RawSocketBootstrap: it gives no IPv6 hop limit, which receive validation needs.
#define _GNU_SOURCE 1
#include "cuvsnet.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/ioctl.h>

#define VRRP_PROTO 112

int uvs_vrrp_open(int family, int ifindex, const char *ifname, const uint8_t *src, const uint8_t *group) {
    int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, VRRP_PROTO);
    if (fd < 0) return -errno;
    int one = 1, zero = 0, ttl = 255, tos = 0xC0, six = 6;
    if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) < 0) goto fail;
    if (family == AF_INET) {
        int pmtu = IP_PMTUDISC_DONT;
        struct ip_mreqn m = { .imr_ifindex = ifindex };
        memcpy(&m.imr_address, src, 4);
        if (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0
            || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0
            || setsockopt(fd, IPPROTO_IP, IP_TOS, &tos, sizeof tos) < 0
            || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, &zero, sizeof zero) < 0
            || setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &pmtu, sizeof pmtu) < 0
            || setsockopt(fd, IPPROTO_IP, IP_MULTICAST_IF, &m, sizeof m) < 0) goto fail;
        if (group) {
            memcpy(&m.imr_multiaddr, group, 4);
            if (setsockopt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m) < 0) goto fail;
        }
        struct sockaddr_in a = { .sin_family = AF_INET };
        memcpy(&a.sin_addr, src, 4);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) goto fail;
    } else {
        unsigned idx = (unsigned)ifindex;
        if (setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &six, sizeof six) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, &zero, sizeof zero) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &idx, sizeof idx) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) < 0
            || setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) < 0) goto fail;
        if (group) {
            struct ipv6_mreq m = { .ipv6mr_interface = idx };
            memcpy(&m.ipv6mr_multiaddr, group, 16);
            if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &m, sizeof m) < 0) goto fail;
        }
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_scope_id = idx };
        memcpy(&a.sin6_addr, src, 16);
        if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0) goto fail;
    }
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

ssize_t uvs_vrrp_recv(int fd, int family, uint8_t *buf, size_t cap, uint8_t *src, uint8_t *dst, int *ttl) {
    if (family == AF_INET) {
        // IPv4 raw sockets deliver the IP header: TTL and addresses come from it.
        ssize_t n = recv(fd, buf, cap, 0);
        if (n < 0) return -errno;
        if (n < 20) return 0;
        size_t ihl = (size_t)(buf[0] & 0x0f) * 4;
        if ((buf[0] >> 4) != 4 || ihl < 20 || (size_t)n < ihl) return 0;
        *ttl = buf[8];
        memcpy(src, buf + 12, 4);
        memcpy(dst, buf + 16, 4);
        memmove(buf, buf + ihl, (size_t)n - ihl);
        return n - (ssize_t)ihl;
    }
    struct sockaddr_in6 from;
    char control[128];
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    struct msghdr msg = { .msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov, .msg_iovlen = 1,
                          .msg_control = control, .msg_controllen = sizeof control };
    ssize_t n = recvmsg(fd, &msg, 0);
    if (n < 0) return -errno;
    *ttl = -1;
    memcpy(src, &from.sin6_addr, 16);
    memset(dst, 0, 16);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != IPPROTO_IPV6) continue;
        if (c->cmsg_type == IPV6_HOPLIMIT) memcpy(ttl, CMSG_DATA(c), sizeof(int));
        if (c->cmsg_type == IPV6_PKTINFO) memcpy(dst, &((struct in6_pktinfo *)CMSG_DATA(c))->ipi6_addr, 16);
    }
    return n;
}

int uvs_vrrp_send(int fd, int family, int ifindex, const uint8_t *dst, const uint8_t *msg, size_t len) {
    ssize_t n;
    if (family == AF_INET) {
        struct sockaddr_in a = { .sin_family = AF_INET };
        memcpy(&a.sin_addr, dst, 4);
        n = sendto(fd, msg, len, 0, (struct sockaddr *)&a, sizeof a);
    } else {
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_scope_id = (uint32_t)ifindex };
        memcpy(&a.sin6_addr, dst, 16);
        n = sendto(fd, msg, len, 0, (struct sockaddr *)&a, sizeof a);
    }
    return n < 0 ? -errno : 0;
}

int uvs_link_up(const char *ifname) {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    struct ifreq r;
    memset(&r, 0, sizeof r);
    strncpy(r.ifr_name, ifname, IFNAMSIZ - 1);
    int rc = ioctl(fd, SIOCGIFFLAGS, &r);
    int e = errno;
    close(fd);
    if (rc < 0) return -e;
    return (r.ifr_flags & IFF_UP) && (r.ifr_flags & IFF_RUNNING) ? 1 : 0;
}
