/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_firmware.c: the firmware commands of otactl: firmware add (an image
 * file, standard input, or --url for a fetch), list, show, edit and rm.
 * Each reads its options, makes one backend call and prints the answer.
 * An image goes to the backend as an open file descriptor, so the state
 * directory reads it straight into the store and the admin API streams it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ctl/otactl.h"
#include "util/validate.h"

static const char *
sign_name(int m)
{
	return m == SIGN_MD5 ? "MD5" : "SHA256";
}

static const char help_firmware_add[] =
"Adds a firmware image (FILE \"-\" reads standard input), computing its\n"
"MD5 and SHA-256.\n"
"  --product P              product it is for (required)\n"
"  --version V              its version (required)\n"
"  --module M               module (default \"default\")\n"
"  --name N                 1-32 characters of CJK, letters, digits, _-()\n"
"                           (default: the version, '.' as '_')\n"
"  --sign-method SHA256|MD5 digest devices check (default SHA256)\n"
"  --description D          at most 100 characters\n"
"  --seq N                  security sequence number, 1-4294967295\n"
"                           (default: one more than the module's highest)\n"
"  --signature FILE         the author's DER signature of the image's\n"
"                           SHA-256 (openssl dgst -sha256 -sign KEY -out\n"
"                           FILE IMAGE); required when the product has an\n"
"                           author key\n"
"  --url URL --sha256 HEX   instead of FILE: fetch the image over HTTPS\n"
"                           (resuming after interruptions) and add it only\n"
"                           if its SHA-256 is HEX\n"
"  --ca FILE                CA for --url (default: upstream_ca, or the\n"
"                           system's)\n"
"  --filename NAME          the file name hawkBit clients see (SWUpdate\n"
"                           installs only NAME.swu; default: FILE's own\n"
"                           name when it is 1-128 of A-Za-z0-9._-)\n"
"  --delta-from FW --format NAME\n"
"                           FILE is a patch from firmware FW to --version\n"
"                           of FW's product and module, applied by the\n"
"                           devices as NAME (e.g. bsdiff4): patch add\n";

/* firmware add --url: a progress line on a terminal. */
static void
fetch_progress(void *arg, uint64_t done, uint64_t total)
{
	int *tty = arg;

	if (!*tty)
		return;
	if (total > 0)
		fprintf(stderr, "\rfetching: %llu of %llu bytes (%d%%)",
		    (unsigned long long)done, (unsigned long long)total,
		    (int)(done * 100 / total));
	else
		fprintf(stderr, "\rfetching: %llu bytes",
		    (unsigned long long)done);
}

static int
fetch_add(struct ctl *ctl, const struct ops_fw_params *p, const char *url,
    const char *sha_hex, const char *ca, struct firmware_rec *fw,
    struct ops_err *err)
{
	uint8_t sha[32];
	size_t len;
	int tty, rc;

	if (sha_hex == NULL || hex_decode(sha_hex, sha, sizeof(sha), &len) ==
	    -1 || len != sizeof(sha)) {
		err->status = OPS_EINVAL;
		snprintf(err->msg, sizeof(err->msg), "--sha256 needs 64 hex"
		    " digits");
		return OPS_EINVAL;
	}
	tty = isatty(STDERR_FILENO);
	rc = ctl->be->firmware_fetch(ctl, p, url, sha_hex, ca, fetch_progress,
	    &tty, fw, err);
	if (tty)
		fputc('\n', stderr);
	return rc;
}

/* The image file by path: opened here, so both backends read an fd. */
static int
firmware_add_file(struct ctl *ctl, const struct ops_fw_params *p,
    const char *path, struct firmware_rec *out, struct ops_err *err)
{
	int	 fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		err->status = errno == ENOENT ? OPS_ENOTFOUND : OPS_EINVAL;
		snprintf(err->msg, sizeof(err->msg), "%s: %s", path,
		    strerror(errno));
		return err->status;
	}
	rc = ctl->be->firmware_add_fd(ctl, p, fd, out, err);
	close(fd);
	return rc;
}

/* What firmware add's options say. */
struct fw_add_args {
	struct ops_fw_params p;
	const char *file;	/* the image; "-": standard input */
	const char *url;	/* --url instead of a file */
	const char *sha256;	/* --sha256, with --url */
	const char *ca;		/* --ca, with --url */
	const char *delta_from;	/* --delta-from: FILE is a patch */
	const char *format;	/* its --format */
	uint8_t	 sig[OTA_SIG_MAX];	/* --signature's bytes */
};

/* --signature FILE into fa: 0, or EXIT_USAGE with the error said. */
static int
fw_sig_read(const char *path, struct fw_add_args *fa)
{
	uint8_t	 buf[OTA_SIG_MAX + 1];
	size_t	 n;
	FILE	*f;

	if ((f = fopen(path, "rb")) == NULL) {
		fprintf(stderr, "otactl: %s: %s\n", path, strerror(errno));
		return EXIT_USAGE;
	}
	n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	if (n == 0 || n > OTA_SIG_MAX)
		return ctl_usage_err("--signature: not a DER ECDSA P-256 "
		    "signature (1-72 bytes)");
	memcpy(fa->sig, buf, n);
	fa->p.author_sig = fa->sig;
	fa->p.author_sig_len = n;
	return 0;
}

/* What fw_add_parse found, checked: 0, or EXIT_USAGE (said). */
static int
fw_add_check(struct ctl *ctl, int argc, char **argv, struct fw_add_args *fa)
{
	const struct ops_fw_params *p = &fa->p;
	const char *base;

	if (fa->url != NULL && argc - optind != 0)
		return ctl_usage_err("want --url or an image FILE, not both");
	if (fa->url != NULL && fa->sha256 == NULL)
		return ctl_usage_err("--url needs --sha256");
	if (fa->ca != NULL && ctl->url != NULL)
		return ctl_usage_err("--ca is for --state: over the admin API "
		    "the daemon fetches the image with its upstream_ca");
	if (fa->url == NULL && argc - optind != 1)
		return ctl_usage_err("want one image FILE");
	if ((fa->delta_from != NULL) != (fa->format != NULL) ||
	    (fa->delta_from != NULL && fa->url != NULL))
		return ctl_usage_err("a patch FILE needs --delta-from and "
		    "--format, and no --url");
	if (fa->delta_from != NULL && p->version == NULL)
		return ctl_usage_err("--version (the patch's target) is "
		    "required");
	if (fa->delta_from != NULL) {
		fa->file = argv[optind];
		return 0;
	}
	if (p->product == NULL)
		return ctl_usage_err("--product is required");
	if (p->version == NULL)
		return ctl_usage_err("--version is required");
	if (p->name != NULL && *p->name == '\0')
		return ctl_usage_err("--name must not be empty");
	if (fa->url == NULL)
		fa->file = argv[optind];
	if (p->filename == NULL && fa->file != NULL) {
		base = strrchr(fa->file, '/');
		base = base != NULL ? base + 1 : fa->file;
		if (valid_filename(base))
			fa->p.filename = base;
	}
	return 0;
}

/*
 * firmware add's arguments into fa: 0 to go on, -1 when the help was
 * printed, or EXIT_USAGE.
 */
static int
fw_add_parse(struct ctl *ctl, int argc, char **argv, struct fw_add_args *fa)
{
	static const struct option lo[] = {
		{ "product", required_argument, NULL, 'p' },
		{ "version", required_argument, NULL, 'v' },
		{ "module", required_argument, NULL, 'm' },
		{ "name", required_argument, NULL, 'n' },
		{ "sign-method", required_argument, NULL, 's' },
		{ "description", required_argument, NULL, 'd' },
		{ "url", required_argument, NULL, 'U' },
		{ "sha256", required_argument, NULL, 'S' },
		{ "ca", required_argument, NULL, 'C' },
		{ "delta-from", required_argument, NULL, 'D' },
		{ "format", required_argument, NULL, 'F' },
		{ "seq", required_argument, NULL, 'Q' },
		{ "signature", required_argument, NULL, 'G' },
		{ "filename", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_fw_params *p = &fa->p;
	long long n;
	int	 ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'p':
			p->product = optarg;
			break;
		case 'v':
			p->version = optarg;
			break;
		case 'm':
			p->module = optarg;
			break;
		case 'n':
			p->name = optarg;
			break;
		case 's':
			p->sign_method = optarg;
			break;
		case 'd':
			p->description = optarg;
			break;
		case 'U':
			fa->url = optarg;
			break;
		case 'S':
			fa->sha256 = optarg;
			break;
		case 'C':
			fa->ca = optarg;
			break;
		case 'D':
			fa->delta_from = optarg;
			break;
		case 'F':
			fa->format = optarg;
			break;
		case 'Q':
			if (ctl_parse_num(optarg, 1, 4294967295LL, &n) == -1)
				return ctl_usage_err("--seq wants "
				    "1-4294967295");
			p->seq = (uint32_t)n;
			break;
		case 'G':
			if ((rc = fw_sig_read(optarg, fa)) != 0)
				return rc;
			break;
		case 'f':
			if (!valid_filename(optarg))
				return ctl_usage_err("--filename wants 1-128 "
				    "of A-Z a-z 0-9 . _ -, not starting with "
				    "'.'");
			p->filename = optarg;
			break;
		case 'h':
			ctl_help();
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	return fw_add_check(ctl, argc, argv, fa);
}


/* 0, or -1 (out of memory, said). */
static int
fw_add_print(const struct ctl *ctl, const struct firmware_rec *fw)
{
	char	 md5[33], sha[65];

	/* --json: the firmware alone, one document; text: the id last */
	if (ctl->json) {
		if (ctl_json_put(codec_firmware_encode(fw, NULL, NULL)) == -1)
			return -1;
		putchar('\n');
		return 0;
	}
	hex_encode(fw->md5, sizeof(fw->md5), md5);
	hex_encode(fw->sha256, sizeof(fw->sha256), sha);
	printf("firmware %s added: %s %s/%s \"%s\", %llu bytes, seq %lu%s\n",
	    fw->id, fw->product, fw->module, fw->version, fw->name,
	    (unsigned long long)fw->size, (unsigned long)fw->seq,
	    fw->author_sig_len > 0 ? ", author signature verified" : "");
	printf("md5 %s\nsha256 %s\n%s\n", md5, sha, fw->id);
	return 0;
}

static int
cmd_firmware_add(struct ctl *ctl, int argc, char **argv)
{
	struct fw_add_args fa;
	struct firmware_rec fw;
	struct ops_err err;
	int	 rc;

	memset(&fa, 0, sizeof(fa));
	if ((rc = fw_add_parse(ctl, argc, argv, &fa)) != 0)
		return rc == -1 ? 0 : rc;
	if (fa.delta_from != NULL) {
		struct ops_delta_params dp;

		memset(&dp, 0, sizeof(dp));
		dp.from = fa.delta_from;
		dp.to_version = fa.p.version;
		dp.format = fa.format;
		dp.to_size = -1;
		return ctl_patch_add(ctl, &dp, fa.file);
	}
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (fa.url != NULL)
		rc = fetch_add(ctl, &fa.p, fa.url, fa.sha256, fa.ca, &fw,
		    &err);
	else if (strcmp(fa.file, "-") == 0)
		rc = ctl->be->firmware_add_fd(ctl, &fa.p, STDIN_FILENO, &fw,
		    &err);
	else
		rc = firmware_add_file(ctl, &fa.p, fa.file, &fw, &err);
	if (rc != OPS_OK)
		return ctl_op_fail(&err);
	return fw_add_print(ctl, &fw) == 0 ? 0 : EXIT_OP;
}

const struct ctl_cmd ctl_cmd_firmware_add = {
	"firmware", "add", cmd_firmware_add,
	"FILE|--url URL --sha256 HEX --product P --version V [--module M] "
	"[--name N] [--sign-method SHA256|MD5] [--description D] [--seq N] "
	"[--signature FILE] [--filename NAME]",
	help_firmware_add,
};

static const char help_firmware_list[] =
"Lists firmware in id order (fw-2 before fw-10).\n"
"  --after ID               start after this firmware id\n"
"  --limit N                at most N firmware\n";

static int
cmd_firmware_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "ID", "PRODUCT", "MODULE",
	    "VERSION", "NAME", "STATE", "SIGN", "SIZE", "DEVICES", "CREATED",
	    "SEQ" };
	struct ops_fw_item *items = NULL;
	struct ops_page pg;
	struct ops_err err;
	struct ctl_jlist jl;
	struct ctl_table t;
	const char *row[11];
	char	 size[24], devs[24], created[32], next[OTA_ID_MAX + 1];
	char	 seq[16];
	size_t	 i, n;
	int	 rc;

	if ((rc = ctl_page_args(argc, argv, &pg)) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->firmware_list(ctl, &pg, &items, &n, next, &err) != OPS_OK)
		return ctl_op_fail(&err);
	memset(&jl, 0, sizeof(jl));
	ctl_table_init(&t, 11);
	ctl_table_add(&t, head);
	for (i = 0; i < n; i++) {
		if (ctl->json) {
			ctl_jlist_item(&jl, codec_firmware_encode(&items[i].fw,
			    &items[i].devices, NULL));
			continue;
		}
		snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)items[i].fw.size);
		snprintf(devs, sizeof(devs), "%zu", items[i].devices.total);
		ctl_fmt_time(items[i].fw.created, created);
		row[0] = items[i].fw.id;
		row[1] = items[i].fw.product;
		row[2] = items[i].fw.module;
		row[3] = items[i].fw.version;
		row[4] = items[i].fw.name;
		row[5] = jobs_fw_state_name(items[i].fw.state);
		row[6] = sign_name(items[i].fw.sign_method);
		row[7] = size;
		row[8] = devs;
		row[9] = created;
		snprintf(seq, sizeof(seq), "%lu",
		    (unsigned long)items[i].fw.seq);
		row[10] = seq;
		ctl_table_add(&t, row);
	}
	rc = 0;
	if (ctl->json)
		rc = ctl_jlist_put(&jl, next);
	else {
		ctl_table_print(&t);
		if (next[0] != '\0')
			printf("(more: --after %s)\n", next);
	}
	ctl_table_free(&t);
	free(items);
	return rc == 0 ? 0 : EXIT_OP;
}

const struct ctl_cmd ctl_cmd_firmware_list = {
	"firmware", "list", cmd_firmware_list,
	"[--after ID] [--limit N]",
	help_firmware_list,
};

static void
fw_print(const struct ops_fw_item *it)
{
	char	 md5[33], sha[65], created[32], counts[512];
	char	 sig[4 * ((OTA_SIG_MAX + 2) / 3) + 1];

	hex_encode(it->fw.md5, sizeof(it->fw.md5), md5);
	hex_encode(it->fw.sha256, sizeof(it->fw.sha256), sha);
	ctl_fmt_time(it->fw.created, created);
	ctl_counts_line(&it->devices, counts, sizeof(counts));
	ctl_kv("id", "%s", it->fw.id);
	ctl_kv("product", "%s", it->fw.product);
	ctl_kv("module", "%s", it->fw.module);
	ctl_kv("version", "%s", it->fw.version);
	ctl_kv("name", "%s", it->fw.name);
	ctl_kv("description", "%s", it->fw.description);
	ctl_kv("state", "%s", jobs_fw_state_name(it->fw.state));
	ctl_kv("sign method", "%s", sign_name(it->fw.sign_method));
	ctl_kv("size", "%llu", (unsigned long long)it->fw.size);
	ctl_kv("md5", "%s", md5);
	ctl_kv("sha256", "%s", sha);
	if (it->fw.has_sha1) {
		hex_encode(it->fw.sha1, sizeof(it->fw.sha1), sha);
		ctl_kv("sha1", "%s", sha);
	}
	ctl_kv("file name", "%s", it->fw.filename[0] != '\0' ?
	    it->fw.filename : "none");
	ctl_kv("created", "%s", created);
	ctl_kv("seq", "%lu", (unsigned long)it->fw.seq);
	if (it->fw.author_sig_len > 0 &&
	    it->fw.author_sig_len <= OTA_SIG_MAX) {
		crypto_base64(it->fw.author_sig, it->fw.author_sig_len, sig);
		ctl_kv("author signature", "%s", sig);
	} else
		ctl_kv("author signature", "none");
	ctl_kv("devices", "%zu (%s)", it->devices.total, counts);
}

static const char help_firmware_show[] =
"Shows one firmware with its devices by state: the devices in its jobs,\n"
"each counted once, by its row in the newest of those jobs.\n";

static int
cmd_firmware_show(struct ctl *ctl, int argc, char **argv)
{
	struct ops_fw_item it;
	struct ops_err err;
	int	 rc;

	if ((rc = ctl_one_id_args(argc, argv, "one firmware ID")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->firmware_show(ctl, argv[optind], &it, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		ctl_json_put(codec_firmware_encode(&it.fw, &it.devices, NULL));
		putchar('\n');
	} else
		fw_print(&it);
	return 0;
}

const struct ctl_cmd ctl_cmd_firmware_show = {
	"firmware", "show", cmd_firmware_show,
	"ID",
	help_firmware_show,
};

static const char help_firmware_edit[] =
"Changes the name or the description of a firmware.\n"
"  --name N                 new name\n"
"  --description D          new description (\"\" clears it)\n";

static int
cmd_firmware_edit(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "description", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *desc = NULL;
	struct ops_fw_item it;
	struct ops_err err;
	int	 ch;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'd':
			desc = optarg;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one firmware ID");
	if (name == NULL && desc == NULL)
		return ctl_usage_err("give --name or --description");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->firmware_edit(ctl, argv[optind], name, desc, NULL,
	    &err) != OPS_OK ||
	    ctl->be->firmware_show(ctl, argv[optind], &it, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		ctl_json_put(codec_firmware_encode(&it.fw, &it.devices, NULL));
		putchar('\n');
	} else
		fw_print(&it);
	return 0;
}

const struct ctl_cmd ctl_cmd_firmware_edit = {
	"firmware", "edit", cmd_firmware_edit,
	"ID [--name N] [--description D]",
	help_firmware_edit,
};

static const char help_firmware_rm[] =
"Removes a firmware and its image.  Refused while an open job uses it.\n";

static int
cmd_firmware_rm(struct ctl *ctl, int argc, char **argv)
{
	return ctl_cmd_rm(ctl, argc, argv, "firmware", ctl->be->firmware_rm);
}

const struct ctl_cmd ctl_cmd_firmware_rm = {
	"firmware", "rm", cmd_firmware_rm,
	"ID",
	help_firmware_rm,
};

