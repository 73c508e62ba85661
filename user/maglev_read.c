// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* A VIP's Maglev table read out of the map of maps without CAP_SYS_ADMIN:
 * the map gives user space only the inner map's ID, and an ID becomes an fd
 * only with CAP_SYS_ADMIN. bpf/maglev_read.bpf.c, a syscall program, looks
 * the table up and copies it into a map of its own (CAP_BPF, CAP_PERFMON:
 * the DaemonSet's). */
#include <errno.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "maglev_read.h"
#include "maglev_read.skel.h"

struct maglev_read_bpf *maglev_reader_open(int maglev_fd)
{
	struct maglev_read_bpf *r = maglev_read_bpf__open();
	int rc;

	if (!r)
		return NULL;
	/* the pinned map itself, whatever the pin dir: no pin path of its own */
	rc = bpf_map__set_pin_path(r->maps.nosnat_maglev, NULL);
	if (!rc)
		rc = bpf_map__reuse_fd(r->maps.nosnat_maglev, maglev_fd);
	if (!rc)
		rc = maglev_read_bpf__load(r);
	if (rc) {
		maglev_read_bpf__destroy(r);
		errno = rc < 0 ? -rc : rc;
		return NULL;
	}
	return r;
}

int maglev_reader_get(struct maglev_read_bpf *r, __u32 vip_id, struct nosnat_maglev_slots *t)
{
	struct { __u32 vip_id; __s32 result; } args = { .vip_id = vip_id };
	/* a syscall program's context is copied back into ctx_in */
	LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &args, .ctx_size_in = sizeof(args));
	__u32 zero = 0;

	if (bpf_prog_test_run_opts(bpf_program__fd(r->progs.read_maglev), &o))
		return -errno;
	if (args.result == -2)
		return -ENOENT;
	if (args.result)
		return -EIO;
	if (bpf_map_lookup_elem(bpf_map__fd(r->maps.read_buf), &zero, t))
		return -errno;
	return 0;
}

void maglev_reader_close(struct maglev_read_bpf *r)
{
	maglev_read_bpf__destroy(r);
}
