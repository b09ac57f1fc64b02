/* SPDX-License-Identifier: MIT */
/* frame.h - capbus wire framing: bytes in, frame views out. No I/O, no allocation.
 *
 * A frame is  u32 length (big-endian) | body[length] | tag[tag_len].
 * tag_len is 0 during the handshake and FRAME_TAG_LEN afterwards. Untrusted input: every
 * length is checked before it is used. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define FRAME_HEADER_LEN 4
#define FRAME_TAG_LEN 16
#define FRAME_MAX_BODY_HARD (16u * 1024 * 1024) /* no configuration may exceed this */

/* Positive outcomes of frame_parse() the caller must handle. */
enum {
	FRAME_OK = 0,
	FRAME_INCOMPLETE = 1, /* need more bytes; *needed says how many in total */
	FRAME_TOO_LARGE = 2,  /* declared body length above max_body: drop the peer */
	FRAME_EMPTY = 3,      /* zero-length body: never valid */
};

struct frame_view {
	const uint8_t *header; /* FRAME_HEADER_LEN bytes */
	const uint8_t *body;
	uint32_t body_len;
	const uint8_t *tag;    /* NULL when tag_len is 0 */
	size_t total_len;      /* bytes this frame occupies in the buffer */
};

/* Looks for one complete frame at the start of buf. Returns FRAME_OK and fills *out,
 * or FRAME_INCOMPLETE with *needed set to the total size the frame will need (or the header
 * size if even that is missing), or FRAME_TOO_LARGE / FRAME_EMPTY. */
int frame_parse(const uint8_t *buf, size_t len, uint32_t max_body, size_t tag_len,
		struct frame_view *out, size_t *needed);

static inline void frame_put_header(uint8_t hdr[FRAME_HEADER_LEN], uint32_t body_len)
{
	hdr[0] = (uint8_t)(body_len >> 24);
	hdr[1] = (uint8_t)(body_len >> 16);
	hdr[2] = (uint8_t)(body_len >> 8);
	hdr[3] = (uint8_t)body_len;
}

static inline uint32_t frame_get_header(const uint8_t hdr[FRAME_HEADER_LEN])
{
	return (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
}
