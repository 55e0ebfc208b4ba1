/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * capability.c: signing and checking the credential in a download URL
 * (capability.h has the format).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/capability.h"
#include "crypto/crypto.h"
#include "model.h"
#include "store/store.h"
#include "util/validate.h"

#define CAP_LABEL	"otagw-url-v1\n"

static int
cap_mac(const uint8_t key[32], const char *device, const char *fwid,
    int64_t expires, uint8_t mac[32])
{
	char	 msg[sizeof(CAP_LABEL) + 2 * (OTA_ID_MAX + 1) + 24];
	int	 n;

	n = snprintf(msg, sizeof(msg), CAP_LABEL "%s\n%s\n%" PRId64, device,
	    fwid, expires);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	return crypto_hmac_sha256(key, 32, msg, (size_t)n, mac);
}

int
cap_sign(const uint8_t key[32], const char *device, const char *fwid,
    int64_t expires, char sig[CAP_SIG_LEN + 1])
{
	uint8_t	 mac[32];

	sig[0] = '\0';
	if (cap_mac(key, device, fwid, expires, mac) != 0)
		return -1;
	crypto_base64url(mac, sizeof(mac), sig);
	return 0;
}

/* Constant time over the signature's length. */
static int
cap_matches(const uint8_t key[32], const char *device, const char *fwid,
    int64_t expires, const char *sig)
{
	char	 want[CAP_SIG_LEN + 1];

	if (cap_sign(key, device, fwid, expires, want) != 0)
		return 0;
	return crypto_memcmp(want, sig, CAP_SIG_LEN) == 0;
}

int
cap_verify(const struct url_keys *k, const char *device, const char *fwid,
    int64_t expires, const char *sig, int64_t now)
{
	int	 ok;

	if (device == NULL || fwid == NULL || sig == NULL ||
	    strlen(sig) != CAP_SIG_LEN || expires < now)
		return -1;
	ok = cap_matches(k->cur, device, fwid, expires, sig);
	if (!ok && k->has_prev)
		ok = cap_matches(k->prev, device, fwid, expires, sig);
	return ok ? 0 : -1;
}

/* Copies the value of one query member; -1 when too long or empty. */
static int
cap_value(const char *v, size_t len, char *out, size_t size)
{
	if (len == 0 || len >= size)
		return -1;
	memcpy(out, v, len);
	out[len] = '\0';
	return 0;
}

int
cap_parse_query(const char *query, char *device, size_t devsize,
    int64_t *expires, char sig[CAP_SIG_LEN + 1])
{
	const char *p = query, *amp;
	char	 exp[24];
	size_t	 len;
	int	 have_dev = 0, have_exp = 0, have_sig = 0, i;
	int64_t	 v;

	while (p != NULL && *p != '\0') {
		amp = strchr(p, '&');
		len = amp != NULL ? (size_t)(amp - p) : strlen(p);
		if (len > 7 && strncmp(p, "device=", 7) == 0) {
			if (have_dev++ || cap_value(p + 7, len - 7, device,
			    devsize) != 0)
				return -1;
		} else if (len > 8 && strncmp(p, "expires=", 8) == 0) {
			if (have_exp++ || cap_value(p + 8, len - 8, exp,
			    sizeof(exp)) != 0)
				return -1;
		} else if (len > 4 && strncmp(p, "sig=", 4) == 0) {
			if (have_sig++ || cap_value(p + 4, len - 4, sig,
			    CAP_SIG_LEN + 1) != 0)
				return -1;
		}
		p = amp != NULL ? amp + 1 : NULL;
	}
	if (!have_sig)
		return 0;
	if (!have_dev || !have_exp || !valid_device_id(device) ||
	    strlen(sig) != CAP_SIG_LEN || strlen(exp) > 12)
		return -1;
	for (i = 0, v = 0; exp[i] != '\0'; i++) {
		if (exp[i] < '0' || exp[i] > '9')
			return -1;
		v = v * 10 + (exp[i] - '0');
	}
	*expires = v;
	return 1;
}
