// SPDX-License-Identifier: MIT
/* router-parent.c - the router's side of the channel to the privileged parent.
 *
 * Policy bundles, launched skills' connections, peer-check verdicts and answers to admin
 * requests come in; requests go out through a queue, so the router never blocks on a parent
 * that may itself be busy sending. Everything from the parent is size-checked before use. */
#include <fcntl.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "common/privsep.h"
#include "router/router-internal.h"

/* A skill the parent launched: its connection must authenticate as that skill and nothing else. */
static void adopt_skill(struct router *r, const struct ps_adopt *a, int fd)
{
	if (fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		close(fd);
		return;
	}
	/* SO_PEERCRED would name the parent that made the pair: the parent says who runs there. */
	struct conn *c = conn_new(r, fd, a->pid, a->uid, false);
	if (c)
		snprintf(c->expected_id, sizeof(c->expected_id), "%s", a->id);
}

static void skill_state(struct router *r, const struct ps_skill_state *st)
{
	size_t i;

	for (i = 0; i < r->n_skills && !streq(r->skills[i].st.id, st->id); i++)
		;
	if (streq(st->state, "removed")) {
		if (i < r->n_skills)
			r->skills[i] = r->skills[--r->n_skills];
		return;
	}
	if (i == r->n_skills) {
		struct skill_status *v = realloc(r->skills, (r->n_skills + 1) * sizeof(*v));
		if (!v)
			return;
		r->skills = v;
		r->n_skills++;
	}
	r->skills[i].st = *st;
}

/* A new policy is in force: re-resolve identities, drop what is no longer allowed. */
static void policy_swap(struct router *r, struct policy *p)
{
	struct policy *old = r->policy;

	r->policy = p;
	if (!old) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &r->w_listen };
		if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->listen_fd, &ev) < 0)
			log_event(LOG_LEVEL_ERROR, "listen_failed", "error=%s", LOG_Q(strerror(errno)));
	}
	for (struct conn *c = r->conns; c; c = c->next) {
		if (c->state != CONN_READY || c->doomed)
			continue;
		c->ident = policy_find(p, c->session.id);
		if (!c->ident) {
			r->counters.revoked++;
			conn_send_error(r, c, "revoked", "this identity was removed from the bus", NULL, NULL);
			conn_close_after_flush(r, c);
			c->ident = NULL;
			continue;
		}
		for (uint32_t i = 0; i < c->n_subs;) {
			if (identity_may_subscribe(c->ident, c->subs[i])) {
				i++;
				continue;
			}
			_cleanup_free_ char *pattern = strdup(c->subs[i]);
			r->counters.revoked++;
			log_event(LOG_LEVEL_INFO, "subscription_revoked", "id=%s pattern=%s", LOG_Q(c->session.id),
				  LOG_Q(c->subs[i]));
			router_unsubscribe(r, c, c->subs[i]);
			if (pattern)
				conn_send_error(r, c, "revoked", "permission revoked; subscription dropped", pattern, NULL);
		}
	}
	policy_free(old);
}

void router_parent_message(struct router *r)
{
	struct ps_header hdr;
	_cleanup_close_ int passed = -1;
	ssize_t n = ps_recv_fd(r->ps_fd, r->ps_buf, &hdr, &passed);
	const uint8_t *payload = r->ps_buf + sizeof(hdr);

	if (n <= 0) {
		log_event(LOG_LEVEL_ERROR, "parent_gone", "error=%s", n == 0 ? "eof" : LOG_Q(strerror((int)-n)));
		r->stop = true;
		return;
	}
	switch (hdr.type) {
	case PS_BUNDLE_BEGIN:
		policy_builder_free(r->building);
		r->building = NULL;
		if (policy_builder_new(&r->building) < 0)
			r->building = NULL;
		return;
	case PS_BUNDLE_FILE: {
		struct ps_file f;
		if (!r->building || hdr.len < sizeof(f))
			return;
		memcpy(&f, payload, sizeof(f));
		f.id[sizeof(f.id) - 1] = f.name[sizeof(f.name) - 1] = '\0';
		policy_builder_add_file(r->building, f.kind, f.id, f.name, (const char *)payload + sizeof(f),
					hdr.len - sizeof(f));
		return;
	}
	case PS_BUNDLE_KEY: {
		struct ps_key k;
		if (!r->building || hdr.len != sizeof(k))
			return;
		memcpy(&k, payload, sizeof(k));
		k.id[sizeof(k.id) - 1] = '\0';
		policy_builder_add_key(r->building, k.id, k.key);
		sodium_memzero(&k, sizeof(k));
		sodium_memzero(r->ps_buf, (size_t)n);
		return;
	}
	case PS_BUNDLE_END: {
		struct policy *p = NULL;
		char **errors = NULL;
		size_t n_errors = 0;
		if (!r->building)
			return;
		int ret = policy_builder_finish(TAKE_PTR(r->building), ++r->generation, &p, &errors, &n_errors);
		for (size_t i = 0; i < n_errors; i++) {
			log_event(LOG_LEVEL_ERROR, "manifest_invalid", "error=%s", LOG_Q(errors[i]));
			free(errors[i]);
		}
		free(errors);
		if (ret < 0) {
			log_event(LOG_LEVEL_ERROR, "policy_compile_failed", "error=%s", LOG_Q(strerror(-ret)));
			return;
		}
		log_event(LOG_LEVEL_INFO, "policy_loaded", "generation=%llu identities=%zu",
			  (unsigned long long)r->generation, p->n_identities);
		policy_swap(r, p);
		return;
	}
	case PS_REPLY: {
		struct ps_reply rep;
		if (hdr.len != sizeof(rep))
			return;
		memcpy(&rep, payload, sizeof(rep));
		rep.id[sizeof(rep.id) - 1] = '\0';
		control_parent_reply(r, &rep);
		sodium_memzero(&rep, sizeof(rep));
		sodium_memzero(r->ps_buf, (size_t)n);
		return;
	}
	case PS_ADOPT: {
		struct ps_adopt a;
		if (hdr.len != sizeof(a) || passed < 0)
			return;
		memcpy(&a, payload, sizeof(a));
		a.id[sizeof(a.id) - 1] = '\0';
		adopt_skill(r, &a, TAKE_FD(passed));
		return;
	}
	case PS_PEER_POLICY: {
		struct ps_peer_policy pp;
		if (hdr.len != sizeof(pp))
			return;
		memcpy(&pp, payload, sizeof(pp));
		r->peer_check = pp.check != 0;
		return;
	}
	case PS_PEER_VERDICT: {
		struct ps_peer_verdict v;
		if (hdr.len != sizeof(v))
			return;
		memcpy(&v, payload, sizeof(v));
		struct conn *c = router_find_conn(r, v.serial);
		if (!v.allowed)
			r->counters.peer_denied++; /* counted even if the peer already hung up */
		if (!c || c->state != CONN_CHECKING)
			return;
		if (v.allowed)
			conn_greet(r, c);
		else
			conn_doom(r, c, NULL); /* the parent logged it */
		return;
	}
	case PS_NONCE: {
		struct ps_nonce nn;
		if (hdr.len != sizeof(nn))
			return;
		memcpy(&nn, payload, sizeof(nn));
		control_nonce(r, &nn);
		return;
	}
	case PS_GUARD_INFO: {
		struct ps_guard_info info;
		if (hdr.len != sizeof(info))
			return;
		memcpy(&info, payload, sizeof(info));
		control_guard_info(r, &info);
		return;
	}
	case PS_SKILL_STATE: {
		struct ps_skill_state st;
		if (hdr.len != sizeof(st))
			return;
		memcpy(&st, payload, sizeof(st));
		st.id[sizeof(st.id) - 1] = st.state[sizeof(st.state) - 1] = st.last_exit[sizeof(st.last_exit) - 1] = '\0';
		skill_state(r, &st);
		return;
	}
	default:
		return;
	}
}

static void ps_set_want_out(struct router *r, bool on)
{
	if (r->ps_want_out == on)
		return;
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = &r->w_parent };
	if (epoll_ctl(r->epfd, EPOLL_CTL_MOD, r->ps_fd, &ev) == 0)
		r->ps_want_out = on;
}

/* Sends what is queued for the parent, in order, until the channel is full. */
void router_ps_flush(struct router *r)
{
	while (r->ps_out_head) {
		struct ps_out *o = r->ps_out_head;
		int ret = ps_send_packet(r->ps_fd, o->data, o->len, o->fd, MSG_DONTWAIT);
		if (ret == -EAGAIN) {
			ps_set_want_out(r, true);
			return;
		}
		if (ret < 0)
			log_event(LOG_LEVEL_ERROR, "parent_send_failed", "error=%s", LOG_Q(strerror(-ret)));
		r->ps_out_head = o->next;
		if (!r->ps_out_head)
			r->ps_out_tail = NULL;
		if (o->fd >= 0)
			close(o->fd);
		free(o);
	}
	ps_set_want_out(r, false);
}

int router_ps_send(struct router *r, enum ps_type type, const void *fixed, size_t fixed_len, const void *text,
		   size_t text_len, int passed_fd)
{
	struct ps_header hdr = { .type = type, .len = (uint32_t)(fixed_len + text_len) };
	size_t len = sizeof(hdr) + fixed_len + text_len;

	if (text_len > PS_TEXT_MAX)
		return -EMSGSIZE;
	struct ps_out *o = malloc(sizeof(*o) + len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->len = len;
	o->fd = passed_fd >= 0 ? fcntl(passed_fd, F_DUPFD_CLOEXEC, 3) : -1;
	if (passed_fd >= 0 && o->fd < 0) {
		free(o);
		return negative_errno();
	}
	memcpy(o->data, &hdr, sizeof(hdr));
	if (fixed_len)
		memcpy(o->data + sizeof(hdr), fixed, fixed_len);
	if (text_len)
		memcpy(o->data + sizeof(hdr) + fixed_len, text, text_len);
	if (r->ps_out_tail)
		r->ps_out_tail->next = o;
	else
		r->ps_out_head = o;
	r->ps_out_tail = o;
	router_ps_flush(r);
	return 0;
}

