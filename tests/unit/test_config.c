/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_config.c: unit tests for src/config.c.
 *
 * Writes small configuration files into a temporary directory and checks
 * what config_load makes of them: a table of good files with the values
 * they must produce, a table of bad files with the exact "file:line:
 * message" lines they must produce (every error of a file, not only the
 * first), the defaults, size and duration suffixes, config_dump round
 * trips, and the SIGHUP rules of config_reload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "t.h"
#include "util/validate.h"

static char tmpdir[256];
static char cfpath[512];

static void
write_file(const char *text)
{
	FILE *fp;

	fp = fopen(cfpath, "w");
	if (fp == NULL) {
		perror(cfpath);
		exit(1);
	}
	fputs(text, fp);
	fclose(fp);
}

/* The effective configuration as config_dump writes it (malloc'd). */
static char *
dump_text(const struct config *c)
{
	char *buf = NULL, *nl;
	size_t len = 0;
	FILE *fp;

	fp = open_memstream(&buf, &len);
	config_dump(c, fp);
	fclose(fp);
	/* Drop the first line, which names the file. */
	if ((nl = strchr(buf, '\n')) != NULL)
		memmove(buf, nl + 1, strlen(nl + 1) + 1);
	return buf;
}

/*
 * Loads text; returns config_load's result and the error text in *errs.
 * Every text is also read with config_load_buffer, which must give the
 * same result, the same messages and the same configuration.
 */
static int
load_text(const char *text, struct config *cfg, char **errs)
{
	struct config bc;
	char *berrs = NULL, *d1, *d2;
	size_t len = 0, blen = 0;
	FILE *fp;
	int rc, brc;

	write_file(text);
	*errs = NULL;
	fp = open_memstream(errs, &len);
	config_set_error_stream(fp);
	rc = config_load(cfpath, cfg);
	config_set_error_stream(NULL);
	fclose(fp);

	fp = open_memstream(&berrs, &blen);
	config_set_error_stream(fp);
	brc = config_load_buffer(cfpath, text, strlen(text), &bc);
	config_set_error_stream(NULL);
	fclose(fp);
	T_EQ_INT(brc, rc);
	T_EQ_STR(berrs, *errs);
	d1 = dump_text(cfg);
	d2 = dump_text(&bc);
	T_EQ_STR(d2, d1);
	free(d1);
	free(d2);
	free(berrs);
	return rc;
}

static void
test_defaults(void)
{
	struct config c;

	config_defaults(&c);
	T_CHECK(valid_device_id(c.gateway_id));
	T_EQ_STR(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
	T_EQ_INT(c.map_size, 1024ULL * 1024 * 1024);
	T_EQ_INT(c.log_level, LOG_LEVEL_INFO);
	T_EQ_INT(c.coap.enabled, 0);
	T_EQ_INT(c.coaps.enabled, 1);
	T_EQ_INT(c.coaps.port, 5684);
	T_EQ_STR(c.coaps.host, "0.0.0.0");
	T_EQ_STR(c.coap_public, "");
	T_EQ_STR(c.coaps_public, "");
	T_EQ_INT(c.coap_max_sessions, 10000);
	T_EQ_INT(c.coap_session_timeout, 60);
	T_EQ_INT(c.coap_max_handshakes, 256);
	T_EQ_INT(c.coap_handshake_timeout, 5);
	T_EQ_INT(c.coap_handshakes_per_source, 8);
	T_EQ_INT(c.coap_handshakes_per_net, 32);
	T_EQ_INT(c.coap_sessions_per_source, 1000);
	T_EQ_INT(c.coap_sessions_per_device, 1);
	T_EQ_INT(c.check_interval, 3600);
	T_EQ_INT(c.busy_interval, 60);
	T_EQ_INT(c.max_body, 1024);
	T_EQ_INT(c.firmware_max_size, 1024ULL * 1024 * 1024);
	T_EQ_INT(c.firmware_max_per_product, 100);
	T_EQ_INT(c.history_max_per_device, 100);
	T_EQ_INT(c.firmware_fetch_timeout, 3600);
	T_EQ_INT(c.https.enabled, 1);
	T_EQ_STR(c.https.host, "0.0.0.0");
	T_EQ_INT(c.https.port, 8443);
	T_EQ_INT(c.admin.enabled, 1);
	T_EQ_STR(c.admin.host, "127.0.0.1");
	T_EQ_INT(c.admin.port, 8444);
	T_EQ_STR(c.tls_cert, CONFIG_DEFAULT_DIR "/server.pem");
	T_EQ_STR(c.tls_key, CONFIG_DEFAULT_DIR "/server.key");
	T_EQ_STR(c.device_ca, "");
	T_EQ_STR(c.admin_token_file, CONFIG_DEFAULT_DIR "/admin.token");
	T_EQ_STR(c.upstream_url, "");
	T_EQ_INT(c.outbox_limit, 100000);
}

static void
test_good(void)
{
	struct config c;
	char *errs, want_path[600];

	/* Empty file: the defaults, and the path remembered. */
	T_EQ_INT(load_text("", &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_STR(c.path, cfpath);
	T_EQ_INT(c.check_interval, 3600);
	T_EQ_INT(c.coaps.enabled, 1);

	/* Comments, blank lines, tabs, CRLF, trailing comments. */
	T_EQ_INT(load_text("# a comment\n\n   \n\tlog_level\tdebug\r\n"
	    "check_interval 2h   # two hours\n"
	    "  busy_interval 90s\n", &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_INT(c.log_level, LOG_LEVEL_DEBUG);
	T_EQ_INT(c.check_interval, 7200);
	T_EQ_INT(c.busy_interval, 90);

	/* Listen forms. */
	T_EQ_INT(load_text("coap_listen :5683\ncoaps_listen [::1]:15684\n"
	    "https_listen *:8443\nadmin_listen off\n", &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_INT(c.coap.enabled, 1);
	T_EQ_STR(c.coap.host, "");
	T_EQ_INT(c.coap.port, 5683);
	T_EQ_INT(c.coaps.enabled, 1);
	T_EQ_STR(c.coaps.host, "::1");
	T_EQ_INT(c.coaps.port, 15684);
	T_EQ_INT(c.https.enabled, 1);
	T_EQ_STR(c.https.host, "");
	T_EQ_INT(c.admin.enabled, 0);

	T_EQ_INT(load_text("coaps_listen off\ncoap_listen 127.0.0.1:5683\n",
	    &c, &errs), 0);
	free(errs);
	T_EQ_INT(c.coaps.enabled, 0);
	T_EQ_STR(c.coap.host, "127.0.0.1");
	T_EQ_INT(load_text("coap_listen gw.example:65535\n", &c, &errs), 0);
	free(errs);
	T_EQ_STR(c.coap.host, "gw.example");
	T_EQ_INT(c.coap.port, 65535);

	/* Quoted strings keep spaces; \" and \\ are escapes. */
	T_EQ_INT(load_text("state_dir \"/tmp/my state\"\n"
	    "tls_cert \"a\\\"b\\\\c\"\ndevice_ca \"\"\n"
	    "gateway_id edge-7.site:a@b\n", &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_STR(c.state_dir, "/tmp/my state");
	snprintf(want_path, sizeof(want_path), "%s/a\"b\\c", tmpdir);
	T_EQ_STR(c.tls_cert, want_path);
	T_EQ_STR(c.device_ca, "");
	T_EQ_STR(c.gateway_id, "edge-7.site:a@b");

	/*
	 * Relative paths are the file's directory's, "." and ".." folded,
	 * whatever the working directory.
	 */
	T_EQ_INT(load_text("state_dir ../var\ntls_key ./k/../key.pem\n"
	    "admin_token_file tok\n", &c, &errs), 0);
	free(errs);
	T_CHECK(strrchr(tmpdir, '/') != NULL);
	snprintf(want_path, sizeof(want_path), "%.*s/var",
	    (int)(strrchr(tmpdir, '/') - tmpdir), tmpdir);
	T_EQ_STR(c.state_dir, want_path);
	snprintf(want_path, sizeof(want_path), "%s/key.pem", tmpdir);
	T_EQ_STR(c.tls_key, want_path);
	snprintf(want_path, sizeof(want_path), "%s/tok", tmpdir);
	T_EQ_STR(c.admin_token_file, want_path);

	/* URLs. */
	T_EQ_INT(load_text("coap_public_url coap://gw.example:5683\n"
	    "coaps_public_url coaps://[2001:db8::1]:5684\n"
	    "https_public_url https://gw.example\n"
	    "upstream_url https://platform.example/api/events\n", &c, &errs),
	    0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_STR(c.coaps_public, "coaps://[2001:db8::1]:5684");
	T_EQ_STR(c.upstream_url, "https://platform.example/api/events");

	/* Numbers at their bounds. */
	T_EQ_INT(load_text("max_body 64\ncoap_max_sessions 1\n"
	    "coap_max_handshakes 100000\nfirmware_max_per_product 1\n"
	    "outbox_limit 100\nhistory_max_per_device 1\n", &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_INT(c.history_max_per_device, 1);
	T_EQ_INT(c.max_body, 64);
	T_EQ_INT(c.coap_max_sessions, 1);
	T_EQ_INT(c.coap_max_handshakes, 100000);
	T_EQ_INT(c.firmware_max_per_product, 1);
	T_EQ_INT(c.outbox_limit, 100);
}

static void
test_bounds_high(void)
{
	struct config c;
	char *errs;

	T_EQ_INT(load_text("history_max_per_device 10000\n", &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	T_EQ_INT(c.history_max_per_device, 10000);
}

static void
test_units(void)
{
	static const struct {
		const char	*text;
		size_t		 off;	/* 0: map_size, 1: firmware_max_size */
		uint64_t	 want;
	} sizes[] = {
		{ "map_size 16M\n", 0, 16ULL << 20 },
		{ "map_size 2G\n", 0, 2ULL << 30 },
		{ "map_size 2g\n", 0, 2ULL << 30 },
		{ "map_size 1T\n", 0, 1ULL << 40 },
		{ "map_size 16777216\n", 0, 16ULL << 20 },
		{ "firmware_max_size 1K\n", 1, 1024 },
		{ "firmware_max_size 512m\n", 1, 512ULL << 20 },
		{ "firmware_max_size 3G\n", 1, 3ULL << 30 },
		{ "firmware_max_size 16G\n", 1, 16ULL << 30 },
	};
	static const struct {
		const char	*text;
		unsigned	 want;
	} durs[] = {
		{ "check_interval 1\n", 1 },
		{ "check_interval 45s\n", 45 },
		{ "check_interval 10m\n", 600 },
		{ "check_interval 3h\n", 10800 },
		{ "check_interval 7d\n", 604800 },
		{ "check_interval 604800\n", 604800 },
	};
	struct config c;
	char *errs;
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		T_EQ_INT(load_text(sizes[i].text, &c, &errs), 0);
		T_EQ_STR(errs, "");
		free(errs);
		T_EQ_INT(sizes[i].off == 0 ? c.map_size : c.firmware_max_size,
		    sizes[i].want);
	}
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		T_EQ_INT(load_text(durs[i].text, &c, &errs), 0);
		T_EQ_STR(errs, "");
		free(errs);
		T_EQ_INT(c.check_interval, durs[i].want);
	}
	T_EQ_INT(load_text("max_body 64K\n", &c, &errs), 0);
	free(errs);
	T_EQ_INT(c.max_body, 65536);
	/* The last line needs no newline. */
	T_EQ_INT(load_text("max_body 2K", &c, &errs), 0);
	free(errs);
	T_EQ_INT(c.max_body, 2048);
}

/*
 * Each bad file and exactly what config_load must print; "~" in the
 * expected text stands for the file's path.  Long because most of it is
 * the table; after it come the bad files a table cannot hold (a missing
 * file, a line too long, a NUL byte).
 */
static void
test_bad(void)
{
	static const struct {
		const char	*text;
		const char	*want;
	} bad[] = {
		{ "foo 1\n", "~:1: unknown key \"foo\"\n" },
		{ "\n# c\nCheck_interval 5\n",
		  "~:3: unknown key \"Check_interval\"\n" },
		{ "check_interval\n", "~:1: check_interval: missing value\n" },
		{ "check_interval   # none\n",
		  "~:1: check_interval: missing value\n" },
		{ "check_interval = 5\n",
		  "~:1: check_interval: write \"check_interval value\","
		  " without '='\n" },
		{ "gateway_id a b\n",
		  "~:1: gateway_id: unexpected text after the value (quote"
		  " values that contain spaces)\n" },
		{ "gateway_id \"a b\"\n",
		  "~:1: gateway_id: bad value \"a b\": 1 to 64 characters of"
		  " A-Z a-z 0-9 _ . : @ -\n" },
		{ "gateway_id "
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		  "~:1: gateway_id: value too long (at most 64 bytes)\n" },
		{ "state_dir \"\"\n",
		  "~:1: state_dir: bad value \"\": must not be empty\n" },
		{ "state_dir \"/tmp/x\n",
		  "~:1: state_dir: unterminated quoted string\n" },
		{ "max_body 63\n",
		  "~:1: max_body: 63 is out of range (64 to 64K)\n" },
		{ "history_max_per_device 0\n",
		  "~:1: history_max_per_device: 0 is out of range (1 to "
		  "10000)\n" },
		{ "history_max_per_device 10001\n",
		  "~:1: history_max_per_device: 10001 is out of range (1 to "
		  "10000)\n" },
		{ "max_body 65537\n",
		  "~:1: max_body: 65537 is out of range (64 to 64K)\n" },
		{ "max_body 65K\n",
		  "~:1: max_body: 65K is out of range (64 to 64K)\n" },
		{ "max_body 1x\n",
		  "~:1: max_body: bad size \"1x\": expected a number with an"
		  " optional K, M, G or T suffix\n" },
		{ "max_body -1\n",
		  "~:1: max_body: bad size \"-1\": expected a number with an"
		  " optional K, M, G or T suffix\n" },
		{ "max_body K\n",
		  "~:1: max_body: bad size \"K\": expected a number with an"
		  " optional K, M, G or T suffix\n" },
		{ "map_size 99999999999999999999\n",
		  "~:1: map_size: bad size \"99999999999999999999\": expected a"
		  " number with an optional K, M, G or T suffix\n" },
		{ "map_size 17000000T\n",
		  "~:1: map_size: bad size \"17000000T\": expected a number"
		  " with an optional K, M, G or T suffix\n" },
		{ "map_size 1M\n",
		  "~:1: map_size: 1M is out of range (16M to 16T)\n" },
		{ "check_interval 0\n",
		  "~:1: check_interval: 0 is out of range (1s to 7d)\n" },
		{ "check_interval 8d\n",
		  "~:1: check_interval: 8d is out of range (1s to 7d)\n" },
		{ "check_interval 5w\n",
		  "~:1: check_interval: bad duration \"5w\": expected seconds,"
		  " or a number with an s, m, h or d suffix\n" },
		{ "check_interval 1.5h\n",
		  "~:1: check_interval: bad duration \"1.5h\": expected"
		  " seconds, or a number with an s, m, h or d suffix\n" },
		{ "coap_max_sessions 0\n",
		  "~:1: coap_max_sessions: 0 is out of range (1 to"
		  " 1000000)\n" },
		{ "coap_max_sessions 10k\n",
		  "~:1: coap_max_sessions: bad number \"10k\"\n" },
		{ "outbox_limit 99\n",
		  "~:1: outbox_limit: 99 is out of range (100 to"
		  " 100000000)\n" },
		{ "log_level loud\n",
		  "~:1: log_level: bad value \"loud\": expected warn, info or"
		  " debug\n" },
		{ "coaps_listen 5684\n",
		  "~:1: coaps_listen: bad address \"5684\": expected \"off\","
		  " \"host:port\", \"[v6]:port\" or \":port\"\n" },
		{ "coaps_listen host:0\n",
		  "~:1: coaps_listen: bad address \"host:0\": the port must be"
		  " a number from 1 to 65535\n" },
		{ "coaps_listen host:65536\n",
		  "~:1: coaps_listen: bad address \"host:65536\": the port must"
		  " be a number from 1 to 65535\n" },
		{ "coaps_listen host:\n",
		  "~:1: coaps_listen: bad address \"host:\": the port must be a"
		  " number from 1 to 65535\n" },
		{ "coaps_listen ::1:5684\n",
		  "~:1: coaps_listen: bad address \"::1:5684\": write IPv6"
		  " addresses in brackets: [addr]:port\n" },
		{ "coaps_listen [::1]5684\n",
		  "~:1: coaps_listen: bad address \"[::1]5684\": an IPv6"
		  " address is written [addr]:port\n" },
		{ "coaps_listen [host]:5684\n",
		  "~:1: coaps_listen: bad address \"[host]:5684\": the"
		  " bracketed host must be an IPv6 address\n" },
		{ "coaps_listen ho/st:5684\n",
		  "~:1: coaps_listen: bad address \"ho/st:5684\": bad character"
		  " in the host\n" },
		{ "coaps_public_url coap://gw:5684\n",
		  "~:1: coaps_public_url: bad value \"coap://gw:5684\":"
		  " expected coaps://host[:port]\n" },
		{ "coap_public_url gw.example\n",
		  "~:1: coap_public_url: bad value \"gw.example\": expected"
		  " coap://host[:port]\n" },
		{ "upstream_url http://x\n",
		  "~:1: upstream_url: bad value \"http://x\": expected"
		  " https://host[:port]\n" },
		{ "check_interval 5\ncheck_interval 6\n",
		  "~:2: check_interval: repeated (first set on line 1)\n" },
		{ "coap_listen :5684\n",
		  "~:1: coap_listen and coaps_listen use the same port"
		  " 5684\n" },
		{ "coaps_listen 127.0.0.1:7000\nhttps_listen off\n"
		  "coap_listen 0.0.0.0:7000\n",
		  "~:3: coap_listen and coaps_listen use the same port"
		  " 7000\n" },
		{ "https_listen :8443\nadmin_listen 127.0.0.1:8443\n",
		  "~:2: https_listen and admin_listen use the same port"
		  " 8443\n" },
		/* Every error of a file is reported, in order. */
		{ "# several\nfoo bar\nmax_body 1\nlog_level info\n"
		  "log_level debug\n\ncoaps_listen nowhere\n",
		  "~:2: unknown key \"foo\"\n"
		  "~:3: max_body: 1 is out of range (64 to 64K)\n"
		  "~:5: log_level: repeated (first set on line 4)\n"
		  "~:7: coaps_listen: bad address \"nowhere\": expected"
		  " \"off\", \"host:port\", \"[v6]:port\" or \":port\"\n" },
	};
	char want[4096], *errs, *o;
	const char *w;
	struct config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* Expand "~" into the path. */
		for (w = bad[i].want, o = want; *w != '\0'; w++) {
			if (*w == '~')
				o += snprintf(o, sizeof(want) - (size_t)(o -
				    want), "%s", cfpath);
			else
				*o++ = *w;
		}
		*o = '\0';
		T_EQ_INT(load_text(bad[i].text, &c, &errs), -1);
		T_EQ_STR(errs, want);
		free(errs);
	}

	/* A missing file, and a line that is too long. */
	{
		char path[600], *big;
		FILE *fp;
		size_t len = 0;

		snprintf(path, sizeof(path), "%s/missing.conf", tmpdir);
		fp = open_memstream(&errs, &len);
		config_set_error_stream(fp);
		T_EQ_INT(config_load(path, &c), -1);
		config_set_error_stream(NULL);
		fclose(fp);
		snprintf(want, sizeof(want), "%s: No such file or directory\n",
		    path);
		T_EQ_STR(errs, want);
		free(errs);

		big = malloc(6000);
		memset(big, 'x', 5000);
		memcpy(big, "state_dir ", 10);
		strcpy(big + 5000, "\nfoo 1\n");
		T_EQ_INT(load_text(big, &c, &errs), -1);
		snprintf(want, sizeof(want), "%s:1: line too long (more than"
		    " 4096 bytes)\n%s:2: unknown key \"foo\"\n", cfpath,
		    cfpath);
		T_EQ_STR(errs, want);
		free(errs);
		free(big);

		/* A NUL byte inside a line. */
		fp = fopen(cfpath, "w");
		fwrite("log_level info\nlog_level\0debug\n", 1, 31, fp);
		fclose(fp);
		fp = open_memstream(&errs, &len);
		config_set_error_stream(fp);
		T_EQ_INT(config_load(cfpath, &c), -1);
		config_set_error_stream(NULL);
		fclose(fp);
		snprintf(want, sizeof(want), "%s:2: line contains a NUL byte\n",
		    cfpath);
		T_EQ_STR(errs, want);
		free(errs);

		/* The same bytes from a buffer. */
		fp = open_memstream(&errs, &len);
		config_set_error_stream(fp);
		T_EQ_INT(config_load_buffer(cfpath,
		    "log_level info\nlog_level\0debug\n", 31, &c), -1);
		config_set_error_stream(NULL);
		fclose(fp);
		T_EQ_STR(errs, want);
		free(errs);

		/* An empty buffer is an empty file: the defaults. */
		T_EQ_INT(config_load_buffer("empty", NULL, 0, &c), 0);
		T_EQ_STR(c.path, "empty");
		T_EQ_STR(c.state_dir, CONFIG_DEFAULT_STATE_DIR);
	}
}

/* Every key given once, with values unlike the defaults. */
static const char full_conf[] =
    "gateway_id gw-9\n"
    "user otagw\n"
    "state_dir /srv/otagw\n"
    "map_size 4G\n"
    "map_size_max 64G\n"
    "log_level warn\n"
    "workers 3\n"
    "coap_listen 0.0.0.0:5683\n"
    "coaps_listen [::]:5684\n"
    "coap_public_url coap://gw.example\n"
    "coaps_public_url coaps://gw.example:5684\n"
    "coap_max_sessions 500\n"
    "coap_session_timeout 2m\n"
    "coap_max_handshakes 50\n"
    "coap_handshake_timeout 3s\n"
    "coap_handshakes_per_source 2\n"
    "coap_handshakes_per_net 6\n"
    "coap_sessions_per_source 200\n"
    "coap_sessions_per_device 2\n"
    "coaps_ciphers PSK+AESCCM\n"
    "check_interval 1d\n"
    "busy_interval 30s\n"
    "confirm_interval 2m\n"
    "wakeup_jitter 25\n"
    "max_body 2K\n"
    "shutdown_timeout 30s\n"
    "push_max_watchers 500\n"
    "long_poll_max_wait 2m\n"
    "firmware_max_size 100M\n"
    "firmware_max_per_product 20\n"
    "history_max_per_device 50\n"
    "firmware_fetch_timeout 10m\n"
    "https_listen :8443\n"
    "https_public_url https://gw.example:8443\n"
    "download_url_ttl 2h\n"
    "tls_cert \"/etc/otagw/server cert.pem\"\n"
    "tls_key /etc/otagw/server.key\n"
    "device_ca /etc/otagw/devices.pem\n"
    "ddi_tenant fleet-7\n"
    "tls_session_cache 20000\n"
    "tls_session_timeout 6h\n"
    "tls_ticket_key_rotate 1d\n"
    "admin_listen 127.0.0.1:8444\n"
    "admin_token_file /etc/otagw/admin.token\n"
    "header_timeout 30s\n"
    "max_connections_per_source 0\n"
    "upstream_url https://platform.example/events\n"
    "upstream_token_file /etc/otagw/upstream.token\n"
    "upstream_ca /etc/otagw/upstream-ca.pem\n"
    "outbox_limit 5000\n"
    "upstream_batch_max 200\n"
    "upstream_backoff_max 1m\n";

static void
test_dump(void)
{
	struct config c, d;
	char *errs, *one, *two;

	T_EQ_INT(load_text(full_conf, &c, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	one = dump_text(&c);
	/* The dump of a file that sets every key is that file. */
	T_EQ_STR(one, full_conf);

	/* Loading a dump gives the same configuration again. */
	T_EQ_INT(load_text(one, &d, &errs), 0);
	T_EQ_STR(errs, "");
	free(errs);
	two = dump_text(&d);
	T_EQ_STR(two, one);
	free(one);
	free(two);

	/*
	 * Values that only a quoted string can hold must be dumped quoted:
	 * a carriage return or "=" unquoted does not load again (both found
	 * by fuzz/fuzz_config.c).
	 */
	{
		static const struct {
			const char	*line;
			const char	*value;
		} q[] = {
			/* absolute: a relative path would be made absolute */
			{ "tls_cert \"/a\rb\"\n", "/a\rb" },
			{ "tls_cert \"/\r\"\n", "/\r" },
			{ "tls_cert \"/=\"\n", "/=" },
			{ "tls_cert \"/a b\"\n", "/a b" },
			{ "tls_cert \"/\\\"#\\\\\"\n", "/\"#\\" },
			{ "tls_cert \"\"\n", "" },
			{ "tls_cert \"/==\"\n", "/==" },
			{ "tls_cert \"/x\001y\"\n", "/x\001y" },
		};
		size_t i;

		for (i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
			T_EQ_INT(load_text(q[i].line, &c, &errs), 0);
			free(errs);
			T_EQ_STR(c.tls_cert, q[i].value);
			one = dump_text(&c);
			T_EQ_INT(load_text(one, &d, &errs), 0);
			T_EQ_STR(errs, "");
			free(errs);
			T_EQ_STR(d.tls_cert, q[i].value);
			two = dump_text(&d);
			T_EQ_STR(two, one);
			free(one);
			free(two);
		}
	}

	/* The defaults dump as documented: plain CoAP off, DTLS on 5684. */
	config_defaults(&c);
	one = dump_text(&c);
	T_CHECK(strstr(one, "\ncoap_listen off\n") != NULL);
	T_CHECK(strstr(one, "\ncoaps_listen 0.0.0.0:5684\n") != NULL);
	T_CHECK(strstr(one, "\nstate_dir " CONFIG_DEFAULT_STATE_DIR "\n") !=
	    NULL);
	T_CHECK(strstr(one, "\ncoap_public_url \"\"\n") != NULL);
	T_CHECK(strstr(one, "\nmax_body 1K\n") != NULL);
	T_CHECK(strstr(one, "\ncheck_interval 1h\n") != NULL);
	T_CHECK(strstr(one, "\nheader_timeout 10s\n") != NULL);
	T_CHECK(strstr(one, "\nmax_connections_per_source 64\n") != NULL);
	T_EQ_INT(load_text(one, &d, &errs), 0);
	free(errs);
	two = dump_text(&d);
	T_EQ_STR(two, one);
	free(one);
	free(two);
}

static void
test_reload(void)
{
	struct config cur, next;
	char *errs;

	T_EQ_INT(load_text("check_interval 1h\ncoaps_listen :5684\n"
	    "max_body 1K\n", &cur, &errs), 0);
	free(errs);

	/* Nothing changed. */
	T_EQ_INT(load_text("check_interval 3600\ncoaps_listen *:5684\n"
	    "max_body 1024\n", &next, &errs), 0);
	free(errs);
	T_EQ_INT(config_reload(&cur, &next), 0);

	/* Reloadable settings are taken; the others are counted and kept. */
	T_EQ_INT(load_text("check_interval 2h\ncoaps_listen :6684\n"
	    "max_body 2K\nlog_level debug\nbusy_interval 10\n"
	    "coaps_public_url coaps://gw.example\ncoap_max_sessions 5\n"
	    "coap_session_timeout 5\ncoap_max_handshakes 5\n"
	    "firmware_max_size 1M\nfirmware_max_per_product 3\n"
	    "state_dir /elsewhere\ngateway_id other\nmap_size 2G\n"
	    "coap_listen :5683\nhistory_max_per_device 7\n", &next,
	    &errs), 0);
	free(errs);
	T_EQ_INT(config_reload(&cur, &next), 5);
	T_EQ_INT(cur.history_max_per_device, 7);
	T_EQ_INT(cur.check_interval, 7200);
	T_EQ_INT(cur.max_body, 2048);
	T_EQ_INT(cur.log_level, LOG_LEVEL_DEBUG);
	T_EQ_INT(cur.busy_interval, 10);
	T_EQ_STR(cur.coaps_public, "coaps://gw.example");
	T_EQ_INT(cur.coap_max_sessions, 5);
	T_EQ_INT(cur.coap_session_timeout, 5);
	T_EQ_INT(cur.coap_max_handshakes, 5);
	T_EQ_INT(cur.firmware_max_size, 1 << 20);
	T_EQ_INT(cur.firmware_max_per_product, 3);
	/* Kept. */
	T_EQ_INT(cur.coaps.port, 5684);
	T_EQ_INT(cur.coap.enabled, 0);
	T_EQ_STR(cur.state_dir, CONFIG_DEFAULT_STATE_DIR);
	T_EQ_INT(cur.map_size, 1ULL << 30);
	T_CHECK(strcmp(cur.gateway_id, "other") != 0);

	/* Applying the same file again changes nothing more but still
	 * reports what needs a restart. */
	T_EQ_INT(config_reload(&cur, &next), 5);
	T_EQ_INT(cur.check_interval, 7200);
}

int
main(void)
{
	const char *t = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/otagw-config-XXXXXX",
	    t != NULL && *t != '\0' ? t : "/tmp");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(cfpath, sizeof(cfpath), "%s/otagw.conf", tmpdir);
	log_init("test_config", 1, LOG_LEVEL_WARN);

	T_RUN(test_defaults);
	T_RUN(test_good);
	T_RUN(test_bounds_high);
	T_RUN(test_units);
	T_RUN(test_bad);
	T_RUN(test_dump);
	T_RUN(test_reload);

	unlink(cfpath);
	rmdir(tmpdir);
	return t_done();
}
