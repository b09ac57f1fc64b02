// SPDX-License-Identifier: MIT
/* outring.c - the numbered ring of a skill's recent output lines (no I/O). */
#include "parent/outring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct line {
	uint64_t time_ms;
	uint32_t len;
	char stream;
	char text[]; /* len bytes, not terminated */
};

struct outring {
	struct line **slots; /* max_lines entries; the oldest at head */
	size_t max_lines, max_bytes;
	size_t head, count, bytes;
	uint64_t next_seq;
};

int outring_new(size_t max_lines, size_t max_bytes, struct outring **out)
{
	struct outring *ring = calloc(1, sizeof(*ring));

	if (!ring || max_lines == 0 || max_bytes == 0 || !(ring->slots = calloc(max_lines, sizeof(*ring->slots)))) {
		free(ring);
		return -ENOMEM;
	}
	ring->max_lines = max_lines;
	ring->max_bytes = max_bytes;
	ring->next_seq = 1;
	*out = ring;
	return 0;
}

static void drop_oldest(struct outring *ring)
{
	struct line *l = ring->slots[ring->head];

	ring->bytes -= l->len;
	free(l);
	ring->slots[ring->head] = NULL;
	ring->head = (ring->head + 1) % ring->max_lines;
	ring->count--;
}

void outring_free(struct outring *ring)
{
	if (!ring)
		return;
	while (ring->count)
		drop_oldest(ring);
	free(ring->slots);
	free(ring);
}

int outring_push(struct outring *ring, enum outring_stream stream, uint64_t time_ms, const char *text, size_t len)
{
	if (len > ring->max_bytes || len > UINT32_MAX)
		return -E2BIG;
	struct line *l = malloc(sizeof(*l) + len);
	if (!l)
		return -ENOMEM;
	l->time_ms = time_ms;
	l->len = (uint32_t)len;
	l->stream = (char)stream;
	memcpy(l->text, text, len);
	while (ring->count && (ring->count == ring->max_lines || ring->bytes + len > ring->max_bytes))
		drop_oldest(ring);
	ring->slots[(ring->head + ring->count) % ring->max_lines] = l;
	ring->count++;
	ring->bytes += len;
	ring->next_seq++;
	return 0;
}

uint64_t outring_next_seq(const struct outring *ring)
{
	return ring->next_seq;
}

size_t outring_read(const struct outring *ring, uint64_t cursor, char *buf, size_t size, struct outring_answer *ans)
{
	uint64_t oldest = ring->next_seq - ring->count;
	size_t used = 0;

	memset(ans, 0, sizeof(*ans));
	if (cursor == 0)
		cursor = oldest;
	if (cursor > ring->next_seq) /* from a ring freed and made again: start over */
		cursor = oldest;
	if (cursor < oldest) {
		ans->dropped = oldest - cursor;
		cursor = oldest;
	}
	ans->first = cursor;
	for (uint64_t seq = cursor; seq < ring->next_seq; seq++) {
		const struct line *l = ring->slots[(ring->head + (seq - oldest)) % ring->max_lines];
		char head[32];
		int n = snprintf(head, sizeof(head), "%c %" PRIu64 " ", l->stream, l->time_ms);
		if (n < 0 || used + (size_t)n + l->len + 1 > size) {
			ans->more = true;
			break;
		}
		memcpy(buf + used, head, (size_t)n);
		memcpy(buf + used + n, l->text, l->len);
		used += (size_t)n + l->len;
		buf[used++] = '\n';
		ans->n_lines++;
		cursor = seq + 1;
	}
	ans->next = cursor;
	return used;
}
