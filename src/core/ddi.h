/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ddi.h: hawkBit's device model (DDI) on otagw's: actions are job rows
 * (docs/hawkbit.md).
 *
 * An action is one attempt of one device in one job: its id is made from
 * the job, the device and the time the attempt's notice went out, so it
 * stays the same for the attempt and a retry gets a new one, with nothing
 * stored.  It is a number from 1 to 2^31 - 1 (SWUpdate reads it as an
 * int).  What a device says about an action maps to a progress report
 * on its row (core_progress's rules, events and relay); what it says
 * about an action that is no longer its row's attempt is refused as
 * hawkBit refuses feedback for a closed action.
 *
 * The front end (src/http/ddi.c) authenticates the device (req->peer),
 * decodes bodies (codec/ddi.h) and writes hawkBit's JSON; these calls
 * answer with a core_status, or for actions an enum core_ddi_action.
 */
#ifndef OTAGW_CORE_DDI_H
#define OTAGW_CORE_DDI_H

#include <stddef.h>
#include <stdint.h>

#include "codec/ddi.h"
#include "core/core.h"
#include "model.h"

/* What an action id is for the device that names it. */
enum core_ddi_action {
	CORE_DDI_ACTIVE = 0,	/* its row's attempt, NOTIFIED or UPGRADING */
	CORE_DDI_CANCELED,	/* its row was canceled during the attempt */
	CORE_DDI_CLOSED,	/* an attempt that is over */
	CORE_DDI_UNKNOWN,	/* not one of the device's actions */
	CORE_DDI_ERROR,		/* the store failed: 503 */
};

/* The controller base: a check, then what the device should look at. */
struct core_ddi_base {
	int	 link;		/* enum ddi_link */
	uint32_t action;
	int	 config;	/* otagw holds no attributes of the device */
	unsigned sleep_s;	/* the wake-up hint of a check */
};
/* Returns a core_status (CORE_OK: out filled). */
int	 core_ddi_base(struct core *, const struct core_req *,
	    struct core_ddi_base *out);

/* An action's deployment: fw is its firmware, forced its job's force. */
struct core_ddi_deploy {
	int	 forced;
	struct firmware_rec fw;
};
/*
 * CORE_DDI_ACTIVE or CORE_DDI_CLOSED with out filled (hawkBit shows a
 * closed action's deployment too), or another enum core_ddi_action.
 */
int	 core_ddi_deployment(struct core *, const struct core_req *,
	    uint32_t action, struct core_ddi_deploy *out);
/*
 * Feedback on a deployment.  CORE_DDI_ACTIVE when taken (also when it
 * changed nothing), CORE_DDI_CLOSED for a canceled or closed action,
 * CORE_DDI_UNKNOWN, or CORE_DDI_ERROR.
 */
int	 core_ddi_feedback(struct core *, const struct core_req *,
	    uint32_t action, const struct ddi_feedback *);
/*
 * GET cancelAction/{action}: CORE_DDI_CANCELED when it is one, else
 * what it is.  With fb (its feedback), the device has acknowledged the
 * cancel: the base stops linking it.
 */
int	 core_ddi_cancel(struct core *, const struct core_req *,
	    uint32_t action, const struct ddi_feedback *fb);
/*
 * PUT configData: the body applied to the device's attributes.  Returns
 * a core_status; CORE_BAD_REQUEST with err set for a bad body, and
 * *bad_attrs set when it is the attributes that are out of bounds.
 */
int	 core_ddi_config(struct core *, const struct core_req *,
	    const void *body, size_t len, int *bad_attrs, char *err,
	    size_t errlen);

#endif
