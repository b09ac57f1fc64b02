// SPDX-License-Identifier: MIT
/* test-frame.c - unit tests for lib/frame.c: splitting a byte stream into frames.
 *
 * frame_parse() sees untrusted bytes; these tests pin every outcome and every length it
 * reports, including the hard limit that no configuration can lift. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "frame.h"

static size_t put_frame(uint8_t *buf, const char *body, size_t tag_len, uint8_t tag_byte)
{
	size_t len = strlen(body);
	frame_put_header(buf, (uint32_t)len);
	memcpy(buf + FRAME_HEADER_LEN, body, len);
	memset(buf + FRAME_HEADER_LEN + len, tag_byte, tag_len);
	return FRAME_HEADER_LEN + len + tag_len;
}

static void test_header_roundtrip(void)
{
	uint8_t hdr[FRAME_HEADER_LEN];
	const uint32_t values[] = { 0, 1, 0xff, 0x100, 0x01020304, 0x00ffffff, 0xffffffff };

	frame_put_header(hdr, 0x01020304);
	CHECK(hdr[0] == 1 && hdr[1] == 2 && hdr[2] == 3 && hdr[3] == 4); /* big-endian */
	for (size_t i = 0; i < ARRAY_LEN(values); i++) {
		frame_put_header(hdr, values[i]);
		CHECK(frame_get_header(hdr) == values[i]);
	}
}

static void test_incomplete_header(void)
{
	uint8_t buf[4] = { 0, 0, 0, 5 };
	struct frame_view v;

	for (size_t len = 0; len < FRAME_HEADER_LEN; len++) {
		size_t needed = 0;
		CHECK(frame_parse(buf, len, 1024, 0, &v, &needed) == FRAME_INCOMPLETE);
		CHECK(needed == FRAME_HEADER_LEN);
	}
}

static void test_empty_and_too_large(void)
{
	uint8_t buf[64] = { 0 };
	struct frame_view v;
	size_t needed = 0;

	CHECK(frame_parse(buf, sizeof(buf), 1024, 0, &v, &needed) == FRAME_EMPTY);
	CHECK(frame_parse(buf, sizeof(buf), 1024, FRAME_TAG_LEN, &v, &needed) == FRAME_EMPTY);

	/* Declared length above max_body: refused before any body byte arrives. */
	frame_put_header(buf, 1025);
	CHECK(frame_parse(buf, FRAME_HEADER_LEN, 1024, 0, &v, &needed) == FRAME_TOO_LARGE);
	frame_put_header(buf, 1024);
	CHECK(frame_parse(buf, FRAME_HEADER_LEN, 1024, 0, &v, &needed) == FRAME_INCOMPLETE);
	CHECK(needed == FRAME_HEADER_LEN + 1024);

	/* The hard limit holds even when the caller passes a larger max_body. */
	frame_put_header(buf, FRAME_MAX_BODY_HARD + 1);
	CHECK(frame_parse(buf, FRAME_HEADER_LEN, UINT32_MAX, 0, &v, &needed) == FRAME_TOO_LARGE);
	frame_put_header(buf, UINT32_MAX);
	CHECK(frame_parse(buf, FRAME_HEADER_LEN, UINT32_MAX, FRAME_TAG_LEN, &v, &needed) == FRAME_TOO_LARGE);
	frame_put_header(buf, FRAME_MAX_BODY_HARD);
	CHECK(frame_parse(buf, FRAME_HEADER_LEN, UINT32_MAX, FRAME_TAG_LEN, &v, &needed) == FRAME_INCOMPLETE);
	CHECK(needed == FRAME_HEADER_LEN + FRAME_MAX_BODY_HARD + FRAME_TAG_LEN);
}

static void test_complete_untagged(void)
{
	uint8_t buf[64];
	struct frame_view v;
	size_t needed = 0;
	size_t n = put_frame(buf, "hello", 0, 0);

	memset(&v, 0xaa, sizeof(v));
	CHECK(frame_parse(buf, n, 1024, 0, &v, &needed) == FRAME_OK);
	CHECK(v.header == buf);
	CHECK(v.body == buf + FRAME_HEADER_LEN);
	CHECK(v.body_len == 5);
	CHECK(memcmp(v.body, "hello", 5) == 0);
	CHECK(v.tag == NULL);
	CHECK(v.total_len == n);

	/* One byte short: incomplete, and *needed names the full size. */
	CHECK(frame_parse(buf, n - 1, 1024, 0, &v, &needed) == FRAME_INCOMPLETE);
	CHECK(needed == n);
	/* A body of exactly max_body is fine. */
	CHECK(frame_parse(buf, n, 5, 0, &v, &needed) == FRAME_OK);
	CHECK(frame_parse(buf, n, 4, 0, &v, &needed) == FRAME_TOO_LARGE);
}

static void test_complete_tagged(void)
{
	uint8_t buf[64];
	struct frame_view v;
	size_t needed = 0;
	size_t n = put_frame(buf, "{}", FRAME_TAG_LEN, 0x5a);

	CHECK(n == FRAME_HEADER_LEN + 2 + FRAME_TAG_LEN);
	CHECK(frame_parse(buf, n, 1024, FRAME_TAG_LEN, &v, &needed) == FRAME_OK);
	CHECK(v.body_len == 2);
	CHECK(v.tag == buf + FRAME_HEADER_LEN + 2);
	CHECK(v.tag[0] == 0x5a && v.tag[FRAME_TAG_LEN - 1] == 0x5a);
	CHECK(v.total_len == n);
	/* Missing only part of the tag is still incomplete. */
	for (size_t len = FRAME_HEADER_LEN; len < n; len++) {
		needed = 0;
		CHECK(frame_parse(buf, len, 1024, FRAME_TAG_LEN, &v, &needed) == FRAME_INCOMPLETE);
		CHECK(needed == n);
	}
}

static void test_stream_split(void)
{
	uint8_t buf[256];
	const char *bodies[] = { "a", "bc", "{\"type\":\"x\"}", "last" };
	size_t len = 0;

	for (size_t i = 0; i < ARRAY_LEN(bodies); i++)
		len += put_frame(buf + len, bodies[i], FRAME_TAG_LEN, (uint8_t)i);
	/* Trailing partial header of a fifth frame. */
	buf[len++] = 0;
	buf[len++] = 0;

	size_t off = 0, count = 0;
	for (;;) {
		struct frame_view v;
		size_t needed = 0;
		int r = frame_parse(buf + off, len - off, 1024, FRAME_TAG_LEN, &v, &needed);
		if (r != FRAME_OK) {
			CHECK(r == FRAME_INCOMPLETE);
			CHECK(needed == FRAME_HEADER_LEN);
			break;
		}
		CHECK(count < ARRAY_LEN(bodies));
		if (count >= ARRAY_LEN(bodies))
			break;
		CHECK(v.body_len == strlen(bodies[count]));
		CHECK(memcmp(v.body, bodies[count], v.body_len) == 0);
		CHECK(v.tag[0] == (uint8_t)count);
		off += v.total_len;
		count++;
	}
	CHECK(count == ARRAY_LEN(bodies));
	CHECK(off == len - 2);
}

int main(void)
{
	test_header_roundtrip();
	test_incomplete_header();
	test_empty_and_too_large();
	test_complete_untagged();
	test_complete_tagged();
	test_stream_split();
	return check_finish("test-frame");
}
