/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * image.c: firmware images as files in DIR/images, and the shared,
 * reference-counted memory maps that downloads read them through.
 *
 * Writing: store_image_create makes a temporary file ".tmp-XXXXXX" in
 * DIR/images (same file system, so the final rename is atomic).  Writes
 * loop over short writes and EINTR; a full disk gives STORE_EFULL.
 * store_image_commit fsyncs the file, renames it to DIR/images/<id> and
 * fsyncs the directory, so after a crash an image either exists whole under
 * its id or not at all.  A writer holds an flock on its temporary file
 * for as long as it writes; every store_open removes the temporary files
 * nobody holds (left by a crash or a kill -9), and leaves those another
 * process (otactl uploading beside the daemon) is still writing.
 *
 * Reading: store_image_open maps the file read-only and shared, and keeps
 * the mapping in a small list keyed by id, so every download of one image
 * shares one mapping and the page cache; nothing is copied.  The last
 * store_image_unref unmaps it.  Removing or replacing an image takes it out
 * of the list (later opens see the new file, or none), but existing maps
 * stay valid: the kernel keeps the unlinked inode alive until munmap.
 *
 * The list is guarded by a mutex, so unref may come from any thread.
 */
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "store/pack.h"
#include "store/store.h"

#define TMP_PREFIX  ".tmp-"
/* A file this young may be between its creation and its writer's lock. */
#define TMP_MIN_AGE 2

struct image_map {
	struct store_image pub;     /* what callers see; first member */
	struct store_images *owner; /* NULL once the store is closed */
	struct image_map *next;
	unsigned refs;
	int listed;    /* found by store_image_open */
	size_t maplen; /* 0: nothing mapped (empty image) */
	char id[OTA_ID_MAX + 1];
};

struct store_images {
	int dirfd; /* DIR/images */
	char *path;
	pthread_mutex_t lock;
	struct image_map *maps; /* every map with refs > 0 */
};

struct store_image_writer {
	struct store_images *im;
	int fd;
	int err;                           /* first write error, STORE_E* */
	char name[sizeof(TMP_PREFIX) + 8]; /* ".tmp-XXXXXX" */
	void *map;                         /* store_image_writer_map */
	size_t maplen;
};

static const uint8_t image_empty[1];

static int
errno_code(int e)
{
	switch (e) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return STORE_EFULL;
	case ENOENT:
		return STORE_ENOTFOUND;
	default:
		return STORE_EIO;
	}
}

/* An image id is one path component: a valid key, no '/', no leading '.'. */
static int
image_id_ok(const char *id)
{
	return pack_key_len(id) > 0 && id[0] != '.' && strchr(id, '/') == NULL;
}

/* Is the temporary file name abandoned (no writer holds its lock)? */
static int
images_tmp_abandoned(struct store_images *im, const char *name, time_t now)
{
	struct stat sb;
	int fd, free_;

	if ((fd = openat(im->dirfd, name, O_RDONLY | O_CLOEXEC |
	    O_NOFOLLOW)) == -1)
		return 0;
	free_ = fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    now - sb.st_mtime >= TMP_MIN_AGE &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0;
	close(fd);	/* and the lock with it */
	return free_;
}

/*
 * Removes each file of DIR/images that doomed(im, name, arg) picks, with
 * a log line saying why.
 */
static void
images_remove_each(struct store_images *im,
    int (*doomed)(struct store_images *, const char *, void *), void *arg,
    const char *why)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(im->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		log_warn("store: %s", im->path);
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!doomed(im, de->d_name, arg))
			continue;
		if (unlinkat(im->dirfd, de->d_name, 0) == -1)
			log_warn("store: unlink %s/%s", im->path, de->d_name);
		else
			log_info("store: removed %s/%s, %s", im->path,
			    de->d_name, why);
	}
	closedir(d);
}

static int
tmp_doomed(struct store_images *im, const char *name, void *arg)
{
	(void)arg;
	return strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
	    images_tmp_abandoned(im, name, time(NULL));
}

static void
images_sweep(struct store_images *im)
{
	images_remove_each(im, tmp_doomed, NULL, "left by an upload that did "
	    "not finish");
}

struct orphan_test {
	int	(*known)(void *arg, const char *id);
	void	*arg;
};

static int
orphan_doomed(struct store_images *im, const char *name, void *arg)
{
	struct orphan_test *o = arg;
	struct stat sb;

	return name[0] != '.' && image_id_ok(name) &&
	    fstatat(im->dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISREG(sb.st_mode) &&
	    time(NULL) - sb.st_mtime >= IMAGES_ORPHAN_AGE &&
	    !o->known(o->arg, name);
}

void
images_sweep_orphans(struct store_images *im,
    int (*known)(void *arg, const char *id), void *arg)
{
	struct orphan_test o = { known, arg };

	images_remove_each(im, orphan_doomed, &o, "an image with no firmware "
	    "or patch record (left by a crash)");
}

int
images_open(const char *dir, struct store_images **out)
{
	struct store_images *im;
	int rc = STORE_EIO;

	*out = NULL;
	if ((im = calloc(1, sizeof(*im))) == NULL) {
		log_warn("store: images");
		return STORE_EIO;
	}
	im->dirfd = -1;
	if (pthread_mutex_init(&im->lock, NULL) != 0) {
		free(im);
		log_warnx("store: images: mutex");
		return STORE_EIO;
	}
	if (asprintf(&im->path, "%s/images", dir) == -1) {
		im->path = NULL;
		log_warn("store: images");
		goto fail;
	}
	if (mkdir(im->path, 0755) == -1 && errno != EEXIST) {
		rc = errno_code(errno);
		log_warn("store: mkdir %s", im->path);
		goto fail;
	}
	if ((im->dirfd = open(im->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) ==
	    -1) {
		log_warn("store: %s", im->path);
		goto fail;
	}
	images_sweep(im);
	*out = im;
	return 0;
fail:
	images_close(im);
	return rc;
}

static void
map_free(struct image_map *m)
{
	if (m->maplen > 0)
		munmap((void *)m->pub.data, m->maplen);
	free(m);
}

void
images_close(struct store_images *im)
{
	struct image_map *m, *next;

	if (im == NULL)
		return;
	pthread_mutex_lock(&im->lock);
	for (m = im->maps; m != NULL; m = next) {
		next = m->next;
		/* still referenced: the last unref frees it */
		log_warnx("store: image %s still in use at close", m->id);
		m->owner = NULL;
		m->listed = 0;
		m->next = NULL;
	}
	im->maps = NULL;
	pthread_mutex_unlock(&im->lock);
	pthread_mutex_destroy(&im->lock);
	if (im->dirfd != -1)
		close(im->dirfd);
	free(im->path);
	free(im);
}

/* Takes id out of the lookup list; holders keep their map.  Lock held. */
static void
images_forget(struct store_images *im, const char *id)
{
	struct image_map *m;

	for (m = im->maps; m != NULL; m = m->next)
		if (m->listed && strcmp(m->id, id) == 0)
			m->listed = 0;
}

/*
 * Writing.
 */

int
store_image_create(struct store *st, struct store_image_writer **out)
{
	struct store_image_writer *w;
	char path[PATH_MAX];
	int n;

	*out = NULL;
	if (st == NULL)
		return STORE_EINVAL;
	if ((w = calloc(1, sizeof(*w))) == NULL) {
		log_warn("store: image writer");
		return STORE_EIO;
	}
	w->im = store_images_of(st);
	n = snprintf(path, sizeof(path), "%s/%sXXXXXX", w->im->path,
	    TMP_PREFIX);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		log_warnx("store: %s: path too long", w->im->path);
		free(w);
		return STORE_EINVAL;
	}
	if ((w->fd = mkostemp(path, O_CLOEXEC)) == -1) {
		n = errno_code(errno);
		log_warn("store: create %s", path);
		free(w);
		return n == STORE_ENOTFOUND ? STORE_EIO : n;
	}
	/* held until the file is renamed or removed (see images_sweep) */
	(void)flock(w->fd, LOCK_EX);
	/* keep the basename; every later call is relative to dirfd */
	snprintf(w->name, sizeof(w->name), "%s", strrchr(path, '/') + 1);
	*out = w;
	return 0;
}

int
store_image_write(struct store_image_writer *w, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	ssize_t n;

	if (w == NULL || (buf == NULL && len > 0))
		return STORE_EINVAL;
	if (w->err)
		return w->err;
	while (len > 0) {
		n = write(w->fd, p, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			w->err = errno_code(errno);
			if (w->err == STORE_ENOTFOUND)
				w->err = STORE_EIO;
			log_warn("store: write %s/%s", w->im->path, w->name);
			return w->err;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
writer_unmap(struct store_image_writer *w)
{
	if (w->map != NULL)
		munmap(w->map, w->maplen);
	w->map = NULL;
	w->maplen = 0;
}

int
store_image_writer_map(struct store_image_writer *w, const void **data,
    size_t *len)
{
	struct stat sb;
	void *p;

	*data = NULL;
	*len = 0;
	if (w == NULL || w->fd == -1)
		return STORE_EINVAL;
	if (w->err)
		return w->err;
	writer_unmap(w);
	if (fstat(w->fd, &sb) == -1) {
		log_warn("store: fstat %s/%s", w->im->path, w->name);
		return STORE_EIO;
	}
	if (sb.st_size == 0)
		return 0;
	if ((uint64_t)sb.st_size > SIZE_MAX)
		return STORE_EINVAL;
	p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, w->fd, 0);
	if (p == MAP_FAILED) {
		log_warn("store: mmap %s/%s", w->im->path, w->name);
		return STORE_EIO;
	}
	w->map = p;
	w->maplen = (size_t)sb.st_size;
	*data = p;
	*len = w->maplen;
	return 0;
}

static void
writer_free(struct store_image_writer *w, int unlink_tmp)
{
	writer_unmap(w);
	if (w->fd != -1)
		close(w->fd);
	if (unlink_tmp && unlinkat(w->im->dirfd, w->name, 0) == -1 &&
	    errno != ENOENT)
		log_warn("store: unlink %s/%s", w->im->path, w->name);
	free(w);
}

void
store_image_discard(struct store_image_writer *w)
{
	if (w != NULL)
		writer_free(w, 1);
}

int
store_image_commit(struct store_image_writer *w, const char *id)
{
	struct store_images *im;
	int rc, fd;

	if (w == NULL)
		return STORE_EINVAL;
	im = w->im;
	if (!image_id_ok(id)) {
		rc = STORE_EINVAL;
		goto fail;
	}
	if ((rc = w->err) != 0)
		goto fail;
	if (fchmod(w->fd, 0644) == -1 || fsync(w->fd) == -1) {
		rc = errno_code(errno);
		log_warn("store: fsync %s/%s", im->path, w->name);
		goto fail;
	}
	fd = w->fd;
	w->fd = -1;
	if (close(fd) == -1) {
		rc = errno_code(errno);
		log_warn("store: close %s/%s", im->path, w->name);
		goto fail;
	}
	if (renameat(im->dirfd, w->name, im->dirfd, id) == -1) {
		rc = errno_code(errno);
		log_warn("store: rename %s/%s to %s", im->path, w->name, id);
		goto fail;
	}
	pthread_mutex_lock(&im->lock);
	images_forget(im, id);
	pthread_mutex_unlock(&im->lock);
	writer_free(w, 0);
	/* make the rename itself durable */
	if (fsync(im->dirfd) == -1) {
		log_warn("store: fsync %s", im->path);
		return errno_code(errno) == STORE_EFULL ? STORE_EFULL
		    : STORE_EIO;
	}
	return 0;
fail:
	if (rc == STORE_ENOTFOUND)
		rc = STORE_EIO;
	writer_free(w, 1);
	return rc;
}

int
store_image_remove(struct store *st, const char *id)
{
	struct store_images *im;

	if (st == NULL || !image_id_ok(id))
		return STORE_EINVAL;
	im = store_images_of(st);
	pthread_mutex_lock(&im->lock);
	images_forget(im, id);
	pthread_mutex_unlock(&im->lock);
	if (unlinkat(im->dirfd, id, 0) == -1) {
		if (errno == ENOENT)
			return STORE_ENOTFOUND;
		log_warn("store: unlink %s/%s", im->path, id);
		return STORE_EIO;
	}
	if (fsync(im->dirfd) == -1)
		log_warn("store: fsync %s", im->path);
	return 0;
}

/*
 * Reading.
 */

static struct image_map *
map_of(const struct store_image *img)
{
	return (struct image_map *)((const char *)img -
	    offsetof(struct image_map, pub));
}

/* Maps DIR/images/<id>; lock not held. */
static int
image_map_new(struct store_images *im, const char *id, struct image_map **out)
{
	struct image_map *m;
	struct stat sb;
	void *p;
	int fd, rc;

	*out = NULL;
	if ((fd = openat(im->dirfd, id, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return STORE_ENOTFOUND;
		log_warn("store: open %s/%s", im->path, id);
		return STORE_EIO;
	}
	if (fstat(fd, &sb) == -1) {
		log_warn("store: stat %s/%s", im->path, id);
		rc = STORE_EIO;
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || (uintmax_t)sb.st_size > SIZE_MAX) {
		log_warnx("store: %s/%s: not a mappable file", im->path, id);
		rc = STORE_EINVAL;
		goto out;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		log_warn("store: image %s", id);
		rc = STORE_EIO;
		goto out;
	}
	if (sb.st_size == 0) {
		/* mmap refuses length 0: point at a static empty byte */
		m->pub.data = image_empty;
	} else {
		p = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_SHARED, fd,
		    0);
		if (p == MAP_FAILED) {
			log_warn("store: mmap %s/%s", im->path, id);
			free(m);
			rc = STORE_EIO;
			goto out;
		}
		m->pub.data = p;
		m->maplen = (size_t)sb.st_size;
	}
	m->pub.size = (uint64_t)sb.st_size;
	m->owner = im;
	m->refs = 1;
	m->listed = 1;
	snprintf(m->id, sizeof(m->id), "%s", id);
	*out = m;
	rc = 0;
out:
	close(fd);
	return rc;
}

int
store_image_open(struct store *st, const char *id,
    const struct store_image **out)
{
	struct store_images *im;
	struct image_map *m, *fresh;
	int rc;

	*out = NULL;
	if (st == NULL || !image_id_ok(id))
		return STORE_EINVAL;
	im = store_images_of(st);
	pthread_mutex_lock(&im->lock);
	for (m = im->maps; m != NULL; m = m->next)
		if (m->listed && strcmp(m->id, id) == 0)
			break;
	if (m != NULL)
		m->refs++;
	pthread_mutex_unlock(&im->lock);
	if (m != NULL) {
		*out = &m->pub;
		return 0;
	}

	/* map outside the lock; another thread may race us to it */
	if ((rc = image_map_new(im, id, &fresh)) != 0)
		return rc;
	pthread_mutex_lock(&im->lock);
	for (m = im->maps; m != NULL; m = m->next)
		if (m->listed && strcmp(m->id, id) == 0)
			break;
	if (m != NULL)
		m->refs++;
	else {
		fresh->next = im->maps;
		im->maps = fresh;
		m = fresh;
		fresh = NULL;
	}
	pthread_mutex_unlock(&im->lock);
	if (fresh != NULL)
		map_free(fresh);
	*out = &m->pub;
	return 0;
}

void
store_image_ref(const struct store_image *img)
{
	struct image_map *m;

	if (img == NULL)
		return;
	m = map_of(img);
	if (m->owner != NULL) {
		pthread_mutex_lock(&m->owner->lock);
		m->refs++;
		pthread_mutex_unlock(&m->owner->lock);
	} else
		m->refs++;
}

void
store_image_unref(const struct store_image *img)
{
	struct store_images *im;
	struct image_map *m, **pp;
	unsigned left;

	if (img == NULL)
		return;
	m = map_of(img);
	if ((im = m->owner) == NULL) {
		/* the store is closed: nobody else can find this map */
		if (--m->refs == 0)
			map_free(m);
		return;
	}
	pthread_mutex_lock(&im->lock);
	left = --m->refs;
	if (left == 0) {
		for (pp = &im->maps; *pp != NULL; pp = &(*pp)->next)
			if (*pp == m) {
				*pp = m->next;
				break;
			}
	}
	pthread_mutex_unlock(&im->lock);
	if (left == 0)
		map_free(m);
}
