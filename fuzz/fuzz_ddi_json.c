/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_ddi_json.c: the JSON bodies hawkBit clients send
 * (codec_ddi_feedback_decode, codec_ddi_config_apply; docs/hawkbit.md).
 *
 * Every input goes to both.  A feedback that is accepted has an
 * execution and a result hawkBit knows, a progress that is not negative,
 * and details that are a valid progress desc (UTF-8, at most 128
 * characters), which is what the core stores and relays upstream.  A
 * configData body is applied to no attributes and then, as a device
 * would send it again, to what came out: the second pass must give the
 * same attributes (merging a map into itself changes nothing), and every
 * attribute kept is a string.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ddi.h"
#include "fuzz.h"
#include "util/validate.h"

static void
feedback(const uint8_t *data, size_t size)
{
	struct ddi_feedback fb;
	char	 err[160];

	if (codec_ddi_feedback_decode(data, size, &fb, err,
	    sizeof(err)) != 0) {
		FUZZ_ASSERT(err[0] != '\0');
		return;
	}
	FUZZ_ASSERT(fb.execution >= DDI_EXEC_CLOSED &&
	    fb.execution <= DDI_EXEC_DOWNLOAD);
	FUZZ_ASSERT(fb.finished >= DDI_FIN_SUCCESS &&
	    fb.finished <= DDI_FIN_NONE);
	FUZZ_ASSERT(!fb.has_progress || (fb.cnt >= 0 && fb.of >= 0));
	FUZZ_ASSERT(valid_progress_desc(fb.details));
	/* the upstream's copy: an array, or nothing */
	FUZZ_ASSERT(fb.all[0] == '\0' || (fb.all[0] == '[' &&
	    fb.all[strlen(fb.all) - 1] == ']'));
}

static void
config(const uint8_t *data, size_t size)
{
	char	*out = NULL, *again = NULL, *body, err[160];
	size_t	 len = 0, len2 = 0, n;

	if (codec_ddi_config_apply(data, size, NULL, &out, &len, err,
	    sizeof(err)) != 0) {
		FUZZ_ASSERT(out == NULL && len == 0);
		return;
	}
	if (out == NULL)
		return;		/* "remove" of attributes not held */
	FUZZ_ASSERT(strlen(out) == len && out[0] == '{');
	n = len + 16;
	if ((body = malloc(n)) == NULL)
		abort();
	snprintf(body, n, "{\"data\":%s}", out);
	FUZZ_ASSERT(codec_ddi_config_apply(body, strlen(body), out, &again,
	    &len2, err, sizeof(err)) == 0);
	FUZZ_ASSERT(again != NULL && strcmp(again, out) == 0);
	free(body);
	free(again);
	free(out);
}

FUZZ_TARGET(ddi_json)
{
	fuzz_quiet();
	feedback(data, size);
	config(data, size);
	return 0;
}
