// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* The pin directory: checked (and bpffs mounted when it is the default),
 * every pinned map opened and closed as a set, flock for writers and readers. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include "log.h"
#include "parse.h"
#include "state.h"

static int on_bpffs(const char *path)
{
	struct statfs st;

	if (statfs(path, &st))
		return -errno;
	return st.f_type == BPF_FS_MAGIC ? 0 : -ENOTDIR;
}

/* The pin dir is nosnat's own: a directory, not a link, owned by this user
 * (or root), writable by nobody else. A bpffs mounted without mode= lets
 * anyone create directories: one made in advance by another user could have
 * its pins unlinked (detaching XDP) or links planted. */
static int pin_dir_owned(const char *pin_dir)
{
	struct stat st;

	if (lstat(pin_dir, &st))
		return -errno;
	if (S_ISLNK(st.st_mode)) {
		err("pin directory %s is a symbolic link: refused", pin_dir);
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode)) {
		err("pin directory %s is not a directory: refused", pin_dir);
		return -ENOTDIR;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		err("pin directory %s belongs to uid %u, not to this user (uid %u) or root: refused",
		    pin_dir, (unsigned int)st.st_uid, (unsigned int)geteuid());
		return -EPERM;
	}
	if (st.st_mode & 022) {
		err("pin directory %s is writable by others (mode %04o): refused (chmod 0700 it)",
		    pin_dir, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	return 0;
}

int pin_dir_prepare(const char *pin_dir, int create)
{
	char parent[PATH_MAX];
	char *slash;
	int rc;

	if (strlen(pin_dir) >= sizeof(parent) - 1)
		return -ENAMETOOLONG;
	strcpy(parent, pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else if (slash)
		strcpy(parent, "/");

	if (!strcmp(pin_dir, NOSNAT_DEFAULT_PIN_DIR) && on_bpffs("/sys/fs/bpf") == -ENOTDIR) {
		if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") && errno != EBUSY) {
			err("cannot mount bpffs at /sys/fs/bpf: %s", strerror(errno));
			return -errno;
		}
	}
	rc = on_bpffs(pin_dir);
	if (rc == -EACCES) {
		err("pin directory %s: %s (it is root's, mode 0700)", pin_dir, strerror(-rc));
		return rc;
	}
	if (rc == -ENOENT) {
		rc = on_bpffs(parent);
		if (rc == -ENOENT) {
			err("pin directory %s: parent %s does not exist", pin_dir, parent);
			return rc;
		}
		if (rc == -ENOTDIR) {
			err("pin directory %s is not on a bpffs (mount -t bpf bpf %s)", pin_dir, parent);
			return rc;
		}
		if (!create) {
			err("no nosnat state under %s (run 'nosnat attach' first)", pin_dir);
			return -ENOENT;
		}
		if (mkdir(pin_dir, 0700) && errno != EEXIST) {
			rc = -errno;
			err("cannot create %s: %s", pin_dir, strerror(errno));
			return rc;
		}
		return pin_dir_owned(pin_dir);
	}
	if (rc == -ENOTDIR) {
		err("pin directory %s is not on a bpffs (mount -t bpf bpf %s)", pin_dir, pin_dir);
		return rc;
	}
	if (rc) {
		err("pin directory %s: %s", pin_dir, strerror(-rc));
		return rc;
	}
	return pin_dir_owned(pin_dir);
}

static int open_pinned(const char *pin_dir, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

void maps_open_none(struct nosnat_maps *m)
{
	memset(m, 0xff, sizeof(*m));	/* every fd -1 */
}

int maps_open(const char *pin_dir, struct nosnat_maps *m)
{
	struct { int *fd; const char *name; } t[] = {
#define X(field, map, name) { &m->field, name },
		NOSNAT_PINNED_MAPS(X)
#undef X
	};

	m->lock_fd = -1;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		*t[i].fd = -1;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		*t[i].fd = open_pinned(pin_dir, t[i].name);
		if (*t[i].fd < 0) {
			int rc = -errno;

			if (rc == -ENOENT && i == 0)	/* a pin dir a daemon's lock kept after detach */
				err("no nosnat state under %s (run 'nosnat attach' first)", pin_dir);
			else if (rc == -ENOENT)
				err("no map %s under %s (run 'nosnat attach' first)", t[i].name, pin_dir);
			else if (rc == -EPERM || rc == -EACCES)
				err("cannot open %s/%s: %s (the pins are root's, mode 0600; needs root with CAP_BPF)",
				    pin_dir, t[i].name, strerror(-rc));
			else
				err("cannot open %s/%s: %s", pin_dir, t[i].name, strerror(-rc));
			maps_close(m);
			return rc;
		}
	}
	return 0;
}

void maps_close(struct nosnat_maps *m)
{
	int *fds[] = {
#define X(field, map, name) &m->field,
		NOSNAT_PINNED_MAPS(X)
#undef X
		&m->lock_fd,
	};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

#define LOCK_WAIT_MS 30000

/* Writers serialise on the pin directory. Wait a bounded time: a process
 * that never lets go must not freeze every other command (or a daemon,
 * which cannot act on SIGTERM while it waits). */
static int lock_dir(const char *pin_dir, struct nosnat_maps *m, int op)
{
	int fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), waited = 0, rc;

	if (fd < 0) {
		rc = -errno;
		err("cannot lock %s: %s", pin_dir, strerror(errno));
		return rc;
	}
	while (flock(fd, op | LOCK_NB)) {
		if (errno != EWOULDBLOCK || waited >= LOCK_WAIT_MS) {
			rc = errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
			err("cannot lock %s: %s", pin_dir, rc == -ETIMEDOUT ?
			    "another nosnat command has held it for 30 s" : strerror(-rc));
			close(fd);
			return rc;
		}
		usleep(20000);
		waited += 20;
	}
	m->lock_fd = fd;
	return 0;
}

int maps_lock(const char *pin_dir, struct nosnat_maps *m)
{
	return lock_dir(pin_dir, m, LOCK_EX);
}

int maps_lock_shared(const char *pin_dir, struct nosnat_maps *m)
{
	return lock_dir(pin_dir, m, LOCK_SH);
}

/* --- the daemon's lock ---------------------------------------------------- */

#define DAEMON_LOCK	"daemon_lock"

static int holder_pid(const char *dir)
{
	char path[PATH_MAX + 16], buf[32];
	ssize_t n;
	long pid;
	char *end;

	snprintf(path, sizeof(path), "%s/pid", dir);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return *end || pid <= 0 || pid > INT_MAX ? 0 : (int)pid;
}

/* The holder's pid, replaced whole (a waiter never reads half of it). */
static void holder_write(const char *dir)
{
	char path[PATH_MAX + 16], tmp[PATH_MAX + 16], buf[32];

	snprintf(path, sizeof(path), "%s/pid", dir);
	snprintf(tmp, sizeof(tmp), "%s/pid_new", dir);
	snprintf(buf, sizeof(buf), "%d", (int)getpid());
	unlink(tmp);
	if (symlink(buf, tmp) || rename(tmp, path)) {
		debug("cannot record the daemon's pid in %s: %s", path, strerror(errno));
		unlink(tmp);
	}
}

int daemon_lock_try(const char *pin_dir, int *holder)
{
	char dir[PATH_MAX];
	struct stat held, now;

	*holder = 0;
	if (snprintf(dir, sizeof(dir), "%s/%s", pin_dir, DAEMON_LOCK) >= (int)sizeof(dir))
		return -ENAMETOOLONG;
	/* a detach may remove the directory between open and flock: the lock
	 * is the one on the directory the name still holds */
	for (int tries = 0; tries < 100; tries++) {
		int fd, rc;

		if (mkdir(dir, 0700) && errno != EEXIST)
			return -errno;
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			rc = -errno;
			if (rc == -EWOULDBLOCK)
				*holder = holder_pid(dir);
			close(fd);
			return rc;
		}
		if (fstat(fd, &held) || stat(dir, &now) || held.st_ino != now.st_ino ||
		    held.st_dev != now.st_dev) {
			close(fd);
			continue;
		}
		if (held.st_uid != geteuid() && held.st_uid != 0) {
			err("%s belongs to uid %u, not to this user or root: refused", dir,
			    (unsigned int)held.st_uid);
			close(fd);
			return -EPERM;
		}
		holder_write(dir);
		return fd;
	}
	return -EAGAIN;
}

void daemon_unlock(const char *pin_dir, int fd)
{
	char path[PATH_MAX + 32];

	if (fd < 0)
		return;
	snprintf(path, sizeof(path), "%s/%s/pid", pin_dir, DAEMON_LOCK);
	unlink(path);
	close(fd);
}

void daemon_lock_remove(const char *pin_dir)
{
	char dir[PATH_MAX], path[PATH_MAX + 16];
	int fd;

	snprintf(dir, sizeof(dir), "%s/%s", pin_dir, DAEMON_LOCK);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	if (!flock(fd, LOCK_EX | LOCK_NB)) {	/* no daemon: remove it under the lock */
		snprintf(path, sizeof(path), "%s/pid", dir);
		unlink(path);
		snprintf(path, sizeof(path), "%s/pid_new", dir);
		unlink(path);
		rmdir(dir);
	}
	close(fd);
}
