/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_product.c: the product commands of otactl.  A product is mostly
 * what its devices share: product versions, the version distribution of
 * a product's devices that the cloud consoles show, from one backend call
 * (the same on a state directory and over the admin API); and product
 * author-key, the one setting a product has of its own (docs/images.md).
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

static const char help_product_author_key[] =
"Shows, sets or clears a product's author key: an ECDSA P-256 public key\n"
"in PEM (openssl ec -in key.pem -pubout).  With a key set, firmware add\n"
"needs --signature, the author's signature of the image, and refuses an\n"
"image whose signature does not verify (docs/images.md).\n"
"  --set KEY.pem            set the key (\"-\": standard input)\n"
"  --clear                  remove it\n"
"  --show                   print it (the default)\n";

static int
cmd_product_author_key(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "set", required_argument, NULL, 's' },
		{ "clear", no_argument, NULL, 'c' },
		{ "show", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct product_rec p;
	struct ops_err err;
	const char *path = NULL;
	char	*pem = NULL, t[32];
	size_t	 len = 0;
	int	 ch, op = 0, nops = 0, rc;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 's':
			op = 1;
			path = optarg;
			nops++;
			break;
		case 'c':
			op = 2;
			nops++;
			break;
		case 'w':
			op = 0;
			nops++;
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
	if (nops > 1)
		return ctl_usage_err("want one of --set, --clear, --show");
	if (op == 1 && (pem = ctl_read_file(strcmp(path, "-") == 0 ?
	    "/dev/stdin" : path, OTA_PEM_MAX, &len)) == NULL)
		return EXIT_USAGE;
	if (ctl_open(ctl) == -1) {
		free(pem);
		return EXIT_OP;
	}
	rc = ctl->be->product_author_key(ctl, argv[optind], op, pem, len, &p,
	    &err);
	free(pem);
	if (rc != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		if (ctl_json_put(codec_product_encode(&p, NULL)) == -1)
			return EXIT_OP;
		putchar('\n');
		return 0;
	}
	if (p.author_key_len == 0) {
		printf("product %s has no author key\n", p.id);
		return 0;
	}
	ctl_fmt_time(p.updated, t);
	printf("product %s: author key (set %s)\n%s", p.id, t, p.author_key);
	if (p.author_key[p.author_key_len - 1] != '\n')
		putchar('\n');
	return 0;
}

const struct ctl_cmd ctl_cmd_product_author_key = {
	"product", "author-key", cmd_product_author_key,
	"P [--set KEY.pem | --clear | --show]",
	help_product_author_key,
};
