/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.h: logging in the style of OpenBSD daemons.
 *
 * log_warn appends strerror(errno); log_warnx does not.  In the foreground
 * (-d) everything goes to stderr with a timestamp; otherwise to syslog.
 * Never pass a secret to these functions.
 */
#ifndef OTAGW_LOG_H
#define OTAGW_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LEVEL_WARN = 0,
	LOG_LEVEL_INFO = 1,
	LOG_LEVEL_DEBUG = 2,
};

void	 log_init(const char *progname, int foreground, int level);
void	 log_set_level(int level);
int	 log_get_level(void);
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	 fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
