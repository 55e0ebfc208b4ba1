/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * image.h: a firmware image as the front ends see it.
 *
 * A read-only memory map of an image file, shared and reference-counted:
 * core_download hands one reference to a front end, which serves bytes
 * straight from data (a CoAP block, an HTTP range) and drops its
 * reference when the last byte has left; store_image_unref unmaps on the
 * last reference.  This is all of the store a front end may see: records
 * and transactions (store/store.h) are core's and ops' business.
 */
#ifndef OTAGW_STORE_IMAGE_H
#define OTAGW_STORE_IMAGE_H

#include <stdint.h>

struct store_image {
	const uint8_t *data;
	uint64_t size;
};

void	 store_image_ref(const struct store_image *);
void	 store_image_unref(const struct store_image *);	/* NULL ok */

#endif
