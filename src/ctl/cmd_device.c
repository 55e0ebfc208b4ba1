/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_device.c: the device commands of otactl: device put, import, list,
 * show (with the latest of its upgrade history), history and rm.  Each
 * reads its options, makes its backend calls (the same on a state
 * directory and over the admin API) and prints the answer, as
 * docs/otactl.md shows it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ctl/otactl.h"
#include "store/store.h"

#define CSV_FILE_MAX	(16 << 20)	/* device import, bytes */

static const char help_device_put[] =
"Provisions a device, or updates one (its other settings are kept).\n"
"  --product P              its product (required)\n"
"  --secret S               HTTPS bearer secret (stored as a salted hash; "
"\"\" removes it)\n"
"  --psk HEX                DTLS pre-shared key, 1-64 bytes in hex "
"(\"\" removes it)\n"
"  --version [MODULE=]VER   current version of a module (default module "
"\"default\"); repeatable\n";

static int
cmd_device_put(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "product", required_argument, NULL, 'p' },
		{ "secret", required_argument, NULL, 's' },
		{ "psk", required_argument, NULL, 'k' },
		{ "version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *versions[OTA_MODULES_MAX * 4];
	struct ops_device_params p;
	struct device_rec dev;
	struct ops_err err;
	int	 ch, created, rc;

	memset(&p, 0, sizeof(p));
	p.versions = versions;
	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'p':
			p.product = optarg;
			break;
		case 's':
			p.secret = optarg;
			break;
		case 'k':
			p.psk_hex = optarg;
			break;
		case 'v':
			if (p.nversions == sizeof(versions) / sizeof(*versions))
				return ctl_usage_err("too many --version "
				    "options");
			versions[p.nversions++] = optarg;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one device ID");
	if (p.product == NULL)
		return ctl_usage_err("--product is required");
	p.id = argv[optind];
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	rc = ctl->be->device_put(ctl, &p, &dev, &created, &err);
	if (rc != OPS_OK)
		return ctl_op_fail(&err);
	/* --json: the device alone, one document; text: the id last */
	if (ctl->json) {
		if (ctl_json_put(codec_device_encode(&dev, NULL)) == -1)
			return EXIT_OP;
		putchar('\n');
	} else
		printf("device %s %s\n%s\n", dev.id, created ? "provisioned" :
		    "updated", dev.id);
	return 0;
}

const struct ctl_cmd ctl_cmd_device_put = {
	"device", "put", cmd_device_put,
	"ID --product P [--secret S] [--psk HEX] [--version [MODULE=]VER]...",
	help_device_put,
};

static const char help_device_import[] =
"Provisions devices from a CSV file: product,device,secret,psk per line\n"
"(secret and psk may be empty), or the columns a first line names\n"
"(product/ProductKey/productId, device/DeviceName/deviceId,\n"
"secret/DeviceSecret, psk; other columns are ignored), at most 10,000\n"
"lines; all or nothing: every bad line is reported (the first 100) and\n"
"then nothing is stored.  FILE \"-\" reads standard input.\n"
"  --product P              the product of lines that name none (a\n"
"                           template without a product column)\n";

/* A refused import: each bad line on stderr, then how many more. */
static int
import_refused(const struct ops_import_result *res)
{
	size_t	 i;

	for (i = 0; i < res->nlisted && i < OPS_IMPORT_BAD_MAX; i++)
		ctl_err("line %u: %s", res->bad[i].line, res->bad[i].msg);
	if (res->nbad > i)
		ctl_err("and %zu more bad line%s", res->nbad - i,
		    res->nbad - i == 1 ? "" : "s");
	return EXIT_OP;
}

static int
cmd_device_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "product", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_import_result *res;
	struct ops_err err;
	const char *product = NULL;
	char	*buf;
	size_t	 len;
	int	 ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'p':
			product = optarg;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one FILE.csv");
	buf = ctl_read_file(strcmp(argv[optind], "-") == 0 ? "/dev/stdin" :
	    argv[optind], CSV_FILE_MAX, &len);
	if (buf == NULL)
		return EXIT_OP;
	if ((res = calloc(1, sizeof(*res))) == NULL) {
		free(buf);
		ctl_err("out of memory");
		return EXIT_OP;
	}
	rc = EXIT_OP;
	if (ctl_open(ctl) == -1)
		goto out;
	if (ctl->be->device_import(ctl, buf, len, product, res, &err) !=
	    OPS_OK) {
		rc = res->nbad > 0 ? import_refused(res) : ctl_op_fail(&err);
		goto out;
	}
	if (ctl->json)
		printf("{\"lines\":%zu,\"created\":%zu,\"updated\":%zu}\n",
		    res->lines, res->created, res->updated);
	else
		printf("imported %zu devices: %zu new, %zu updated\n",
		    res->lines, res->created, res->updated);
	rc = 0;
out:
	crypto_wipe(buf, len);
	free(buf);
	free(res);
	return rc;
}

const struct ctl_cmd ctl_cmd_device_import = {
	"device", "import", cmd_device_import,
	"FILE.csv [--product P]",
	help_device_import,
};

struct devprint {
	struct ctl *ctl;
	struct ctl_table t;
	struct ctl_jlist jl;
	int	 failed;
};

static int
devprint_cb(const struct device_rec *d, void *arg)
{
	struct devprint *dp = arg;
	char	 vers[OTA_MODULES_MAX * (2 * OTA_ID_MAX + 2) + 2];
	char	 seen[32];
	const char *row[5];

	if (dp->ctl->json) {
		ctl_jlist_item(&dp->jl, codec_device_encode(d, NULL));
		return dp->jl.failed;
	}
	ctl_versions_str(d, vers, sizeof(vers));
	ctl_fmt_time(d->last_seen, seen);
	row[0] = d->id;
	row[1] = d->product;
	row[2] = vers;
	row[3] = d->psk_len ? (d->has_secret ? "psk,secret" : "psk") :
	    (d->has_secret ? "secret" : "-");
	row[4] = seen;
	if (ctl_table_add(&dp->t, row) == -1) {
		dp->failed = 1;
		return 1;
	}
	return 0;
}

static const char help_device_list[] =
"Lists devices in id order.\n"
"  --product P              only this product\n"
"  --version [MODULE=]VER   only devices on this version of the module\n"
"  --after ID               start after this device id\n"
"  --limit N                at most N devices\n";

static int
cmd_device_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "product", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'v' },
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = { "ID", "PRODUCT", "VERSIONS",
	    "KEYS", "LAST SEEN" };
	struct ops_device_filter f;
	struct module_version mv;
	struct devprint dp;
	struct ops_err err;
	char	 next[OTA_ID_MAX + 1];
	long long n;
	int	 ch, rc;

	memset(&f, 0, sizeof(f));
	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'p':
			f.product = optarg;
			break;
		case 'v':
			if (ops_parse_module_version(optarg, &mv) == -1)
				return ctl_usage_err("--version wants "
				    "[MODULE=]VERSION");
			f.version = optarg;
			break;
		case 'a':
			f.after = optarg;
			break;
		case 'l':
			if (ctl_parse_num(optarg, 1, LLONG_MAX, &n) == -1)
				return ctl_usage_err("--limit wants a number");
			f.limit = (size_t)n;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc != optind)
		return ctl_usage_err("unexpected argument %s", argv[optind]);
	if (f.version != NULL) {
		f.module = mv.module;
		f.version = mv.version;
	}
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	memset(&dp, 0, sizeof(dp));
	dp.ctl = ctl;
	ctl_table_init(&dp.t, 5);
	if (!ctl->json)
		ctl_table_add(&dp.t, head);
	rc = ctl->be->device_list(ctl, &f, devprint_cb, &dp, next, &err);
	if (rc != OPS_OK) {
		ctl_table_free(&dp.t);
		ctl_jlist_free(&dp.jl);
		return ctl_op_fail(&err);
	}
	if (dp.failed) {
		ctl_table_free(&dp.t);
		ctl_err("out of memory");
		return EXIT_OP;
	}
	if (ctl->json)
		rc = ctl_jlist_put(&dp.jl, next);
	else {
		ctl_table_print(&dp.t);
		if (next[0] != '\0')
			printf("(more: --after %s)\n", next);
	}
	ctl_table_free(&dp.t);
	return rc == 0 ? 0 : EXIT_OP;
}

const struct ctl_cmd ctl_cmd_device_list = {
	"device", "list", cmd_device_list,
	"[--product P] [--version V] [--after ID] [--limit N]",
	help_device_list,
};

/*
 * Upgrade history: the table `device show' ends with and `device history'
 * prints, one row per entry, newest first.
 */
#define HIST_COLS	11
#define SHOW_HISTORY	5	/* entries `device show' lists */

static const char *const hist_head[HIST_COLS] = { "SEQ", "FINISHED", "JOB",
    "FIRMWARE", "MODULE", "FROM", "TO", "STATE", "REASON", "RETRIES",
    "DESC" };

struct histprint {
	struct ctl *ctl;
	struct ctl_table t;
	struct ctl_jlist jl;
	struct history_rec h[SHOW_HISTORY];	/* device show --json */
	size_t	 n;
	int	 keep;			/* into h[], not printed */
	int	 failed;
};

static int
histprint_cb(const struct history_rec *h, void *arg)
{
	struct histprint *hp = arg;
	char	 seq[24], fin[32], retries[16];
	const char *row[HIST_COLS];

	if (hp->keep) {
		if (hp->n < SHOW_HISTORY)
			hp->h[hp->n] = *h;
	} else if (hp->ctl->json) {
		ctl_jlist_item(&hp->jl, codec_history_encode(h, NULL));
		if (hp->jl.failed)
			return 1;
	}
	hp->n++;
	if (hp->ctl->json)
		return 0;
	snprintf(seq, sizeof(seq), "%llu", (unsigned long long)h->seq);
	ctl_fmt_time(h->finished, fin);
	snprintf(retries, sizeof(retries), "%u", h->retries);
	row[0] = seq;
	row[1] = fin;
	row[2] = h->job;
	row[3] = h->firmware;
	row[4] = h->module;
	row[5] = h->from_version[0] != '\0' ? h->from_version : "-";
	row[6] = h->to_version;
	row[7] = jobs_jd_state_name(h->state);
	row[8] = h->reason[0] != '\0' ? h->reason : "-";
	row[9] = retries;
	row[10] = h->desc;
	if (ctl_table_add(&hp->t, row) == -1) {
		hp->failed = 1;
		return 1;
	}
	return 0;
}

static const char help_device_show[] =
"Shows one device, with the latest entries of its upgrade history (all\n"
"of them: otactl device history ID).\n";

/* "default=3 wifi=1": the accepted seq of each module, or "none". */
static void
seqs_str(const struct device_rec *d, char *out, size_t size)
{
	size_t	 o = 0;
	unsigned i;
	int	 n;

	snprintf(out, size, "none");
	for (i = 0; i < d->nseqs && i < OTA_MODULES_MAX; i++) {
		n = snprintf(out + o, size - o, "%s%s=%lu", i ? " " : "",
		    d->seqs[i].module, (unsigned long)d->seqs[i].seq);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
}

static int
cmd_device_show(struct ctl *ctl, int argc, char **argv)
{
	struct ops_page pg = { NULL, SHOW_HISTORY };
	struct histprint hp;
	struct device_rec d;
	struct ops_err err;
	char	 vers[OTA_MODULES_MAX * (2 * OTA_ID_MAX + 2) + 2];
	char	 t1[32], t2[32], t3[32], next[OTA_ID_MAX + 1];
	static char attrs[STORE_ATTRS_MAX + 1], text[STORE_ATTRS_MAX + 1];
	int	 rc;

	if ((rc = ctl_one_id_args(argc, argv, "one device ID")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->device_show(ctl, argv[optind], &d, &err) != OPS_OK ||
	    ctl->be->device_attrs(ctl, argv[optind], attrs, sizeof(attrs),
	    &err) != OPS_OK)
		return ctl_op_fail(&err);
	memset(&hp, 0, sizeof(hp));
	hp.ctl = ctl;
	hp.keep = 1;
	ctl_table_init(&hp.t, HIST_COLS);
	ctl_table_add(&hp.t, hist_head);
	rc = ctl->be->device_history(ctl, argv[optind], &pg, histprint_cb,
	    &hp, next, &err);
	if (rc != OPS_OK || hp.failed) {
		ctl_table_free(&hp.t);
		crypto_wipe(&d, sizeof(d));
		if (rc != OPS_OK)
			return ctl_op_fail(&err);
		ctl_err("out of memory");
		return EXIT_OP;
	}
	if (ctl->json) {
		rc = ctl_json_put(codec_device_attrs_add(
		    codec_device_show_encode(&d, hp.h, hp.n < SHOW_HISTORY ?
		    hp.n : SHOW_HISTORY, NULL), NULL, attrs));
		if (rc == 0)
			putchar('\n');
		ctl_table_free(&hp.t);
		crypto_wipe(&d, sizeof(d));
		return rc == 0 ? 0 : EXIT_OP;
	}
	ctl_versions_str(&d, vers, sizeof(vers));
	ctl_fmt_time(d.created, t1);
	ctl_fmt_time(d.updated, t2);
	ctl_fmt_time(d.last_seen, t3);
	ctl_kv("id", "%s", d.id);
	ctl_kv("product", "%s", d.product);
	ctl_kv("versions", "%s", vers);
	seqs_str(&d, vers, sizeof(vers));
	ctl_kv("accepted seqs", "%s", vers);
	ctl_kv("psk", "%s", d.psk_len ? "yes" : "no");
	ctl_kv("secret", "%s", d.has_secret ? "yes" : "no");
	ctl_kv("created", "%s", t1);
	ctl_kv("updated", "%s", t2);
	ctl_kv("last seen", "%s", t3);
	if (codec_device_attrs_text(attrs, text, sizeof(text)) == 0 &&
	    text[0] != '\0')
		ctl_kv("attributes", "%s", text);
	if (hp.n == 0)
		ctl_kv("history", "none");
	else if (next[0] != '\0')
		ctl_kv("history", "the last %zu upgrade attempts, newest first "
		    "(all: otactl device history %s)", hp.n, d.id);
	else
		ctl_kv("history", "%zu upgrade attempt%s, newest first", hp.n,
		    hp.n == 1 ? "" : "s");
	if (hp.n > 0)
		ctl_table_print(&hp.t);
	ctl_table_free(&hp.t);
	crypto_wipe(&d, sizeof(d));
	return 0;
}

const struct ctl_cmd ctl_cmd_device_show = {
	"device", "show", cmd_device_show,
	"ID",
	help_device_show,
};

static const char help_device_history[] =
"Lists a device's upgrade history, newest first: one entry per attempt\n"
"that ended (SUCCEEDED, FAILED, also before a retry, CANCELED), with its\n"
"job, firmware, the version it started from and its target.\n"
"  --after SEQ              start after this entry (older ones follow)\n"
"  --limit N                at most N entries\n";

static int
cmd_device_history(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct histprint hp;
	struct ops_page pg;
	struct ops_err err;
	char	 next[OTA_ID_MAX + 1];
	long long n;
	int	 ch, rc;

	memset(&pg, 0, sizeof(pg));
	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'a':
			pg.after = optarg;
			break;
		case 'l':
			if (ctl_parse_num(optarg, 1, LLONG_MAX, &n) == -1)
				return ctl_usage_err("--limit wants a number");
			pg.limit = (size_t)n;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one device ID");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	memset(&hp, 0, sizeof(hp));
	hp.ctl = ctl;
	ctl_table_init(&hp.t, HIST_COLS);
	if (!ctl->json)
		ctl_table_add(&hp.t, hist_head);
	rc = ctl->be->device_history(ctl, argv[optind], &pg, histprint_cb,
	    &hp, next, &err);
	if (rc != OPS_OK || hp.failed) {
		ctl_table_free(&hp.t);
		ctl_jlist_free(&hp.jl);
		if (rc != OPS_OK)
			return ctl_op_fail(&err);
		ctl_err("out of memory");
		return EXIT_OP;
	}
	rc = 0;
	if (ctl->json)
		rc = ctl_jlist_put(&hp.jl, next);
	else if (hp.n == 0)
		printf("no upgrade history for device %s\n", argv[optind]);
	else {
		ctl_table_print(&hp.t);
		if (next[0] != '\0')
			printf("(more: --after %s)\n", next);
	}
	ctl_table_free(&hp.t);
	return rc == 0 ? 0 : EXIT_OP;
}

const struct ctl_cmd ctl_cmd_device_history = {
	"device", "history", cmd_device_history,
	"ID [--after SEQ] [--limit N]",
	help_device_history,
};

static const char help_device_rm[] =
"Removes a device and its upgrade history.  Refused while it is\n"
"UPGRADING in a job; its other open job rows are canceled.\n";

/* `device rm', and `firmware rm' too (see otactl.h). */
int
ctl_cmd_rm(struct ctl *ctl, int argc, char **argv, const char *what,
    int (*rm)(struct ctl *, const char *, struct ops_err *))
{
	struct ops_err err;
	char	 usage[32];
	int	 rc;

	snprintf(usage, sizeof(usage), "one %s ID", what);
	if ((rc = ctl_one_id_args(argc, argv, usage)) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (rm(ctl, argv[optind], &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json)
		printf("{\"id\":\"%s\",\"removed\":true}\n", argv[optind]);
	else
		printf("%s %s removed\n", what, argv[optind]);
	return 0;
}

static int
cmd_device_rm(struct ctl *ctl, int argc, char **argv)
{
	return ctl_cmd_rm(ctl, argc, argv, "device", ctl->be->device_rm);
}

const struct ctl_cmd ctl_cmd_device_rm = {
	"device", "rm", cmd_device_rm,
	"ID",
	help_device_rm,
};

