/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * otactl.c: the operator's command-line client of otagw (CONTRACT §4):
 * main, the global options and the table of commands.
 *
 *   otactl [-c FILE] [--state DIR | --url URL --token-file F] [--json]
 *       COMMAND ...
 *
 * With --state DIR (or the state_dir of the daemon's configuration file)
 * otactl opens the gateway's LMDB store itself, which is safe while the
 * daemon runs, and calls the operations of src/ops: the very functions the
 * admin API calls, so both give the same answers.  With --url URL
 * --token-file F it asks the admin API instead (src/ctl/apiclient.c),
 * which answers with the same records.  main chooses the backend once
 * (struct ctl_backend, backend_state.c or backend_api.c); each command
 * (cmd_*.c) gets its records from one call through it and has one
 * formatter, so both ways print the same bytes.  otactl.h lists the
 * files.  A command that creates something prints the new id alone on
 * its last line.
 *
 * Exit status: 0 done, 1 the operation failed (nothing was changed),
 * 2 usage error.  Errors go to stderr as "otactl: <message>".  SIGPIPE is
 * ignored, so a connection the admin API breaks is an error message, not
 * a silent death; a closed standard output ends the command with 1.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ctl/otactl.h"
#include "log.h"

static const char usage_text[] =
"usage: otactl [-c FILE] [--state DIR | --url URL --token-file F] [--json] "
"COMMAND ...\n"
"  device put ID --product P [--secret S] [--psk HEX] "
"[--version [MODULE=]VER]...\n"
"  device import FILE.csv [--product P] | device show ID | device rm ID\n"
"  device list [--product P] [--version V] [--after ID] [--limit N]\n"
"  device history ID [--after SEQ] [--limit N]\n"
"  product versions P [--module M]\n"
"  product author-key P [--set KEY.pem | --clear | --show]\n"
"  firmware add FILE|--url URL --sha256 HEX [--ca FILE] --product P "
"--version V\n"
"             [--module M] [--name N] [--sign-method SHA256|MD5] "
"[--description D]\n"
"             [--seq N] [--signature FILE] [--filename NAME] "
"[--delta-from FW --format NAME]\n"
"  firmware list [--after ID] [--limit N] | firmware show ID | "
"firmware rm ID\n"
"  firmware edit ID [--name N] [--description D]\n"
"  job create --firmware ID [--verify] [--force] [--src-version V]... "
"[--all | --devices D1,D2 | --devices-file F | --gray PCT]\n"
"             [--dynamic [--only-new]] [--confirm] [--start T] [--end T] "
"[--rate N] [--retry N] [--retry-interval MIN]\n"
"             [--timeout MIN] [--override] [--allow-downgrade] "
"[--abort-failure-percent P --abort-min-devices N]\n"
"  job list [--after ID] [--limit N] | job show ID [--watch]\n"
"  job devices ID [--state S] [--after DEVICE] [--limit N]\n"
"  job terminate ID | job cancel ID DEVICE | job retry ID DEVICE | "
"job confirm ID DEVICE\n"
"  relay status | url-key rotate [--drop-previous]\n"
"  firmware delta NEW --from OLD [--block N]   (made by otagw: bsdiff4)\n"
"  patch add FILE --from FW --to FW --format NAME [--to-sha256 HEX] "
"[--to-size N]\n"
"  patch list [--firmware FW] | patch show ID | patch rm ID\n"
"  key create [--alg ES256|EdDSA] [--activate] | key list | key show [KID]\n"
"  key activate KID | key delete KID [--force]\n"
"  delta make OLD NEW PATCH [--block N] [--verify]   (offline, local files)\n"
"  delta apply OLD PATCH OUT [--sha256 HEX] [--size N]\n"
"\n"
"global options:\n"
"  -c FILE            the daemon's configuration (default "
CONFIG_DEFAULT_PATH "):\n"
"                     its state_dir and firmware limits\n"
"  --state DIR        work on this state directory (no configuration "
"needed)\n"
"  --url URL --token-file F\n"
"                     work over the admin API (https://127.0.0.1:8444 by\n"
"                     default in otagw.conf); the same commands and output\n"
"  --ca FILE          CA to verify the admin API's certificate (default:\n"
"                     the system's; development: certs/ca.pem)\n"
"  --progress         show the progress of long operations (job create\n"
"                     and terminate with --state, delta) on stderr, also\n"
"                     when it is not a terminal (on a terminal: always)\n"
"  --json             print one JSON document instead of text (a list:\n"
"                     {\"items\":[...],\"next\":ID|null}); it and\n"
"                     --progress may also follow the command\n"
"  -h, --help         this help; `otactl COMMAND --help' for one command\n"
"  -V, --version      print the version and exit\n";

/* The commands, in the order the help lists them. */
static const struct ctl_cmd *const cmds[] = {
	&ctl_cmd_device_put, &ctl_cmd_device_import, &ctl_cmd_device_list,
	&ctl_cmd_device_show, &ctl_cmd_device_history, &ctl_cmd_device_rm,
	&ctl_cmd_product_versions,
	&ctl_cmd_product_author_key,
	&ctl_cmd_firmware_add, &ctl_cmd_firmware_list, &ctl_cmd_firmware_show,
	&ctl_cmd_firmware_edit, &ctl_cmd_firmware_rm,
	&ctl_cmd_job_create, &ctl_cmd_job_list, &ctl_cmd_job_show,
	&ctl_cmd_job_devices, &ctl_cmd_job_terminate, &ctl_cmd_job_cancel,
	&ctl_cmd_job_retry, &ctl_cmd_job_confirm,
	&ctl_cmd_relay_status,
	&ctl_cmd_url_key_rotate,
	&ctl_cmd_firmware_delta,
	&ctl_cmd_patch_add,
	&ctl_cmd_patch_list,
	&ctl_cmd_patch_show,
	&ctl_cmd_patch_rm,
	&ctl_cmd_key_create,
	&ctl_cmd_key_list,
	&ctl_cmd_key_show,
	&ctl_cmd_key_activate,
	&ctl_cmd_key_delete,
	&ctl_cmd_delta_make, &ctl_cmd_delta_apply,
};

/* The usage lines of a group's commands, on stderr. */
static void
group_usage(const char *group)
{
	size_t	 i;

	fprintf(stderr, "usage:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i]->group, group) == 0)
			fprintf(stderr, "  otactl %s %s %s\n", cmds[i]->group,
			    cmds[i]->verb, cmds[i]->usage);
}

/* The backend's open, by the first command that needs it. */
int
ctl_open(struct ctl *ctl)
{
	if (ctl->opened)
		return 0;
	if (ctl->be->open(ctl) == -1)
		return -1;
	ctl->opened = 1;
	return 0;
}

/*
 * The global options into ctl: 0 to go on, -1 when the usage was printed
 * (-h), or an exit status.
 */
static int
main_options(struct ctl *ctl, int argc, char **argv)
{
	enum { O_STATE = 256, O_URL, O_TOKEN, O_JSON, O_CA, O_PROGRESS };
	static const struct option lo[] = {
		{ "state", required_argument, NULL, O_STATE },
		{ "url", required_argument, NULL, O_URL },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "ca", required_argument, NULL, O_CA },
		{ "json", no_argument, NULL, O_JSON },
		{ "progress", no_argument, NULL, O_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:hV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			ctl->conf_path = optarg;
			ctl->conf_given = 1;
			break;
		case O_STATE:
			ctl->state = optarg;
			break;
		case O_URL:
			ctl->url = optarg;
			break;
		case O_TOKEN:
			ctl->token_file = optarg;
			break;
		case O_CA:
			ctl->ca = optarg;
			break;
		case O_JSON:
			ctl->json = 1;
			break;
		case O_PROGRESS:
			ctl->progress = 1;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case 'V':
			printf("otactl %s\n", PACKAGE_VERSION);
			return -1;
		case ':':
			return ctl_usage_err("option %s needs a value",
			    argv[optind - 1]);
		default:
			return ctl_usage_err("unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (ctl->url != NULL && ctl->state != NULL)
		return ctl_usage_err("give --state DIR or --url URL, not both");
	if (ctl->url == NULL && (ctl->token_file != NULL || ctl->ca != NULL))
		return ctl_usage_err("--token-file and --ca go with --url");
	if (ctl->url != NULL && *ctl->url == '\0')
		return ctl_usage_err("--url needs an https:// URL");
	if (ctl->state != NULL && *ctl->state == '\0')
		return ctl_usage_err("--state needs a directory");
	return 0;
}

/*
 * The command "GROUP VERB ..." names (argc >= 1), or NULL with the exit
 * status in *rc once the trouble is said (or, for `otactl GROUP --help',
 * the group's commands listed).
 */
static const struct ctl_cmd *
cmd_find(int argc, char **argv, int *rc)
{
	size_t	 i;
	int	 known_group = 0;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i]->group, argv[0]) != 0)
			continue;
		known_group = 1;
		if (argc >= 2 && strcmp(cmds[i]->verb, argv[1]) == 0)
			return cmds[i];
	}
	*rc = EXIT_USAGE;
	if (!known_group) {
		ctl_err("unknown command %s", argv[0]);
		fputs(usage_text, stderr);
	} else if (argc < 2) {
		ctl_err("%s: which one?", argv[0]);
		group_usage(argv[0]);
	} else if (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(cmds[i]->group, argv[0]) == 0)
				printf("otactl %s %s %s\n", cmds[i]->group,
				    cmds[i]->verb, cmds[i]->usage);
		*rc = 0;
	} else {
		ctl_err("unknown command %s %s", argv[0], argv[1]);
		group_usage(argv[0]);
	}
	return NULL;
}

/* 1 when the arguments after GROUP VERB ask for the command's help. */
static int
wants_help(int argc, char **argv)
{
	int	 i;

	for (i = 2; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

/*
 * --json and --progress are global options, but they read naturally
 * after the command too (`job devices J --json`): taken from there as
 * well, up to a "--".  Returns the arguments left.
 */
static int
late_globals(struct ctl *ctl, int argc, char **argv)
{
	int	 i, j;

	for (i = j = 2; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			while (i < argc)
				argv[j++] = argv[i++];
			break;
		}
		if (strcmp(argv[i], "--json") == 0)
			ctl->json = 1;
		else if (strcmp(argv[i], "--progress") == 0)
			ctl->progress = 1;
		else
			argv[j++] = argv[i];
	}
	return j;
}

/*
 * The configuration: needed unless --state or --url says where to work.
 * With --url, -c only supplies admin_token_file when --token-file is not
 * given.  Neither is looked for when the command's help is asked for.
 * 0, or an exit status.
 */
static int
main_config(struct ctl *ctl, int help)
{
	config_defaults(&ctl->cfg);
	if (((ctl->state == NULL && ctl->url == NULL) || ctl->conf_given) &&
	    !help) {
		if (config_load(ctl->conf_path, &ctl->cfg) == -1) {
			ctl_err("cannot use the configuration %s (give --state "
			    "DIR to work on a state directory)",
			    ctl->conf_path);
			return EXIT_OP;
		}
		ctl->cfg_loaded = 1;
	}
	if (ctl->url != NULL && ctl->token_file == NULL && !help) {
		if (!ctl->cfg_loaded)
			return ctl_usage_err("--url needs --token-file F (or "
			    "-c FILE for its admin_token_file)");
		ctl->token_file = ctl->cfg.admin_token_file;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct ctl ctl;
	const struct ctl_cmd *c;
	int	 rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.conf_path = CONFIG_DEFAULT_PATH;
	log_init("otactl", 1, LOG_LEVEL_WARN);
	/*
	 * A daemon that closes or resets the connection makes a write fail
	 * with EPIPE, reported with its reason, instead of killing otactl
	 * without a word.  A closed standard output is noticed on flush.
	 */
	signal(SIGPIPE, SIG_IGN);

	if ((rc = main_options(&ctl, argc, argv)) != 0)
		return rc == -1 ? 0 : rc;
	ctl.be = ctl.url != NULL ? &ctl_backend_api : &ctl_backend_state;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if ((c = cmd_find(argc, argv, &rc)) == NULL)
		return rc;
	ctl_set_cmd(c);
	argc = late_globals(&ctl, argc, argv);
	/* delta make and apply work on local files alone: no configuration */
	if ((rc = main_config(&ctl, wants_help(argc, argv) ||
	    strcmp(c->group, "delta") == 0)) != 0)
		return rc;

	optind = 0;
	rc = c->fn(&ctl, argc - 1, argv + 1);
	if (fflush(stdout) == EOF && rc == 0) {
		/* a reader that left (| head) needs no message */
		if (errno != EPIPE)
			ctl_err("writing the output: %s", strerror(errno));
		rc = EXIT_OP;
	}
	ctl.be->close(&ctl);
	return rc;
}

