// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* nsn_tcp - the test lab's TCP server ("pod") and client.
 *
 *   nsn_tcp server PORT LOG      accept forever (IPv4, and IPv6 where the netns has it);
 *                                 log "PEER ip:port" ("PEER [v6]:port") per connection
 *   nsn_tcp who HOST PORT        print the address the server saw for us
 *   nsn_tcp upload HOST PORT N   send N bytes; server answers with the count
 *   nsn_tcp download HOST PORT N receive N bytes; prints "OK N PEER" (the server's view of us)
 *   nsn_tcp hold HOST PORT SECS [SRCPORT]  echo a line every 50 ms for SECS seconds
 *   nsn_tcp load HOST PORT SECS RATE  new connections (WHO) at RATE per second;
 *                                 prints "attempted N completed N failed N reset N unreachable N"
 *   nsn_tcp idle HOST PORT N ROUNDS STATUS  N connections that go idle as IMAP IDLE does;
 *                                 then, ROUNDS times, the server speaks first (when the
 *                                 test bumps the server's push generation, LOG.push) and
 *                                 the client answers; each round appends a line to STATUS
 *
 * Protocol: the client's first line is "WHO", "UPLOAD n" or "ECHO". Clients
 * exit 0 only when every answer came back complete and correct. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int read_line(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return -1;
		if (buf[n] == '\n') {
			buf[n] = '\0';
			return (int)n;
		}
		n++;
	}
	return -1;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);

		if (w <= 0) {
			if (w < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= w;
	}
	return 0;
}

static void serve_idle(int c, const char *peer, const char *push_path);

static void serve(int c, const char *peer, const char *push_path)
{
	char line[256], out[400];
	static char buf[65536];

	if (read_line(c, line, sizeof(line)) < 0)
		return;
	if (!strcmp(line, "WHO")) {
		snprintf(out, sizeof(out), "%s\n", peer);
		write_all(c, out, strlen(out));
	} else if (!strncmp(line, "UPLOAD ", 7)) {
		long long want = atoll(line + 7), got = 0;

		while (got < want) {
			ssize_t r = read(c, buf, sizeof(buf));

			if (r <= 0)
				break;
			got += r;
		}
		snprintf(out, sizeof(out), "OK %lld %s\n", got, peer);
		write_all(c, out, strlen(out));
	} else if (!strncmp(line, "DOWNLOAD ", 9)) {
		long long want = atoll(line + 9), sent = 0;

		memset(buf, 'm', sizeof(buf));
		snprintf(out, sizeof(out), "DATA %lld %s\n", want, peer);
		if (write_all(c, out, strlen(out)))
			return;
		while (sent < want) {
			size_t chunk = want - sent < (long long)sizeof(buf) ? (size_t)(want - sent) : sizeof(buf);

			if (write_all(c, buf, chunk))
				return;
			sent += chunk;
		}
	} else if (!strcmp(line, "IDLE")) {
		serve_idle(c, peer, push_path);
	} else if (!strcmp(line, "ECHO")) {
		while (read_line(c, line, sizeof(line)) >= 0) {
			snprintf(out, sizeof(out), "%s %s\n", line, peer);
			if (write_all(c, out, strlen(out)))
				break;
		}
	}
}

/* The push generation the test wrote to path (0 if none yet). */
static long push_gen(const char *path)
{
	FILE *f = fopen(path, "r");
	long g = 0;

	if (f) {
		if (fscanf(f, "%ld", &g) != 1)
			g = 0;
		fclose(f);
	}
	return g;
}

/* IMAP IDLE in miniature: the client said IDLE; from now on the server
 * speaks first, each time the test raises the generation in push_path,
 * quoting the client's address as it sees it; the client answers ACK and
 * gets OK back. The connection is otherwise silent. */
static void serve_idle(int c, const char *peer, const char *push_path)
{
	char line[256], out[400], want[64];
	long last = push_gen(push_path), g;

	snprintf(out, sizeof(out), "+ idling %s\n", peer);
	if (write_all(c, out, strlen(out)))
		return;
	for (;;) {
		struct pollfd pf = { .fd = c, .events = POLLIN };

		if (poll(&pf, 1, 50) > 0)
			return;		/* the client hung up (or spoke out of turn) */
		g = push_gen(push_path);
		if (g <= last)
			continue;
		last = g;
		snprintf(out, sizeof(out), "* PUSH %ld %s\n", g, peer);
		if (write_all(c, out, strlen(out)))
			return;
		snprintf(want, sizeof(want), "ACK %ld", g);
		if (read_line(c, line, sizeof(line)) < 0 || strcmp(line, want))
			return;
		snprintf(out, sizeof(out), "OK %ld\n", g);
		if (write_all(c, out, strlen(out)))
			return;
	}
}

static void stop_group(int sig)
{
	(void)sig;
	signal(SIGTERM, SIG_DFL);
	kill(0, SIGTERM);	/* this server and its connection children */
	_exit(0);
}

/* "a.b.c.d:port" or "[v6]:port" (a v4-mapped v6 address as v4) */
static void ep_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a6 = (const void *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
			inet_ntop(AF_INET, &a6->sin6_addr.s6_addr[12], ip, sizeof(ip));
			snprintf(buf, len, "%s:%u", ip, ntohs(a6->sin6_port));
		} else {
			inet_ntop(AF_INET6, &a6->sin6_addr, ip, sizeof(ip));
			snprintf(buf, len, "[%s]:%u", ip, ntohs(a6->sin6_port));
		}
		return;
	}
	inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
	snprintf(buf, len, "%s:%u", ip, ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

/* A listening socket on port of both families (IPv4 alone where the
 * netns has no IPv6). */
static int listen_any(int port)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
				   .sin6_addr = IN6ADDR_ANY_INIT };
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1, zero = 0, s = socket(AF_INET6, SOCK_STREAM, 0);

	if (s >= 0) {
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
		if (!bind(s, (struct sockaddr *)&a6, sizeof(a6)) && !listen(s, 128))
			return s;
		close(s);
	}
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 128)) {
		perror("bind/listen");
		close(s);
		return -1;
	}
	return s;
}

static int server(int port, const char *log)
{
	int s = listen_any(port);
	char push_path[4096];

	snprintf(push_path, sizeof(push_path), "%s.push", log);
	signal(SIGCHLD, SIG_IGN);
	setpgid(0, 0);
	signal(SIGTERM, stop_group);
	if (s < 0)
		return 1;
	for (;;) {
		struct sockaddr_storage p;
		socklen_t pl = sizeof(p);
		char peer[80];
		int c = accept(s, (struct sockaddr *)&p, &pl);
		FILE *f;

		if (c < 0)
			continue;
		ep_format(&p, peer, sizeof(peer));
		f = fopen(log, "a");
		if (f) {
			fprintf(f, "PEER %s\n", peer);
			fclose(f);
		}
		if (fork() == 0) {
			close(s);
			serve(c, peer, push_path);
			_exit(0);
		}
		close(c);
	}
}

/* host: an IPv4 or IPv6 address (no brackets); from srcport (0: any) and,
 * for IPv4, from the address in NSN_TCP_SRC if set */
static int dial(const char *host, int port, int srcport)
{
	const char *src = getenv("NSN_TCP_SRC");
	struct sockaddr_storage a = {};
	struct sockaddr_in *a4 = (void *)&a;
	struct sockaddr_in6 *a6 = (void *)&a;
	struct timeval tv = { .tv_sec = 5 };
	socklen_t alen;
	int one = 1, s;

	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		alen = sizeof(*a4);
	} else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		alen = sizeof(*a6);
	} else {
		fprintf(stderr, "bad address %s\n", host);
		return -1;
	}
	s = socket(a.ss_family, SOCK_STREAM, 0);
	if (srcport || (src && *src && a.ss_family == AF_INET)) {
		struct sockaddr_storage l = { .ss_family = a.ss_family };

		((struct sockaddr_in *)&l)->sin_port = htons(srcport);	/* same place in both */
		if (src && *src && a.ss_family == AF_INET &&
		    inet_pton(AF_INET, src, &((struct sockaddr_in *)&l)->sin_addr) != 1) {
			fprintf(stderr, "bad NSN_TCP_SRC %s\n", src);
			return -1;
		}
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, (struct sockaddr *)&l, alen)) {
			perror("bind");
			return -1;
		}
	}
	setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(s, (struct sockaddr *)&a, alen)) {
		int e = errno;

		fprintf(stderr, "connect %s:%d: %s\n", host, port, strerror(e));
		close(s);
		errno = e;
		return -1;
	}
	return s;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Short connections at a steady rate; each must answer WHO completely. */
static int load(const char *host, int port, double secs, double rate)
{
	double start = now(), next = start;
	long attempted = 0, completed = 0, failed = 0, reset = 0, unreachable = 0;
	char line[256];

	while (now() < start + secs) {
		int s;

		while (now() < next)
			usleep(1000);
		next += 1.0 / rate;
		attempted++;
		s = dial(host, port, 0);
		if (s < 0) {
			if (errno == ECONNRESET || errno == ECONNREFUSED)
				reset++;
			else if (errno == EHOSTUNREACH || errno == ENETUNREACH)
				unreachable++;	/* an ICMP error answered the SYN */
			else
				failed++;
			continue;
		}
		if (write_all(s, "WHO\n", 4) || read_line(s, line, sizeof(line)) < 0) {
			if (errno == ECONNRESET)
				reset++;
			else
				failed++;
		} else {
			completed++;
		}
		close(s);
	}
	printf("attempted %ld completed %ld failed %ld reset %ld unreachable %ld\n", attempted, completed,
	       failed, reset, unreachable);
	return attempted == completed ? 0 : 1;
}

/* N idle connections; each round, every one must hear the server's push
 * (naming this client's own address and port: no SNAT) and get its answer
 * through. One line per round into status: "round R: OK of N". */
static int idle(const char *host, int port, int n, int rounds, const char *status)
{
	int fds[64], ok_all = 1;
	char own[64][64], line[256];

	if (n > 64)
		return 2;
	for (int i = 0; i < n; i++) {
		struct sockaddr_storage l;
		socklen_t ll = sizeof(l);
		struct timeval tv = { .tv_sec = 60 };

		fds[i] = dial(host, port, 0);
		if (fds[i] < 0)
			return 1;
		getsockname(fds[i], (struct sockaddr *)&l, &ll);
		ep_format(&l, own[i], sizeof(own[i]));
		if (write_all(fds[i], "IDLE\n", 5) || read_line(fds[i], line, sizeof(line)) < 0 ||
		    strncmp(line, "+ idling ", 9) || strcmp(line + 9, own[i])) {
			fprintf(stderr, "idle %d: greeting '%s' (we are %s)\n", i, line, own[i]);
			return 1;
		}
		/* idle for as long as a test may take between pushes */
		setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	}
	{
		FILE *f = fopen(status, "a");

		if (f) {
			fprintf(f, "idling %d\n", n);
			fclose(f);
		}
	}
	for (int r = 1; r <= rounds; r++) {
		int ok = 0;
		char errs[2048] = "";

		for (int i = 0; i < n; i++) {
			char want[128], ack[64];
			long g;

			if (fds[i] < 0)
				continue;
			if (read_line(fds[i], line, sizeof(line)) < 0 ||
			    sscanf(line, "* PUSH %ld", &g) != 1) {
				snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
					 " [%d: no push: %s]", i, strerror(errno));
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			snprintf(want, sizeof(want), "* PUSH %ld %.63s", g, own[i]);
			snprintf(ack, sizeof(ack), "ACK %ld\n", g);
			if (strcmp(line, want)) {
				snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
					 " [%d: '%.100s', we are %.63s]", i, line, own[i]);
				continue;
			}
			if (write_all(fds[i], ack, strlen(ack)) ||
			    read_line(fds[i], line, sizeof(line)) < 0 || strncmp(line, "OK ", 3)) {
				snprintf(errs + strlen(errs), sizeof(errs) - strlen(errs),
					 " [%d: answer lost: %s]", i, strerror(errno));
				close(fds[i]);
				fds[i] = -1;
				continue;
			}
			ok++;
		}
		{
			FILE *f = fopen(status, "a");

			if (f) {
				fprintf(f, "round %d: %d of %d%s\n", r, ok, n, errs);
				fclose(f);
			}
		}
		if (ok != n)
			ok_all = 0;
	}
	return ok_all ? 0 : 1;
}

int main(int argc, char **argv)
{
	char line[256];
	int s;

	if (argc == 4 && !strcmp(argv[1], "server"))
		return server(atoi(argv[2]), argv[3]);
	if (argc == 7 && !strcmp(argv[1], "idle"))
		return idle(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]), argv[6]);
	if (argc == 6 && !strcmp(argv[1], "load"))
		return load(argv[2], atoi(argv[3]), atof(argv[4]), atof(argv[5]));
	if (argc < 4)
		goto usage;
	s = dial(argv[2], atoi(argv[3]), argc == 6 ? atoi(argv[5]) : 0);
	if (s < 0)
		return 1;
	if (!strcmp(argv[1], "who") && argc == 4) {
		if (write_all(s, "WHO\n", 4) || read_line(s, line, sizeof(line)) < 0) {
			fprintf(stderr, "no answer\n");
			return 1;
		}
		printf("%s\n", line);
		return 0;
	}
	if (!strcmp(argv[1], "upload") && argc == 5) {
		static char buf[65536];
		long long n = atoll(argv[4]), sent = 0;
		char hdr[64], want[64];

		memset(buf, 'm', sizeof(buf));
		snprintf(hdr, sizeof(hdr), "UPLOAD %lld\n", n);
		if (write_all(s, hdr, strlen(hdr)))
			return 1;
		while (sent < n) {
			size_t chunk = n - sent < (long long)sizeof(buf) ? (size_t)(n - sent) : sizeof(buf);

			if (write_all(s, buf, chunk)) {
				fprintf(stderr, "upload: write failed after %lld bytes: %s\n", sent,
					strerror(errno));
				return 1;
			}
			sent += chunk;
		}
		if (read_line(s, line, sizeof(line)) < 0) {
			fprintf(stderr, "upload: no answer after %lld bytes\n", sent);
			return 1;
		}
		printf("%s\n", line);
		snprintf(want, sizeof(want), "OK %lld ", n);
		return strncmp(line, want, strlen(want)) ? 1 : 0;
	}
	if (!strcmp(argv[1], "download") && argc == 5) {
		static char buf[65536];
		long long n = atoll(argv[4]), got = 0, said = -1;
		char peer[128] = "";

		snprintf(line, sizeof(line), "DOWNLOAD %lld\n", n);
		if (write_all(s, line, strlen(line)) || read_line(s, line, sizeof(line)) < 0 ||
		    sscanf(line, "DATA %lld %127s", &said, peer) != 2 || said != n) {
			fprintf(stderr, "download: no header\n");
			return 1;
		}
		while (got < n) {
			ssize_t r = read(s, buf, sizeof(buf));

			if (r <= 0) {
				fprintf(stderr, "download: stalled after %lld of %lld bytes: %s\n", got, n,
					r < 0 ? strerror(errno) : "closed");
				return 1;
			}
			got += r;
		}
		printf("OK %lld %s\n", got, peer);
		return 0;
	}
	if (!strcmp(argv[1], "hold") && (argc == 5 || argc == 6)) {
		double end = now() + atof(argv[4]);
		int n = 0;

		if (write_all(s, "ECHO\n", 5))
			return 1;
		while (now() < end) {
			char msg[64];

			snprintf(msg, sizeof(msg), "ping%d\n", n);
			errno = 0;
			if (write_all(s, msg, strlen(msg)) || read_line(s, line, sizeof(line)) < 0 ||
			    strncmp(line, msg, strlen(msg) - 1)) {
				/* a reset, a timeout (no answer in 5 s) or an end */
				fprintf(stderr, "hold: echo %d lost: %s\n", n,
					errno == EAGAIN ? "no answer in 5 s" :
					errno ? strerror(errno) : "closed or garbled");
				return 1;
			}
			n++;
			usleep(50000);
		}
		printf("held %d echoes, last: %s\n", n, line);
		return 0;
	}
usage:
	fprintf(stderr, "usage: nsn_tcp server PORT LOG | who|upload|hold HOST PORT [ARG]\n");
	return 2;
}
