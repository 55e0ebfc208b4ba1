/*
 * otactl.c: the operator's command-line client of otagw (CONTRACT §4).
 *
 *   otactl [-c FILE] [--state DIR | --url URL --token-file F] [--json]
 *       COMMAND ...
 *
 * With --state DIR (or the state_dir of the daemon's configuration file)
 * otactl opens the gateway's LMDB store itself, which is safe while the
 * daemon runs, and calls the operations of src/ops: the very functions the
 * admin API calls, so both give the same answers.  With --url URL
 * --token-file F it asks the admin API instead (src/ctl/apiclient.c),
 * which answers with the same records.  Each command gets its records
 * from one call through struct ctl_backend, a table of functions that
 * main chooses once (ops or the API), and has one formatter, so both
 * ways print the same bytes.  Otherwise this file only parses arguments
 * and prints: aligned tables and "key: value" lines for people, the
 * shared JSON shapes of src/codec with --json.  A command that creates
 * something prints the new id alone on its last line.
 *
 * Exit status: 0 done, 1 the operation failed (nothing was changed),
 * 2 usage error.  Errors go to stderr as "otactl: <message>".  SIGPIPE is
 * ignored, so a connection the admin API breaks is an error message, not
 * a silent death; a closed standard output ends the command with 1.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "codec/codec.h"
#include "crypto/crypto.h"
#include "ctl/apiclient.h"
#include "jobs/jobs.h"
#include "log.h"
#include "ops/ops.h"
#include "relay/fetch.h"
#include "store/store.h"
#include "util/validate.h"

#define EXIT_OP		1
#define EXIT_USAGE	2
#define DEVFILE_MAX	(4 << 20)	/* --devices-file, bytes */
#define CSV_FILE_MAX	(16 << 20)	/* device import, bytes */

struct ctl_backend;

struct ctl {
	const struct ctl_backend *be;	/* chosen once in main */
	int	 opened;		/* be->open done */
	const char *conf_path;
	int	 conf_given;
	const char *state;
	const char *url;
	const char *token_file;
	const char *ca;		/* --ca: the admin API's CA */
	struct api *api;	/* --url */
	int	 json;
	struct config cfg;
	int	 cfg_loaded;
	struct store *st;
	struct ops ops;
};

struct cmd {
	const char *group;
	const char *verb;
	int	(*fn)(struct ctl *, int, char **);
	const char *usage;	/* after "otactl GROUP VERB " */
	const char *help;	/* the options, one per line */
};

static const struct cmd *cur_cmd;

static const char usage_text[] =
"usage: otactl [-c FILE] [--state DIR | --url URL --token-file F] [--json] "
"COMMAND ...\n"
"  device put ID --product P [--secret S] [--psk HEX] "
"[--version [MODULE=]VER]...\n"
"  device import FILE.csv | device list [--product P] [--version V] | "
"device show ID | device rm ID\n"
"  firmware add FILE --product P --version V [--module M] [--name N] "
"[--sign-method SHA256|MD5] [--description D]\n"
"  firmware list | firmware show ID | firmware edit ID [--name N] "
"[--description D] | firmware rm ID\n"
"  job create --firmware ID [--verify] [--force] [--src-version V]... "
"[--all | --devices D1,D2 | --devices-file F | --gray PCT]\n"
"             [--dynamic [--only-new]] [--confirm] [--start T] [--end T] "
"[--rate N] [--retry N] [--retry-interval MIN]\n"
"             [--timeout MIN] [--override] [--abort-failure-percent P "
"--abort-min-devices N]\n"
"  job list | job show ID [--watch] | job devices ID [--state S]\n"
"  job terminate ID | job cancel ID DEVICE | job retry ID DEVICE | "
"job confirm ID DEVICE\n"
"  relay status\n"
"\n"
"global options:\n"
"  -c FILE            the daemon's configuration (default " SYSCONFDIR
"/otagw.conf):\n"
"                     its state_dir and firmware limits\n"
"  --state DIR        work on this state directory (no configuration "
"needed)\n"
"  --url URL --token-file F\n"
"                     work over the admin API (https://127.0.0.1:8444 by\n"
"                     default in otagw.conf); the same commands and output\n"
"  --ca FILE          CA to verify the admin API's certificate (default:\n"
"                     the system's; development: certs/ca.pem)\n"
"  --json             print JSON instead of text\n"
"  -h, --help         this help; `otactl COMMAND --help' for one command\n";

/*
 * Messages.
 */

static void	 errmsg(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
errmsg(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("otactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int	 usage_err(const char *, ...) __attribute__((format(printf, 1, 2)));

/* A usage error in the current command: message, its usage line, exit 2. */
static int
usage_err(const char *fmt, ...)
{
	va_list	 ap;

	fflush(stdout);
	fputs("otactl: ", stderr);
	if (cur_cmd != NULL)
		fprintf(stderr, "%s %s: ", cur_cmd->group, cur_cmd->verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (cur_cmd != NULL)
		fprintf(stderr, "usage: otactl %s %s %s\n", cur_cmd->group,
		    cur_cmd->verb, cur_cmd->usage);
	else
		fputs("run `otactl --help' for the commands\n", stderr);
	return EXIT_USAGE;
}

static int
op_fail(const struct ops_err *err)
{
	errmsg("%s", err->msg[0] != '\0' ? err->msg : "operation failed");
	return EXIT_OP;
}

static void
cmd_help(const struct cmd *c)
{
	printf("usage: otactl %s %s %s\n", c->group, c->verb, c->usage);
	if (c->help != NULL && *c->help != '\0')
		printf("\n%s", c->help);
}

/*
 * Backends.  Each command gets its records through ctl->be, one table of
 * functions chosen once at start-up: backend_state calls src/ops on a
 * state directory, backend_api asks the admin API (src/ctl/apiclient.c).
 * Both fill the same records and the same struct ops_err, so a command
 * prints the same bytes whichever answered.  Only the adapters below look
 * at ctl->st, ctl->ops and ctl->api.
 */

struct ctl_backend {
	/* Opens the store or the API connection; -1 with the error said. */
	int	(*open)(struct ctl *);
	void	(*close)(struct ctl *);		/* also when never opened */

	int	(*device_put)(struct ctl *, const struct ops_device_params *,
		    struct device_rec *, int *created, struct ops_err *);
	int	(*device_import)(struct ctl *, const char *csv, size_t len,
		    struct ops_import_result *, struct ops_err *);
	int	(*device_list)(struct ctl *, const struct ops_device_filter *,
		    int (*cb)(const struct device_rec *, void *), void *arg,
		    char next[OTA_ID_MAX + 1], struct ops_err *);
	int	(*device_show)(struct ctl *, const char *id,
		    struct device_rec *, struct ops_err *);
	int	(*device_rm)(struct ctl *, const char *id, struct ops_err *);

	int	(*firmware_add_fd)(struct ctl *, const struct ops_fw_params *,
		    int fd, struct firmware_rec *, struct ops_err *);
	/*
	 * firmware add --url: sha256_hex is the --sha256 value, 64 hex
	 * digits (fetch_add checks them); ca is --ca (the state directory's
	 * fetch only; NULL: upstream_ca or the system's); progress(arg,
	 * done, total) as bytes arrive.
	 */
	int	(*firmware_fetch)(struct ctl *, const struct ops_fw_params *,
		    const char *url, const char *sha256_hex, const char *ca,
		    void (*progress)(void *, uint64_t, uint64_t), void *arg,
		    struct firmware_rec *, struct ops_err *);
	int	(*firmware_list)(struct ctl *, struct ops_fw_item **items,
		    size_t *n, struct ops_err *);
	int	(*firmware_show)(struct ctl *, const char *id,
		    struct ops_fw_item *, struct ops_err *);
	int	(*firmware_edit)(struct ctl *, const char *id, const char *name,
		    const char *desc, struct firmware_rec *, struct ops_err *);
	int	(*firmware_rm)(struct ctl *, const char *id, struct ops_err *);

	int	(*job_create)(struct ctl *, const struct job_rec *,
		    const char *const *devs, size_t n, struct ops_job_item *,
		    struct ops_job_result *, struct ops_err *);
	int	(*job_list)(struct ctl *, struct ops_job_item **items,
		    size_t *n, struct ops_err *);
	int	(*job_show)(struct ctl *, const char *id,
		    struct ops_job_item *, struct ops_err *);
	int	(*job_devices)(struct ctl *, const char *id,
		    const struct ops_jobdev_filter *,
		    int (*cb)(const struct jobdev_rec *, void *), void *arg,
		    char next[OTA_ID_MAX + 1], struct ops_err *);
	int	(*job_terminate)(struct ctl *, const char *id,
		    struct ops_job_item *, struct ops_err *);
	/* The row operations: cancel, retry, confirm. */
	int	(*job_cancel)(struct ctl *, const char *job, const char *dev,
		    struct jobdev_rec *, struct ops_err *);
	int	(*job_retry)(struct ctl *, const char *job, const char *dev,
		    struct jobdev_rec *, struct ops_err *);
	int	(*job_confirm)(struct ctl *, const char *job, const char *dev,
		    struct jobdev_rec *, struct ops_err *);

	int	(*relay_status)(struct ctl *, struct outbox_stats *,
		    struct ops_err *);
};

/* The backend's open, once per run (the first command that needs it). */
static int
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
 * --state DIR, or the configuration's state_dir: src/ops on the store.
 */

static int
state_open(struct ctl *ctl)
{
	const char *dir;
	size_t	 map = 0;
	int	 rc;

	if (ctl->state != NULL)
		dir = ctl->state;
	else {
		dir = ctl->cfg.state_dir;
		map = (size_t)ctl->cfg.map_size;
	}
	if (ctl->cfg_loaded)
		map = (size_t)ctl->cfg.map_size;
	if ((rc = store_open(dir, map, &ctl->st)) != 0) {
		errmsg("cannot open the state directory %s: %s", dir,
		    store_strerror(rc));
		return -1;
	}
	ops_init(&ctl->ops, ctl->st, ctl->cfg_loaded ? &ctl->cfg : NULL);
	return 0;
}

static void
state_close(struct ctl *ctl)
{
	store_close(ctl->st);
	ctl->st = NULL;
}

static int
state_device_put(struct ctl *ctl, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	return ops_device_put(&ctl->ops, p, out, created, err);
}

static int
state_device_import(struct ctl *ctl, const char *csv, size_t len,
    struct ops_import_result *res, struct ops_err *err)
{
	return ops_device_import(&ctl->ops, csv, len, res, err);
}

static int
state_device_list(struct ctl *ctl, const struct ops_device_filter *f,
    int (*cb)(const struct device_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return ops_device_list(&ctl->ops, f, cb, arg, next, err);
}

static int
state_device_show(struct ctl *ctl, const char *id, struct device_rec *d,
    struct ops_err *err)
{
	return ops_device_show(&ctl->ops, id, d, err);
}

static int
state_device_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return ops_device_rm(&ctl->ops, id, err);
}

static int
state_firmware_add_fd(struct ctl *ctl, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	return ops_firmware_add_fd(&ctl->ops, p, fd, out, err);
}

/* otactl fetches the image itself, with --ca or the upstream_ca. */
static int
state_firmware_fetch(struct ctl *ctl, const struct ops_fw_params *p,
    const char *url, const char *sha256_hex, const char *ca,
    void (*progress)(void *, uint64_t, uint64_t), void *arg,
    struct firmware_rec *fw, struct ops_err *err)
{
	struct fetch_opts fo;
	uint8_t	 sha[32];
	size_t	 len;

	if (hex_decode(sha256_hex, sha, sizeof(sha), &len) == -1 ||
	    len != sizeof(sha)) {
		err->status = OPS_EINVAL;
		snprintf(err->msg, sizeof(err->msg), "--sha256 needs 64 hex"
		    " digits");
		return OPS_EINVAL;
	}
	memset(&fo, 0, sizeof(fo));
	fo.ca_file = ca != NULL ? ca : ctl->cfg_loaded ? ctl->cfg.upstream_ca :
	    NULL;
	fo.progress = progress;
	fo.arg = arg;
	return fetch_firmware(&ctl->ops, p, url, sha, &fo, fw, err);
}

static int
state_firmware_list(struct ctl *ctl, struct ops_fw_item **items, size_t *n,
    struct ops_err *err)
{
	return ops_firmware_list(&ctl->ops, items, n, err);
}

static int
state_firmware_show(struct ctl *ctl, const char *id, struct ops_fw_item *it,
    struct ops_err *err)
{
	return ops_firmware_show(&ctl->ops, id, it, err);
}

static int
state_firmware_edit(struct ctl *ctl, const char *id, const char *name,
    const char *desc, struct firmware_rec *out, struct ops_err *err)
{
	return ops_firmware_edit(&ctl->ops, id, name, desc, out, err);
}

static int
state_firmware_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return ops_firmware_rm(&ctl->ops, id, err);
}

static int
state_job_create(struct ctl *ctl, const struct job_rec *job,
    const char *const *devs, size_t n, struct ops_job_item *out,
    struct ops_job_result *res, struct ops_err *err)
{
	return ops_job_create(&ctl->ops, job, devs, n, out, res, err);
}

static int
state_job_list(struct ctl *ctl, struct ops_job_item **items, size_t *n,
    struct ops_err *err)
{
	return ops_job_list(&ctl->ops, items, n, err);
}

static int
state_job_show(struct ctl *ctl, const char *id, struct ops_job_item *it,
    struct ops_err *err)
{
	return ops_job_show(&ctl->ops, id, it, err);
}

static int
state_job_devices(struct ctl *ctl, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return ops_job_devices(&ctl->ops, id, f, cb, arg, next, err);
}

static int
state_job_terminate(struct ctl *ctl, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	return ops_job_terminate(&ctl->ops, id, out, err);
}

static int
state_job_cancel(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return ops_job_cancel(&ctl->ops, job, dev, out, err);
}

static int
state_job_retry(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return ops_job_retry(&ctl->ops, job, dev, out, err);
}

static int
state_job_confirm(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return ops_job_confirm(&ctl->ops, job, dev, out, err);
}

static int
state_relay_status(struct ctl *ctl, struct outbox_stats *s,
    struct ops_err *err)
{
	return ops_relay_status(&ctl->ops, s, err);
}

static const struct ctl_backend backend_state = {
	.open = state_open,
	.close = state_close,
	.device_put = state_device_put,
	.device_import = state_device_import,
	.device_list = state_device_list,
	.device_show = state_device_show,
	.device_rm = state_device_rm,
	.firmware_add_fd = state_firmware_add_fd,
	.firmware_fetch = state_firmware_fetch,
	.firmware_list = state_firmware_list,
	.firmware_show = state_firmware_show,
	.firmware_edit = state_firmware_edit,
	.firmware_rm = state_firmware_rm,
	.job_create = state_job_create,
	.job_list = state_job_list,
	.job_show = state_job_show,
	.job_devices = state_job_devices,
	.job_terminate = state_job_terminate,
	.job_cancel = state_job_cancel,
	.job_retry = state_job_retry,
	.job_confirm = state_job_confirm,
	.relay_status = state_relay_status,
};

/*
 * --url URL: the admin API, which runs the same ops in the daemon.
 */

static int
api_open(struct ctl *ctl)
{
	char	 msg[256];

	if ((ctl->api = api_new(ctl->url, ctl->token_file, ctl->ca, msg,
	    sizeof(msg))) == NULL) {
		errmsg("%s", msg);
		return -1;
	}
	return 0;
}

static void
api_close(struct ctl *ctl)
{
	api_free(ctl->api);
	ctl->api = NULL;
}

static int
api_be_device_put(struct ctl *ctl, const struct ops_device_params *p,
    struct device_rec *out, int *created, struct ops_err *err)
{
	return api_device_put(ctl->api, p, out, created, err);
}

static int
api_be_device_import(struct ctl *ctl, const char *csv, size_t len,
    struct ops_import_result *res, struct ops_err *err)
{
	return api_device_import(ctl->api, csv, len, res, err);
}

static int
api_be_device_list(struct ctl *ctl, const struct ops_device_filter *f,
    int (*cb)(const struct device_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return api_device_list(ctl->api, f, cb, arg, next, err);
}

static int
api_be_device_show(struct ctl *ctl, const char *id, struct device_rec *d,
    struct ops_err *err)
{
	return api_device_show(ctl->api, id, d, err);
}

static int
api_be_device_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return api_device_rm(ctl->api, id, err);
}

static int
api_be_firmware_add_fd(struct ctl *ctl, const struct ops_fw_params *p, int fd,
    struct firmware_rec *out, struct ops_err *err)
{
	return api_firmware_add_fd(ctl->api, p, fd, out, err);
}

/* The daemon fetches the image, with its own upstream_ca: ca is unused. */
static int
api_be_firmware_fetch(struct ctl *ctl, const struct ops_fw_params *p,
    const char *url, const char *sha256_hex, const char *ca,
    void (*progress)(void *, uint64_t, uint64_t), void *arg,
    struct firmware_rec *fw, struct ops_err *err)
{
	(void)ca;
	return api_firmware_fetch(ctl->api, p, url, sha256_hex, progress, arg,
	    fw, err);
}

static int
api_be_firmware_list(struct ctl *ctl, struct ops_fw_item **items, size_t *n,
    struct ops_err *err)
{
	return api_firmware_list(ctl->api, items, n, err);
}

static int
api_be_firmware_show(struct ctl *ctl, const char *id, struct ops_fw_item *it,
    struct ops_err *err)
{
	return api_firmware_show(ctl->api, id, it, err);
}

static int
api_be_firmware_edit(struct ctl *ctl, const char *id, const char *name,
    const char *desc, struct firmware_rec *out, struct ops_err *err)
{
	return api_firmware_edit(ctl->api, id, name, desc, out, err);
}

static int
api_be_firmware_rm(struct ctl *ctl, const char *id, struct ops_err *err)
{
	return api_firmware_rm(ctl->api, id, err);
}

static int
api_be_job_create(struct ctl *ctl, const struct job_rec *job,
    const char *const *devs, size_t n, struct ops_job_item *out,
    struct ops_job_result *res, struct ops_err *err)
{
	return api_job_create(ctl->api, job, devs, n, out, res, err);
}

static int
api_be_job_list(struct ctl *ctl, struct ops_job_item **items, size_t *n,
    struct ops_err *err)
{
	return api_job_list(ctl->api, items, n, err);
}

static int
api_be_job_show(struct ctl *ctl, const char *id, struct ops_job_item *it,
    struct ops_err *err)
{
	return api_job_show(ctl->api, id, it, err);
}

static int
api_be_job_devices(struct ctl *ctl, const char *id,
    const struct ops_jobdev_filter *f,
    int (*cb)(const struct jobdev_rec *, void *), void *arg,
    char next[OTA_ID_MAX + 1], struct ops_err *err)
{
	return api_job_devices(ctl->api, id, f, cb, arg, next, err);
}

static int
api_be_job_terminate(struct ctl *ctl, const char *id, struct ops_job_item *out,
    struct ops_err *err)
{
	return api_job_terminate(ctl->api, id, out, err);
}

static int
api_be_job_cancel(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return api_job_rowop(ctl->api, "cancel", job, dev, out, err);
}

static int
api_be_job_retry(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return api_job_rowop(ctl->api, "retry", job, dev, out, err);
}

static int
api_be_job_confirm(struct ctl *ctl, const char *job, const char *dev,
    struct jobdev_rec *out, struct ops_err *err)
{
	return api_job_rowop(ctl->api, "confirm", job, dev, out, err);
}

static int
api_be_relay_status(struct ctl *ctl, struct outbox_stats *s,
    struct ops_err *err)
{
	return api_relay_status(ctl->api, s, err);
}

static const struct ctl_backend backend_api = {
	.open = api_open,
	.close = api_close,
	.device_put = api_be_device_put,
	.device_import = api_be_device_import,
	.device_list = api_be_device_list,
	.device_show = api_be_device_show,
	.device_rm = api_be_device_rm,
	.firmware_add_fd = api_be_firmware_add_fd,
	.firmware_fetch = api_be_firmware_fetch,
	.firmware_list = api_be_firmware_list,
	.firmware_show = api_be_firmware_show,
	.firmware_edit = api_be_firmware_edit,
	.firmware_rm = api_be_firmware_rm,
	.job_create = api_be_job_create,
	.job_list = api_be_job_list,
	.job_show = api_be_job_show,
	.job_devices = api_be_job_devices,
	.job_terminate = api_be_job_terminate,
	.job_cancel = api_be_job_cancel,
	.job_retry = api_be_job_retry,
	.job_confirm = api_be_job_confirm,
	.relay_status = api_be_relay_status,
};

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

/*
 * Output helpers.
 */

static void
fmt_time(int64_t ms, char out[32])
{
	if (ms <= 0)
		snprintf(out, 32, "-");
	else
		time_format_rfc3339(ms, out);
}

/* Display width of UTF-8 text: East Asian wide characters count twice. */
static size_t
text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned long cp;
	size_t	 w = 0;
	int	 n;

	while (*p != '\0') {
		if (*p < 0x80) {
			w++;
			p++;
			continue;
		}
		if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			n = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			n = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			n = 3;
		} else {
			w++;
			p++;
			continue;
		}
		p++;
		while (n-- > 0 && (*p & 0xc0) == 0x80)
			cp = (cp << 6) | (*p++ & 0x3f);
		if ((cp >= 0x1100 && cp <= 0x115f) ||
		    (cp >= 0x2e80 && cp <= 0xa4cf) ||
		    (cp >= 0xac00 && cp <= 0xd7a3) ||
		    (cp >= 0xf900 && cp <= 0xfaff) ||
		    (cp >= 0xfe30 && cp <= 0xfe4f) ||
		    (cp >= 0xff00 && cp <= 0xff60) ||
		    (cp >= 0xffe0 && cp <= 0xffe6) ||
		    (cp >= 0x20000 && cp <= 0x3fffd))
			w += 2;
		else
			w++;
	}
	return w;
}

/* A table of strings, printed with aligned columns. */
struct table {
	size_t	 ncols;
	size_t	 nrows;
	size_t	 cap;
	char	**cells;
};

static void
table_init(struct table *t, size_t ncols)
{
	memset(t, 0, sizeof(*t));
	t->ncols = ncols;
}

static int
table_add(struct table *t, const char *const *row)
{
	size_t	 i, ncap;
	char	**p;

	if (t->nrows == t->cap) {
		ncap = t->cap ? t->cap * 2 : 32;
		if (ncap > SIZE_MAX / t->ncols / sizeof(char *))
			return -1;
		p = realloc(t->cells, ncap * t->ncols * sizeof(char *));
		if (p == NULL)
			return -1;
		t->cells = p;
		t->cap = ncap;
	}
	for (i = 0; i < t->ncols; i++) {
		p = &t->cells[t->nrows * t->ncols + i];
		if ((*p = strdup(row[i] != NULL ? row[i] : "")) == NULL) {
			while (i-- > 0)
				free(t->cells[t->nrows * t->ncols + i]);
			return -1;
		}
	}
	t->nrows++;
	return 0;
}

static void
table_print(const struct table *t)
{
	size_t	*w, r, c, cw, last;
	const char *s;

	if ((w = calloc(t->ncols, sizeof(*w))) == NULL)
		return;
	for (r = 0; r < t->nrows; r++)
		for (c = 0; c < t->ncols; c++) {
			cw = text_width(t->cells[r * t->ncols + c]);
			if (cw > w[c])
				w[c] = cw;
		}
	for (r = 0; r < t->nrows; r++) {
		/* no padding after the last cell that has text */
		for (last = t->ncols; last > 1; last--)
			if (t->cells[r * t->ncols + last - 1][0] != '\0')
				break;
		for (c = 0; c < last; c++) {
			s = t->cells[r * t->ncols + c];
			fputs(s, stdout);
			if (c + 1 == last)
				break;
			for (cw = text_width(s); cw < w[c] + 2; cw++)
				putchar(' ');
		}
		putchar('\n');
	}
	free(w);
}

static void
table_free(struct table *t)
{
	size_t	 i;

	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* Prints one malloc'd JSON text (from the codec) and frees it. */
static int
json_put(char *json)
{
	if (json == NULL) {
		errmsg("out of memory");
		return -1;
	}
	fputs(json, stdout);
	free(json);
	return 0;
}

/* Streaming a JSON array: "[", elements one per line, "]". */
struct jarray {
	size_t	 n;
	int	 failed;
};

static void
jarray_item(struct jarray *ja, char *json)
{
	fputs(ja->n++ == 0 ? "[" : ",\n", stdout);
	if (json_put(json) == -1)
		ja->failed = 1;
}

static void
jarray_end(struct jarray *ja)
{
	fputs(ja->n == 0 ? "[]\n" : "]\n", stdout);
}

static void
kv(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "key:   value" with the values aligned. */
static void
kv(const char *key, const char *fmt, ...)
{
	va_list	 ap;

	printf("%s:%*s", key, (int)(14 - strlen(key)), "");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

static void
versions_str(const struct device_rec *d, char *out, size_t size)
{
	size_t	 o = 0;
	unsigned i;
	int	 n;

	out[0] = '\0';
	for (i = 0; i < d->nversions && i < OTA_MODULES_MAX; i++) {
		n = snprintf(out + o, size - o, "%s%s=%s", i ? " " : "",
		    d->versions[i].module, d->versions[i].version);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, size, "-");
}

static void
counts_line(const struct jobs_counts *c, char *out, size_t size)
{
	size_t	 o = 0;
	int	 s, n;

	out[0] = '\0';
	for (s = 0; s < JD_NSTATES; s++) {
		if (c->n[s] == 0)
			continue;
		n = snprintf(out + o, size - o, "%s%s %zu", o ? ", " : "",
		    jobs_jd_state_name(s), c->n[s]);
		if (n < 0 || (size_t)n >= size - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, size, "none");
}

/*
 * Argument helpers.
 */

/* Parses a whole decimal number in [min, max]; 0 or -1. */
static int
parse_num(const char *s, long long min, long long max, long long *out)
{
	char	*end;
	long long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * getopt_long over a command's own arguments (argv[0] is the verb).  On a
 * bad option prints the usage error and returns '?'.
 */
static int
cmd_getopt(int argc, char **argv, const char *shortopts,
    const struct option *longopts)
{
	int	 ch;

	char	 opts[16];

	opterr = 0;
	/* a leading ':' tells a missing value apart from an unknown option */
	snprintf(opts, sizeof(opts), ":%s", shortopts);
	ch = getopt_long(argc, argv, opts, longopts, NULL);
	if (ch == ':') {
		usage_err("option %s needs a value", argv[optind - 1]);
		return '?';
	}
	if (ch == '?') {
		usage_err("unknown option %s", argv[optind - 1]);
		return '?';
	}
	return ch;
}

/* Reads a whole file (at most max bytes); NUL-terminated, *len set. */
static char *
read_file(const char *path, size_t max, size_t *len)
{
	FILE	*f;
	char	*buf = NULL, *p;
	size_t	 n = 0, cap = 0, r;

	if ((f = fopen(path, "rb")) == NULL) {
		errmsg("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 65536;
			if (cap > max + 2)
				cap = max + 2;
			if ((p = realloc(buf, cap)) == NULL) {
				errmsg("out of memory");
				goto fail;
			}
			buf = p;
		}
		r = fread(buf + n, 1, cap - n - 1, f);
		n += r;
		if (n > max) {
			errmsg("%s: larger than %zu bytes", path, max);
			goto fail;
		}
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		errmsg("%s: read error", path);
		goto fail;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	free(buf);
	fclose(f);
	return NULL;
}

/*
 * Device commands.
 */

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
	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
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
				return usage_err("too many --version options");
			versions[p.nversions++] = optarg;
			break;
		case 'h':
			cmd_help(cur_cmd);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_err("want one device ID");
	if (p.product == NULL)
		return usage_err("--product is required");
	p.id = argv[optind];
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	rc = ctl->be->device_put(ctl, &p, &dev, &created, &err);
	if (rc != OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_device_encode(&dev, NULL));
		putchar('\n');
	} else
		printf("device %s %s\n", dev.id, created ? "provisioned" :
		    "updated");
	printf("%s\n", dev.id);
	return 0;
}

static const char help_device_import[] =
"Provisions devices from a CSV file: product,device,secret,psk per line\n"
"(secret and psk may be empty; a header line is skipped), at most 10,000\n"
"lines; all or nothing.  FILE \"-\" reads standard input.\n";

static int
cmd_device_import(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_import_result res;
	struct ops_err err;
	char	*buf;
	size_t	 len;
	int	 ch, rc;

	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if (ch != 'h')
			return EXIT_USAGE;
		cmd_help(cur_cmd);
		return 0;
	}
	if (argc - optind != 1)
		return usage_err("want one FILE.csv");
	buf = read_file(strcmp(argv[optind], "-") == 0 ? "/dev/stdin" :
	    argv[optind], CSV_FILE_MAX, &len);
	if (buf == NULL)
		return EXIT_OP;
	if (ctl_open(ctl) == -1) {
		free(buf);
		return EXIT_OP;
	}
	rc = ctl->be->device_import(ctl, buf, len, &res, &err);
	crypto_wipe(buf, len);
	free(buf);
	if (rc != OPS_OK)
		return op_fail(&err);
	if (ctl->json)
		printf("{\"lines\":%zu,\"created\":%zu,\"updated\":%zu}\n",
		    res.lines, res.created, res.updated);
	else
		printf("imported %zu devices: %zu new, %zu updated\n",
		    res.lines, res.created, res.updated);
	return 0;
}

struct devprint {
	struct ctl *ctl;
	struct table t;
	struct jarray ja;
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
		jarray_item(&dp->ja, codec_device_encode(d, NULL));
		return dp->ja.failed;
	}
	versions_str(d, vers, sizeof(vers));
	fmt_time(d->last_seen, seen);
	row[0] = d->id;
	row[1] = d->product;
	row[2] = vers;
	row[3] = d->psk_len ? (d->has_secret ? "psk,secret" : "psk") :
	    (d->has_secret ? "secret" : "-");
	row[4] = seen;
	if (table_add(&dp->t, row) == -1) {
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
	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'p':
			f.product = optarg;
			break;
		case 'v':
			if (ops_parse_module_version(optarg, &mv) == -1)
				return usage_err("--version wants "
				    "[MODULE=]VERSION");
			f.version = optarg;
			break;
		case 'a':
			f.after = optarg;
			break;
		case 'l':
			if (parse_num(optarg, 1, LLONG_MAX, &n) == -1)
				return usage_err("--limit wants a number");
			f.limit = (size_t)n;
			break;
		case 'h':
			cmd_help(cur_cmd);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc != optind)
		return usage_err("unexpected argument %s", argv[optind]);
	if (f.version != NULL) {
		f.module = mv.module;
		f.version = mv.version;
	}
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	memset(&dp, 0, sizeof(dp));
	dp.ctl = ctl;
	table_init(&dp.t, 5);
	if (!ctl->json)
		table_add(&dp.t, head);
	rc = ctl->be->device_list(ctl, &f, devprint_cb, &dp, next, &err);
	if (rc != OPS_OK) {
		table_free(&dp.t);
		return op_fail(&err);
	}
	if (ctl->json)
		jarray_end(&dp.ja);
	else {
		table_print(&dp.t);
		if (next[0] != '\0')
			printf("(more: --after %s)\n", next);
	}
	table_free(&dp.t);
	if (dp.failed || dp.ja.failed) {
		errmsg("out of memory");
		return EXIT_OP;
	}
	return 0;
}

/*
 * Options of a command that takes only --help and nargs arguments: 0 to
 * go on, -1 when the help was printed, or EXIT_USAGE.
 */
static int
plain_args(int argc, char **argv, int nargs, const char *what)
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if (ch != 'h')
			return EXIT_USAGE;
		cmd_help(cur_cmd);
		return -1;
	}
	if (nargs == 0 && argc != optind)
		return usage_err("unexpected argument %s", argv[optind]);
	if (argc - optind != nargs)
		return usage_err("want %s", what);
	return 0;
}

static int
one_id_args(int argc, char **argv, const char *what)
{
	return plain_args(argc, argv, 1, what);
}

static const char help_device_show[] = "Shows one device.\n";

static int
cmd_device_show(struct ctl *ctl, int argc, char **argv)
{
	struct device_rec d;
	struct ops_err err;
	char	 vers[OTA_MODULES_MAX * (2 * OTA_ID_MAX + 2) + 2];
	char	 t1[32], t2[32], t3[32];
	int	 rc;

	if ((rc = one_id_args(argc, argv, "one device ID")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->device_show(ctl, argv[optind], &d, &err) != OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_device_encode(&d, NULL));
		putchar('\n');
		return 0;
	}
	versions_str(&d, vers, sizeof(vers));
	fmt_time(d.created, t1);
	fmt_time(d.updated, t2);
	fmt_time(d.last_seen, t3);
	kv("id", "%s", d.id);
	kv("product", "%s", d.product);
	kv("versions", "%s", vers);
	kv("psk", "%s", d.psk_len ? "yes" : "no");
	kv("secret", "%s", d.has_secret ? "yes" : "no");
	kv("created", "%s", t1);
	kv("updated", "%s", t2);
	kv("last seen", "%s", t3);
	return 0;
}

static const char help_device_rm[] =
"Removes a device.  Refused while it is UPGRADING in a job; its other\n"
"open job rows are canceled.\n";

/*
 * `device rm' and `firmware rm': one ID, one backend call, one line out.
 * what names the kind ("device", "firmware").
 */
static int
cmd_rm(struct ctl *ctl, int argc, char **argv, const char *what,
    int (*rm)(struct ctl *, const char *, struct ops_err *))
{
	struct ops_err err;
	char	 usage[32];
	int	 rc;

	snprintf(usage, sizeof(usage), "one %s ID", what);
	if ((rc = one_id_args(argc, argv, usage)) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (rm(ctl, argv[optind], &err) != OPS_OK)
		return op_fail(&err);
	if (ctl->json)
		printf("{\"id\":\"%s\",\"removed\":true}\n", argv[optind]);
	else
		printf("%s %s removed\n", what, argv[optind]);
	return 0;
}

static int
cmd_device_rm(struct ctl *ctl, int argc, char **argv)
{
	return cmd_rm(ctl, argc, argv, "device", ctl->be->device_rm);
}

/*
 * Firmware commands.
 */

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
"  --url URL --sha256 HEX   instead of FILE: fetch the image over HTTPS\n"
"                           (resuming after interruptions) and add it only\n"
"                           if its SHA-256 is HEX\n"
"  --ca FILE                CA for --url (default: upstream_ca, or the\n"
"                           system's)\n";

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

static int
cmd_firmware_add(struct ctl *ctl, int argc, char **argv)
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_fw_params p;
	struct firmware_rec fw;
	struct ops_err err;
	const char *url = NULL, *sha256 = NULL, *ca = NULL;
	char	 md5[33], sha[65];
	int	 ch, rc;

	memset(&p, 0, sizeof(p));
	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'p':
			p.product = optarg;
			break;
		case 'v':
			p.version = optarg;
			break;
		case 'm':
			p.module = optarg;
			break;
		case 'n':
			p.name = optarg;
			break;
		case 's':
			p.sign_method = optarg;
			break;
		case 'd':
			p.description = optarg;
			break;
		case 'U':
			url = optarg;
			break;
		case 'S':
			sha256 = optarg;
			break;
		case 'C':
			ca = optarg;
			break;
		case 'h':
			cmd_help(cur_cmd);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (url != NULL && argc - optind != 0)
		return usage_err("want --url or an image FILE, not both");
	if (url != NULL && sha256 == NULL)
		return usage_err("--url needs --sha256");
	if (ca != NULL && ctl->url != NULL)
		return usage_err("--ca is for --state: over the admin API the "
		    "daemon fetches the image with its upstream_ca");
	if (url == NULL && argc - optind != 1)
		return usage_err("want one image FILE");
	if (p.product == NULL)
		return usage_err("--product is required");
	if (p.version == NULL)
		return usage_err("--version is required");
	if (p.name != NULL && *p.name == '\0')
		return usage_err("--name must not be empty");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (url != NULL)
		rc = fetch_add(ctl, &p, url, sha256, ca, &fw, &err);
	else if (strcmp(argv[optind], "-") == 0)
		rc = ctl->be->firmware_add_fd(ctl, &p, STDIN_FILENO, &fw,
		    &err);
	else
		rc = firmware_add_file(ctl, &p, argv[optind], &fw,
		    &err);
	if (rc != OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_firmware_encode(&fw, NULL, NULL));
		putchar('\n');
	} else {
		hex_encode(fw.md5, sizeof(fw.md5), md5);
		hex_encode(fw.sha256, sizeof(fw.sha256), sha);
		printf("firmware %s added: %s %s/%s \"%s\", %llu bytes\n",
		    fw.id, fw.product, fw.module, fw.version, fw.name,
		    (unsigned long long)fw.size);
		printf("md5 %s\nsha256 %s\n", md5, sha);
	}
	printf("%s\n", fw.id);
	return 0;
}

static const char help_firmware_list[] = "Lists firmware.\n";

static int
cmd_firmware_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "ID", "PRODUCT", "MODULE",
	    "VERSION", "NAME", "STATE", "SIGN", "SIZE", "DEVICES", "CREATED" };
	struct ops_fw_item *items = NULL;
	struct ops_err err;
	struct jarray ja;
	struct table t;
	const char *row[10];
	char	 size[24], devs[24], created[32];
	size_t	 i, n;
	int	 rc;

	if ((rc = plain_args(argc, argv, 0, "no arguments")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->firmware_list(ctl, &items, &n, &err) != OPS_OK)
		return op_fail(&err);
	memset(&ja, 0, sizeof(ja));
	table_init(&t, 10);
	table_add(&t, head);
	for (i = 0; i < n; i++) {
		if (ctl->json) {
			jarray_item(&ja, codec_firmware_encode(&items[i].fw,
			    &items[i].counts, NULL));
			continue;
		}
		snprintf(size, sizeof(size), "%llu",
		    (unsigned long long)items[i].fw.size);
		snprintf(devs, sizeof(devs), "%zu", items[i].counts.total);
		fmt_time(items[i].fw.created, created);
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
		table_add(&t, row);
	}
	if (ctl->json)
		jarray_end(&ja);
	else
		table_print(&t);
	table_free(&t);
	free(items);
	return 0;
}

static void
fw_print(const struct ops_fw_item *it)
{
	char	 md5[33], sha[65], created[32], counts[512];

	hex_encode(it->fw.md5, sizeof(it->fw.md5), md5);
	hex_encode(it->fw.sha256, sizeof(it->fw.sha256), sha);
	fmt_time(it->fw.created, created);
	counts_line(&it->counts, counts, sizeof(counts));
	kv("id", "%s", it->fw.id);
	kv("product", "%s", it->fw.product);
	kv("module", "%s", it->fw.module);
	kv("version", "%s", it->fw.version);
	kv("name", "%s", it->fw.name);
	kv("description", "%s", it->fw.description);
	kv("state", "%s", jobs_fw_state_name(it->fw.state));
	kv("sign method", "%s", sign_name(it->fw.sign_method));
	kv("size", "%llu", (unsigned long long)it->fw.size);
	kv("md5", "%s", md5);
	kv("sha256", "%s", sha);
	kv("created", "%s", created);
	kv("devices", "%zu (%s)", it->counts.total, counts);
}

static const char help_firmware_show[] =
"Shows one firmware with the number of devices in each state across its\n"
"jobs.\n";

static int
cmd_firmware_show(struct ctl *ctl, int argc, char **argv)
{
	struct ops_fw_item it;
	struct ops_err err;
	int	 rc;

	if ((rc = one_id_args(argc, argv, "one firmware ID")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->firmware_show(ctl, argv[optind], &it, &err) != OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_firmware_encode(&it.fw, &it.counts, NULL));
		putchar('\n');
	} else
		fw_print(&it);
	return 0;
}

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

	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'd':
			desc = optarg;
			break;
		case 'h':
			cmd_help(cur_cmd);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_err("want one firmware ID");
	if (name == NULL && desc == NULL)
		return usage_err("give --name or --description");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->firmware_edit(ctl, argv[optind], name, desc, NULL,
	    &err) != OPS_OK ||
	    ctl->be->firmware_show(ctl, argv[optind], &it, &err) != OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_firmware_encode(&it.fw, &it.counts, NULL));
		putchar('\n');
	} else
		fw_print(&it);
	return 0;
}

static const char help_firmware_rm[] =
"Removes a firmware and its image.  Refused while an open job uses it.\n";

static int
cmd_firmware_rm(struct ctl *ctl, int argc, char **argv)
{
	return cmd_rm(ctl, argc, argv, "firmware", ctl->be->firmware_rm);
}

/*
 * Job commands.
 */

struct devlist {
	char	**v;
	size_t	 n;
	size_t	 cap;
};

static int
devlist_add(struct devlist *dl, const char *s, size_t len)
{
	char	**p;
	size_t	 ncap;

	if (dl->n == OPS_JOB_DEVICES_MAX) {
		errmsg("more than %d devices", OPS_JOB_DEVICES_MAX);
		return -1;
	}
	if (dl->n == dl->cap) {
		ncap = dl->cap ? dl->cap * 2 : 64;
		if ((p = realloc(dl->v, ncap * sizeof(*p))) == NULL)
			goto nomem;
		dl->v = p;
		dl->cap = ncap;
	}
	if ((dl->v[dl->n] = strndup(s, len)) == NULL)
		goto nomem;
	dl->n++;
	return 0;
nomem:
	errmsg("out of memory");
	return -1;
}

/*
 * Device ids separated by commas, white space, or written as a JSON array
 * of strings: none of `,[]"' or blanks can be in an id.  Lines starting
 * with '#' are comments.
 */
static int
devlist_parse(struct devlist *dl, const char *s, int comments)
{
	const char *sep = ", \t\r\n[]\"";
	size_t	 n;

	while (*s != '\0') {
		if (comments && *s == '#' ) {
			s += strcspn(s, "\n");
			continue;
		}
		n = strcspn(s, sep);
		if (n > 0 && devlist_add(dl, s, n) == -1)
			return -1;
		s += n;
		if (*s != '\0')
			s++;
		/* a comment starts only at the beginning of a line */
		if (comments && s[-1] != '\n')
			while (*s != '\0' && strchr(sep, *s) != NULL &&
			    *s != '\n')
				s++;
	}
	return 0;
}

static void
devlist_free(struct devlist *dl)
{
	size_t	 i;

	for (i = 0; i < dl->n; i++)
		free(dl->v[i]);
	free(dl->v);
	memset(dl, 0, sizeof(*dl));
}

static const char help_job_create[] =
"Creates an upgrade job for a firmware.\n"
"  --firmware ID            the firmware (required)\n"
"  --verify                 a verify job on a few devices (needs --devices)\n"
"  --force                  a batch on firmware that is not VERIFIED\n"
"  --src-version V          devices on this version of the module "
"(repeatable;\n"
"                           default: any version but the target)\n"
"  --all                    every matching device of the product "
"(default)\n"
"  --devices D1,D2          these devices\n"
"  --devices-file F         devices listed in F (commas, lines or a JSON "
"array)\n"
"  --gray PCT               a stable PCT% of the matching devices (at least "
"one)\n"
"  --dynamic                keep adding devices that match later\n"
"  --only-new               (dynamic) only versions reported after now\n"
"  --confirm                each device waits for `job confirm'\n"
"  --start T, --end T       RFC 3339 window for the notices\n"
"  --rate N                 at most N new notices a minute (10-1000)\n"
"  --retry N                retries after a device failure (0-5)\n"
"  --retry-interval MIN     minutes between retries (0-4320)\n"
"  --timeout MIN            minutes from the first progress report "
"(5-1440)\n"
"  --override               replace the devices' not yet started jobs\n"
"  --abort-failure-percent P --abort-min-devices N\n"
"                           pause when failures pass P% after N finished "
"devices\n";

/*
 * job create, in four steps: the options into a job record and a device
 * list (job_create_parse: each option by job_opt, the rules between
 * options by job_args_check), the backend call, and the answer
 * (job_create_print).
 */

enum job_opt {
	O_FW = 256, O_VERIFY, O_FORCE, O_SRC, O_ALL, O_DEVS, O_DEVF, O_GRAY,
	O_DYN, O_NEW, O_CONFIRM, O_START, O_END, O_RATE, O_RETRY, O_RINT,
	O_TIMEOUT, O_OVERRIDE, O_APCT, O_AMIN
};

static const struct option job_create_lo[] = {
	{ "firmware", required_argument, NULL, O_FW },
	{ "verify", no_argument, NULL, O_VERIFY },
	{ "force", no_argument, NULL, O_FORCE },
	{ "src-version", required_argument, NULL, O_SRC },
	{ "all", no_argument, NULL, O_ALL },
	{ "devices", required_argument, NULL, O_DEVS },
	{ "devices-file", required_argument, NULL, O_DEVF },
	{ "gray", required_argument, NULL, O_GRAY },
	{ "dynamic", no_argument, NULL, O_DYN },
	{ "only-new", no_argument, NULL, O_NEW },
	{ "confirm", no_argument, NULL, O_CONFIRM },
	{ "start", required_argument, NULL, O_START },
	{ "end", required_argument, NULL, O_END },
	{ "rate", required_argument, NULL, O_RATE },
	{ "retry", required_argument, NULL, O_RETRY },
	{ "retry-interval", required_argument, NULL, O_RINT },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "override", no_argument, NULL, O_OVERRIDE },
	{ "abort-failure-percent", required_argument, NULL, O_APCT },
	{ "abort-min-devices", required_argument, NULL, O_AMIN },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

/* What job create's options say, as they are read. */
struct job_args {
	struct job_rec job;	/* jobs_job_defaults plus the options */
	const char *fw;		/* --firmware */
	struct devlist dl;	/* --devices, --devices-file */
	int	 scopes;	/* how many of --all, --devices... were given */
	int	 have_amin;	/* --abort-min-devices was given */
};

/* --all, --devices, --devices-file, --gray: 0, or an exit status. */
static int
job_opt_scope(struct job_args *ja, int ch, const char *arg)
{
	char	*buf;
	size_t	 len;
	long long n;
	int	 rc;

	ja->scopes++;
	switch (ch) {
	case O_ALL:
		ja->job.scope = JOB_SCOPE_ALL;
		return 0;
	case O_DEVS:
		ja->job.scope = JOB_SCOPE_DEVICES;
		return devlist_parse(&ja->dl, arg, 0) == -1 ? EXIT_OP : 0;
	case O_DEVF:
		ja->job.scope = JOB_SCOPE_DEVICES;
		if ((buf = read_file(arg, DEVFILE_MAX, &len)) == NULL)
			return EXIT_OP;
		rc = devlist_parse(&ja->dl, buf, 1);
		free(buf);
		return rc == -1 ? EXIT_OP : 0;
	default:	/* O_GRAY */
		ja->job.scope = JOB_SCOPE_GRAY;
		if (parse_num(arg, 1, 100, &n) == -1)
			return usage_err("--gray wants a percentage 1-100");
		ja->job.gray_percent = (int)n;
		return 0;
	}
}

/*
 * --rate, --retry, --retry-interval, --timeout, --abort-min-devices: a
 * whole number; opt is the option as given, for the message.
 */
static int
job_opt_number(struct job_args *ja, int ch, const char *arg, const char *opt)
{
	long long n;

	if (parse_num(arg, 0, UINT_MAX, &n) == -1)
		return usage_err("%s wants a number", opt);
	if (ch == O_RATE)
		ja->job.rate_per_minute = (unsigned)n;
	else if (ch == O_RETRY)
		ja->job.retry_count = (unsigned)n;
	else if (ch == O_RINT)
		ja->job.retry_interval_min = (unsigned)n;
	else if (ch == O_TIMEOUT)
		ja->job.timeout_min = (unsigned)n;
	else {
		ja->job.abort_min_devices = (unsigned)n;
		ja->have_amin = 1;
	}
	return 0;
}

static int
job_opt_src(struct job_rec *job, const char *arg)
{
	if (job->nsrc == OTA_SRCVER_MAX)
		return usage_err("at most %d --src-version", OTA_SRCVER_MAX);
	if (!valid_version(arg))
		return usage_err("invalid source version \"%s\"", arg);
	snprintf(job->src_versions[job->nsrc++], sizeof(job->src_versions[0]),
	    "%s", arg);
	return 0;
}

/* --start, --end. */
static int
job_opt_time(struct job_rec *job, int ch, const char *arg)
{
	if (time_parse_rfc3339(arg, ch == O_START ? &job->start :
	    &job->end) == -1)
		return usage_err("--%s wants an RFC 3339 time, e.g. "
		    "2026-11-23T10:00:00Z", ch == O_START ? "start" : "end");
	return 0;
}

/* One option of job create into ja: 0, or an exit status. */
static int
job_opt(struct job_args *ja, int ch, const char *arg, const char *opt)
{
	long long n;

	switch (ch) {
	case O_FW:
		ja->fw = arg;
		return 0;
	case O_VERIFY:
		ja->job.kind = JOB_KIND_VERIFY;
		return 0;
	case O_FORCE:
		ja->job.force = 1;
		return 0;
	case O_SRC:
		return job_opt_src(&ja->job, arg);
	case O_ALL:
	case O_DEVS:
	case O_DEVF:
	case O_GRAY:
		return job_opt_scope(ja, ch, arg);
	case O_DYN:
		ja->job.dynamic = 1;
		return 0;
	case O_NEW:
		ja->job.only_new_reports = 1;
		return 0;
	case O_CONFIRM:
		ja->job.confirm = 1;
		return 0;
	case O_START:
	case O_END:
		return job_opt_time(&ja->job, ch, arg);
	case O_RATE:
	case O_RETRY:
	case O_RINT:
	case O_TIMEOUT:
	case O_AMIN:
		return job_opt_number(ja, ch, arg, opt);
	case O_APCT:
		if (parse_num(arg, 0, 100, &n) == -1)
			return usage_err("--abort-failure-percent wants 0-100");
		ja->job.abort_percent = (int)n;
		return 0;
	case O_OVERRIDE:
		ja->job.override = 1;
		return 0;
	default:	/* cmd_getopt said what is wrong */
		return EXIT_USAGE;
	}
}

/*
 * The rules between options, and the firmware id into the job: 0, or an
 * exit status.
 */
static int
job_args_check(struct job_args *ja)
{
	if (ja->fw == NULL)
		return usage_err("--firmware is required");
	if (ja->scopes > 1)
		return usage_err("give one of --all, --devices, "
		    "--devices-file, --gray");
	if (ja->job.only_new_reports && !ja->job.dynamic)
		return usage_err("--only-new needs --dynamic");
	if (ja->have_amin && ja->job.abort_percent < 0)
		return usage_err("--abort-min-devices needs "
		    "--abort-failure-percent");
	if (ja->job.scope == JOB_SCOPE_DEVICES && ja->dl.n == 0)
		return usage_err("no devices given");
	if (str_copy(ja->job.firmware, sizeof(ja->job.firmware), ja->fw) ==
	    -1) {
		errmsg("invalid firmware id");
		return EXIT_OP;
	}
	return 0;
}

/*
 * job create's arguments into ja: 0 to go on, -1 when the help was
 * printed, or an exit status.
 */
static int
job_create_parse(int argc, char **argv, struct job_args *ja)
{
	int	 ch, rc;

	while ((ch = cmd_getopt(argc, argv, "h", job_create_lo)) != -1) {
		if (ch == 'h') {
			cmd_help(cur_cmd);
			return -1;
		}
		if ((rc = job_opt(ja, ch, optarg, argv[optind - 1])) != 0)
			return rc;
	}
	if (argc != optind)
		return usage_err("unexpected argument %s", argv[optind]);
	return job_args_check(ja);
}

static void
job_create_print(const struct ctl *ctl, const struct ops_job_item *out,
    const struct ops_job_result *res)
{
	if (ctl->json) {
		json_put(codec_job_encode(&out->job, &out->counts, NULL));
		putchar('\n');
	} else {
		printf("job %s created: %s %s of %s/%s to %s, %zu devices",
		    out->job.id, jobs_state_name(out->job.state),
		    jobs_kind_name(out->job.kind), out->job.product,
		    out->job.module, out->job.version, res->added);
		if (res->skipped || res->left_out || res->superseded)
			printf(" (%zu not matching, %zu busy in other jobs, "
			    "%zu superseded)", res->skipped, res->left_out,
			    res->superseded);
		putchar('\n');
	}
	printf("%s\n", out->job.id);
}

static int
cmd_job_create(struct ctl *ctl, int argc, char **argv)
{
	struct ops_job_result res;
	struct ops_job_item out;
	struct job_args ja;
	struct ops_err err;
	int	 rc;

	memset(&ja, 0, sizeof(ja));
	jobs_job_defaults(&ja.job);
	if ((rc = job_create_parse(argc, argv, &ja)) != 0) {
		rc = rc == -1 ? 0 : rc;
		goto out;
	}
	if (ctl_open(ctl) == -1) {
		rc = EXIT_OP;
		goto out;
	}
	if (ctl->be->job_create(ctl, &ja.job, (const char *const *)ja.dl.v,
	    ja.dl.n, &out, &res, &err) != OPS_OK) {
		rc = op_fail(&err);
		goto out;
	}
	job_create_print(ctl, &out, &res);
	rc = 0;
out:
	devlist_free(&ja.dl);
	return rc;
}

static const char help_job_list[] = "Lists jobs with their counts.\n";

static int
cmd_job_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "ID", "FIRMWARE", "TARGET",
	    "KIND", "STATE", "DEVICES", "DONE", "FAILED", "CREATED" };
	struct ops_job_item *items = NULL;
	struct ops_err err;
	struct jarray ja;
	struct table t;
	const char *row[9];
	char	 target[2 * OTA_ID_MAX + 2], devs[24], done[24], failed[24];
	char	 created[32];
	size_t	 i, n;
	int	 rc;

	if ((rc = plain_args(argc, argv, 0, "no arguments")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->job_list(ctl, &items, &n, &err) != OPS_OK)
		return op_fail(&err);
	memset(&ja, 0, sizeof(ja));
	table_init(&t, 9);
	table_add(&t, head);
	for (i = 0; i < n; i++) {
		const struct job_rec *j = &items[i].job;
		const struct jobs_counts *c = &items[i].counts;

		if (ctl->json) {
			jarray_item(&ja, codec_job_encode(j, c, NULL));
			continue;
		}
		snprintf(target, sizeof(target), "%s/%s", j->module,
		    j->version);
		snprintf(devs, sizeof(devs), "%zu", c->total);
		snprintf(done, sizeof(done), "%zu", c->n[JD_SUCCEEDED]);
		snprintf(failed, sizeof(failed), "%zu", c->n[JD_FAILED]);
		fmt_time(j->created, created);
		row[0] = j->id;
		row[1] = j->firmware;
		row[2] = target;
		row[3] = jobs_kind_name(j->kind);
		row[4] = jobs_state_name(j->state);
		row[5] = devs;
		row[6] = done;
		row[7] = failed;
		row[8] = created;
		table_add(&t, row);
	}
	if (ctl->json)
		jarray_end(&ja);
	else
		table_print(&t);
	table_free(&t);
	free(items);
	return 0;
}

static void
job_print(const struct ops_job_item *it)
{
	const struct job_rec *j = &it->job;
	char	 t[32], buf[OTA_SRCVER_MAX * (OTA_ID_MAX + 2) + 2];
	size_t	 o = 0;
	unsigned i;
	int	 s;

	kv("id", "%s", j->id);
	kv("firmware", "%s", j->firmware);
	kv("target", "%s %s/%s", j->product, j->module, j->version);
	kv("kind", "%s", jobs_kind_name(j->kind));
	kv("state", "%s", jobs_state_name(j->state));
	if (j->scope == JOB_SCOPE_GRAY)
		kv("scope", "gray %d%%", j->gray_percent);
	else
		kv("scope", "%s", j->scope == JOB_SCOPE_DEVICES ? "devices" :
		    "all");
	kv("strategy", "%s%s", j->dynamic ? "dynamic" : "static",
	    j->only_new_reports ? " (only new reports)" : "");
	kv("confirm", "%s", j->confirm ? "user" : "silent");
	buf[0] = '\0';
	for (i = 0; i < j->nsrc && i < OTA_SRCVER_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i ? " " : "", j->src_versions[i]);
	kv("src versions", "%s", j->nsrc ? buf : "any but the target");
	fmt_time(j->start, t);
	kv("start", "%s", t);
	fmt_time(j->end, t);
	kv("end", "%s", t);
	if (j->rate_per_minute)
		kv("rate", "%u a minute", j->rate_per_minute);
	else
		kv("rate", "no limit");
	kv("retry", "%u, every %u min", j->retry_count,
	    j->retry_interval_min);
	kv("timeout", "%u min", j->timeout_min);
	if (j->abort_percent >= 0)
		kv("abort", "failures over %d%% after %u devices",
		    j->abort_percent, j->abort_min_devices);
	fmt_time(j->created, t);
	kv("created", "%s", t);
	fmt_time(j->started, t);
	kv("started", "%s", t);
	fmt_time(j->finished, t);
	kv("finished", "%s", t);
	kv("devices", "%zu", it->counts.total);
	for (s = 0; s < JD_NSTATES; s++)
		printf("  %-14s%zu\n", jobs_jd_state_name(s), it->counts.n[s]);
}

/* The most recently changed rows of a job, newest first. */
struct recent {
	struct jobdev_rec rows[8];
	size_t	 n;
	int64_t	 since;		/* only rows updated after this */
};

static int
recent_cb(const struct jobdev_rec *jd, void *arg)
{
	struct recent *r = arg;
	size_t	 i;

	if (jd->updated <= r->since)
		return 0;
	for (i = r->n; i > 0 && r->rows[i - 1].updated < jd->updated; i--)
		;
	if (i == sizeof(r->rows) / sizeof(r->rows[0]))
		return 0;
	if (r->n < sizeof(r->rows) / sizeof(r->rows[0]))
		r->n++;
	memmove(&r->rows[i + 1], &r->rows[i],
	    (r->n - i - 1) * sizeof(r->rows[0]));
	r->rows[i] = *jd;
	return 0;
}

static volatile sig_atomic_t watch_stop;

static int
job_is_final_state(int state)
{
	return state == JOB_COMPLETED || state == JOB_TERMINATED;
}

static void
watch_sig(int sig)
{
	(void)sig;
	watch_stop = 1;
}

static void
recent_line(const struct jobdev_rec *jd, const char *lead)
{
	char	 t[32];

	fmt_time(jd->updated, t);
	printf("%s%s  %-20s %-12s", lead, t, jd->device,
	    jobs_jd_state_name(jd->state));
	if (jd->state == JD_UPGRADING || jd->step != 0)
		printf(" step %d", jd->step);
	if (jd->reason[0] != '\0')
		printf(" (%s)", jd->reason);
	if (jd->desc[0] != '\0')
		printf(" %s", jd->desc);
	putchar('\n');
}

/* One frame of the live view on a terminal. */
static void
watch_draw(const struct ops_job_item *it, const struct recent *r)
{
	const int width = 40;
	char	 t[32];
	size_t	 i, fill;
	int	 s;

	fmt_time(time_now_ms(), t);
	fputs("\033[H\033[2J", stdout);
	printf("job %s  %s  %s %s/%s  firmware %s  (%s)\n\n", it->job.id,
	    jobs_state_name(it->job.state), it->job.product, it->job.module,
	    it->job.version, it->job.firmware, t);
	for (s = 0; s < JD_NSTATES; s++) {
		fill = it->counts.total ? (it->counts.n[s] * width +
		    it->counts.total - 1) / it->counts.total : 0;
		printf("  %-13s [", jobs_jd_state_name(s));
		for (i = 0; i < (size_t)width; i++)
			fputs(i < fill ? "#" : " ", stdout);
		printf("] %zu\n", it->counts.n[s]);
	}
	printf("  %-13s  %*s  %zu\n\nrecent changes:\n", "total", width, "",
	    it->counts.total);
	for (i = 0; i < r->n; i++)
		recent_line(&r->rows[i], "  ");
	if (!job_is_final_state(it->job.state))
		printf("\n(Ctrl-C to stop)\n");
	fflush(stdout);
}

static const char help_job_show[] =
"Shows a job with the number of its devices in each state.\n"
"  --watch                  redraw every second until the job ends "
"(Ctrl-C stops);\n"
"                           not on a terminal: one line per second\n";

static int
cmd_job_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "watch", no_argument, NULL, 'w' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct ops_job_item it;
	struct recent r;
	struct ops_err err;
	struct sigaction sa;
	struct timespec ts;
	char	 t[32], counts[512];
	int64_t	 since = 0;
	size_t	 i;
	int	 ch, watch = 0, tty, final;

	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'w':
			watch = 1;
			break;
		case 'h':
			cmd_help(cur_cmd);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_err("want one job ID");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (!watch) {
		if (ctl->be->job_show(ctl, argv[optind], &it, &err) != OPS_OK)
			return op_fail(&err);
		if (ctl->json) {
			json_put(codec_job_encode(&it.job, &it.counts, NULL));
			putchar('\n');
		} else
			job_print(&it);
		return 0;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watch_sig;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	tty = isatty(STDOUT_FILENO) && !ctl->json;
	while (!watch_stop) {
		if (ctl->be->job_show(ctl, argv[optind], &it, &err) != OPS_OK)
			return op_fail(&err);
		memset(&r, 0, sizeof(r));
		r.since = tty ? 0 : since;
		if (ctl->be->job_devices(ctl, argv[optind], NULL, recent_cb,
		    &r, NULL, &err) != OPS_OK)
			return op_fail(&err);
		final = job_is_final_state(it.job.state);
		if (tty)
			watch_draw(&it, &r);
		else if (ctl->json) {
			json_put(codec_job_encode(&it.job, &it.counts, NULL));
			putchar('\n');
		} else {
			fmt_time(time_now_ms(), t);
			counts_line(&it.counts, counts, sizeof(counts));
			printf("%s %s %s total %zu: %s\n", t, it.job.id,
			    jobs_state_name(it.job.state), it.counts.total,
			    counts);
			/* oldest first, so the lines read as a log */
			for (i = r.n; i > 0; i--)
				recent_line(&r.rows[i - 1], "  ");
		}
		for (i = 0; i < r.n; i++)
			if (r.rows[i].updated > since)
				since = r.rows[i].updated;
		/* SIGPIPE is ignored: a reader that left ends the watch */
		if (fflush(stdout) == EOF)
			return EXIT_OP;
		if (final)
			break;
		ts.tv_sec = 1;
		ts.tv_nsec = 0;
		while (!watch_stop && nanosleep(&ts, &ts) == -1 &&
		    errno == EINTR)
			;
	}
	return 0;
}

static const char help_job_devices[] =
"Lists the devices of a job with their state, reason, step and retries.\n"
"  --state S                only devices in state S (QUEUED, FAILED, ...)\n";

struct jdprint {
	struct ctl *ctl;
	struct table t;
	struct jarray ja;
};

static int
jdprint_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jdprint *p = arg;
	char	 step[16], retries[16], updated[32];
	const char *row[8];

	if (p->ctl->json) {
		jarray_item(&p->ja, codec_jobdev_encode(jd, NULL));
		return p->ja.failed;
	}
	snprintf(step, sizeof(step), "%d", jd->step);
	snprintf(retries, sizeof(retries), "%u", jd->retries);
	fmt_time(jd->updated, updated);
	row[0] = jd->device;
	row[1] = jobs_jd_state_name(jd->state);
	row[2] = jd->reason[0] ? jd->reason : "-";
	row[3] = step;
	row[4] = retries;
	row[5] = jd->last_version[0] ? jd->last_version : "-";
	row[6] = updated;
	row[7] = jd->desc[0] ? jd->desc : "";
	return table_add(&p->t, row) == -1;
}

static int
cmd_job_devices(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = { "DEVICE", "STATE", "REASON",
	    "STEP", "RETRIES", "VERSION", "UPDATED", "DESC" };
	struct ops_jobdev_filter f = { -1, NULL, 0 };
	struct jdprint p;
	struct ops_err err;
	char	 up[32];
	size_t	 i;
	int	 ch, rc;

	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 's':
			for (i = 0; optarg[i] != '\0' && i + 1 < sizeof(up);
			    i++)
				up[i] = optarg[i] == '-' ? '_' :
				    (char)toupper((unsigned char)optarg[i]);
			up[i] = '\0';
			if (jobs_jd_state_parse(up, &f.state) == -1)
				return usage_err("unknown state %s (want "
				    "WAIT_CONFIRM, QUEUED, NOTIFIED, "
				    "UPGRADING, SUCCEEDED, FAILED, "
				    "RETRY_WAIT or CANCELED)", optarg);
			break;
		case 'h':
			cmd_help(cur_cmd);
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return usage_err("want one job ID");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	memset(&p, 0, sizeof(p));
	p.ctl = ctl;
	table_init(&p.t, 8);
	table_add(&p.t, head);
	rc = ctl->be->job_devices(ctl, argv[optind], &f, jdprint_cb, &p,
	    NULL, &err);
	if (rc != OPS_OK) {
		table_free(&p.t);
		return op_fail(&err);
	}
	if (ctl->json)
		jarray_end(&p.ja);
	else
		table_print(&p.t);
	table_free(&p.t);
	return 0;
}

static const char help_job_terminate[] =
"Ends an open job; its devices that have not finished fail with\n"
"\"terminated\".\n";

static int
cmd_job_terminate(struct ctl *ctl, int argc, char **argv)
{
	struct ops_job_item it;
	struct ops_err err;
	char	 counts[512];
	int	 rc;

	if ((rc = one_id_args(argc, argv, "one job ID")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->job_terminate(ctl, argv[optind], &it, &err) != OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_job_encode(&it.job, &it.counts, NULL));
		putchar('\n');
	} else {
		counts_line(&it.counts, counts, sizeof(counts));
		printf("job %s TERMINATED: %s\n", it.job.id, counts);
	}
	return 0;
}

static int
job_rowcmd(struct ctl *ctl, int argc, char **argv,
    int (*fn)(struct ctl *, const char *, const char *, struct jobdev_rec *,
    struct ops_err *))
{
	static const struct option lo[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct jobdev_rec jd;
	struct ops_err err;
	int	 ch;

	while ((ch = cmd_getopt(argc, argv, "h", lo)) != -1) {
		if (ch != 'h')
			return EXIT_USAGE;
		cmd_help(cur_cmd);
		return 0;
	}
	if (argc - optind != 2)
		return usage_err("want a job ID and a DEVICE");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (fn(ctl, argv[optind], argv[optind + 1], &jd, &err) !=
	    OPS_OK)
		return op_fail(&err);
	if (ctl->json) {
		json_put(codec_jobdev_encode(&jd, NULL));
		putchar('\n');
	} else
		printf("job %s device %s: %s%s%s%s\n", jd.job, jd.device,
		    jobs_jd_state_name(jd.state), jd.reason[0] ? " (" : "",
		    jd.reason, jd.reason[0] ? ")" : "");
	return 0;
}

static const char help_job_cancel[] =
"Cancels one device's upgrade in a job (any state that is not final).\n";
static const char help_job_retry[] =
"Queues a FAILED device of a job again.\n";
static const char help_job_confirm[] =
"Lets a device that waits in WAIT_CONFIRM go on to QUEUED.\n";

static int
cmd_job_cancel(struct ctl *ctl, int argc, char **argv)
{
	return job_rowcmd(ctl, argc, argv, ctl->be->job_cancel);
}

static int
cmd_job_retry(struct ctl *ctl, int argc, char **argv)
{
	return job_rowcmd(ctl, argc, argv, ctl->be->job_retry);
}

static int
cmd_job_confirm(struct ctl *ctl, int argc, char **argv)
{
	return job_rowcmd(ctl, argc, argv, ctl->be->job_confirm);
}

/*
 * Relay.
 */

static const char help_relay_status[] =
"Shows the upstream outbox: events waiting, the age of the oldest, the\n"
"last sequence number handed out, progress events dropped at the outbox\n"
"limit, and batches the upstream refused (parked).\n";

static int
cmd_relay_status(struct ctl *ctl, int argc, char **argv)
{
	struct outbox_stats s;
	struct ops_err err;
	char	 t[32];
	int64_t	 age = -1;
	int	 rc;

	if ((rc = plain_args(argc, argv, 0, "no arguments")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->relay_status(ctl, &s, &err) != OPS_OK)
		return op_fail(&err);
	if (s.depth > 0 && s.oldest_ts > 0) {
		age = (time_now_ms() - s.oldest_ts) / 1000;
		if (age < 0)
			age = 0;
	}
	if (ctl->json) {
		printf("{\"depth\":%zu,\"oldestSeq\":%llu,\"oldestAgeSeconds\":",
		    s.depth, (unsigned long long)s.oldest_seq);
		if (age >= 0)
			printf("%lld", (long long)age);
		else
			fputs("null", stdout);
		printf(",\"lastSeq\":%llu,\"dropped\":%llu,\"parkedBatches\":%llu,"
		    "\"parkedEvents\":%zu,\"sent\":%llu,\"retries\":%llu}\n",
		    (unsigned long long)s.last_seq,
		    (unsigned long long)s.dropped,
		    (unsigned long long)s.parked_batches, s.parked_events,
		    (unsigned long long)s.sent, (unsigned long long)s.retries);
		return 0;
	}
	kv("outbox depth", "%zu", s.depth);
	if (age >= 0) {
		fmt_time(s.oldest_ts, t);
		kv("oldest", "seq %llu, %s (%lld s ago)",
		    (unsigned long long)s.oldest_seq, t, (long long)age);
	} else
		kv("oldest", "-");
	kv("last seq", "%llu", (unsigned long long)s.last_seq);
	kv("dropped", "%llu progress events (outbox limit)",
	    (unsigned long long)s.dropped);
	kv("parked", "%llu batches, %zu events",
	    (unsigned long long)s.parked_batches, s.parked_events);
	kv("sent", "%llu events acknowledged by the upstream",
	    (unsigned long long)s.sent);
	kv("retries", "%llu batches sent again", (unsigned long long)s.retries);
	return 0;
}

/*
 * Dispatch.
 */

static const struct cmd cmds[] = {
	{ "device", "put", cmd_device_put, "ID --product P [--secret S] "
	    "[--psk HEX] [--version [MODULE=]VER]...", help_device_put },
	{ "device", "import", cmd_device_import, "FILE.csv",
	    help_device_import },
	{ "device", "list", cmd_device_list, "[--product P] [--version V] "
	    "[--after ID] [--limit N]", help_device_list },
	{ "device", "show", cmd_device_show, "ID", help_device_show },
	{ "device", "rm", cmd_device_rm, "ID", help_device_rm },
	{ "firmware", "add", cmd_firmware_add, "FILE|--url URL --sha256 HEX "
	    "--product P --version V "
	    "[--module M] [--name N] [--sign-method SHA256|MD5] "
	    "[--description D]", help_firmware_add },
	{ "firmware", "list", cmd_firmware_list, "", help_firmware_list },
	{ "firmware", "show", cmd_firmware_show, "ID", help_firmware_show },
	{ "firmware", "edit", cmd_firmware_edit, "ID [--name N] "
	    "[--description D]", help_firmware_edit },
	{ "firmware", "rm", cmd_firmware_rm, "ID", help_firmware_rm },
	{ "job", "create", cmd_job_create, "--firmware ID [--verify] "
	    "[--force] [--src-version V]... [--all | --devices D1,D2 | "
	    "--devices-file F | --gray PCT] [--dynamic [--only-new]] "
	    "[--confirm] [--start T] [--end T] [--rate N] [--retry N] "
	    "[--retry-interval MIN] [--timeout MIN] [--override] "
	    "[--abort-failure-percent P --abort-min-devices N]",
	    help_job_create },
	{ "job", "list", cmd_job_list, "", help_job_list },
	{ "job", "show", cmd_job_show, "ID [--watch]", help_job_show },
	{ "job", "devices", cmd_job_devices, "ID [--state S]",
	    help_job_devices },
	{ "job", "terminate", cmd_job_terminate, "ID", help_job_terminate },
	{ "job", "cancel", cmd_job_cancel, "ID DEVICE", help_job_cancel },
	{ "job", "retry", cmd_job_retry, "ID DEVICE", help_job_retry },
	{ "job", "confirm", cmd_job_confirm, "ID DEVICE", help_job_confirm },
	{ "relay", "status", cmd_relay_status, "", help_relay_status },
};

static void
group_usage(const char *group)
{
	size_t	 i;

	fprintf(stderr, "usage:\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].group, group) == 0)
			fprintf(stderr, "  otactl %s %s %s\n", cmds[i].group,
			    cmds[i].verb, cmds[i].usage);
}

/*
 * The global options into ctl: 0 to go on, -1 when the usage was printed
 * (-h), or an exit status.
 */
static int
main_options(struct ctl *ctl, int argc, char **argv)
{
	enum { O_STATE = 256, O_URL, O_TOKEN, O_JSON, O_CA };
	static const struct option lo[] = {
		{ "state", required_argument, NULL, O_STATE },
		{ "url", required_argument, NULL, O_URL },
		{ "token-file", required_argument, NULL, O_TOKEN },
		{ "ca", required_argument, NULL, O_CA },
		{ "json", no_argument, NULL, O_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int	 ch;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:h", lo, NULL)) != -1) {
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
		case 'h':
			fputs(usage_text, stdout);
			return -1;
		case ':':
			return usage_err("option %s needs a value",
			    argv[optind - 1]);
		default:
			return usage_err("unknown option %s",
			    argv[optind - 1]);
		}
	}
	if (ctl->url != NULL && ctl->state != NULL)
		return usage_err("give --state DIR or --url URL, not both");
	if (ctl->url == NULL && (ctl->token_file != NULL || ctl->ca != NULL))
		return usage_err("--token-file and --ca go with --url");
	if (ctl->url != NULL && *ctl->url == '\0')
		return usage_err("--url needs an https:// URL");
	if (ctl->state != NULL && *ctl->state == '\0')
		return usage_err("--state needs a directory");
	return 0;
}

/*
 * The command "GROUP VERB ..." names (argc >= 1), or NULL with the exit
 * status in *rc once the trouble is said (or, for `otactl GROUP --help',
 * the group's commands listed).
 */
static const struct cmd *
cmd_find(int argc, char **argv, int *rc)
{
	size_t	 i;
	int	 known_group = 0;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].group, argv[0]) != 0)
			continue;
		known_group = 1;
		if (argc >= 2 && strcmp(cmds[i].verb, argv[1]) == 0)
			return &cmds[i];
	}
	*rc = EXIT_USAGE;
	if (!known_group) {
		errmsg("unknown command %s", argv[0]);
		fputs(usage_text, stderr);
	} else if (argc < 2) {
		errmsg("%s: which one?", argv[0]);
		group_usage(argv[0]);
	} else if (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
			if (strcmp(cmds[i].group, argv[0]) == 0)
				printf("otactl %s %s %s\n", cmds[i].group,
				    cmds[i].verb, cmds[i].usage);
		*rc = 0;
	} else {
		errmsg("unknown command %s %s", argv[0], argv[1]);
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
			errmsg("cannot use the configuration %s (give --state "
			    "DIR to work on a state directory)",
			    ctl->conf_path);
			return EXIT_OP;
		}
		ctl->cfg_loaded = 1;
	}
	if (ctl->url != NULL && ctl->token_file == NULL && !help) {
		if (!ctl->cfg_loaded)
			return usage_err("--url needs --token-file F (or -c "
			    "FILE for its admin_token_file)");
		ctl->token_file = ctl->cfg.admin_token_file;
	}
	return 0;
}

int
main(int argc, char *argv[])
{
	struct ctl ctl;
	const struct cmd *c;
	int	 rc;

	memset(&ctl, 0, sizeof(ctl));
	ctl.conf_path = SYSCONFDIR "/otagw.conf";
	log_init("otactl", 1, LOG_LEVEL_WARN);
	/*
	 * A daemon that closes or resets the connection makes a write fail
	 * with EPIPE, reported with its reason, instead of killing otactl
	 * without a word.  A closed standard output is noticed on flush.
	 */
	signal(SIGPIPE, SIG_IGN);

	if ((rc = main_options(&ctl, argc, argv)) != 0)
		return rc == -1 ? 0 : rc;
	ctl.be = ctl.url != NULL ? &backend_api : &backend_state;
	argc -= optind;
	argv += optind;
	if (argc < 1) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	if ((c = cmd_find(argc, argv, &rc)) == NULL)
		return rc;
	cur_cmd = c;
	if ((rc = main_config(&ctl, wants_help(argc, argv))) != 0)
		return rc;

	optind = 0;
	rc = c->fn(&ctl, argc - 1, argv + 1);
	if (fflush(stdout) == EOF && rc == 0) {
		/* a reader that left (| head) needs no message */
		if (errno != EPIPE)
			errmsg("writing the output: %s", strerror(errno));
		rc = EXIT_OP;
	}
	ctl.be->close(&ctl);
	return rc;
}
