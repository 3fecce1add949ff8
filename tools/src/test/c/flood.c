/*
 * FloodIT's load generator: UDP packets from a raw socket (IP_HDRINCL), each with a random source port (and a
 * random destination port unless one is given), so every packet is a new flow; sendmmsg batches of 64, paced
 * to RATE packets per second, for SECONDS seconds, then it stops by itself. Prints what it offered:
 *   sent N packets in S s (R/s), failed F
 * Usage: flood SOURCE DESTINATION RATE SECONDS [DPORT]
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define PAYLOAD 18

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint64_t state = 88172645463325252ULL;

static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)state;
}

int main(int argc, char **argv)
{
    if (argc < 5)
    {
        fprintf(stderr, "usage: flood SOURCE DESTINATION RATE SECONDS [DPORT]\n");
        return 2;
    }
    const in_addr_t src = inet_addr(argv[1]);
    const in_addr_t dst = inet_addr(argv[2]);
    const double rate = atof(argv[3]);
    const double seconds = atof(argv[4]);
    const int dport = argc > 5 ? atoi(argv[5]) : 0;
    state ^= (uint64_t)getpid() << 32 ^ (uint64_t)time(NULL);
    const int fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
    if (fd < 0)
    {
        perror("socket");
        return 1;
    }
    int sndbuf = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);
    static unsigned char packets[BATCH][sizeof(struct iphdr) + sizeof(struct udphdr) + PAYLOAD];
    struct iovec iov[BATCH];
    struct mmsghdr msgs[BATCH];
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_addr.s_addr = dst};
    memset(msgs, 0, sizeof msgs);
    for (int i = 0; i < BATCH; i++)
    {
        struct iphdr *ip = (struct iphdr *)packets[i];
        ip->version = 4;
        ip->ihl = 5;
        ip->ttl = 64;
        ip->protocol = IPPROTO_UDP;
        ip->saddr = src;
        ip->daddr = dst;
        ip->tot_len = htons(sizeof packets[i]);
        struct udphdr *udp = (struct udphdr *)(ip + 1);
        udp->len = htons(sizeof(struct udphdr) + PAYLOAD);
        memcpy(udp + 1, "passgate flood....", PAYLOAD);
        iov[i].iov_base = packets[i];
        iov[i].iov_len = sizeof packets[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &to;
        msgs[i].msg_hdr.msg_namelen = sizeof to;
    }
    const double start = now();
    const double end = start + seconds;
    unsigned long long sent = 0, failed = 0;
    double t;
    while ((t = now()) < end)
    {
        if (sent >= (t - start) * rate)
        {
            struct timespec pause = {0, 200000};
            nanosleep(&pause, NULL);
            continue;
        }
        for (int i = 0; i < BATCH; i++)
        {
            struct udphdr *udp = (struct udphdr *)(packets[i] + sizeof(struct iphdr));
            const uint32_t r = next();
            udp->source = htons(1024 + r % 64512);
            udp->dest = htons(dport ? dport : 1024 + (r >> 16) % 64512);
        }
        const int n = sendmmsg(fd, msgs, BATCH, 0);
        if (n < 0)
        {
            failed += BATCH;
            if (errno != ENOBUFS && errno != EAGAIN && errno != EPERM)
            {
                perror("sendmmsg");
                return 1;
            }
            continue;
        }
        sent += n;
        failed += BATCH - n;
    }
    const double took = now() - start;
    printf("sent %llu packets in %.2f s (%.0f/s), failed %llu\n", sent, took, sent / took, failed);
    return 0;
}
