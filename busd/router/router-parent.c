// SPDX-License-Identifier: MIT
/* router-parent.c - the router's side of the channel to the privileged parent.
 *
 * Policy bundles, launched skills' connections, peer-check verdicts and answers to admin
 * requests come in; requests go out through a queue, so the router never blocks on a parent
 * that may itself be busy sending. Everything from the parent passes the privsep decoder
 * (common/privsep.c) first; a malformed message ends the router. */
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "router/router-parent.h"

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
	struct conn *c = conn_new(r, fd, a->pid, a->uid, 0, false);
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

const struct skill_status *router_skill_status(const struct router *r, const char *id)
{
	for (size_t i = 0; i < r->n_skills; i++)
		if (streq(r->skills[i].st.id, id))
			return &r->skills[i];
	return NULL;
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
		if (c->state != CONN_READY)
			continue;
		/* Doomed and closing connections hear nothing more and use no identity; they drop
		 * their pointer into the old policy before it is freed below. */
		if (c->doomed || c->close_after_flush) {
			c->ident = NULL;
			continue;
		}
		const struct identity *ident = policy_find(p, c->session.id);
		/* A delegated session lives only as long as its manifest still accepts the gateway. */
		if (!ident) {
			conn_lose_identity(r, c);
			continue;
		}
		if (c->via_gateway && !identity_delegable(ident)) {
			c->ident = NULL;
			r->counters.revoked++;
			log_event(LOG_LEVEL_INFO, "delegation_revoked", "id=%s peer=%s", LOG_Q(c->session.id),
				  LOG_Q(c->peer_desc));
			conn_send_error(r, c, "revoked", "this identity no longer accepts sessions through the gateway", NULL,
					NULL);
			conn_close_after_flush(r, c);
			continue;
		}
		c->ident = ident;
		for (uint32_t i = 0; i < c->n_subs;) {
			/* The "*" of a delegated session never passed the subscribe check: delivery filters. */
			if (policy_may_subscribe(r->policy, c->ident, c->subs[i]) ||
			    (c->sub_permitted && streq(c->subs[i], "*"))) {
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

static void bundle_end(struct router *r)
{
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
	log_event(LOG_LEVEL_INFO, "policy_loaded", "generation=%llu identities=%zu", (unsigned long long)r->generation,
		  p->n_identities);
	policy_swap(r, p);
}

static void peer_verdict(struct router *r, const struct ps_peer_verdict *v)
{
	struct conn *c = router_find_conn(r, v->serial);

	if (!v->allowed)
		r->counters.peer_denied++; /* counted even if the peer already hung up */
	if (!c || c->state != CONN_CHECKING)
		return;
	if (v->allowed)
		conn_greet(r, c);
	else
		conn_doom(r, c, NULL); /* the parent logged it */
}

/* The parent broke the channel protocol: nothing it sends can be relied on any more. */
static void channel_broken(struct router *r, const struct ps_msg *msg, const char *reason)
{
	log_event(LOG_LEVEL_ERROR, "privsep_malformed", "type=%u name=%s size=%u reason=%s", msg->type,
		  ps_type_name(msg->type), msg->size, reason);
	r->stop = true;
	r->exit_code = 1;
}

void router_parent_message(struct router *r)
{
	struct ps_msg msg;
	int ret = ps_read(r->ps_fd, PS_TO_ROUTER, r->ps_buf, &msg);

	if (ret == PS_EOF || ret < 0) {
		log_event(LOG_LEVEL_ERROR, "parent_gone", "error=%s", ret == PS_EOF ? "eof" : LOG_Q(strerror(-ret)));
		r->stop = true;
		return;
	}
	if (ret == PS_MALFORMED) {
		channel_broken(r, &msg, msg.reason);
		return;
	}
	switch (msg.type) {
	case PS_BUNDLE_BEGIN:
		policy_builder_free(r->building);
		r->building = NULL;
		if (policy_builder_new(&r->building) < 0)
			r->building = NULL;
		break;
	case PS_BUNDLE_FILE:
		if (r->building)
			policy_builder_add_file(r->building, msg.u.file.kind, msg.u.file.id, msg.u.file.name, msg.text,
						msg.text_len);
		break;
	case PS_BUNDLE_KEY:
		if (r->building)
			policy_builder_add_key(r->building, msg.u.key.id, msg.u.key.key);
		break;
	case PS_BUNDLE_END:
		bundle_end(r);
		break;
	case PS_REPLY:
		control_parent_reply(r, &msg.u.reply);
		break;
	case PS_ADOPT:
		adopt_skill(r, &msg.u.adopt, TAKE_FD(msg.fd));
		break;
	case PS_PEER_POLICY:
		r->peer_check = msg.u.peer_policy.check != 0;
		break;
	case PS_PEER_VERDICT:
		peer_verdict(r, &msg.u.peer_verdict);
		break;
	case PS_GUARD_INFO:
		control_guard_info(r, &msg.u.guard_info);
		break;
	case PS_SKILL_STATE:
		skill_state(r, &msg.u.skill_state);
		break;
	case PS_LOGS:
		control_logs(r, &msg.u.logs, msg.text, msg.text_len);
		break;
	case PS_NONCE:
		control_nonce(r, &msg.u.nonce);
		break;
	case PS_GATEWAY_PEER:
		/* Applies to handshakes from now on; sessions already open stay (a restarted gateway's
		 * old connections ended with its process). */
		r->gateway = msg.u.gateway_peer;
		break;
	default:
		/* Well-formed but not now: the configuration comes once, before the loop. */
		channel_broken(r, &msg, "out_of_order");
		break;
	}
	ps_msg_wipe(&msg);
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
	if (ps_check_outgoing(type, fixed_len, text_len, passed_fd >= 0) < 0)
		return -EINVAL;
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

