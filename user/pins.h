/* pins.h - the pin directory and the fds of its pinned maps (pins.c). */
#ifndef NOSNAT_PINS_H
#define NOSNAT_PINS_H

#include "nosnat_abi.h"

#define NOSNAT_DEFAULT_PIN_DIR "/sys/fs/bpf/nosnat"

/* An fd per pinned map (NOSNAT_PINNED_MAPS), and the pin dir's lock. */
struct nosnat_maps {
#define X(field, map, name) int field;
	NOSNAT_PINNED_MAPS(X)
#undef X
	int lock_fd;
};

/* Pin directory: exists, is on a bpffs (mounting /sys/fs/bpf when it is the
 * default and missing). create: make the directory. */
int pin_dir_prepare(const char *pin_dir, int create);
int maps_open(const char *pin_dir, struct nosnat_maps *m);
/* Mark every fd closed, so maps_close() is a no-op. */
void maps_open_none(struct nosnat_maps *m);
void maps_close(struct nosnat_maps *m);
/* Exclusive lock for writers, held until maps_close(). */
int maps_lock(const char *pin_dir, struct nosnat_maps *m);
/* Shared lock: readers that need a state no writer is halfway through. */
int maps_lock_shared(const char *pin_dir, struct nosnat_maps *m);

/* One daemon per pin dir: an flock on the directory <pin_dir>/daemon_lock
 * (bpffs holds no regular files, and no names with a dot), made 0700
 * inside the 0700 pin dir so no other user can take it; the holder's pid
 * in the symbolic link daemon_lock/pid. Returns the lock's fd (held until
 * closed); -EWOULDBLOCK when another process holds it, its pid in *holder
 * (0 when unknown); or -errno. */
int daemon_lock_try(const char *pin_dir, int *holder);
/* Drop a daemon's lock (its pid too). */
void daemon_unlock(const char *pin_dir, int fd);
/* Remove daemon_lock unless a daemon holds it (detach, before rmdir). */
void daemon_lock_remove(const char *pin_dir);

#endif
