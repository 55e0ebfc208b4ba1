/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * otactl.h: what the files of otactl share; private to src/ctl.
 *
 *   otactl.c          main: global options, the command table, start-up
 *   args.c            messages, usage errors, option and file helpers
 *   print.c           text tables, "key: value" lines, JSON output
 *   backend_state.c   struct ctl_backend over src/ops (--state DIR)
 *   backend_api.c     struct ctl_backend over the admin API (--url)
 *   cmd_device.c, cmd_product.c, cmd_firmware.c, cmd_job.c,
 *   job_watch.c, cmd_relay.c
 *                     the commands, each with its options, its backend
 *                     call and its output
 *   cmd_delta.c       delta make and apply: offline, on local files,
 *                     with src/delta and no backend
 *
 * A command is a struct ctl_cmd; it returns the exit status: 0 done,
 * EXIT_OP the operation failed (nothing was changed), EXIT_USAGE a usage
 * error.  Every message goes to stderr as "otactl: <message>", through
 * ctl_err or ctl_usage_err.
 */
#ifndef OTAGW_CTL_OTACTL_H
#define OTAGW_CTL_OTACTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jobs/jobs.h"
#include "model.h"
#include "ops/ops.h"

#define EXIT_OP		1
#define EXIT_USAGE	2

struct api;
struct store;
struct ctl_backend;

/* One run of otactl: the global options and the open backend. */
struct ctl {
	const struct ctl_backend *be;	/* chosen once in main */
	int	 opened;		/* be->open done */
	const char *conf_path;
	int	 conf_given;
	const char *state;
	const char *url;
	const char *token_file;
	const char *ca;		/* --ca: the admin API's CA */
	int	 json;
	int	 progress;	/* --progress: also when stderr is no tty */
	struct config cfg;
	int	 cfg_loaded;
	/* the backends' own: only backend_state.c and backend_api.c */
	struct api *api;	/* --url */
	struct store *st;
	struct ops ops;
};

/* A command: "otactl GROUP VERB ...". */
struct ctl_cmd {
	const char *group;
	const char *verb;
	/* argv[0] is the verb; returns the exit status */
	int	(*fn)(struct ctl *, int argc, char **argv);
	const char *usage;	/* after "otactl GROUP VERB " */
	const char *help;	/* the options, one per line */
};

extern const struct ctl_cmd ctl_cmd_device_put, ctl_cmd_device_import,
	    ctl_cmd_device_list, ctl_cmd_device_show, ctl_cmd_device_history,
	    ctl_cmd_device_rm;
extern const struct ctl_cmd ctl_cmd_product_versions;
extern const struct ctl_cmd ctl_cmd_product_author_key;
extern const struct ctl_cmd ctl_cmd_firmware_add, ctl_cmd_firmware_list,
	    ctl_cmd_firmware_show, ctl_cmd_firmware_edit, ctl_cmd_firmware_rm;
extern const struct ctl_cmd ctl_cmd_job_create, ctl_cmd_job_list,
	    ctl_cmd_job_show, ctl_cmd_job_devices, ctl_cmd_job_terminate,
	    ctl_cmd_job_cancel, ctl_cmd_job_retry, ctl_cmd_job_confirm;
extern const struct ctl_cmd ctl_cmd_relay_status;
extern const struct ctl_cmd ctl_cmd_url_key_rotate;
extern const struct ctl_cmd ctl_cmd_patch_add;
/* patch add's work, for firmware add --delta-from too (cmd_patch.c) */
int	 ctl_patch_add(struct ctl *, const struct ops_delta_params *,
	    const char *path);
extern const struct ctl_cmd ctl_cmd_patch_list;
extern const struct ctl_cmd ctl_cmd_firmware_delta;
extern const struct ctl_cmd ctl_cmd_patch_show;
extern const struct ctl_cmd ctl_cmd_patch_rm;
extern const struct ctl_cmd ctl_cmd_key_create;
extern const struct ctl_cmd ctl_cmd_key_list;
extern const struct ctl_cmd ctl_cmd_key_show;
extern const struct ctl_cmd ctl_cmd_key_activate;
extern const struct ctl_cmd ctl_cmd_key_delete;
extern const struct ctl_cmd ctl_cmd_delta_make, ctl_cmd_delta_apply;

/*
 * Backends.  Each command gets its records through ctl->be, one table of
 * functions chosen once at start-up: ctl_backend_state calls src/ops on a
 * state directory, ctl_backend_api asks the admin API
 * (src/ctl/apiclient.c).  Both fill the same records and the same struct
 * ops_err, so a command prints the same bytes whichever answered.  The
 * operations return an enum ops_status, as src/ops does.
 */
struct ctl_backend {
	/* Opens the store or the API connection; -1 with the error said. */
	int	(*open)(struct ctl *);
	void	(*close)(struct ctl *);		/* also when never opened */

	int	(*device_put)(struct ctl *, const struct ops_device_params *,
		    struct device_rec *, int *created, struct ops_err *);
	/* A refused import's bad lines come back in the result. */
	int	(*device_import)(struct ctl *, const char *csv, size_t len,
		    const char *product, struct ops_import_result *,
		    struct ops_err *);
	int	(*device_list)(struct ctl *, const struct ops_device_filter *,
		    int (*cb)(const struct device_rec *, void *), void *arg,
		    char next[OTA_ID_MAX + 1], struct ops_err *);
	int	(*device_show)(struct ctl *, const char *id,
		    struct device_rec *, struct ops_err *);
	/* Its attributes (JSON object, "" for none): ops_device_attrs. */
	int	(*device_attrs)(struct ctl *, const char *id, char *buf,
		    size_t size, struct ops_err *);
	int	(*device_rm)(struct ctl *, const char *id, struct ops_err *);
	/* Newest first; pg->after is an entry's seq, next the next one. */
	int	(*device_history)(struct ctl *, const char *id,
		    const struct ops_page *pg,
		    int (*cb)(const struct history_rec *, void *), void *arg,
		    char next[OTA_ID_MAX + 1], struct ops_err *);
	/* Free with ops_versions_free. */
	int	(*product_versions)(struct ctl *, const char *product,
		    const char *module, struct ops_versions *,
		    struct ops_err *);

	/*
	 * A product's author key: op 0 shows it, 1 sets it to pem (len
	 * bytes), 2 clears it; out is the product as it is then.
	 */
	int	(*product_author_key)(struct ctl *, const char *product, int op,
		    const char *pem, size_t len, struct product_rec *out,
		    struct ops_err *);

	int	(*firmware_add_fd)(struct ctl *, const struct ops_fw_params *,
		    int fd, struct firmware_rec *, struct ops_err *);
	/*
	 * firmware add --url: sha256_hex is the --sha256 value, 64 hex
	 * digits (the command checks them); ca is --ca (the state
	 * directory's fetch only; NULL: upstream_ca or the system's);
	 * progress(arg, done, total) as bytes arrive.
	 */
	int	(*firmware_fetch)(struct ctl *, const struct ops_fw_params *,
		    const char *url, const char *sha256_hex, const char *ca,
		    void (*progress)(void *, uint64_t, uint64_t), void *arg,
		    struct firmware_rec *, struct ops_err *);
	int	(*firmware_list)(struct ctl *, const struct ops_page *,
		    struct ops_fw_item **items, size_t *n,
		    char next[OTA_ID_MAX + 1], struct ops_err *);
	int	(*firmware_show)(struct ctl *, const char *id,
		    struct ops_fw_item *, struct ops_err *);
	int	(*firmware_edit)(struct ctl *, const char *id, const char *name,
		    const char *desc, struct firmware_rec *, struct ops_err *);
	int	(*firmware_rm)(struct ctl *, const char *id, struct ops_err *);

	int	(*job_create)(struct ctl *, const struct job_rec *,
		    const char *const *devs, size_t n, struct ops_job_item *,
		    struct ops_job_result *, struct ops_err *);
	int	(*job_list)(struct ctl *, const struct ops_page *,
		    struct ops_job_item **items, size_t *n,
		    char next[OTA_ID_MAX + 1], struct ops_err *);
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
	int	(*url_key_rotate)(struct ctl *, int drop_previous,
		    int64_t *rotated, int *previous, struct ops_err *);
	/* patches (ops_delta_*) */
	int	(*patch_add_fd)(struct ctl *, const struct ops_delta_params *,
		    int fd, struct delta_rec *, struct ops_err *);
	int	(*patch_list)(struct ctl *, const char *firmware,
		    struct delta_rec **items, size_t *n, struct ops_err *);
	int	(*patch_show)(struct ctl *, const char *id, struct delta_rec *,
		    struct ops_err *);
	int	(*patch_rm)(struct ctl *, const char *id, struct ops_err *);
	int	(*patch_make)(struct ctl *, const struct ops_delta_make *,
		    struct delta_rec *, struct ops_err *);
	/* the keys that sign notices (ops_sign_key_*) */
	int	(*sign_key_create)(struct ctl *, int alg, int activate,
		    struct sign_key_info *, struct ops_err *);
	int	(*sign_key_list)(struct ctl *, struct sign_key_info *,
		    size_t *n, struct ops_err *);
	int	(*sign_key_activate)(struct ctl *, const char *kid,
		    struct ops_err *);
	int	(*sign_key_delete)(struct ctl *, const char *kid, int force,
		    struct ops_err *);
};

extern const struct ctl_backend ctl_backend_state;	/* backend_state.c */
extern const struct ctl_backend ctl_backend_api;	/* backend_api.c */

/* The backend's open, once per run (by the first command that needs it). */
int	 ctl_open(struct ctl *);

/*
 * args.c: messages and arguments.
 */

/* "otactl: <message>" on stderr (after flushing stdout). */
void	 ctl_err(const char *, ...) __attribute__((format(printf, 1, 2)));
/* A usage error in the current command: message, usage line; EXIT_USAGE. */
int	 ctl_usage_err(const char *, ...)
	    __attribute__((format(printf, 1, 2)));
/* Says err's message; EXIT_OP. */
int	 ctl_op_fail(const struct ops_err *);
/* The command being run, for ctl_usage_err and ctl_help. */
void	 ctl_set_cmd(const struct ctl_cmd *);
/* Prints the current command's usage and help on stdout. */
void	 ctl_help(void);
/*
 * getopt_long over a command's own arguments (argv[0] is the verb).  On a
 * bad option prints the usage error and returns '?'.
 */
int	 ctl_getopt(int argc, char **argv, const char *shortopts,
	    const struct option *longopts);
/* Parses a whole decimal number in [min, max]; 0 or -1. */
int	 ctl_parse_num(const char *, long long min, long long max,
	    long long *out);
/*
 * Options of a command that takes only --help and nargs arguments (what
 * names them for the usage error): 0 to go on, -1 when the help was
 * printed, or EXIT_USAGE.
 */
int	 ctl_plain_args(int argc, char **argv, int nargs, const char *what);
int	 ctl_one_id_args(int argc, char **argv, const char *what);
/* A list's --after ID and --limit N (and --help), no arguments; as above. */
int	 ctl_page_args(int argc, char **argv, struct ops_page *pg);
/* Reads a whole file (at most max bytes); malloc'd, NUL-terminated. */
char	*ctl_read_file(const char *path, size_t max, size_t *len);

/*
 * print.c: output.
 */

/* RFC 3339 UTC with milliseconds, or "-" for never (ms <= 0). */
void	 ctl_fmt_time(int64_t ms, char out[32]);

/* A table of strings, printed with aligned columns (CJK counts twice). */
struct ctl_table {
	size_t	 ncols;
	size_t	 nrows;
	size_t	 cap;
	char	**cells;
};
void	 ctl_table_init(struct ctl_table *, size_t ncols);
/* Copies one row of ncols strings (NULL: ""); 0 or -1. */
int	 ctl_table_add(struct ctl_table *, const char *const *row);
void	 ctl_table_print(const struct ctl_table *);
void	 ctl_table_free(struct ctl_table *);

/* Prints one malloc'd JSON text (from the codec) and frees it; 0 or -1. */
int	 ctl_json_put(char *json);
/*
 * A list for --json, printed as one document, the admin API's list shape:
 * {"items":[item,\nitem...],"next":"<after for the next page>"|null}.
 * Items are kept until ctl_jlist_put prints the whole list (and frees it;
 * -1 with the error said when memory ran out), so a command that fails
 * half way prints nothing on stdout.
 */
struct ctl_jlist {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 n;
	int	 failed;
};
void	 ctl_jlist_item(struct ctl_jlist *, char *json);	/* taken */
int	 ctl_jlist_put(struct ctl_jlist *, const char *next);
void	 ctl_jlist_free(struct ctl_jlist *);	/* instead of put */

/* "key:   value" with the values aligned. */
/*
 * The progress of a long operation (struct ops's progress hook) on
 * stderr: one line redrawn on a terminal, else (--progress) a line every
 * second and at the end.  Never on stdout: --json stays one document.
 */
void	 ctl_progress(void *ctl, const char *what, size_t done,
	    size_t total);
void	 ctl_kv(const char *key, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "module=version ..." of a device, or "-". */
void	 ctl_versions_str(const struct device_rec *, char *out, size_t size);
/* "STATE n, ..." of the states that have rows, or "none". */
void	 ctl_counts_line(const struct jobs_counts *, char *out, size_t size);

/*
 * Shared by the commands.
 */

/*
 * `device rm' and `firmware rm': one ID, one backend call, one line out.
 * what names the kind ("device", "firmware").  (cmd_device.c)
 */
int	 ctl_cmd_rm(struct ctl *, int argc, char **argv, const char *what,
	    int (*rm)(struct ctl *, const char *, struct ops_err *));
/* job show --watch: the live view until the job ends.  (job_watch.c) */
int	 ctl_job_watch(struct ctl *, const char *id);

#endif
