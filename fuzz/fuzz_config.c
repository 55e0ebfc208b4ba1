/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_config.c: the configuration file parser (src/config.c).
 *
 * The input is the file, read with config_load_buffer, which runs the
 * same line loop as config_load over a memory stream.  Errors go to
 * /dev/null (formatted all the same).  A file that loads is then used the
 * way the daemon uses one: dumped (otagw -n -v), applied over the
 * defaults as a SIGHUP reload would, and its upstream_url parsed by the
 * relay's URL parser.
 *
 * The dump is the oracle: config_dump writes the effective configuration
 * in file syntax, so loading the dump must succeed and give the same
 * dump again.  A value the dump cannot write back (a quote, a '#', a
 * control character inside a quoted string) shows up as a crash here.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"
#include "http/h2client.h"

static FILE *devnull;

/* The dump of cfg without its first line (which names the file). */
static char *
dump(const struct config *cfg, size_t *len)
{
	char	*buf = NULL, *nl;
	size_t	 n = 0;
	FILE	*fp;

	if ((fp = open_memstream(&buf, &n)) == NULL)
		abort();
	config_dump(cfg, fp);
	if (fclose(fp) != 0 || buf == NULL)
		abort();
	if ((nl = strchr(buf, '\n')) != NULL)
		memmove(buf, nl + 1, strlen(nl + 1) + 1);
	*len = strlen(buf);
	return buf;
}

FUZZ_TARGET(config)
{
	struct config cfg, again, cur;
	struct h2c_url url;
	char	*d1, *d2;
	size_t	 l1, l2;

	if (devnull == NULL) {
		fuzz_quiet();
		if ((devnull = fopen("/dev/null", "w")) == NULL)
			abort();
		config_set_error_stream(devnull);
	}
	if (config_load_buffer("fuzz.conf", data, size, &cfg) != 0)
		return 0;

	d1 = dump(&cfg, &l1);
	if (config_load_buffer("dump.conf", d1, l1, &again) != 0) {
		fprintf(stderr, "the dump does not load again:\n%s", d1);
		FUZZ_ASSERT(!"dump loads");
	}
	d2 = dump(&again, &l2);
	if (strcmp(d1, d2) != 0)
		fprintf(stderr, "first dump:\n%s\nsecond dump:\n%s", d1, d2);
	FUZZ_ASSERT(strcmp(d1, d2) == 0);
	free(d1);
	free(d2);

	config_defaults(&cur);
	(void)config_reload(&cur, &cfg);
	if (cfg.upstream_url[0] != '\0' &&
	    h2c_url_parse(cfg.upstream_url, &url) == 0) {
		FUZZ_ASSERT(url.port >= 1 && url.port <= 65535);
		FUZZ_ASSERT(url.host[0] != '\0');
		FUZZ_ASSERT(url.path[0] == '/');
	}
	return 0;
}
