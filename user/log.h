/* log.h - one-line diagnostics on stderr; libbpf's output routed here. */
#ifndef NOSNAT_LOG_H
#define NOSNAT_LOG_H

extern int log_verbose;
extern int log_timestamps;	/* daemon mode: prefix each line with the time */

void log_init_libbpf(void);
void die_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
