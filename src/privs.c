/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * privs.c: who otagw runs as (see privs.h).
 *
 * Started as root with a `user' setting, otagw does everything that may
 * need root first (bind every listener, open the store, take its lock),
 * then hands the state directory and what is in it to that user, takes
 * the user's groups, and gives up root for good (setgid, setgroups, then
 * setuid, and a check that setuid(0) now fails).  Under systemd the unit
 * starts it as its user already (User=), and none of this happens.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "privs.h"

/* "name" of a uid, or its number. */
static const char *
privs_user_name(uid_t uid, char *buf, size_t size)
{
	struct passwd *pw = getpwuid(uid);

	if (pw != NULL)
		snprintf(buf, size, "%s", pw->pw_name);
	else
		snprintf(buf, size, "%lu", (unsigned long)uid);
	return buf;
}

static const char *
privs_group_name(gid_t gid, char *buf, size_t size)
{
	struct group *gr = getgrgid(gid);

	if (gr != NULL)
		snprintf(buf, size, "%s", gr->gr_name);
	else
		snprintf(buf, size, "%lu", (unsigned long)gid);
	return buf;
}

int
privs_check_dir(const char *dir)
{
	char owner[64], group[64], me[64];
	struct stat sb;

	if (access(dir, R_OK | W_OK | X_OK) == 0)
		return 0;
	if (stat(dir, &sb) == -1) {
		log_warn("state directory %s", dir);
		return -1;
	}
	log_warnx("state directory %s is owned by %s:%s with mode %04o: otagw, "
	    "running as %s, cannot use it (chown it to that user, or set "
	    "`user' and start otagw as root)", dir,
	    privs_user_name(sb.st_uid, owner, sizeof(owner)),
	    privs_group_name(sb.st_gid, group, sizeof(group)),
	    (unsigned)(sb.st_mode & 07777),
	    privs_user_name(geteuid(), me, sizeof(me)));
	return -1;
}

/* chown path (no symbolic links followed); 0, or -1 with the reason. */
static int
privs_chown(int dirfd, const char *name, const char *shown,
    const struct passwd *pw)
{
	if (fchownat(dirfd, name, pw->pw_uid, pw->pw_gid,
	    AT_SYMLINK_NOFOLLOW) == -1 && errno != ENOENT) {
		log_warn("state directory: chown %s to %s", shown, pw->pw_name);
		return -1;
	}
	return 0;
}

/* Hands the state directory, its store, lock and images to pw. */
static int
privs_give_state(const char *dir, const struct passwd *pw)
{
	static const char *const files[] = {
		"data.mdb", "lock.mdb", "otagw.pid", "images",
	};
	struct dirent *de;
	char shown[1200];
	size_t i;
	DIR *d;
	int fd, ifd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		log_warn("state directory %s", dir);
		return -1;
	}
	if (privs_chown(AT_FDCWD, dir, dir, pw) == -1)
		goto fail;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(shown, sizeof(shown), "%s/%s", dir, files[i]);
		if (privs_chown(fd, files[i], shown, pw) == -1)
			goto fail;
	}
	ifd = openat(fd, "images", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ifd != -1 && (d = fdopendir(ifd)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(shown, sizeof(shown), "%s/images/%s", dir,
			    de->d_name);
			if (privs_chown(dirfd(d), de->d_name,
			    shown, pw) == -1) {
				closedir(d);
				goto fail;
			}
		}
		closedir(d);
	} else if (ifd != -1)
		close(ifd);
	close(fd);
	return 0;
fail:
	close(fd);
	return -1;
}

int
privs_drop(const char *user, const char *state_dir)
{
	struct passwd *pw;
	char me[64];

	if (user == NULL || user[0] == '\0') {
		if (geteuid() == 0)
			log_info("running as root: set `user' (or User= in "
			    "the service unit) to run unprivileged");
		return 0;
	}
	if ((pw = getpwnam(user)) == NULL) {
		log_warnx("user %s: no such user", user);
		return -1;
	}
	if (geteuid() != 0) {
		if (geteuid() != pw->pw_uid)
			log_warnx("user %s ignored: otagw was not started as "
			    "root (it runs as %s)", user,
			    privs_user_name(geteuid(), me, sizeof(me)));
		return 0;
	}
	if (privs_give_state(state_dir, pw) == -1)
		return -1;
	if (setgid(pw->pw_gid) == -1 || initgroups(pw->pw_name,
	    pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		log_warn("cannot become user %s", user);
		return -1;
	}
	if (setuid(0) != -1 || geteuid() == 0) {
		log_warnx("user %s: root privileges could be regained", user);
		return -1;
	}
	log_info("running as user %s (uid %lu, gid %lu)", user,
	    (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid);
	return 0;
}
