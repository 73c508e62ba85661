// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* Diagnostics: "nosnat: message" on stderr, libbpf chatter only with -v. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "log.h"

int log_verbose;
int log_timestamps;

/* One line, formatted whole and written with one call, so that lines from
 * the Kubernetes watch threads never interleave; longer ones are cut. */
static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	char line[2048];
	size_t n = 0;
	int k;

	if (log_timestamps) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%SZ ", &tm);
	}
	k = snprintf(line + n, sizeof(line) - n, "nosnat: %s", prefix);
	n += k > 0 ? (size_t)k : 0;
	k = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n += k > 0 ? (size_t)k : 0;
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

void err(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
}

void debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug: ", fmt, ap);
	va_end(ap);
}

void die_usage(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("", fmt, ap);
	va_end(ap);
	exit(2);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (!log_verbose && level != LIBBPF_WARN)
		return 0;
	if (!log_verbose)
		return 0;	/* warnings surface through our own error line */
	return vfprintf(stderr, fmt, ap);
}

void log_init_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
