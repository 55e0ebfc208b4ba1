/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_patch.c: otactl patch add, list, show and rm: patches (delta
 * packages) from one firmware to another, uploaded by the operator
 * (docs/delta.md).  firmware add --delta-from comes here too.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec.h"
#include "ctl/otactl.h"
#include "util/validate.h"

static const char help_patch_add[] =
"Stores a patch that turns firmware --from's image into firmware --to's\n"
"(same product and module).  A device that reports --from's version gets\n"
"it in its notice beside the full image, downloads it by the same CoAP\n"
"and HTTPS paths, and falls back to the full image if it reports a\n"
"failure.  The patch must be smaller than --to's image.\n"
"  --from FW                the firmware the device runs\n"
"  --to FW                  the firmware the patch makes\n"
"  --format NAME            how the device applies it: bsdiff4 (BSDIFF40),\n"
"                           detools-sequential, ... (1-32 of A-Za-z0-9._-)\n"
"  --to-sha256 HEX          the SHA-256 the patch's result has (checked:\n"
"                           must be --to's)\n"
"  --to-size N              the size of that result (checked likewise)\n";

static const char help_firmware_delta[] =
"Makes the patch from firmware OLD to firmware NEW (same product and\n"
"module) in the BSDIFF40 format (bsdiff4, what Debian's bspatch reads),\n"
"checks that applying it to OLD's image gives NEW's, and stores it as\n"
"patch add does.  With --state otactl makes it; over the admin API the\n"
"daemon does, on a thread of its own, and answers when it is stored.\n"
"  --from OLD               the firmware the devices run\n"
"  --block N                bzip2 block size, 1 to 9 x 100 kB (default\n"
"                           9); a device needs about 100 kB + 400 kB x N\n"
"                           per stream, three streams, to apply it\n";

static const char help_patch_list[] =
"Lists the patches, or those from or to one firmware.\n"
"  --firmware FW            only patches from or to FW\n";

static const char help_patch_show[] = "Shows one patch.\n";

static const char help_patch_rm[] =
"Removes a patch.  Notices stop offering it; a device that is\n"
"downloading it fails and gets the full image.\n";

int
ctl_patch_add(struct ctl *ctl, const struct ops_delta_params *p,
    const char *path)
{
	struct delta_rec d;
	struct ops_err err;
	int	 fd, rc;

	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		ctl_err("%s: %s", path, strerror(errno));
		return EXIT_OP;
	}
	rc = ctl->be->patch_add_fd(ctl, p, fd, &d, &err);
	close(fd);
	if (rc != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		if (ctl_json_put(codec_delta_encode(&d, NULL)) == -1)
			return EXIT_OP;
		return 0;
	}
	printf("%s\n", d.id);
	return 0;
}

static int
cmd_patch_add(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "format", required_argument, NULL, 'F' },
		{ "to-sha256", required_argument, NULL, 's' },
		{ "to-size", required_argument, NULL, 'z' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_delta_params p;
	char	*end;
	int	 ch;

	memset(&p, 0, sizeof(p));
	p.to_size = -1;
	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'f':
			p.from = optarg;
			break;
		case 't':
			p.to = optarg;
			break;
		case 'F':
			p.format = optarg;
			break;
		case 's':
			p.to_sha256 = optarg;
			break;
		case 'z':
			errno = 0;
			p.to_size = (int64_t)strtoll(optarg, &end, 10);
			if (errno != 0 || *end != '\0' || optarg[0] < '0' ||
			    optarg[0] > '9')
				return ctl_usage_err("--to-size: bytes");
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("one patch file");
	if (p.from == NULL || p.to == NULL || p.format == NULL)
		return ctl_usage_err("--from, --to and --format are needed");
	return ctl_patch_add(ctl, &p, argv[optind]);
}

/* The maker's progress, on a terminal or with --progress. */
static void
make_progress(void *arg, uint64_t done, uint64_t total)
{
	ctl_progress(arg, "making the patch", (size_t)done, (size_t)total);
}

static int
cmd_firmware_delta(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "from", required_argument, NULL, 'f' },
		{ "block", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_delta_make m;
	struct delta_rec d;
	struct ops_err err;
	int	 ch;

	memset(&m, 0, sizeof(m));
	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'f':
			m.from = optarg;
			break;
		case 'b':
			if (strlen(optarg) != 1 || optarg[0] < '1' ||
			    optarg[0] > '9')
				return ctl_usage_err("--block: 1 to 9");
			m.block = optarg[0] - '0';
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1 || m.from == NULL)
		return ctl_usage_err("want NEW and --from OLD");
	m.to = argv[optind];
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->progress || isatty(STDERR_FILENO)) {
		m.progress = make_progress;
		m.progress_arg = ctl;
		if (ctl->url != NULL)
			fprintf(stderr, "making the patch on the gateway...\n");
	}
	if (ctl->be->patch_make(ctl, &m, &d, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json)
		return ctl_json_put(codec_delta_encode(&d, NULL)) == -1 ?
		    EXIT_OP : 0;
	printf("patch %s: %s %s -> %s, %llu bytes (%.1f%% of %llu), "
	    "checked\n%s\n", d.id, d.product, d.from_version, d.to_version,
	    (unsigned long long)d.size, 100.0 * (double)d.size /
	    (double)d.to_size, (unsigned long long)d.to_size, d.id);
	return 0;
}

static void
patch_print(const struct delta_rec *d)
{
	char	 hex[65], t[32];

	ctl_kv("id", "%s", d->id);
	ctl_kv("product", "%s", d->product);
	ctl_kv("module", "%s", d->module);
	ctl_kv("from", "%s (%s)", d->from, d->from_version);
	ctl_kv("to", "%s (%s)", d->to, d->to_version);
	ctl_kv("format", "%s", d->format);
	ctl_kv("size", "%llu (%.1f%% of %llu)", (unsigned long long)d->size,
	    d->to_size > 0 ? 100.0 * (double)d->size / (double)d->to_size :
	    0.0, (unsigned long long)d->to_size);
	hex_encode(d->sha256, sizeof(d->sha256), hex);
	ctl_kv("sha256", "%s", hex);
	hex_encode(d->to_sha256, sizeof(d->to_sha256), hex);
	ctl_kv("to sha256", "%s", hex);
	ctl_fmt_time(d->created, t);
	ctl_kv("created", "%s", t);
}

static int
cmd_patch_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "firmware", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = { "ID", "PRODUCT", "MODULE", "FROM",
	    "TO", "FORMAT", "SIZE", "FROM FW", "TO FW" };
	struct delta_rec *items = NULL;
	struct ctl_jlist jl;
	struct ctl_table t;
	struct ops_err err;
	const char *fw = NULL, *row[9];
	char	 size[24];
	size_t	 i, n;
	int	 ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch == 'f')
			fw = optarg;
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
	if (ctl->be->patch_list(ctl, fw, &items, &n, &err) != OPS_OK)
		return ctl_op_fail(&err);
	memset(&jl, 0, sizeof(jl));
	ctl_table_init(&t, 9);
	ctl_table_add(&t, head);
	for (i = 0; i < n; i++) {
		if (ctl->json) {
			ctl_jlist_item(&jl, codec_delta_encode(&items[i],
			    NULL));
			continue;
		}
		snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)items[i].size);
		row[0] = items[i].id;
		row[1] = items[i].product;
		row[2] = items[i].module;
		row[3] = items[i].from_version;
		row[4] = items[i].to_version;
		row[5] = items[i].format;
		row[6] = size;
		row[7] = items[i].from;
		row[8] = items[i].to;
		ctl_table_add(&t, row);
	}
	rc = 0;
	if (ctl->json)
		rc = ctl_jlist_put(&jl, NULL);
	else
		ctl_table_print(&t);
	ctl_table_free(&t);
	free(items);
	return rc == 0 ? 0 : EXIT_OP;
}

/* show and rm: one id. */
static int
patch_one(struct ctl *ctl, int argc, char **argv, int rm)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct delta_rec d;
	struct ops_err err;
	int	 ch;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch == 'h') {
			ctl_help();
			return 0;
		}
		return EXIT_USAGE;
	}
	if (argc - optind != 1)
		return ctl_usage_err("one patch id");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (rm) {
		if (ctl->be->patch_rm(ctl, argv[optind], &err) != OPS_OK)
			return ctl_op_fail(&err);
		if (ctl->json)
			printf("{\"id\":\"%s\",\"removed\":true}\n",
			    argv[optind]);
		else
			printf("patch %s removed\n", argv[optind]);
		return 0;
	}
	if (ctl->be->patch_show(ctl, argv[optind], &d, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json)
		return ctl_json_put(codec_delta_encode(&d, NULL)) == -1 ?
		    EXIT_OP : 0;
	patch_print(&d);
	return 0;
}

static int
cmd_patch_show(struct ctl *ctl, int argc, char **argv)
{
	return patch_one(ctl, argc, argv, 0);
}

static int
cmd_patch_rm(struct ctl *ctl, int argc, char **argv)
{
	return patch_one(ctl, argc, argv, 1);
}

const struct ctl_cmd ctl_cmd_patch_add = {
	"patch", "add", cmd_patch_add,
	"FILE --from FW --to FW --format NAME [--to-sha256 HEX] "
	"[--to-size N]",
	help_patch_add,
};
const struct ctl_cmd ctl_cmd_firmware_delta = {
	"firmware", "delta", cmd_firmware_delta, "NEW --from OLD [--block N]",
	help_firmware_delta,
};
const struct ctl_cmd ctl_cmd_patch_list = {
	"patch", "list", cmd_patch_list, "[--firmware FW]", help_patch_list,
};
const struct ctl_cmd ctl_cmd_patch_show = {
	"patch", "show", cmd_patch_show, "ID", help_patch_show,
};
const struct ctl_cmd ctl_cmd_patch_rm = {
	"patch", "rm", cmd_patch_rm, "ID", help_patch_rm,
};
