/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_device_json.c: the JSON bodies devices send, check-ins
 * (codec_check_decode) and progress reports (codec_progress_decode),
 * over CoAP and HTTPS alike.
 *
 * Every input goes to both decoders.  What a decoder accepts must keep
 * the promises the rest of the daemon relies on: at most OTA_MODULES_MAX
 * modules, no module twice, names and versions that pass the CONTRACT
 * rules, a step from -4 to 100; and a refused body leaves the output
 * zeroed.  What a device sent then travels upstream: the target builds
 * the event the core would (codec_event_encode), stamps it as the relay
 * does (codec_event_stamp), and checks that the result is one JSON object
 * that the strict decoders read back with the same sequence number and
 * step.  A device's text must never break the upstream's JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"
#include "fuzz.h"
#include "util/validate.h"

static int
all_zero(const void *p, size_t n)
{
	const unsigned char *c = p;
	size_t	 i;

	for (i = 0; i < n; i++)
		if (c[i] != 0)
			return 0;
	return 1;
}

/* An event as the relay sends it must parse, with its seq and step. */
static void
check_upstream(const struct event *ev)
{
	static const char *const names[] = { "seq", "step" };
	char	*enc, *stamped, err[128];
	size_t	 len, slen;
	int64_t	 vals[2];
	int	 present[2];

	if ((enc = codec_event_encode(ev, &len)) == NULL)
		abort();	/* out of memory only */
	stamped = codec_event_stamp(enc, len, 424242, "gw-fuzz", &slen);
	FUZZ_ASSERT(stamped != NULL);
	FUZZ_ASSERT(codec_numbers_decode(stamped, slen, names, 2, vals,
	    present, err, sizeof(err)) == 0);
	FUZZ_ASSERT(present[0] && vals[0] == 424242);
	FUZZ_ASSERT(present[1] == ev->has_step);
	if (ev->has_step)
		FUZZ_ASSERT(vals[1] == ev->step);
	free(stamped);
	free(enc);
}

static void
check_body(const uint8_t *data, size_t size)
{
	struct check_body cb;
	struct event ev;
	char	 err[128];
	unsigned i, j;

	if (codec_check_decode(data, size, &cb, err, sizeof(err)) != 0) {
		FUZZ_ASSERT(all_zero(&cb, sizeof(cb)));
		return;
	}
	FUZZ_ASSERT(cb.nversions <= OTA_MODULES_MAX);
	for (i = 0; i < cb.nversions; i++) {
		FUZZ_ASSERT(valid_module(cb.versions[i].module));
		FUZZ_ASSERT(valid_version(cb.versions[i].version));
		for (j = i + 1; j < cb.nversions; j++)
			FUZZ_ASSERT(strcmp(cb.versions[i].module,
			    cb.versions[j].module) != 0);
	}
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_INFORM;
	ev.ts = 1764000000000;
	ev.device = "dev-1";
	ev.versions = cb.versions;
	ev.nversions = cb.nversions;
	check_upstream(&ev);
}

static void
progress_body(const uint8_t *data, size_t size)
{
	struct progress_body pb;
	struct event ev;
	char	 err[128];

	if (codec_progress_decode(data, size, &pb, err, sizeof(err)) != 0) {
		FUZZ_ASSERT(all_zero(&pb, sizeof(pb)));
		return;
	}
	FUZZ_ASSERT(valid_id(pb.job));
	FUZZ_ASSERT(pb.step >= -4 && pb.step <= 100);
	FUZZ_ASSERT(!pb.has_desc || valid_progress_desc(pb.desc));
	FUZZ_ASSERT(!pb.has_version || valid_version(pb.version));
	FUZZ_ASSERT(pb.module[0] == '\0' || valid_module(pb.module));
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_PROGRESS;
	ev.ts = 1764000000000;
	ev.device = "dev-1";
	ev.job = pb.job;
	ev.firmware = "fw-1";
	ev.module = pb.module[0] != '\0' ? pb.module : "default";
	ev.has_step = 1;
	ev.step = pb.step;
	ev.desc = pb.has_desc ? pb.desc : NULL;
	ev.version = pb.has_version ? pb.version : NULL;
	check_upstream(&ev);
}

FUZZ_TARGET(device_json)
{
	fuzz_quiet();
	check_body(data, size);
	progress_body(data, size);
	return 0;
}
