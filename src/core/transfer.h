/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * transfer.h: what the gateway has delivered of each firmware to each
 * device, whatever the protocol.
 *
 * The front ends tell xfer_sent as bytes of an image leave for a device
 * they know (a CoAP block sent over DTLS, an HTTPS body slice written to
 * the connection).  Per device and firmware the table keeps the highest
 * offset served contiguously from 0, so a device that starts over CoAP
 * and goes on over HTTPS has one record, and a range past a gap counts
 * only once the gap is filled.
 *
 * The figure is in memory at once.  A relay "transfer" event, written to
 * the store with the record (store.h, struct xfer_rec) in one
 * transaction, goes out when it has grown by a tenth of the image since
 * the last event, when it reaches the end, or 60 s after the last event
 * when it grew less (xfer_tick): at most every 10 % or 60 s per device.
 * Between events the record alone is written when the transfer pauses
 * for 2 s, so the operator views are exact soon after a device stops.
 * Entries idle for 10 minutes are forgotten once written.  At most
 * XFER_MAX are held: when full, those paused with nothing unwritten make
 * room (at most once a second); while every one is busy, a new transfer
 * is served but not counted.
 *
 * One table serves every worker thread (a device may resume its download
 * on a connection another worker accepted): each call takes the table's
 * lock.
 */
#ifndef OTAGW_TRANSFER_H
#define OTAGW_TRANSFER_H

#include <stdint.h>

#define XFER_MAX	65536		/* entries held at most */

struct store;
struct xfer_table;

struct xfer_table *xfer_new(struct store *);
void	 xfer_free(struct xfer_table *);	/* writes what is pending */
void	 xfer_sent(struct xfer_table *, const char *device,
	    const char *fwid, uint64_t off, uint64_t len, uint64_t size,
	    int64_t now);
void	 xfer_tick(struct xfer_table *, int64_t now);
/* Entries held (tests, metrics). */
size_t	 xfer_count(struct xfer_table *);

#endif
