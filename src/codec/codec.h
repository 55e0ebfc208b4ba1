/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * codec.h: JSON in and out, the only module that includes <cjson/cJSON.h>.
 *
 * Two audiences, one file each:
 *
 *   codec/wire.h   the device wire format (wire.c): check and progress
 *                  bodies, notices, error bodies, upstream events
 *   codec/views.h  the operator's JSON (views.c): the views otactl --json
 *                  prints and the admin API sends, the API's request
 *                  bodies, and otactl --url reading the views back
 *
 * This header includes both.  json.c holds the cJSON helpers they share
 * (json.h, private to src/codec).
 *
 * Decoders take a buffer and a length (not NUL-terminated), refuse anything
 * that is not a UTF-8 JSON document of the expected shape, and write a short
 * diagnostic into err.  They never allocate beyond what cJSON needs for the
 * (already size-capped) input.  Encoders return a malloc'd, compact,
 * NUL-terminated string (free with free()) and its length, or NULL when out
 * of memory.
 */
#ifndef OTAGW_CODEC_H
#define OTAGW_CODEC_H

/* Nesting deeper than this is refused before cJSON sees it. */
#define CODEC_MAX_DEPTH	8

#include "codec/wire.h"
#include "codec/views.h"

#endif
