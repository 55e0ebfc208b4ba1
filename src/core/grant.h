/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * grant.h: downloads core allowed a moment ago (private to src/core).
 *
 * A device that walks an image asks for it block by block or range by
 * range, often hundreds of times a minute.  Each time core_download would
 * read the firmware, the device and its open job rows, and (with a bearer
 * secret) hash the secret again.  A grant remembers that core allowed one
 * download, keyed by the front end's connection or session, the peer, the
 * secret's SHA-256 and the firmware, for GRANT_MS; a later request with
 * the very same key gets the same image without a store transaction.  Any
 * other connection, peer, secret or firmware asks core in full, so a
 * canceled job or a changed secret holds on every new connection at once
 * and on an open one within GRANT_MS.
 */
#ifndef OTAGW_CORE_GRANT_H
#define OTAGW_CORE_GRANT_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct store_image;

#define GRANT_MS	2000

struct grant_key {
	uint64_t	 conn;		/* 0: never granted */
	char		 peer[OTA_ID_MAX + 1];	/* "" on plain CoAP */
	int		 has_secret;
	uint8_t		 secret_sha[32];
	char		 fwid[OTA_ID_MAX + 1];
};

struct grant_table;

struct grant_table *grant_table_new(void);
void	 grant_table_free(struct grant_table *);	/* accepts NULL */
/*
 * The standing grant for key at now: 0, with one more image reference in
 * *img and the firmware record copied to *fw; or -1.
 */
int	 grant_find(struct grant_table *, const struct grant_key *, int64_t now,
	    const struct store_image **img, struct firmware_rec *fw);
/* Remembers an allowed download (takes its own image reference). */
void	 grant_put(struct grant_table *, const struct grant_key *, int64_t now,
	    const struct store_image *, const struct firmware_rec *);
/* Drops the grants that expired (and their image references). */
void	 grant_sweep(struct grant_table *, int64_t now);

#endif
