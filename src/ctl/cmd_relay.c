/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cmd_relay.c: otactl relay status, the upstream outbox: events waiting,
 * the oldest of them, the last sequence number handed out, and the
 * relay's counters, as text or as the JSON the admin API answers.
 */
#include <stdint.h>
#include <stdio.h>

#include "ctl/otactl.h"
#include "util/validate.h"

static const char help_relay_status[] =
"Shows the upstream outbox: events waiting, the age of the oldest, the\n"
"last sequence number handed out, events dropped at the outbox\n"
"limit, and batches the upstream refused (parked).\n";

static int
cmd_relay_status(struct ctl *ctl, int argc, char **argv)
{
	struct outbox_stats s;
	struct ops_err err;
	char	 t[32];
	int64_t	 age = -1;
	int	 rc;

	if ((rc = ctl_plain_args(argc, argv, 0, "no arguments")) != 0)
		return rc == -1 ? 0 : rc;
	if (ctl_open(ctl) == -1)
		return EXIT_OP;
	if (ctl->be->relay_status(ctl, &s, &err) != OPS_OK)
		return ctl_op_fail(&err);
	if (s.depth > 0 && s.oldest_ts > 0) {
		age = (time_now_ms() - s.oldest_ts) / 1000;
		if (age < 0)
			age = 0;
	}
	if (ctl->json) {
		printf("{\"depth\":%zu,\"oldestSeq\":%llu,"
		    "\"oldestAgeSeconds\":", s.depth,
		    (unsigned long long)s.oldest_seq);
		if (age >= 0)
			printf("%lld", (long long)age);
		else
			fputs("null", stdout);
		printf(",\"lastSeq\":%llu,\"dropped\":%llu,"
		    "\"parkedBatches\":%llu,\"parkedEvents\":%zu,\"sent\":%llu,"
		    "\"retries\":%llu}\n",
		    (unsigned long long)s.last_seq,
		    (unsigned long long)s.dropped,
		    (unsigned long long)s.parked_batches, s.parked_events,
		    (unsigned long long)s.sent, (unsigned long long)s.retries);
		return 0;
	}
	ctl_kv("outbox depth", "%zu", s.depth);
	if (age >= 0) {
		ctl_fmt_time(s.oldest_ts, t);
		ctl_kv("oldest", "seq %llu, %s (%lld s ago)",
		    (unsigned long long)s.oldest_seq, t, (long long)age);
	} else
		ctl_kv("oldest", "-");
	ctl_kv("last seq", "%llu", (unsigned long long)s.last_seq);
	ctl_kv("dropped", "%llu events (outbox limit)",
	    (unsigned long long)s.dropped);
	ctl_kv("parked", "%llu batches, %zu events",
	    (unsigned long long)s.parked_batches, s.parked_events);
	ctl_kv("sent", "%llu events acknowledged by the upstream",
	    (unsigned long long)s.sent);
	ctl_kv("retries", "%llu batches sent again",
	    (unsigned long long)s.retries);
	return 0;
}

const struct ctl_cmd ctl_cmd_relay_status = {
	"relay", "status", cmd_relay_status,
	"",
	help_relay_status,
};

