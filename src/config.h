/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config.h: the daemon's configuration (otagw.conf) and its parser.
 *
 * The file is a list of "key value" lines; '#' starts a comment; blank
 * lines are ignored; values may be quoted with "..." to keep spaces.
 * Sizes take K, M, G suffixes (powers of 1024); durations are seconds
 * unless they end in s, m, h or d.  Unknown keys, bad values and repeated
 * keys are errors reported as "file:line: message".
 *
 * config_defaults gives the embedded defaults: state in
 * LOCALSTATEDIR/lib/otagw, certificates and token in SYSCONFDIR/otagw,
 * DTLS-PSK on 5684, plain CoAP off.  Relative paths in a file are taken
 * from the file's directory (config_load stores them absolute).
 */
#ifndef OTAGW_CONFIG_H
#define OTAGW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define CONFIG_STR	256
#define CONFIG_PATH	1024
#define CONFIG_WORKERS_MAX 64	/* workers: threads at most */

#ifndef SYSCONFDIR
#define SYSCONFDIR	"/usr/local/etc"
#endif
#ifndef LOCALSTATEDIR
#define LOCALSTATEDIR	"/usr/local/var"
#endif
/* Where an installed otagw looks by default (configure's directories). */
#define CONFIG_DEFAULT_DIR	SYSCONFDIR "/otagw"
#define CONFIG_DEFAULT_PATH	CONFIG_DEFAULT_DIR "/otagw.conf"
#define CONFIG_DEFAULT_STATE_DIR LOCALSTATEDIR "/lib/otagw"

/* A listen address: "off", "host:port", "[v6]:port" or ":port". */
struct config_listen {
	int	enabled;
	char	host[CONFIG_STR];	/* "" = any */
	unsigned port;
};

struct config {
	char	path[CONFIG_PATH];	/* file it was read from, or "" */
	char	gateway_id[65];	/* gateway_id: name in upstream events */
	char	user[65];		/* user: drop root to it ("" = no) */
	char	state_dir[CONFIG_PATH];	/* state_dir */
	uint64_t map_size;		/* map_size: LMDB map size */
	uint64_t map_size_max;		/* map_size_max: it grows up to */
	int	log_level;		/* log_level: warn | info | debug */
	unsigned workers;		/* workers: threads, 0 = one per CPU */

	/* CoAP devices */
	struct config_listen coap;	/* coap_listen (default off) */
	struct config_listen coaps;	/* coaps_listen (default :5684) */
	char	coap_public[CONFIG_STR];	/* coap_public_url */
	char	coaps_public[CONFIG_STR];	/* coaps_public_url */
	unsigned coap_max_sessions;	/* coap_max_sessions */
	unsigned coap_session_timeout;	/* coap_session_timeout, s */
	unsigned coap_max_handshakes;	/* coap_max_handshakes */
	unsigned coap_handshake_timeout;	/* coap_handshake_timeout, s */
	unsigned coap_handshakes_per_source;	/* ..._per_source */
	unsigned coap_handshakes_per_net;	/* ..._per_net (/24, /64) */
	unsigned coap_sessions_per_source;	/* open, /32 or /64; 0 any */
	unsigned coap_sessions_per_device;	/* open DTLS; 0 any */
	char	coaps_ciphers[CONFIG_STR];	/* coaps_ciphers (OpenSSL) */

	/* Device polling */
	unsigned check_interval;	/* check_interval: Max-Age, idle */
	unsigned busy_interval;		/* busy_interval: Max-Age, upgrading */
	unsigned confirm_interval;	/* confirm_interval: waiting confirm */
	unsigned wakeup_jitter;		/* wakeup_jitter: +- percent */
	size_t	max_body;		/* max_body: request body cap */
	unsigned shutdown_timeout;	/* shutdown_timeout: drain on SIGTERM */
	/* Push while awake (issue 13): CoAP Observe, HTTPS long polls */
	unsigned push_max_watchers;	/* push_max_watchers: both, 0 off */
	unsigned long_poll_max_wait;	/* long_poll_max_wait: s, ?wait= */

	/* Firmware */
	uint64_t firmware_max_size;	/* firmware_max_size (1G) */
	unsigned firmware_max_per_product;	/* firmware_max_per_product */
	unsigned history_max_per_device;	/* history_max_per_device */
	unsigned firmware_fetch_timeout;	/* firmware_fetch_timeout: s */

	/* HTTPS devices (issue 3) */
	struct config_listen https;	/* https_listen (default :8443) */
	char	https_public[CONFIG_STR];	/* https_public_url */
	unsigned download_url_ttl;	/* download_url_ttl: notice url, s */
	char	tls_cert[CONFIG_PATH];	/* tls_cert */
	char	tls_key[CONFIG_PATH];	/* tls_key */
	char	device_ca[CONFIG_PATH];	/* device_ca ("" = no client certs) */
	/* hawkBit DDI on the HTTPS listener (issue 16) */
	char	ddi_tenant[65];		/* ddi_tenant ("" = DDI off) */
	/* TLS resumption, both HTTPS listeners (issue 14) */
	unsigned tls_session_cache;	/* tls_session_cache: sessions, 0 off */
	unsigned tls_session_timeout;	/* tls_session_timeout: s */
	unsigned tls_ticket_key_rotate;	/* tls_ticket_key_rotate: s */

	/* Admin API (issue 3) */
	struct config_listen admin;	/* admin_listen (127.0.0.1:8444) */
	char	admin_token_file[CONFIG_PATH];	/* admin_token_file */

	/* Both HTTPS listeners, hostile networks (issue 10) */
	unsigned header_timeout;	/* header_timeout: s, a request head */
	unsigned max_conns_per_source;	/* max_connections_per_source; 0 any */

	/* Upstream relay (issue 5) */
	char	upstream_url[CONFIG_STR];	/* upstream_url ("" = off) */
	char	upstream_token_file[CONFIG_PATH]; /* upstream_token_file */
	char	upstream_ca[CONFIG_PATH];	/* upstream_ca */
	size_t	outbox_limit;		/* outbox_limit: events kept */
	unsigned upstream_batch_max;	/* upstream_batch_max: events a POST */
	unsigned upstream_backoff_max;	/* upstream_backoff_max: s, retry cap */
};

void	 config_defaults(struct config *);
/*
 * Reads path into cfg (which starts from the defaults).  Errors are
 * printed to stderr as "path:line: message"; returns 0, or -1 after
 * reporting every error found.
 */
int	 config_load(const char *path, struct config *cfg);
/*
 * The same from len bytes at buf (not NUL-terminated); name stands for
 * the path in messages and in cfg->path.  For tests and fuzzing.
 */
int	 config_load_buffer(const char *name, const void *buf, size_t len,
	    struct config *cfg);
/*
 * Where config_load reports its errors: a FILE * (a SIGHUP reload collects
 * them to log them), or NULL for stderr, the default.
 */
void	 config_set_error_stream(void *fp);
/*
 * For SIGHUP: copies the reloadable settings from next into cur, and logs
 * each changed setting that needs a restart.  Returns how many were
 * ignored.
 */
int	 config_reload(struct config *cur, const struct config *next);
/* Writes the effective configuration (no secrets) to a FILE *, for -n -v. */
void	 config_dump(const struct config *, void *fp);

#endif
