/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * notify.h: telling a service manager how the daemon is doing.
 *
 * systemd's readiness protocol (sd_notify(3)), spoken directly: when the
 * environment names a socket (NOTIFY_SOCKET, a path or, with a leading
 * '@', an abstract name), "READY=1", "RELOADING=1", "STOPPING=1" and
 * "STATUS=..." lines are sent to it as one datagram.  Without one,
 * nothing happens.  No libsystemd: the protocol is a datagram of text.
 */
#ifndef OTAGW_NOTIFY_H
#define OTAGW_NOTIFY_H

/* Sends state (for example "READY=1\nSTATUS=serving").  0, or -1. */
int	 notify_send(const char *state);

#endif
