/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.c: the service manager's readiness protocol (see notify.h).
 *
 * The socket is opened for each message and closed again: the daemon
 * sends a handful of them in its life (ready, reloading, stopping), and
 * a socket kept open would have to survive the change of user.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "notify.h"

int
notify_send(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	size_t n;
	ssize_t sent;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return 0;	/* not run by a service manager */
	n = strlen(path);
	if (n >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, n);
	if (path[0] == '@')
		sun.sun_path[0] = '\0';	/* abstract namespace */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	    (path[0] == '@' ? 0 : 1));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	sent = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	    (struct sockaddr *)&sun, len);
	close(fd);
	return sent == (ssize_t)strlen(state) ? 0 : -1;
}
