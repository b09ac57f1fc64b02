// SPDX-License-Identifier: MIT
/* outq.c - per-connection output queues: shared bodies, per-receiver MACs, one writev per flush.
 *
 * A message is serialised once; each receiver's queue entry holds a reference to the body plus
 * its own 4-byte header and 16-byte tag (its session key, its sequence number). The queue
 * array exists only while something is queued, so idle connections cost nothing here. */
#include <sys/epoll.h>
#include <sys/uio.h>

#include "frame.h"
#include "mac.h"
#include "router/conn.h"
#include "util.h"

#define FLUSH_MAX_ENTRIES 256 /* 3 iovecs each, below IOV_MAX */

struct msgbuf *msgbuf_alloc(size_t cap)
{
	struct msgbuf *b = malloc(sizeof(*b) + cap);
	if (!b)
		return NULL;
	b->refs = 1;
	b->len = 0;
	return b;
}

struct msgbuf *msgbuf_new(const void *data, size_t len)
{
	struct msgbuf *b = msgbuf_alloc(len);
	if (!b)
		return NULL;
	b->len = (uint32_t)len;
	memcpy(b->data, data, len);
	return b;
}

void msgbuf_unref(struct msgbuf *b)
{
	if (b && --b->refs == 0)
		free(b);
}

static int outq_reserve(struct conn *c)
{
	if (c->q_len < c->q_cap)
		return 0;
	uint32_t cap = c->q_cap ? c->q_cap * 2 : 8;
	struct outq_entry *q = malloc(cap * sizeof(*q));
	if (!q)
		return -ENOMEM;
	for (uint32_t i = 0; i < c->q_len; i++)
		q[i] = c->q[(c->q_head + i) % c->q_cap];
	free(c->q);
	c->q = q;
	c->q_cap = cap;
	c->q_head = 0;
	return 0;
}

void outq_schedule(struct outq_ctx *q, struct conn *c)
{
	if (c->in_flush_list)
		return;
	c->in_flush_list = true;
	c->flush_next = q->flush_head;
	q->flush_head = c;
}

int outq_push(struct outq_ctx *q, struct conn *c, struct msgbuf *buf, bool sign)
{
	if (c->doomed)
		return 0;
	uint64_t size = FRAME_HEADER_LEN + buf->len + (sign ? FRAME_TAG_LEN : 0);
	/* A reader that has caught up always takes the next message, however large (max_frame may
	 * exceed max_queue); only a backlog is held against it. A queue therefore holds at most
	 * max_queue bytes plus one message. */
	if (c->q_bytes > 0 && c->q_bytes + size > q->max_queue)
		return -ENOBUFS;
	if (outq_reserve(c) < 0)
		return -ENOMEM;
	struct outq_entry *e = &c->q[(c->q_head + c->q_len) % c->q_cap];
	e->buf = buf;
	e->sent = 0;
	e->tag_len = sign ? FRAME_TAG_LEN : 0;
	frame_put_header(e->hdr, buf->len);
	if (sign)
		mac_sign(&c->session.tx, e->hdr, buf->data, buf->len, e->tag);
	buf->refs++;
	c->q_len++;
	c->q_bytes += size;
	outq_schedule(q, c);
	return 0;
}

static void set_want_out(struct outq_ctx *q, struct conn *c, bool on)
{
	if (c->want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &c->watch };
	if (epoll_ctl(q->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = on;
}

int outq_flush(struct outq_ctx *q, struct conn *c)
{
	while (c->q_len > 0) {
		struct iovec iov[FLUSH_MAX_ENTRIES * 3];
		int n_iov = 0;
		uint32_t n = c->q_len < FLUSH_MAX_ENTRIES ? c->q_len : FLUSH_MAX_ENTRIES;
		for (uint32_t i = 0; i < n; i++) {
			struct outq_entry *e = &c->q[(c->q_head + i) % c->q_cap];
			size_t skip = e->sent;
			const struct iovec parts[3] = {
				{ e->hdr, FRAME_HEADER_LEN }, { e->buf->data, e->buf->len }, { e->tag, e->tag_len },
			};
			for (int p = 0; p < 3; p++) {
				if (skip >= parts[p].iov_len) {
					skip -= parts[p].iov_len;
					continue;
				}
				iov[n_iov].iov_base = (uint8_t *)parts[p].iov_base + skip;
				iov[n_iov].iov_len = parts[p].iov_len - skip;
				n_iov++;
				skip = 0;
			}
		}
		ssize_t w = writev(c->fd, iov, n_iov);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				set_want_out(q, c, true);
				return 0;
			}
			return negative_errno();
		}
		size_t left = (size_t)w;
		while (left > 0 && c->q_len > 0) {
			struct outq_entry *e = &c->q[c->q_head];
			size_t size = FRAME_HEADER_LEN + e->buf->len + e->tag_len;
			size_t take = size - e->sent < left ? size - e->sent : left;
			e->sent += (uint32_t)take;
			left -= take;
			if (e->sent < size)
				break;
			c->q_bytes -= size;
			msgbuf_unref(e->buf);
			c->q_head = (c->q_head + 1) % c->q_cap;
			c->q_len--;
		}
	}
	/* Drained: give the memory back, an idle connection keeps no buffers. */
	free(c->q);
	c->q = NULL;
	c->q_cap = c->q_head = 0;
	set_want_out(q, c, false);
	return c->close_after_flush ? OUTQ_CLOSE : 0;
}

void outq_clear(struct conn *c)
{
	for (uint32_t i = 0; i < c->q_len; i++)
		msgbuf_unref(c->q[(c->q_head + i) % c->q_cap].buf);
	free(c->q);
	c->q = NULL;
	c->q_len = c->q_cap = c->q_head = 0;
	c->q_bytes = 0;
}
