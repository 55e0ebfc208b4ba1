/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * wire.h: the device wire format in JSON (wire.c): the bodies devices send,
 * the notices and error bodies they get back, and the events that go
 * upstream.  Included by codec.h, whose conventions these calls follow.
 */
#ifndef OTAGW_CODEC_WIRE_H
#define OTAGW_CODEC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/*
 * Check body: {"versions":{"<module>":"<version>",...}} or
 * {"version":"1.0.0","module":"default"} (module optional), or empty
 * (len 0, or only white space): nversions = 0.  Module and version names
 * are validated.  Either form may add "requestVersion":"<version>" (pull
 * by version: only a notice for a job whose target is that version may
 * be handed out); null or absent: request_version "".  Either may add
 * "nonce":"<[A-Za-z0-9_-]{1,64}>", which the notice echoes (signed, when
 * notices are: docs/signing.md); absent: nonce "".  0, or -1 with err.
 */
struct check_body {
	unsigned nversions;
	struct module_version versions[OTA_MODULES_MAX];
	char	request_version[OTA_ID_MAX + 1];	/* "": any */
	char	nonce[OTA_ID_MAX + 1];			/* "": none */
};
int	 codec_check_decode(const void *buf, size_t len, struct check_body *,
	    char *err, size_t errlen);

/* Progress body: {"job":"...","step":N,"desc":"...","version":"..."}. */
struct progress_body {
	char	job[OTA_ID_MAX + 1];
	int	step;			/* -4..100 */
	int	has_desc;
	char	desc[OTA_UTF8_SIZE(OTA_PDESC_MAX)];
	int	has_version;
	char	version[OTA_ID_MAX + 1];
	char	module[OTA_ID_MAX + 1];	/* optional; "" if absent */
	/*
	 * Not from the body: a hawkBit device's feedback details, a JSON
	 * array of strings relayed upstream as they are (core/ddi.c); NULL.
	 */
	const char *details;
	/*
	 * Not from the body either: a hawkBit feedback names one attempt
	 * (its action), which must still be the row's when the report is
	 * written: the attempt's notified time, or 0 for any (core.c).
	 */
	int64_t	 attempt;
};
int	 codec_progress_decode(const void *buf, size_t len,
	    struct progress_body *, char *err, size_t errlen);

/*
 * The notice of CONTRACT §1, from what the core knows when it hands one
 * out.  url_base is the address the device reached, of the protocol it
 * checked in with, e.g. "coaps://gw:5684" (NULL: no "url" member);
 * url_query (NULL: none) follows the path after a '?' (the credential of
 * an HTTPS url, core/capability.h); nonce (NULL or "": none) is the one
 * the device sent in its check, echoed back; device (NULL: none) is the
 * device the notice is for, so that a signed notice cannot be replayed
 * to another.  delta (NULL: none) is a
 * patch from the device's version offered beside the full image, as the
 * member "delta":{"firmware","format","from","size","sha256","path",
 * "url"}, its url credential in delta_query.
 */
struct notice_in {
	const struct job_rec *job;
	const struct firmware_rec *fw;
	const char *url_base;
	const char *url_query;
	const char *nonce;
	const char *device;
	const struct delta_rec *delta;
	const char *delta_query;
};
char	*codec_notice_encode(const struct notice_in *, size_t *len);

/*
 * An upstream event (CONTRACT §5) without "seq" and "gateway": the relay
 * adds those when it sends the event.
 */
char	*codec_event_encode(const struct event *, size_t *len);
/*
 * The event as the upstream receives it: an encoded event (which always
 * starts with {"ts":"...",) with "seq" put first and "gateway" after "ts".
 * malloc'd, or NULL when out of memory or when data is not an object.
 */
char	*codec_event_stamp(const char *data, size_t len, uint64_t seq,
	    const char *gateway, size_t *outlen);

/* {"error":"<code>","message":"..."} */
char	*codec_error_encode(const char *code, const char *message, size_t *len);

#endif
