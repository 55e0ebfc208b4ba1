/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log.c: logging in the style of OpenBSD daemons (see log.h).
 *
 * Before log_init, and in the foreground (-d), each message is one line on
 * stderr: "2026-11-23T10:00:00.123Z otagw[1234]: info: message".  A
 * daemon logs to syslog(3) instead, facility LOG_DAEMON, where syslogd adds
 * its own time stamp and the "otagw[pid]" tag; each keeps its level there
 * (warnings LOG_WARNING, info LOG_INFO, debug LOG_DEBUG, fatal LOG_CRIT).
 * Messages above the current level are dropped before they are formatted.
 *
 * log_warn and fatal append ": strerror(errno)", taking errno as it was on
 * entry (formatting can change it).  fatal and fatalx log and exit(1).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static const char *log_procname = "otagw";
static int log_foreground = 1;
static int log_verbose = LOG_LEVEL_INFO;

void
log_init(const char *progname, int foreground, int level)
{
	if (progname != NULL && *progname != '\0') {
		const char *slash = strrchr(progname, '/');

		log_procname = slash != NULL ? slash + 1 : progname;
	}
	log_foreground = foreground;
	log_verbose = level;
	if (!foreground)
		openlog(log_procname, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	tzset();
}

void
log_set_level(int level)
{
	log_verbose = level;
}

int
log_get_level(void)
{
	return log_verbose;
}

static void
log_stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char date[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ldZ", date, ts.tv_nsec / 1000000L);
}

/*
 * Writes one message.  errnum is appended as strerror(errnum) when it is
 * not 0.  The line is built in one buffer and written with one call, so
 * lines from a child and its parent do not interleave.
 */
static void __attribute__((format(printf, 4, 0)))
log_emit(int prio, const char *label, int errnum, const char *fmt, va_list ap)
{
	char msg[2048], stamp[40];
	int n;

	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		snprintf(msg, sizeof(msg), "(message could not be formatted)");
	if (errnum != 0) {
		size_t used = strlen(msg);

		snprintf(msg + used, sizeof(msg) - used, ": %s",
		    strerror(errnum));
	}

	if (log_foreground) {
		log_stamp(stamp, sizeof(stamp));
		fprintf(stderr, "%s %s[%ld]: %s: %s\n", stamp, log_procname,
		    (long)getpid(), label, msg);
		fflush(stderr);
	} else
		syslog(prio, "%s: %s", label, msg);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (log_verbose < LOG_LEVEL_WARN)
		return;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning", saved, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (log_verbose < LOG_LEVEL_WARN)
		return;
	va_start(ap, fmt);
	log_emit(LOG_WARNING, "warning", 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_info(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (log_verbose < LOG_LEVEL_INFO)
		return;
	va_start(ap, fmt);
	log_emit(LOG_INFO, "info", 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
log_debug(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	if (log_verbose < LOG_LEVEL_DEBUG)
		return;
	va_start(ap, fmt);
	log_emit(LOG_DEBUG, "debug", 0, fmt, ap);
	va_end(ap);
	errno = saved;
}

void
fatal(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal", saved, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(LOG_CRIT, "fatal", 0, fmt, ap);
	va_end(ap);
	exit(1);
}
