/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_product.c: the product commands of otactl.  A product is not a
 * record of its own, only what its devices share, so there is one:
 * product versions, the version distribution of a product's devices that
 * the cloud consoles show, from one backend call (the same on a state
 * directory and over the admin API).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "ctl/otactl.h"

/* "70.0%": d of n devices, to a tenth, rounded half up; n > 0. */
static void
share_str(size_t d, size_t n, char *out, size_t size)
{
	unsigned long long t;

	t = ((unsigned long long)d * 2000 + n) / (2 * (unsigned long long)n);
	snprintf(out, size, "%llu.%llu%%", t / 10, t % 10);
}

static const char help_product_versions[] =
"Counts the devices of a product per version of a module they reported\n"
"(the version distribution), the most common first, and those that never\n"
"reported one.\n"
"  --module M               the module (default \"default\")\n";

static int
cmd_product_versions(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "module", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = { "VERSION", "DEVICES", "SHARE" };
	struct codec_versions cv;
	struct ops_versions vs;
	struct ops_err err;
	struct ctl_table t;
	const char *module = NULL, *row[3];
	char	 num[24], share[48];
	size_t	 i;
	int	 ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'm':
			module = optarg;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one product");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->product_versions(ctl, argv[optind], module, &vs,
	    &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		memset(&cv, 0, sizeof(cv));
		memcpy(cv.product, vs.product, sizeof(cv.product));
		memcpy(cv.module, vs.module, sizeof(cv.module));
		cv.items = vs.items;
		cv.n = vs.n;
		cv.unreported = vs.unreported;
		cv.total = vs.total;
		rc = ctl_json_put(codec_versions_encode(&cv, NULL));
		if (rc == 0)
			putchar('\n');
		ops_versions_free(&vs);
		return rc == 0 ? 0 : EXIT_OP;
	}
	if (vs.total == 0) {
		printf("product %s has no devices\n", vs.product);
		ops_versions_free(&vs);
		return 0;
	}
	printf("product %s, module %s: %zu device%s\n", vs.product, vs.module,
	    vs.total, vs.total == 1 ? "" : "s");
	ctl_table_init(&t, 3);
	rc = ctl_table_add(&t, head);
	for (i = 0; rc == 0 && i <= vs.n; i++) {
		if (i == vs.n && vs.unreported == 0)
			break;
		snprintf(num, sizeof(num), "%zu", i < vs.n ?
		    vs.items[i].devices : vs.unreported);
		share_str(i < vs.n ? vs.items[i].devices : vs.unreported,
		    vs.total, share, sizeof(share));
		row[0] = i < vs.n ? vs.items[i].version : "(not reported)";
		row[1] = num;
		row[2] = share;
		rc = ctl_table_add(&t, row);
	}
	if (rc == 0)
		ctl_table_print(&t);
	ctl_table_free(&t);
	ops_versions_free(&vs);
	if (rc != 0) {
		ctl_err("out of memory");
		return EXIT_OP;
	}
	return 0;
}

const struct ctl_cmd ctl_cmd_product_versions = {
	"product", "versions", cmd_product_versions,
	"P [--module M]",
	help_product_versions,
};
