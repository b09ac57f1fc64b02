// SPDX-License-Identifier: MIT
/* frame.c - split a byte stream into capbus frames. Pure function over untrusted bytes. */
#include "frame.h"

int frame_parse(const uint8_t *buf, size_t len, uint32_t max_body, size_t tag_len,
		struct frame_view *out, size_t *needed)
{
	if (len < FRAME_HEADER_LEN) {
		*needed = FRAME_HEADER_LEN;
		return FRAME_INCOMPLETE;
	}
	uint32_t body_len = frame_get_header(buf);
	if (body_len == 0)
		return FRAME_EMPTY;
	if (body_len > max_body || body_len > FRAME_MAX_BODY_HARD)
		return FRAME_TOO_LARGE;

	size_t total = FRAME_HEADER_LEN + (size_t)body_len + tag_len;
	if (len < total) {
		*needed = total;
		return FRAME_INCOMPLETE;
	}
	out->header = buf;
	out->body = buf + FRAME_HEADER_LEN;
	out->body_len = body_len;
	out->tag = tag_len ? buf + FRAME_HEADER_LEN + body_len : NULL;
	out->total_len = total;
	return FRAME_OK;
}
