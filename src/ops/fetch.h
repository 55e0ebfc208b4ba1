/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fetch.h: firmware images from upstream HTTPS URLs.
 *
 * Downloads an image with src/http's HTTP/2 client, resuming with Range
 * after an interruption, streams it into the store through the ops upload
 * calls (MD5 and SHA-256 computed on the way), and adds the firmware only
 * when the SHA-256 matches the one the operator gave.  Blocking: otactl
 * calls it directly; the daemon calls it from a worker thread.
 */
#ifndef OTAGW_OPS_FETCH_H
#define OTAGW_OPS_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct ops;
struct ops_fw_params;
struct ops_err;

struct fetch_opts {
	const char *ca_file;	/* "" or NULL: the system's CA bundle */
	const char *token;	/* bearer token for the upstream, or NULL */
	unsigned attempts;	/* tries without progress, then fail (0: 5) */
	unsigned timeout_s;	/* no progress for this long: retry (0: 30) */
	unsigned deadline_s;	/* the whole fetch at most (0: 3600) */
	const atomic_int *cancel; /* raised: end at once (NULL: never) */
	void	(*progress)(void *arg, uint64_t done, uint64_t total);
	void	*arg;
};

/*
 * Returns an ops status (OPS_OK, OPS_EINVAL for a bad URL or digest
 * mismatch, OPS_EIO for a network failure, opts->attempts attempts without
 * progress, the deadline passed or a cancel, and the upload's own errors,
 * the parameters' checked before connecting) with the message in err; on
 * OPS_OK *out is the new firmware.  On failure nothing is stored.  Neither
 * the message nor the log shows the URL's path or query, only its host.
 */
int	 fetch_firmware(struct ops *, const struct ops_fw_params *,
	    const char *url, const uint8_t sha256[32],
	    const struct fetch_opts *, struct firmware_rec *out,
	    struct ops_err *err);

/*
 * 0 when url is an https URL a fetch can use (https://host[:port][/path]
 * [?query], no user name or password), else -1: checked before anything
 * is logged or started.
 */
int	 fetch_url_check(const char *url);
/*
 * url as it may be logged: scheme, host, port and path; no user name or
 * password, and a query or fragment becomes "?..." (a pre-signed URL
 * carries its credentials in the query).  Always NUL-terminates out.
 */
void	 fetch_url_redact(const char *url, char *out, size_t size);

#endif
