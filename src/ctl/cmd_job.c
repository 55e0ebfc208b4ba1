/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_job.c: the job commands of otactl: job create, list, show, devices,
 * terminate, and the row operations cancel, retry and confirm.  Each reads
 * its options, makes one backend call and prints the answer; job show
 * --watch is the live view of job_watch.c.
 */
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "ctl/otactl.h"
#include "util/validate.h"

#define DEVFILE_MAX	(4 << 20)	/* --devices-file, bytes */

/* The ids of --devices and --devices-file, malloc'd. */
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
		ctl_err("more than %d devices", OPS_JOB_DEVICES_MAX);
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
	ctl_err("out of memory");
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
"  --allow-downgrade        may offer a firmware seq below what a device\n"
"                           accepted (recorded, and said in the notices)\n"
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
	O_TIMEOUT, O_OVERRIDE, O_APCT, O_AMIN, O_DOWNGRADE
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
	{ "allow-downgrade", no_argument, NULL, O_DOWNGRADE },
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
		if ((buf = ctl_read_file(arg, DEVFILE_MAX, &len)) == NULL)
			return EXIT_OP;
		rc = devlist_parse(&ja->dl, buf, 1);
		free(buf);
		return rc == -1 ? EXIT_OP : 0;
	default:	/* O_GRAY */
		ja->job.scope = JOB_SCOPE_GRAY;
		if (ctl_parse_num(arg, 1, 100, &n) == -1)
			return ctl_usage_err("--gray wants a percentage 1-100");
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

	if (ctl_parse_num(arg, 0, UINT_MAX, &n) == -1)
		return ctl_usage_err("%s wants a number", opt);
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
		return ctl_usage_err("at most %d --src-version",
		    OTA_SRCVER_MAX);
	if (!valid_version(arg))
		return ctl_usage_err("invalid source version \"%s\"", arg);
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
		return ctl_usage_err("--%s wants an RFC 3339 time, e.g. "
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
		if (ctl_parse_num(arg, 0, 100, &n) == -1)
			return ctl_usage_err("--abort-failure-percent wants "
			    "0-100");
		ja->job.abort_percent = (int)n;
		return 0;
	case O_OVERRIDE:
		ja->job.override = 1;
		return 0;
	case O_DOWNGRADE:
		ja->job.allow_downgrade = 1;
		return 0;
	default:	/* ctl_getopt said what is wrong */
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
		return ctl_usage_err("--firmware is required");
	if (ja->scopes > 1)
		return ctl_usage_err("give one of --all, --devices, "
		    "--devices-file, --gray");
	if (ja->job.only_new_reports && !ja->job.dynamic)
		return ctl_usage_err("--only-new needs --dynamic");
	if (ja->have_amin && ja->job.abort_percent < 0)
		return ctl_usage_err("--abort-min-devices needs "
		    "--abort-failure-percent");
	if (ja->job.scope == JOB_SCOPE_DEVICES && ja->dl.n == 0)
		return ctl_usage_err("no devices given");
	if (str_copy(ja->job.firmware, sizeof(ja->job.firmware), ja->fw) ==
	    -1) {
		ctl_err("invalid firmware id");
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

	while ((ch = ctl_getopt(argc, argv, "h", job_create_lo)) != -1) {
		if (ch == 'h') {
			ctl_help();
			return -1;
		}
		if ((rc = job_opt(ja, ch, optarg, argv[optind - 1])) != 0)
			return rc;
	}
	if (argc != optind)
		return ctl_usage_err("unexpected argument %s", argv[optind]);
	return job_args_check(ja);
}

/* 0, or -1 (out of memory, said). */
static int
job_create_print(const struct ctl *ctl, const struct ops_job_item *out,
    const struct ops_job_result *res)
{
	/* --json: the job alone, one document; text: the id last */
	if (ctl->json) {
		if (ctl_json_put(codec_job_encode(&out->job, &out->counts,
		    NULL)) == -1)
			return -1;
		putchar('\n');
		return 0;
	}
	printf("job %s created: %s %s of %s/%s to %s, %zu devices",
	    out->job.id, jobs_state_name(out->job.state),
	    jobs_kind_name(out->job.kind), out->job.product,
	    out->job.module, out->job.version, res->added);
	if (res->skipped || res->left_out || res->superseded)
		printf(" (%zu not matching, %zu busy in other jobs, "
		    "%zu superseded)", res->skipped, res->left_out,
		    res->superseded);
	printf("\n%s\n", out->job.id);
	return 0;
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
		rc = ctl_op_fail(&err);
		goto out;
	}
	rc = job_create_print(ctl, &out, &res) == 0 ? 0 : EXIT_OP;
out:
	devlist_free(&ja.dl);
	return rc;
}

const struct ctl_cmd ctl_cmd_job_create = {
	"job", "create", cmd_job_create,
	"--firmware ID [--verify] [--force] [--src-version V]... [--all | "
	"--devices D1,D2 | --devices-file F | --gray PCT] [--dynamic "
	"[--only-new]] [--confirm] [--start T] [--end T] [--rate N] "
	"[--retry N] [--retry-interval MIN] [--timeout MIN] [--override] "
	"[--allow-downgrade] [--abort-failure-percent P --abort-min-devices N]",
	help_job_create,
};

static const char help_job_list[] =
"Lists jobs in id order (j-2 before j-10) with their counts.\n"
"  --after ID               start after this job id\n"
"  --limit N                at most N jobs\n";

static int
cmd_job_list(struct ctl *ctl, int argc, char **argv)
{
	static const char *const head[] = { "ID", "FIRMWARE", "TARGET",
	    "KIND", "STATE", "DEVICES", "DONE", "FAILED", "CREATED" };
	struct ops_job_item *items = NULL;
	struct ops_page pg;
	struct ops_err err;
	struct ctl_jlist jl;
	struct ctl_table t;
	const char *row[9];
	char	 target[2 * OTA_ID_MAX + 2], devs[24], done[24], failed[24];
	char	 created[32], next[OTA_ID_MAX + 1];
	size_t	 i, n;
	int	 rc;

	if ((rc = ctl_page_args(argc, argv, &pg)) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->job_list(ctl, &pg, &items, &n, next, &err) != OPS_OK)
		return ctl_op_fail(&err);
	memset(&jl, 0, sizeof(jl));
	ctl_table_init(&t, 9);
	ctl_table_add(&t, head);
	for (i = 0; i < n; i++) {
		const struct job_rec *j = &items[i].job;
		const struct jobs_counts *c = &items[i].counts;

		if (ctl->json) {
			ctl_jlist_item(&jl, codec_job_encode(j, c, NULL));
			continue;
		}
		snprintf(target, sizeof(target), "%s/%s", j->module,
		    j->version);
		snprintf(devs, sizeof(devs), "%zu", c->total);
		snprintf(done, sizeof(done), "%zu", c->n[JD_SUCCEEDED]);
		snprintf(failed, sizeof(failed), "%zu", c->n[JD_FAILED]);
		ctl_fmt_time(j->created, created);
		row[0] = j->id;
		row[1] = j->firmware;
		row[2] = target;
		row[3] = jobs_kind_name(j->kind);
		row[4] = jobs_state_name(j->state);
		row[5] = devs;
		row[6] = done;
		row[7] = failed;
		row[8] = created;
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

const struct ctl_cmd ctl_cmd_job_list = {
	"job", "list", cmd_job_list,
	"[--after ID] [--limit N]",
	help_job_list,
};

static void
job_print(const struct ops_job_item *it)
{
	const struct job_rec *j = &it->job;
	char	 t[32], buf[OTA_SRCVER_MAX * (OTA_ID_MAX + 2) + 2];
	size_t	 o = 0;
	unsigned i;
	int	 s;

	ctl_kv("id", "%s", j->id);
	ctl_kv("firmware", "%s", j->firmware);
	ctl_kv("target", "%s %s/%s", j->product, j->module, j->version);
	ctl_kv("kind", "%s", jobs_kind_name(j->kind));
	ctl_kv("state", "%s", jobs_state_name(j->state));
	if (j->scope == JOB_SCOPE_GRAY)
		ctl_kv("scope", "gray %d%%", j->gray_percent);
	else
		ctl_kv("scope", "%s", j->scope == JOB_SCOPE_DEVICES ?
		    "devices" : "all");
	ctl_kv("strategy", "%s%s", j->dynamic ? "dynamic" : "static",
	    j->only_new_reports ? " (only new reports)" : "");
	ctl_kv("confirm", "%s", j->confirm ? "user" : "silent");
	ctl_kv("seq", "%lu%s", (unsigned long)j->seq, j->allow_downgrade ?
	    " (downgrade allowed)" : "");
	buf[0] = '\0';
	for (i = 0; i < j->nsrc && i < OTA_SRCVER_MAX; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s",
		    i ? " " : "", j->src_versions[i]);
	ctl_kv("src versions", "%s", j->nsrc ? buf : "any but the target");
	ctl_fmt_time(j->start, t);
	ctl_kv("start", "%s", t);
	ctl_fmt_time(j->end, t);
	ctl_kv("end", "%s", t);
	if (j->rate_per_minute)
		ctl_kv("rate", "%u a minute", j->rate_per_minute);
	else
		ctl_kv("rate", "no limit");
	ctl_kv("retry", "%u, every %u min", j->retry_count,
	    j->retry_interval_min);
	ctl_kv("timeout", "%u min", j->timeout_min);
	if (j->abort_percent >= 0)
		ctl_kv("abort", "failures over %d%% after %u devices",
		    j->abort_percent, j->abort_min_devices);
	ctl_fmt_time(j->created, t);
	ctl_kv("created", "%s", t);
	ctl_fmt_time(j->started, t);
	ctl_kv("started", "%s", t);
	ctl_fmt_time(j->finished, t);
	ctl_kv("finished", "%s", t);
	ctl_kv("devices", "%zu", it->counts.total);
	for (s = 0; s < JD_NSTATES; s++)
		printf("  %-14s%zu\n", jobs_jd_state_name(s), it->counts.n[s]);
	if (it->counts.patch_devices > 0)
		ctl_kv("patches", "%zu devices upgraded by a patch, %llu "
		    "bytes saved", it->counts.patch_devices,
		    (unsigned long long)it->counts.patch_saved);
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
	struct ops_err err;
	int	 ch, watch = 0;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'w':
			watch = 1;
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one job ID");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (watch)
		return ctl_job_watch(ctl, argv[optind]);
	if (ctl->be->job_show(ctl, argv[optind], &it, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		ctl_json_put(codec_job_encode(&it.job, &it.counts, NULL));
		putchar('\n');
	} else
		job_print(&it);
	return 0;
}

const struct ctl_cmd ctl_cmd_job_show = {
	"job", "show", cmd_job_show,
	"ID [--watch]",
	help_job_show,
};

static const char help_job_devices[] =
"Lists the devices of a job, in device id order, with their state, the\n"
"share of the image the gateway has sent them (SENT), reason, step and\n"
"retries.\n"
"  --state S                only devices in state S (QUEUED, FAILED, ...)\n"
"  --after DEVICE           start after this device id\n"
"  --limit N                at most N devices\n";

struct jdprint {
	struct ctl *ctl;
	struct ctl_table t;
	struct ctl_jlist jl;
	int	 failed;	/* the table ran out of memory */
};

static int
jdprint_cb(const struct jobdev_rec *jd, void *arg)
{
	struct jdprint *p = arg;
	char	 step[16], retries[16], updated[32], sent[8];
	const char *row[9];

	if (p->ctl->json) {
		ctl_jlist_item(&p->jl, codec_jobdev_encode(jd, NULL));
		return p->jl.failed;
	}
	snprintf(step, sizeof(step), "%d", jd->step);
	snprintf(retries, sizeof(retries), "%u", jd->retries);
	ctl_fmt_time(jd->updated, updated);
	if (jd->size > 0)
		snprintf(sent, sizeof(sent), "%u%%", (unsigned)(jd->delivered *
		    100 / jd->size));
	else
		snprintf(sent, sizeof(sent), "-");
	row[0] = jd->device;
	row[1] = jobs_jd_state_name(jd->state);
	row[2] = sent;
	row[3] = jd->reason[0] ? jd->reason : "-";
	row[4] = step;
	row[5] = retries;
	row[6] = jd->last_version[0] ? jd->last_version : "-";
	row[7] = updated;
	row[8] = jd->desc[0] ? jd->desc : "";
	if (ctl_table_add(&p->t, row) == -1)
		p->failed = 1;
	return p->failed;
}

static int
cmd_job_devices(struct ctl *ctl, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "after", required_argument, NULL, 'a' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const head[] = { "DEVICE", "STATE", "SENT",
	    "REASON", "STEP", "RETRIES", "VERSION", "UPDATED", "DESC" };
	struct ops_jobdev_filter f = { -1, NULL, 0 };
	struct jdprint p;
	struct ops_err err;
	char	 up[32], next[OTA_ID_MAX + 1];
	long long n;
	size_t	 i;
	int	 ch, rc;

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		switch (ch) {
		case 'a':
			f.after = optarg;
			break;
		case 'l':
			if (ctl_parse_num(optarg, 1, LLONG_MAX, &n) == -1)
				return ctl_usage_err("--limit wants a number");
			f.limit = (size_t)n;
			break;
		case 's':
			for (i = 0; optarg[i] != '\0' && i + 1 < sizeof(up);
			    i++)
				up[i] = optarg[i] == '-' ? '_' :
				    (char)toupper((unsigned char)optarg[i]);
			up[i] = '\0';
			if (jobs_jd_state_parse(up, &f.state) == -1)
				return ctl_usage_err("unknown state %s (want "
				    "WAIT_CONFIRM, QUEUED, NOTIFIED, "
				    "UPGRADING, SUCCEEDED, FAILED, "
				    "RETRY_WAIT or CANCELED)", optarg);
			break;
		case 'h':
			ctl_help();
			return 0;
		default:
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1)
		return ctl_usage_err("want one job ID");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	memset(&p, 0, sizeof(p));
	p.ctl = ctl;
	ctl_table_init(&p.t, 9);
	ctl_table_add(&p.t, head);
	rc = ctl->be->job_devices(ctl, argv[optind], &f, jdprint_cb, &p,
	    next, &err);
	if (rc != OPS_OK) {
		ctl_table_free(&p.t);
		ctl_jlist_free(&p.jl);
		return ctl_op_fail(&err);
	}
	if (p.failed) {
		ctl_table_free(&p.t);
		ctl_err("out of memory");
		return EXIT_OP;
	}
	if (ctl->json)
		rc = ctl_jlist_put(&p.jl, next);
	else {
		ctl_table_print(&p.t);
		if (next[0] != '\0')
			printf("(more: --after %s)\n", next);
	}
	ctl_table_free(&p.t);
	return rc == 0 ? 0 : EXIT_OP;
}

const struct ctl_cmd ctl_cmd_job_devices = {
	"job", "devices", cmd_job_devices,
	"ID [--state S] [--after DEVICE] [--limit N]",
	help_job_devices,
};

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

	if ((rc = ctl_one_id_args(argc, argv, "one job ID")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->job_terminate(ctl, argv[optind], &it, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		ctl_json_put(codec_job_encode(&it.job, &it.counts, NULL));
		putchar('\n');
	} else {
		ctl_counts_line(&it.counts, counts, sizeof(counts));
		printf("job %s TERMINATED: %s\n", it.job.id, counts);
	}
	return 0;
}

const struct ctl_cmd ctl_cmd_job_terminate = {
	"job", "terminate", cmd_job_terminate,
	"ID",
	help_job_terminate,
};

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

	while ((ch = ctl_getopt(argc, argv, "h", lo)) != -1) {
		if (ch != 'h')
			return EXIT_USAGE;
		ctl_help();
		return 0;
	}
	if (argc - optind != 2)
		return ctl_usage_err("want a job ID and a DEVICE");
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (fn(ctl, argv[optind], argv[optind + 1], &jd, &err) !=
	    OPS_OK)
		return ctl_op_fail(&err);
	if (ctl->json) {
		ctl_json_put(codec_jobdev_encode(&jd, NULL));
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

const struct ctl_cmd ctl_cmd_job_cancel = {
	"job", "cancel", cmd_job_cancel,
	"ID DEVICE",
	help_job_cancel,
};

static int
cmd_job_retry(struct ctl *ctl, int argc, char **argv)
{
	return job_rowcmd(ctl, argc, argv, ctl->be->job_retry);
}

const struct ctl_cmd ctl_cmd_job_retry = {
	"job", "retry", cmd_job_retry,
	"ID DEVICE",
	help_job_retry,
};

static int
cmd_job_confirm(struct ctl *ctl, int argc, char **argv)
{
	return job_rowcmd(ctl, argc, argv, ctl->be->job_confirm);
}

const struct ctl_cmd ctl_cmd_job_confirm = {
	"job", "confirm", cmd_job_confirm,
	"ID DEVICE",
	help_job_confirm,
};

