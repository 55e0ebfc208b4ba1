/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_urlkey.c: otactl url-key rotate, a new key for the download URLs of
 * HTTPS notices (docs/https.md), with or without the previous one.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl/otactl.h"

static const char help_url_key_rotate[] =
"Makes a new key for the url of HTTPS notices, which carries its own\n"
"credential.  URLs signed by the previous key keep working until they\n"
"expire (download_url_ttl), unless --drop-previous is given.\n"
"  --drop-previous          every url handed out before stops working\n"
"                           at once (devices get a new one at their\n"
"                           next check)\n";

static int
cmd_url_key_rotate(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "drop-previous", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_err err;
	char	 t[32];
	int64_t	 rotated;
	int	 ch, drop = 0, previous;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch == 'D')
			drop = 1;
		else if (ch == 'h') {
			ctl_help();
			return 0;
		} else
			return EXIT_USAGE;
	}
	if (argc - optind != 0)
		return ctl_usage_err("no arguments");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->url_key_rotate(ctl, drop, &rotated, &previous, &err) !=
	    OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		printf("{\"rotatedTs\":%lld,\"previousKeys\":%d}\n",
		    (long long)rotated, previous);
		return 0;
	}
	ctl_fmt_time(rotated, t);
	printf("url key rotated at %s: %s\n", t, previous ?
	    "URLs signed by the previous key work until they expire" :
	    "URLs handed out before no longer work");
	return 0;
}

const struct ctl_cmd ctl_cmd_url_key_rotate = {
	"url-key", "rotate", cmd_url_key_rotate,
	"[--drop-previous]",
	help_url_key_rotate,
};
