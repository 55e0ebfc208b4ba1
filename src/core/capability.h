/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * capability.h: download URLs that carry their own credential.
 *
 * The url of an HTTPS notice names the device, an expiry and a signature:
 *
 *   https://gw:8443/fw/fw-7?device=d-1&expires=1765100000&sig=<43 chars>
 *
 * sig is base64url (no padding) of HMAC-SHA-256 under the store's current
 * URL key (store_url_keys_get) of the bytes
 *
 *   "otagw-url-v1\n" device "\n" firmware "\n" expires
 *
 * with expires in decimal seconds since the epoch.  Whoever holds the URL
 * may download that firmware as that device until it expires; whether the
 * device may have it at all (an open row of a job for that firmware) is
 * still checked at each download.  A rotated key keeps verifying the URLs
 * it signed until it is dropped.
 *
 * Pure functions over caller memory, besides the HMAC itself.
 */
#ifndef OTAGW_CAPABILITY_H
#define OTAGW_CAPABILITY_H

#include <stddef.h>
#include <stdint.h>

struct url_keys;

#define CAP_SIG_LEN	43	/* base64url of 32 bytes */

/* Signs; sig gets CAP_SIG_LEN characters and a NUL.  0, or -1. */
int	 cap_sign(const uint8_t key[32], const char *device, const char *fwid,
	    int64_t expires, char sig[CAP_SIG_LEN + 1]);
/*
 * 0 when sig is a signature of (device, fwid, expires) under the current
 * or the previous key and expires is not before now (seconds); else -1.
 */
int	 cap_verify(const struct url_keys *, const char *device,
	    const char *fwid, int64_t expires, const char *sig, int64_t now);

/*
 * Reads "device", "expires" and "sig" from a URL query string.  Returns
 * 1 when sig is there (device copied to device[devsize], *expires set,
 * sig copied to sig[CAP_SIG_LEN + 1]), 0 when it is not, -1 when one of
 * them is malformed or repeated.
 */
int	 cap_parse_query(const char *query, char *device, size_t devsize,
	    int64_t *expires, char sig[CAP_SIG_LEN + 1]);

#endif
