/*
 * rt_uv_file.c — the files of the libuv backend: plain synchronous POSIX I/O under the host's
 * data directory. The files nodes keep are small (state, models of a few MB), so blocking the loop
 * for them is cheaper than the threadpool's round trips, and it keeps the calls simple.
 */
#include "rt_uv_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int errno_rt(int e)
{
	switch (e) {
	case ENOENT:
	case ENOTDIR: return RT_ENOENT;
	case ENOMEM: return RT_ENOMEM;
	case ENAMETOOLONG: return RT_EINVAL;
	default: return RT_EIO;
	}
}

/* "<dir>/<name><suffix>" into buf[PATH_MAX]; rt.c already checked that name is plain. */
static int path_of(const struct uvh *h, const char *name, const char *suffix, char *buf)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s%s", h->dir, name, suffix);
	return n < 0 || n >= PATH_MAX ? RT_EINVAL : 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno_rt(errno);
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A rename or a file creation is durable only once its directory is synced. */
static int fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno_rt(errno);
	int r = fsync(fd) ? errno_rt(errno) : 0;
	close(fd);
	return r;
}

int rtu_mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof buf)
		return RT_EINVAL;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return errno_rt(errno);
		*p = c;
		if (!c)
			break;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return RT_EIO;
	return 0;
}

int rtu_file_write(rt_host *hh, const char *name, const void *buf, size_t len, int flags)
{
	const struct uvh *h = (const struct uvh *)hh;
	char path[PATH_MAX], tmp[PATH_MAX];
	if (path_of(h, name, "", path) || path_of(h, name, ".tmp", tmp))
		return RT_EINVAL;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return errno_rt(errno);
	int r = write_all(fd, buf, len);
	if (!r && (flags & RT_FILE_SYNC) && fsync(fd))
		r = errno_rt(errno);
	if (close(fd) && !r)
		r = errno_rt(errno);
	if (!r && rename(tmp, path))
		r = errno_rt(errno);
	if (r) {
		unlink(tmp); /* the old contents, if any, are untouched */
		return r;
	}
	return (flags & RT_FILE_SYNC) ? fsync_dir(h->dir) : 0;
}

int rtu_file_append(rt_host *hh, const char *name, const void *buf, size_t len, int flags)
{
	const struct uvh *h = (const struct uvh *)hh;
	char path[PATH_MAX];
	if (path_of(h, name, "", path))
		return RT_EINVAL;
	int created = 1;
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 && errno == EEXIST) {
		created = 0;
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	}
	if (fd < 0)
		return errno_rt(errno);
	int r = write_all(fd, buf, len);
	if (!r && (flags & RT_FILE_SYNC) && fsync(fd))
		r = errno_rt(errno);
	if (close(fd) && !r)
		r = errno_rt(errno);
	if (!r && (flags & RT_FILE_SYNC) && created)
		r = fsync_dir(h->dir);
	return r;
}

int rtu_file_fsync(rt_host *hh, const char *name)
{
	const struct uvh *h = (const struct uvh *)hh;
	char path[PATH_MAX];
	if (path_of(h, name, "", path))
		return RT_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_rt(errno);
	int r = fsync(fd) ? errno_rt(errno) : 0;
	close(fd);
	return r ? r : fsync_dir(h->dir); /* the entry too, if an unsynced append created it */
}

int rtu_file_read(rt_host *hh, const char *name, uint8_t **out, size_t *out_len)
{
	const struct uvh *h = (const struct uvh *)hh;
	char path[PATH_MAX];
	if (path_of(h, name, "", path))
		return RT_EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno_rt(errno);
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return RT_EIO;
	}
	/* Sized by fstat, but read to EOF in case the file grew meanwhile. */
	size_t cap = (size_t)st.st_size + 1, n = 0;
	uint8_t *b = malloc(cap);
	int r = b ? 0 : RT_ENOMEM;
	while (!r) {
		if (n + 1 == cap) {
			char probe;
			ssize_t k = read(fd, &probe, 1);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r = k < 0 ? errno_rt(errno) : 0;
				break;
			}
			uint8_t *nb = realloc(b, cap * 2);
			if (!nb) {
				r = RT_ENOMEM;
				break;
			}
			b = nb;
			cap *= 2;
			b[n++] = (uint8_t)probe;
			continue;
		}
		ssize_t k = read(fd, b + n, cap - 1 - n);
		if (k < 0) {
			if (errno != EINTR)
				r = errno_rt(errno);
			continue;
		}
		if (k == 0)
			break;
		n += (size_t)k;
	}
	close(fd);
	if (r) {
		free(b);
		return r;
	}
	b[n] = 0;
	*out = b;
	*out_len = n;
	return 0;
}

int rtu_file_remove(rt_host *hh, const char *name)
{
	const struct uvh *h = (const struct uvh *)hh;
	char path[PATH_MAX];
	if (path_of(h, name, "", path))
		return RT_EINVAL;
	return unlink(path) ? errno_rt(errno) : 0;
}
