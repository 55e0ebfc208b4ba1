/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.c: otagw.conf, the daemon's configuration file (see config.h).
 *
 * The file is a list of "key value" lines.  Every setting is one row of a
 * table (config_keys below) that names its key, its type, where it lives
 * in struct config, its range and whether a SIGHUP may change it; parsing,
 * reloading and dumping all walk that table, so a new setting is one new
 * row.  Values are typed:
 *
 *   string    any text that fits its field; "..." keeps spaces, \" and \\
 *   listen    "off", "host:port", "[v6addr]:port" or ":port"
 *   size      bytes, with an optional K, M, G or T suffix (powers of 1024)
 *   duration  seconds, with an optional s, m, h or d suffix
 *   number    a plain decimal count
 *   level     warn, info or debug
 *
 * Parsing reports every error of the file as "file:line: message" on
 * stderr and keeps going, so one run of "otagw -n" lists them all.
 *
 * Paths (state_dir, the certificate, key, CA and token files) that are
 * relative are taken from the directory of the file that names them, and
 * stored absolute: otagw and otactl then mean the same files whatever
 * directory they are started in.  The embedded defaults are absolute
 * (the FHS places configure was given).
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "util/validate.h"

#define CONFIG_LINE_MAX	4096
#define KIB		1024ULL
#define MIB		(1024ULL * KIB)
#define GIB		(1024ULL * MIB)
#define TIB		(1024ULL * GIB)

enum config_type {
	CT_STRING,
	CT_LISTEN,
	CT_SIZE,
	CT_DURATION,
	CT_NUMBER,
	CT_LEVEL,
};

/* Extra rules for some strings. */
enum config_check {
	CK_NONE,
	CK_NONEMPTY,
	CK_GATEWAY_ID,
	CK_URL_COAP,
	CK_URL_COAPS,
	CK_URL_HTTPS,
	CK_TENANT,
};

struct config_key {
	const char	*name;
	int		 type;		/* enum config_type */
	size_t		 off;		/* offsetof(struct config, field) */
	size_t		 size;		/* sizeof the field */
	uint64_t	 min, max;	/* numbers, sizes, durations */
	int		 check;		/* enum config_check, strings */
	int		 reload;	/* SIGHUP applies it */
};

#define F(field)	offsetof(struct config, field), \
			sizeof(((struct config *)0)->field)

static const struct config_key config_keys[] = {
	{ "gateway_id", CT_STRING, F(gateway_id), 0, 0, CK_GATEWAY_ID, 0 },
	{ "user", CT_STRING, F(user), 0, 0, CK_NONE, 0 },
	{ "state_dir", CT_STRING, F(state_dir), 0, 0, CK_NONEMPTY, 0 },
	{ "map_size", CT_SIZE, F(map_size), 16 * MIB, 16 * TIB, 0, 0 },
	{ "map_size_max", CT_SIZE, F(map_size_max), 16 * MIB, 16 * TIB, 0, 1 },
	{ "log_level", CT_LEVEL, F(log_level), 0, 2, 0, 1 },
	{ "workers", CT_NUMBER, F(workers), 0, CONFIG_WORKERS_MAX, 0, 0 },

	{ "coap_listen", CT_LISTEN, F(coap), 0, 0, 0, 0 },
	{ "coaps_listen", CT_LISTEN, F(coaps), 0, 0, 0, 0 },
	{ "coap_public_url", CT_STRING, F(coap_public), 0, 0, CK_URL_COAP, 1 },
	{ "coaps_public_url", CT_STRING, F(coaps_public), 0, 0, CK_URL_COAPS,
	    1 },
	{ "coap_max_sessions", CT_NUMBER, F(coap_max_sessions), 1, 1000000, 0,
	    1 },
	{ "coap_session_timeout", CT_DURATION, F(coap_session_timeout), 1,
	    86400, 0, 1 },
	{ "coap_max_handshakes", CT_NUMBER, F(coap_max_handshakes), 1, 100000,
	    0, 1 },
	{ "coap_handshake_timeout", CT_DURATION, F(coap_handshake_timeout), 1,
	    120, 0, 1 },
	{ "coap_handshakes_per_source", CT_NUMBER,
	    F(coap_handshakes_per_source), 1, 100000, 0, 1 },
	{ "coap_handshakes_per_net", CT_NUMBER, F(coap_handshakes_per_net), 1,
	    100000, 0, 1 },
	{ "coap_sessions_per_source", CT_NUMBER, F(coap_sessions_per_source),
	    0, 1000000, 0, 1 },
	{ "coap_sessions_per_device", CT_NUMBER, F(coap_sessions_per_device),
	    0, 1000000, 0, 1 },
	{ "coaps_ciphers", CT_STRING, F(coaps_ciphers), 0, 0, CK_NONEMPTY, 0 },

	{ "check_interval", CT_DURATION, F(check_interval), 1, 7 * 86400, 0,
	    1 },
	{ "busy_interval", CT_DURATION, F(busy_interval), 1, 86400, 0, 1 },
	{ "confirm_interval", CT_DURATION, F(confirm_interval), 1, 86400, 0,
	    1 },
	{ "wakeup_jitter", CT_NUMBER, F(wakeup_jitter), 0, 50, 0, 1 },
	{ "max_body", CT_SIZE, F(max_body), 64, 64 * KIB, 0, 1 },
	{ "shutdown_timeout", CT_DURATION, F(shutdown_timeout), 0, 3600, 0,
	    1 },
	{ "push_max_watchers", CT_NUMBER, F(push_max_watchers), 0, 1000000,
	    0, 1 },
	{ "long_poll_max_wait", CT_DURATION, F(long_poll_max_wait), 1, 3600,
	    0, 1 },

	{ "firmware_max_size", CT_SIZE, F(firmware_max_size), 1 * KIB,
	    16 * GIB, 0, 1 },
	{ "firmware_max_per_product", CT_NUMBER, F(firmware_max_per_product),
	    1, 100000, 0, 1 },
	{ "history_max_per_device", CT_NUMBER, F(history_max_per_device), 1,
	    10000, 0, 1 },
	{ "firmware_fetch_timeout", CT_DURATION, F(firmware_fetch_timeout),
	    1, 7 * 86400, 0, 1 },

	{ "https_listen", CT_LISTEN, F(https), 0, 0, 0, 0 },
	{ "https_public_url", CT_STRING, F(https_public), 0, 0, CK_URL_HTTPS,
	    1 },
	{ "download_url_ttl", CT_DURATION, F(download_url_ttl), 1,
	    30 * 86400, 0, 1 },
	{ "tls_cert", CT_STRING, F(tls_cert), 0, 0, CK_NONE, 1 },
	{ "tls_key", CT_STRING, F(tls_key), 0, 0, CK_NONE, 1 },
	{ "device_ca", CT_STRING, F(device_ca), 0, 0, CK_NONE, 1 },
	{ "ddi_tenant", CT_STRING, F(ddi_tenant), 0, 0, CK_TENANT, 1 },
	{ "tls_session_cache", CT_NUMBER, F(tls_session_cache), 0, 10000000,
	    0, 1 },
	{ "tls_session_timeout", CT_DURATION, F(tls_session_timeout), 60,
	    7 * 86400, 0, 1 },
	{ "tls_ticket_key_rotate", CT_DURATION, F(tls_ticket_key_rotate), 1,
	    7 * 86400, 0, 1 },

	{ "admin_listen", CT_LISTEN, F(admin), 0, 0, 0, 0 },
	{ "admin_token_file", CT_STRING, F(admin_token_file), 0, 0, CK_NONE,
	    1 },
	{ "header_timeout", CT_DURATION, F(header_timeout), 1, 3600, 0, 1 },
	{ "max_connections_per_source", CT_NUMBER, F(max_conns_per_source), 0,
	    1000000, 0, 1 },

	{ "upstream_url", CT_STRING, F(upstream_url), 0, 0, CK_URL_HTTPS, 0 },
	{ "upstream_token_file", CT_STRING, F(upstream_token_file), 0, 0,
	    CK_NONE, 0 },
	{ "upstream_ca", CT_STRING, F(upstream_ca), 0, 0, CK_NONE, 0 },
	{ "outbox_limit", CT_NUMBER, F(outbox_limit), 100, 100000000, 0, 0 },
	{ "upstream_batch_max", CT_NUMBER, F(upstream_batch_max), 1, 10000, 0,
	    1 },
	{ "upstream_backoff_max", CT_DURATION, F(upstream_backoff_max), 1,
	    86400, 0, 1 },
};

#undef F

#define NKEYS	(sizeof(config_keys) / sizeof(config_keys[0]))

static const char *const level_names[] = { "warn", "info", "debug" };

/* Integer fields come in several widths. */
static uint64_t
field_get_uint(const struct config *cfg, const struct config_key *k)
{
	const char *p = (const char *)cfg + k->off;

	if (k->size == sizeof(uint64_t)) {
		uint64_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	} else if (k->size == sizeof(uint32_t)) {
		uint32_t v;

		memcpy(&v, p, sizeof(v));
		return v;
	}
	fatalx("config: key %s has an integer field of %zu bytes", k->name,
	    k->size);
}

static void
field_set_uint(struct config *cfg, const struct config_key *k, uint64_t v)
{
	char *p = (char *)cfg + k->off;

	if (k->size == sizeof(uint64_t)) {
		uint64_t v64 = v;

		memcpy(p, &v64, sizeof(v64));
	} else if (k->size == sizeof(uint32_t)) {
		uint32_t v32 = (uint32_t)v;

		memcpy(p, &v32, sizeof(v32));
	} else
		fatalx("config: key %s has an integer field of %zu bytes",
		    k->name, k->size);
}

/*
 * The gateway id that a fresh configuration gets: the short host name,
 * with characters a device id may not contain replaced by '-', at most 64
 * characters; "gw-1" when there is no usable host name.
 */
static void
config_default_gateway_id(char *out, size_t size)
{
	char host[256];
	size_t i, n = 0;

	if (gethostname(host, sizeof(host)) == -1)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (i = 0; host[i] != '\0' && host[i] != '.' && n + 1 < size &&
	    n < 64; i++) {
		char c = host[i];
		char one[2] = { c, '\0' };

		out[n++] = valid_device_id(one) ? c : '-';
	}
	out[n] = '\0';
	if (!valid_device_id(out) || strspn(out, "-") == n)
		snprintf(out, size, "gw-1");
}

static void
listen_set(struct config_listen *l, int enabled, const char *host,
    unsigned port)
{
	memset(l, 0, sizeof(*l));
	l->enabled = enabled;
	snprintf(l->host, sizeof(l->host), "%s", host);
	l->port = port;
}

void
config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	config_default_gateway_id(cfg->gateway_id, sizeof(cfg->gateway_id));
	snprintf(cfg->state_dir, sizeof(cfg->state_dir), "%s",
	    CONFIG_DEFAULT_STATE_DIR);
	cfg->map_size = 1 * GIB;
	cfg->map_size_max = 16 * GIB;
	cfg->log_level = LOG_LEVEL_INFO;

	listen_set(&cfg->coap, 0, "", 5683);
	listen_set(&cfg->coaps, 1, "0.0.0.0", 5684);
	cfg->coap_max_sessions = 10000;
	cfg->coap_session_timeout = 60;
	cfg->coap_max_handshakes = 256;
	cfg->coap_handshake_timeout = 5;
	cfg->coap_handshakes_per_source = 8;
	cfg->coap_handshakes_per_net = 32;
	cfg->coap_sessions_per_source = 1000;
	cfg->coap_sessions_per_device = 1;
	snprintf(cfg->coaps_ciphers, sizeof(cfg->coaps_ciphers), "%s",
	    "PSK+AESGCM:PSK+AESCCM:PSK+CHACHA20");

	cfg->check_interval = 3600;
	cfg->busy_interval = 60;
	cfg->confirm_interval = 300;
	cfg->download_url_ttl = 86400;
	snprintf(cfg->ddi_tenant, sizeof(cfg->ddi_tenant), "DEFAULT");
	cfg->tls_session_cache = 50000;
	cfg->tls_session_timeout = 7200;
	cfg->tls_ticket_key_rotate = 7200;
	cfg->wakeup_jitter = 10;
	cfg->max_body = 1024;
	cfg->shutdown_timeout = 10;
	cfg->push_max_watchers = 10000;
	cfg->long_poll_max_wait = 300;

	cfg->firmware_max_size = 1 * GIB;
	cfg->firmware_max_per_product = 100;
	cfg->firmware_fetch_timeout = 3600;
	cfg->history_max_per_device = 100;

	listen_set(&cfg->https, 1, "0.0.0.0", 8443);
	snprintf(cfg->tls_cert, sizeof(cfg->tls_cert), "%s/server.pem",
	    CONFIG_DEFAULT_DIR);
	snprintf(cfg->tls_key, sizeof(cfg->tls_key), "%s/server.key",
	    CONFIG_DEFAULT_DIR);

	listen_set(&cfg->admin, 1, "127.0.0.1", 8444);
	snprintf(cfg->admin_token_file, sizeof(cfg->admin_token_file),
	    "%s/admin.token", CONFIG_DEFAULT_DIR);
	cfg->header_timeout = 10;
	cfg->max_conns_per_source = 64;

	cfg->outbox_limit = 100000;
	cfg->upstream_batch_max = 500;
	cfg->upstream_backoff_max = 300;
}

/* Parsing --------------------------------------------------------------- */

struct config_parser {
	const char	*path;
	unsigned	 line;
	int		 errors;
	unsigned	 seen[NKEYS];	/* line where each key was set */
};

static FILE *config_errfp;	/* NULL: stderr */

void
config_set_error_stream(void *fp)
{
	config_errfp = fp;
}

static void __attribute__((format(printf, 3, 4)))
config_error(struct config_parser *p, unsigned line, const char *fmt, ...)
{
	FILE *fp = config_errfp != NULL ? config_errfp : stderr;
	va_list ap;

	if (line > 0)
		fprintf(fp, "%s:%u: ", p->path, line);
	else
		fprintf(fp, "%s: ", p->path);
	va_start(ap, fmt);
	vfprintf(fp, fmt, ap);
	va_end(ap);
	fputc('\n', fp);
	p->errors++;
}

/* Decimal digits only; 0, or -1 when empty, not a number or too big. */
static int
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/* A number with an optional unit suffix from units/mults. */
static int
parse_scaled(const char *s, const char *units, const uint64_t *mults,
    uint64_t *out)
{
	size_t len = strlen(s);
	uint64_t v, mult = 1;
	const char *u;

	if (len > 1 && (u = strchr(units, s[len - 1])) != NULL) {
		mult = mults[u - units];
		len--;
	}
	if (parse_u64(s, len, &v) == -1)
		return -1;
	if (v != 0 && mult > UINT64_MAX / v)
		return -1;
	*out = v * mult;
	return 0;
}

static int
parse_size(const char *s, uint64_t *out)
{
	static const uint64_t mults[] = {
		KIB, MIB, GIB, TIB, KIB, MIB, GIB, TIB
	};

	return parse_scaled(s, "KMGTkmgt", mults, out);
}

static int
parse_duration(const char *s, uint64_t *out)
{
	static const uint64_t mults[] = { 1, 60, 3600, 86400 };

	return parse_scaled(s, "smhd", mults, out);
}

/* Writes a size with the largest suffix that keeps it exact. */
static void
format_size(uint64_t v, char *out, size_t size)
{
	static const char suffix[] = "TGMK";
	static const uint64_t mult[] = { TIB, GIB, MIB, KIB };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (v != 0 && v % mult[i] == 0) {
			snprintf(out, size, "%llu%c",
			    (unsigned long long)(v / mult[i]), suffix[i]);
			return;
		}
	}
	snprintf(out, size, "%llu", (unsigned long long)v);
}

static void
format_duration(uint64_t v, char *out, size_t size)
{
	static const char suffix[] = "dhm";
	static const uint64_t mult[] = { 86400, 3600, 60 };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (v != 0 && v % mult[i] == 0) {
			snprintf(out, size, "%llu%c",
			    (unsigned long long)(v / mult[i]), suffix[i]);
			return;
		}
	}
	snprintf(out, size, "%llus", (unsigned long long)v);
}

/*
 * "off", "host:port", "[v6]:port" or ":port".  The host is kept as text
 * (without brackets) and resolved by the listener; here it only has to
 * look like a name or an address.  0, or -1 with *why set.
 */
static int
parse_listen(const char *s, struct config_listen *l, const char **why)
{
	const char *colon, *hstart, *hend;
	uint64_t port;
	size_t hlen, i;

	memset(l, 0, sizeof(*l));
	if (strcmp(s, "off") == 0)
		return 0;
	if (s[0] == '[') {
		hstart = s + 1;
		if ((hend = strchr(hstart, ']')) == NULL || hend[1] != ':') {
			*why = "an IPv6 address is written [addr]:port";
			return -1;
		}
		colon = hend + 1;
		if (hend == hstart || strchr(hstart, ':') > hend) {
			*why = "the bracketed host must be an IPv6 address";
			return -1;
		}
	} else {
		hstart = s;
		if ((colon = strrchr(s, ':')) == NULL) {
			*why = "expected \"off\", \"host:port\", \"[v6]:port\""
			    " or \":port\"";
			return -1;
		}
		hend = colon;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			*why = "write IPv6 addresses in brackets: [addr]:port";
			return -1;
		}
	}
	hlen = (size_t)(hend - hstart);
	for (i = 0; i < hlen; i++) {
		char c = hstart[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == ':' || c == '%' || c == '_' || c == '*')) {
			*why = "bad character in the host";
			return -1;
		}
	}
	if (hlen >= sizeof(l->host)) {
		*why = "host name too long";
		return -1;
	}
	if (parse_u64(colon + 1, strlen(colon + 1), &port) == -1 ||
	    port < 1 || port > 65535) {
		*why = "the port must be a number from 1 to 65535";
		return -1;
	}
	l->enabled = 1;
	memcpy(l->host, hstart, hlen);
	l->host[hlen] = '\0';
	if (strcmp(l->host, "*") == 0)
		l->host[0] = '\0';
	l->port = (unsigned)port;
	return 0;
}

static void
format_listen(const struct config_listen *l, char *out, size_t size)
{
	if (!l->enabled)
		snprintf(out, size, "off");
	else if (strchr(l->host, ':') != NULL)
		snprintf(out, size, "[%s]:%u", l->host, l->port);
	else
		snprintf(out, size, "%s:%u", l->host, l->port);
}

/* A public URL: empty, or scheme://host[:port] without spaces. */
static int
check_url(const char *s, const char *scheme, const char **why)
{
	size_t n = strlen(scheme), i;

	if (s[0] == '\0')
		return 0;
	if (strncmp(s, scheme, n) != 0 || strncmp(s + n, "://", 3) != 0 ||
	    s[n + 3] == '\0' || s[n + 3] == '/') {
		*why = scheme[0] == 'h' ? "expected https://host[:port]" :
		    scheme[4] == 's' ? "expected coaps://host[:port]" :
		    "expected coap://host[:port]";
		return -1;
	}
	for (i = 0; s[i] != '\0'; i++) {
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) {
			*why = "URLs may not contain spaces or control"
			    " characters";
			return -1;
		}
	}
	return 0;
}

static int
check_string(const struct config_key *k, const char *v, const char **why)
{
	switch (k->check) {
	case CK_NONEMPTY:
		if (v[0] == '\0') {
			*why = "must not be empty";
			return -1;
		}
		return 0;
	case CK_GATEWAY_ID:
		if (!valid_device_id(v)) {
			*why = "1 to 64 characters of A-Z a-z 0-9 _ . : @ -";
			return -1;
		}
		return 0;
	case CK_URL_COAP:
		return check_url(v, "coap", why);
	case CK_URL_COAPS:
		return check_url(v, "coaps", why);
	case CK_URL_HTTPS:
		return check_url(v, "https", why);
	case CK_TENANT:
		if (v[0] != '\0' && !valid_product(v)) {
			*why = "empty (off) or 1 to 64 characters of A-Z a-z "
			    "0-9 _ -";
			return -1;
		}
		return 0;
	}
	return 0;
}

/* Applies one "key value"; errors are reported against line. */
static void
config_set(struct config_parser *p, struct config *cfg, size_t ki,
    const char *v, unsigned line)
{
	const struct config_key *k = &config_keys[ki];
	char *field = (char *)cfg + k->off;
	char lo[32], hi[32];
	const char *why = NULL;
	uint64_t n;
	size_t i;

	switch (k->type) {
	case CT_STRING:
		if (strlen(v) >= k->size) {
			config_error(p, line, "%s: value too long (at most %zu"
			    " bytes)", k->name, k->size - 1);
			return;
		}
		if (check_string(k, v, &why) == -1) {
			config_error(p, line, "%s: bad value \"%s\": %s",
			    k->name, v, why);
			return;
		}
		memcpy(field, v, strlen(v) + 1);
		break;
	case CT_LISTEN: {
		struct config_listen l;

		if (parse_listen(v, &l, &why) == -1) {
			config_error(p, line, "%s: bad address \"%s\": %s",
			    k->name, v, why);
			return;
		}
		memcpy(field, &l, sizeof(l));
		break;
	}
	case CT_LEVEL:
		for (i = 0; i < 3; i++) {
			if (strcmp(v, level_names[i]) == 0) {
				cfg->log_level = (int)i;
				return;
			}
		}
		config_error(p, line, "%s: bad value \"%s\": expected warn,"
		    " info or debug", k->name, v);
		break;
	case CT_SIZE:
	case CT_DURATION:
	case CT_NUMBER:
		if (k->type == CT_SIZE) {
			if (parse_size(v, &n) == -1) {
				config_error(p, line, "%s: bad size \"%s\":"
				    " expected a number with an optional K,"
				    " M, G or T suffix", k->name, v);
				return;
			}
			format_size(k->min, lo, sizeof(lo));
			format_size(k->max, hi, sizeof(hi));
		} else if (k->type == CT_DURATION) {
			if (parse_duration(v, &n) == -1) {
				config_error(p, line, "%s: bad duration"
				    " \"%s\": expected seconds, or a number"
				    " with an s, m, h or d suffix", k->name,
				    v);
				return;
			}
			format_duration(k->min, lo, sizeof(lo));
			format_duration(k->max, hi, sizeof(hi));
		} else {
			if (parse_u64(v, strlen(v), &n) == -1) {
				config_error(p, line, "%s: bad number \"%s\"",
				    k->name, v);
				return;
			}
			snprintf(lo, sizeof(lo), "%llu",
			    (unsigned long long)k->min);
			snprintf(hi, sizeof(hi), "%llu",
			    (unsigned long long)k->max);
		}
		if (n < k->min || n > k->max) {
			config_error(p, line, "%s: %s is out of range (%s to"
			    " %s)", k->name, v, lo, hi);
			return;
		}
		field_set_uint(cfg, k, n);
		break;
	}
}

/*
 * Splits one line into key and value.  Returns 1 with both set, 0 for a
 * blank or comment line, -1 after reporting an error.  The line is
 * modified in place; the value of a quoted string is unescaped into val.
 */
static int
config_split(struct config_parser *p, char *s, char **key, char *val,
    size_t valsize)
{
	size_t n = 0;
	char *k;

	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	if (*s == '\0' || *s == '#')
		return 0;
	k = s;
	while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r' &&
	    *s != '#')
		s++;
	if (*s == '#' || *s == '\0') {
		*s = '\0';
		config_error(p, p->line, "%s: missing value", k);
		return -1;
	}
	*s++ = '\0';
	*key = k;
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	if (*s == '\0' || *s == '#') {
		config_error(p, p->line, "%s: missing value", k);
		return -1;
	}
	if (*s == '"') {
		for (s++; *s != '"'; s++) {
			if (*s == '\0') {
				config_error(p, p->line, "%s: unterminated"
				    " quoted string", k);
				return -1;
			}
			if (*s == '\\' && (s[1] == '"' || s[1] == '\\'))
				s++;
			if (n + 1 < valsize)
				val[n++] = *s;
		}
		s++;
	} else {
		while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r' &&
		    *s != '#') {
			if (n + 1 < valsize)
				val[n++] = *s;
			s++;
		}
		if (n == 1 && val[0] == '=') {
			config_error(p, p->line, "%s: write \"%s value\","
			    " without '='", k, k);
			return -1;
		}
	}
	val[n] = '\0';
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	if (*s != '\0' && *s != '#') {
		config_error(p, p->line, "%s: unexpected text after the value"
		    " (quote values that contain spaces)", k);
		return -1;
	}
	return 1;
}

static void
config_line(struct config_parser *p, struct config *cfg, char *line)
{
	char val[CONFIG_LINE_MAX + 1];
	char *key;
	size_t i;

	if (config_split(p, line, &key, val, sizeof(val)) != 1)
		return;
	for (i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].name, key) == 0)
			break;
	if (i == NKEYS) {
		config_error(p, p->line, "unknown key \"%s\"", key);
		return;
	}
	if (p->seen[i] != 0) {
		config_error(p, p->line, "%s: repeated (first set on line %u)",
		    key, p->seen[i]);
		return;
	}
	p->seen[i] = p->line;
	config_set(p, cfg, i, val, p->line);
}

static size_t
config_key_index(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return i;
	fatalx("config: no key %s", name);
}

/*
 * Two listeners of the same transport on the same port: the kernel would
 * let both bind (SO_REUSEADDR on UDP), and one would never see a packet.
 */
static void
config_check_clash(struct config_parser *p, const struct config *cfg,
    const char *a, const char *b)
{
	const struct config_key *ka = &config_keys[config_key_index(a)];
	const struct config_key *kb = &config_keys[config_key_index(b)];
	const struct config_listen *la, *lb;
	unsigned line;

	la = (const struct config_listen *)((const char *)cfg + ka->off);
	lb = (const struct config_listen *)((const char *)cfg + kb->off);
	if (!la->enabled || !lb->enabled || la->port != lb->port)
		return;
	if (la->host[0] != '\0' && lb->host[0] != '\0' &&
	    strcmp(la->host, "0.0.0.0") != 0 &&
	    strcmp(lb->host, "0.0.0.0") != 0 &&
	    strcmp(la->host, lb->host) != 0)
		return;
	line = p->seen[config_key_index(b)];
	if (line < p->seen[config_key_index(a)])
		line = p->seen[config_key_index(a)];
	config_error(p, line, "%s and %s use the same port %u", a, b,
	    la->port);
}

/* Reads every line of fp into cfg, then checks what spans lines. */
static void
config_read(struct config_parser *p, struct config *cfg, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, fp)) != -1) {
		p->line++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (len > CONFIG_LINE_MAX) {
			config_error(p, p->line, "line too long (more than %d"
			    " bytes)", CONFIG_LINE_MAX);
			continue;
		}
		if (strlen(line) != (size_t)len) {
			config_error(p, p->line, "line contains a NUL byte");
			continue;
		}
		config_line(p, cfg, line);
	}
	if (ferror(fp))
		config_error(p, 0, "%s", strerror(errno));
	free(line);

	config_check_clash(p, cfg, "coap_listen", "coaps_listen");
	config_check_clash(p, cfg, "https_listen", "admin_listen");
}

/* The settings that are file names. */
static const char *const config_paths[] = {
	"state_dir", "tls_cert", "tls_key", "device_ca", "admin_token_file",
	"upstream_token_file", "upstream_ca",
};

/*
 * dir + "/" + rel, with "." and ".." segments of rel folded into dir
 * lexically.  0, or -1 when it does not fit.
 */
static int
config_join(const char *dir, const char *rel, char *out, size_t size)
{
	size_t n;

	if (str_copy(out, size, dir) == -1)
		return -1;
	while (*rel != '\0') {
		const char *end = strchr(rel, '/');
		size_t len = end != NULL ? (size_t)(end - rel) : strlen(rel);
		char *slash;

		if (len == 0 || (len == 1 && rel[0] == '.')) {
			/* "" or ".": nothing */
		} else if (len == 2 && rel[0] == '.' && rel[1] == '.') {
			if ((slash = strrchr(out, '/')) != NULL)
				*(slash == out ? slash + 1 : slash) = '\0';
		} else {
			n = strlen(out);
			if (n + 1 + len + 1 > size)
				return -1;
			if (n == 0 || out[n - 1] != '/')
				out[n++] = '/';
			memcpy(out + n, rel, len);
			out[n + len] = '\0';
		}
		rel += len;
		if (*rel == '/')
			rel++;
	}
	return 0;
}

/* Relative paths of cfg, taken from the directory of the file at path. */
static void
config_resolve_paths(struct config_parser *p, struct config *cfg,
    const char *path)
{
	char dir[CONFIG_PATH], joined[CONFIG_PATH], *slash, *v;
	const struct config_key *k;
	size_t i, j;

	if (path[0] == '/') {
		if (str_copy(dir, sizeof(dir), path) == -1)
			return;
	} else {
		if (getcwd(dir, sizeof(dir)) == NULL ||
		    config_join(dir, path, joined, sizeof(joined)) == -1) {
			config_error(p, 0, "cannot tell where %s is: %s", path,
			    strerror(errno));
			return;
		}
		snprintf(dir, sizeof(dir), "%s", joined);
	}
	if ((slash = strrchr(dir, '/')) != NULL)
		*(slash == dir ? slash + 1 : slash) = '\0';
	for (i = 0; i < sizeof(config_paths) / sizeof(config_paths[0]); i++) {
		for (j = 0; j < NKEYS; j++)
			if (strcmp(config_keys[j].name, config_paths[i]) == 0)
				break;
		k = &config_keys[j];
		v = (char *)cfg + k->off;

		if (v[0] == '\0' || v[0] == '/')
			continue;
		if (config_join(dir, v, joined, sizeof(joined)) == -1 ||
		    strlen(joined) >= k->size) {
			config_error(p, p->seen[j], "%s: %s/%s is too long",
			    k->name, dir, v);
			continue;
		}
		memcpy(v, joined, strlen(joined) + 1);
	}
}

int
config_load(const char *path, struct config *cfg)
{
	struct config_parser p;
	FILE *fp;

	config_defaults(cfg);
	memset(&p, 0, sizeof(p));
	p.path = path;
	if (str_copy(cfg->path, sizeof(cfg->path), path) == -1) {
		config_error(&p, 0, "path too long");
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		config_error(&p, 0, "%s", strerror(errno));
		return -1;
	}
	config_read(&p, cfg, fp);
	fclose(fp);
	if (p.errors == 0)
		config_resolve_paths(&p, cfg, path);
	return p.errors == 0 ? 0 : -1;
}

/*
 * The same parser over a memory stream, so that a buffer goes through
 * exactly the getline loop a file does (NUL bytes, a last line without a
 * newline and overlong lines included); relative paths are taken from the
 * directory of name, as if the buffer had been read from there.
 */
int
config_load_buffer(const char *name, const void *buf, size_t len,
    struct config *cfg)
{
	static char empty[1];
	struct config_parser p;
	FILE *fp;

	config_defaults(cfg);
	memset(&p, 0, sizeof(p));
	p.path = name;
	if (str_copy(cfg->path, sizeof(cfg->path), name) == -1) {
		config_error(&p, 0, "name too long");
		return -1;
	}
	/* "r" never writes to the buffer */
	if ((fp = fmemopen(len > 0 ? (void *)buf : empty, len, "r")) == NULL) {
		config_error(&p, 0, "%s", strerror(errno));
		return -1;
	}
	config_read(&p, cfg, fp);
	fclose(fp);
	if (p.errors == 0)
		config_resolve_paths(&p, cfg, name);
	return p.errors == 0 ? 0 : -1;
}

/* Reload and dump ------------------------------------------------------- */

/* The value of a key in file syntax (strings quoted when needed). */
static void
config_format(const struct config *cfg, const struct config_key *k,
    char *out, size_t size)
{
	const char *field = (const char *)cfg + k->off;
	size_t n = 0, i;

	switch (k->type) {
	case CT_STRING:
		/*
		 * Written bare only when config_split reads it back as it
		 * is: not empty, not "=", and none of the characters that
		 * end or quote a bare value.
		 */
		if (field[0] != '\0' && strcmp(field, "=") != 0 &&
		    strpbrk(field, " \t\r\"#\\") == NULL) {
			snprintf(out, size, "%s", field);
			break;
		}
		out[n++] = '"';
		for (i = 0; field[i] != '\0' && n + 3 < size; i++) {
			if (field[i] == '"' || field[i] == '\\')
				out[n++] = '\\';
			out[n++] = field[i];
		}
		out[n++] = '"';
		out[n] = '\0';
		break;
	case CT_LISTEN:
		format_listen((const struct config_listen *)field, out, size);
		break;
	case CT_SIZE:
		format_size(field_get_uint(cfg, k), out, size);
		break;
	case CT_DURATION:
		format_duration(field_get_uint(cfg, k), out, size);
		break;
	case CT_NUMBER:
		snprintf(out, size, "%llu",
		    (unsigned long long)field_get_uint(cfg, k));
		break;
	case CT_LEVEL:
		snprintf(out, size, "%s", cfg->log_level >= 0 &&
		    cfg->log_level <= 2 ? level_names[cfg->log_level] : "?");
		break;
	}
}

int
config_reload(struct config *cur, const struct config *next)
{
	char was[2 * CONFIG_PATH + 8], now[2 * CONFIG_PATH + 8];
	int ignored = 0;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		config_format(cur, k, was, sizeof(was));
		config_format(next, k, now, sizeof(now));
		/* The formatted value is canonical for every type. */
		if (strcmp(was, now) == 0)
			continue;
		if (!k->reload) {
			log_warnx("%s changed: needs a restart (keeping %s)",
			    k->name, was);
			ignored++;
			continue;
		}
		memcpy((char *)cur + k->off, (const char *)next + k->off,
		    k->size);
		log_info("%s changed: %s -> %s", k->name, was, now);
	}
	return ignored;
}

void
config_dump(const struct config *cfg, void *arg)
{
	FILE *fp = arg;
	char buf[2 * CONFIG_PATH + 8];
	size_t i;

	fprintf(fp, "# effective configuration%s%s\n",
	    cfg->path[0] != '\0' ? " of " : "", cfg->path);
	for (i = 0; i < NKEYS; i++) {
		config_format(cfg, &config_keys[i], buf, sizeof(buf));
		fprintf(fp, "%s %s\n", config_keys[i].name, buf);
	}
}
