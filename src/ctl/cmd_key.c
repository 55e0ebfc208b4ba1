/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_key.c: otactl key create, list, show, activate and delete: the keys
 * that sign notices (docs/signing.md).  show prints what a device maker
 * builds into the devices: the key id and the public key as PEM and raw.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "codec/codec.h"
#include "crypto/sigkey.h"
#include "ctl/otactl.h"

static const char help_key_create[] =
"Makes a notice-signing key.  It signs every notice from now on when\n"
"--activate is given or no key does yet; otherwise activate it later,\n"
"once the devices know its public key (otactl key show KID).\n"
"  --alg ES256|EdDSA       ECDSA P-256 (default: what mbedTLS and most\n"
"                          device TLS stacks verify) or Ed25519\n"
"  --activate              sign with it from now on\n";

static const char help_key_list[] =
"Lists the notice-signing keys: id, algorithm, when made, and which one\n"
"signs the notices (none: notices go out unsigned).\n";

static const char help_key_show[] =
"Prints a notice-signing key's public half for device makers: its id,\n"
"algorithm, the public key in PEM and raw (hex: the uncompressed P-256\n"
"point 04||X||Y, or the 32-byte Ed25519 key).  Default: the current key.\n";

static const char help_key_activate[] =
"Makes KID the key that signs every notice from now on.\n";

static const char help_key_delete[] =
"Deletes a notice-signing key.  The current one only with --force:\n"
"notices then go out unsigned.\n"
"  --force                 also the current key\n";

/* Options: only --help, or those of lo; sets *flag for 'f' options. */
static int
key_opts(int argc, char **argv, const struct option *lo, int *alg,
    int *flag)
{
	int	 ch;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'a':
			if (sigkey_alg_parse(optarg, alg) != 0)
				return ctl_usage_err("--alg: ES256 or EdDSA");
			break;
		case 'f':
			*flag = 1;
			break;
		case 'h':
			ctl_help();
			return -1;
		default:
			return EXIT_USAGE;
		}
	}
	return 0;
}

static void
key_print(const struct sign_key_info *k, int full)
{
	char	 t[32];
	size_t	 i;

	ctl_fmt_time(k->created, t);
	if (!full) {
		printf("%-12s  %-5s  %-20s  %s\n", k->kid,
		    sigkey_alg_name(k->alg), t, k->current ? "current" : "");
		return;
	}
	printf("kid:     %s\nalg:     %s\ncreated: %s\ncurrent: %s\n",
	    k->kid, sigkey_alg_name(k->alg), t, k->current ? "yes (signs "
	    "notices)" : "no");
	printf("raw:     ");
	for (i = 0; i < k->rawlen; i++)
		printf("%02x", k->raw[i]);
	printf("\n%s", k->pem);
}

static int
key_json(const struct sign_key_info *k, size_t n, int list)
{
	if (ctl_json_put(list ? codec_sign_keys_encode(k, n, NULL) :
	    codec_sign_key_encode(k, NULL)) == -1)
		return EXIT_OP;
	return 0;
}

static int
cmd_key_create(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "alg", required_argument, NULL, 'a' },
		{ "activate", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_key_info k;
	struct ops_err err;
	int	 alg = SIG_ES256, activate = 0, rc;

	if ((rc = key_opts(argc, argv, lo, &alg, &activate)) != 0)
		return rc < 0 ? 0 : rc;
	if (argc - optind != 0)
		return ctl_usage_err("no arguments");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->sign_key_create(ctl, alg, activate, &k, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json)
		return key_json(&k, 1, 0);
	key_print(&k, 1);
	if (!k.current)
		printf("not signing yet: otactl key activate %s\n", k.kid);
	return 0;
}

/* The keys, for list and show. */
static int
key_fetch(struct ctl *ctl, struct sign_key_info *keys, size_t *n)
{
	struct ops_err err;

	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->sign_key_list(ctl, keys, n, &err) != OPS_OK)
		return ctl_op_fail(&err);
	return 0;
}

static int
cmd_key_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_key_info keys[STORE_SIGN_KEYS];
	size_t	 i, n;
	int	 rc, unused = 0;

	if ((rc = key_opts(argc, argv, lo, &unused, &unused)) != 0)
		return rc < 0 ? 0 : rc;
	if (argc - optind != 0)
		return ctl_usage_err("no arguments");
	if ((rc = key_fetch(ctl, keys, &n)) != 0)
		return rc;
	if (ctl->json)
		return key_json(keys, n, 1);
	if (n == 0) {
		printf("no signing key: notices go out unsigned\n");
		return 0;
	}
	for (i = 0; i < n; i++)
		key_print(&keys[i], 0);
	return 0;
}

static int
cmd_key_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sign_key_info keys[STORE_SIGN_KEYS];
	const char *kid = NULL;
	size_t	 i, n;
	int	 rc, unused = 0;

	if ((rc = key_opts(argc, argv, lo, &unused, &unused)) != 0)
		return rc < 0 ? 0 : rc;
	if (argc - optind > 1)
		return ctl_usage_err("at most one key id");
	if (argc - optind == 1)
		kid = argv[optind];
	if ((rc = key_fetch(ctl, keys, &n)) != 0)
		return rc;
	for (i = 0; i < n; i++)
		if (kid != NULL ? strcmp(keys[i].kid, kid) == 0 :
		    keys[i].current)
			break;
	if (i == n) {
		if (kid != NULL)
			ctl_err("no signing key %s", kid);
		else
			ctl_err("no current signing key (otactl key create)");
		return EXIT_OP;
	}
	if (ctl->json)
		return key_json(&keys[i], 1, 0);
	key_print(&keys[i], 1);
	return 0;
}

static int
cmd_key_activate(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_err err;
	int	 rc, unused = 0;

	if ((rc = key_opts(argc, argv, lo, &unused, &unused)) != 0)
		return rc < 0 ? 0 : rc;
	if (argc - optind != 1)
		return ctl_usage_err("one key id");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->sign_key_activate(ctl, argv[optind], &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (!ctl->json)
		printf("key %s signs notices from now on\n", argv[optind]);
	return 0;
}

static int
cmd_key_delete(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_err err;
	int	 rc, force = 0, unused = 0;

	if ((rc = key_opts(argc, argv, lo, &unused, &force)) != 0)
		return rc < 0 ? 0 : rc;
	if (argc - optind != 1)
		return ctl_usage_err("one key id");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->sign_key_delete(ctl, argv[optind], force, &err) !=
	    OPS_OK)
		return ctl_op_fail(&err);
	if (!ctl->json)
		printf("key %s deleted\n", argv[optind]);
	return 0;
}

const struct ctl_cmd ctl_cmd_key_create = {
	"key", "create", cmd_key_create, "[--alg ES256|EdDSA] [--activate]",
	help_key_create,
};
const struct ctl_cmd ctl_cmd_key_list = {
	"key", "list", cmd_key_list, "", help_key_list,
};
const struct ctl_cmd ctl_cmd_key_show = {
	"key", "show", cmd_key_show, "[KID]", help_key_show,
};
const struct ctl_cmd ctl_cmd_key_activate = {
	"key", "activate", cmd_key_activate, "KID", help_key_activate,
};
const struct ctl_cmd ctl_cmd_key_delete = {
	"key", "delete", cmd_key_delete, "KID [--force]", help_key_delete,
};
