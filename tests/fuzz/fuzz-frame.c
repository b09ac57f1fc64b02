// SPDX-License-Identifier: MIT
/* fuzz-frame.c - libFuzzer target: frame_parse() on arbitrary bytes, and a stream splitter.
 *
 * Input: byte 0 picks max_body and whether frames carry a tag; the rest is the stream. Each
 * frame found in one pass over the whole buffer must also be found, identically, when the same
 * bytes arrive in chunks (sizes taken from the data) and are reassembled the way a reader does. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_FRAMES 256

struct found {
	size_t offset, total;
	uint32_t body_len;
};

static void check_view(const uint8_t *buf, size_t len, uint32_t max_body, size_t tag_len, int r,
		       const struct frame_view *v, size_t needed)
{
	switch (r) {
	case FRAME_OK:
		if (v->header != buf || v->body != buf + FRAME_HEADER_LEN || v->body_len == 0 ||
		    v->body_len > max_body || v->body_len > FRAME_MAX_BODY_HARD ||
		    v->total_len != FRAME_HEADER_LEN + v->body_len + tag_len || v->total_len > len ||
		    v->body_len != frame_get_header(buf))
			abort();
		if (tag_len ? v->tag != v->body + v->body_len : v->tag != NULL)
			abort();
		break;
	case FRAME_INCOMPLETE:
		if (needed <= len || (len >= FRAME_HEADER_LEN && needed != FRAME_HEADER_LEN + frame_get_header(buf) + tag_len))
			abort();
		if (len < FRAME_HEADER_LEN && needed != FRAME_HEADER_LEN)
			abort();
		break;
	case FRAME_TOO_LARGE:
		if (len < FRAME_HEADER_LEN || (frame_get_header(buf) <= max_body && frame_get_header(buf) <= FRAME_MAX_BODY_HARD))
			abort();
		break;
	case FRAME_EMPTY:
		if (len < FRAME_HEADER_LEN || frame_get_header(buf) != 0)
			abort();
		break;
	default:
		abort();
	}
}

/* One pass over the whole buffer. Returns the number of frames and the final outcome. */
static size_t split_all(const uint8_t *data, size_t size, uint32_t max_body, size_t tag_len, struct found *out,
			int *last)
{
	size_t off = 0, n = 0;

	for (;;) {
		struct frame_view v;
		size_t needed = 0;
		int r = frame_parse(data + off, size - off, max_body, tag_len, &v, &needed);
		check_view(data + off, size - off, max_body, tag_len, r, &v, needed);
		if (r != FRAME_OK || n == MAX_FRAMES) {
			*last = r;
			return n;
		}
		out[n].offset = off;
		out[n].total = v.total_len;
		out[n].body_len = v.body_len;
		n++;
		off += v.total_len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t limits[] = { 1, 2, 16, 256, 65536, FRAME_MAX_BODY_HARD, UINT32_MAX };
	struct found whole[MAX_FRAMES], chunked[MAX_FRAMES];
	int last_whole = 0;

	if (size < 1)
		return 0;
	uint32_t max_body = limits[(data[0] & 0x0f) % (sizeof(limits) / sizeof(limits[0]))];
	size_t tag_len = data[0] & 0x10 ? FRAME_TAG_LEN : 0;
	data++;
	size--;

	size_t n_whole = split_all(data, size, max_body, tag_len, whole, &last_whole);

	/* Reassembly: bytes arrive in chunks of 1..8 bytes (sizes from the data itself); after each
	 * chunk, complete frames are taken off the front. */
	uint8_t *buf = malloc(size ? size : 1);
	size_t have = 0, fed = 0, consumed = 0, n = 0;
	int last = FRAME_INCOMPLETE;
	while (fed < size && last == FRAME_INCOMPLETE) {
		size_t chunk = 1 + data[fed] % 8;
		if (chunk > size - fed)
			chunk = size - fed;
		memcpy(buf + have, data + fed, chunk);
		have += chunk;
		fed += chunk;
		for (;;) {
			struct frame_view v;
			size_t needed = 0;
			last = frame_parse(buf, have, max_body, tag_len, &v, &needed);
			check_view(buf, have, max_body, tag_len, last, &v, needed);
			if (last != FRAME_OK)
				break;
			if (n == MAX_FRAMES)
				break;
			chunked[n].offset = consumed;
			chunked[n].total = v.total_len;
			chunked[n].body_len = v.body_len;
			if (memcmp(v.body, data + consumed + FRAME_HEADER_LEN, v.body_len) != 0)
				abort();
			n++;
			consumed += v.total_len;
			memmove(buf, buf + v.total_len, have - v.total_len);
			have -= v.total_len;
		}
		if (n == MAX_FRAMES)
			break;
	}
	free(buf);
	if (n != n_whole && n < MAX_FRAMES && n_whole < MAX_FRAMES)
		abort();
	for (size_t i = 0; i < n && i < n_whole; i++)
		if (chunked[i].offset != whole[i].offset || chunked[i].total != whole[i].total ||
		    chunked[i].body_len != whole[i].body_len)
			abort();
	/* The stream ends the same way: an error shows up in both, at the same frame. */
	if (n_whole < MAX_FRAMES && n < MAX_FRAMES && last != last_whole)
		abort();
	return 0;
}
