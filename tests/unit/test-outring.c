// SPDX-License-Identifier: MIT
/* test-outring.c - unit tests for busd/parent/outring.c: numbering, both bounds, cursors. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "parent/outring.h"

static void push(struct outring *r, const char *text)
{
	REQUIRE(outring_push(r, OUTRING_STDOUT, 42, text, strlen(text)) == 0);
}

static void test_cursor(void)
{
	struct outring *r;
	struct outring_answer a;
	char buf[256];

	REQUIRE(outring_new(4, 1000, &r) == 0);
	size_t n = outring_read(r, 0, buf, sizeof(buf), &a);
	CHECK(n == 0 && a.n_lines == 0 && a.next == 1 && a.dropped == 0 && !a.more);
	push(r, "one");
	push(r, "two");
	n = outring_read(r, 0, buf, sizeof(buf), &a);
	buf[n] = '\0';
	CHECK_STREQ(buf, "o 42 one\no 42 two\n");
	CHECK(a.first == 1 && a.next == 3 && a.n_lines == 2);
	/* Asking again with the cursor: nothing twice. */
	n = outring_read(r, a.next, buf, sizeof(buf), &a);
	CHECK(n == 0 && a.next == 3);
	for (int i = 3; i <= 7; i++) {
		char t[8];
		snprintf(t, sizeof(t), "l%d", i);
		push(r, t);
	}
	/* Four lines kept (4..7): from cursor 3, one line was lost and is counted. */
	n = outring_read(r, 3, buf, sizeof(buf), &a);
	buf[n] = '\0';
	CHECK_STREQ(buf, "o 42 l4\no 42 l5\no 42 l6\no 42 l7\n");
	CHECK(a.dropped == 1 && a.first == 4 && a.next == 8);
	/* A cursor from the future (a ring made again): from the oldest held. */
	outring_read(r, 1000, buf, sizeof(buf), &a);
	CHECK(a.first == 4 && a.n_lines == 4);
	outring_free(r);
}

static void test_bytes_and_room(void)
{
	struct outring *r;
	struct outring_answer a;
	char buf[20];

	REQUIRE(outring_new(100, 10, &r) == 0);
	CHECK(outring_push(r, OUTRING_STDERR, 1, "0123456789x", 11) == -E2BIG);
	push(r, "aaaa");
	push(r, "bbbb");
	push(r, "cccc"); /* 12 bytes > 10: "aaaa" goes */
	size_t n = outring_read(r, 0, buf, sizeof(buf), &a);
	/* "o 42 bbbb\n" is 10 bytes: two records do not fit in 20 with room to spare... exactly 20. */
	CHECK(n == 20 && a.n_lines == 2 && a.first == 2 && !a.more);
	n = outring_read(r, 0, buf, 15, &a);
	CHECK(n == 10 && a.n_lines == 1 && a.more && a.next == 3);
	CHECK(outring_next_seq(r) == 4);
	outring_free(r);
	outring_free(NULL);
}

int main(void)
{
	test_cursor();
	test_bytes_and_room();
	return check_finish("test-outring");
}
