/* maglev_read.h - a VIP's Maglev table read with CAP_BPF (maglev_read.c). */
#ifndef NOSNAT_MAGLEV_READ_H
#define NOSNAT_MAGLEV_READ_H

#include "nosnat_abi.h"

struct maglev_read_bpf;

/* A reader of the nosnat_maglev map open at maglev_fd, or NULL (errno). */
struct maglev_read_bpf *maglev_reader_open(int maglev_fd);
/* VIP vip_id's table into t: 0, -ENOENT (no table) or -errno. */
int maglev_reader_get(struct maglev_read_bpf *r, __u32 vip_id, struct nosnat_maglev_slots *t);
void maglev_reader_close(struct maglev_read_bpf *r);

#endif
