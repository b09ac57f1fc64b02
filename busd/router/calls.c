// SPDX-License-Identifier: MIT
/* calls.c - the pending-call table: slots addressed by the router id, a quota per owner.
 *
 * Trust level: router (unprivileged); callers and answerers are hostile clients, so every
 * lookup is by an id the router made, and every size is bounded. A router id carries its slot
 * in the low SLOT_BITS bits and a sequence number above them: a lookup is one index and one
 * compare, and an id of a finished call never matches the slot's next call. A freed slot keeps
 * the id and the reply type's hash of the call it held until it is reused (first in, first out,
 * and only while RECENT_MIN others are free), so a second or late reply is recognised as such. */
#include "router/calls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BITS 20
#define SLOT_MASK ((1u << SLOT_BITS) - 1)
#define RECENT_MIN 256u
#define NO_SLOT UINT32_MAX

struct slot {
	uint64_t id;          /* the current call, or the last one this slot held; 0: never used */
	bool pending;
	bool orphan;          /* lost its last possible answerer */
	uint64_t caller;
	uint64_t deadline_ms;
	uint64_t reply_hash;  /* kept after the call ends: recognises a second reply */
	char *type, *reply_type;
	char call_id[CALL_ID_MAX + 1];
	uint32_t owner;       /* index into owners */
	uint64_t *targets;
	uint32_t n_targets, cap_targets;
	uint32_t next_free;
};

struct owner {
	char name[CALL_OWNER_MAX + 1];
	uint32_t pending;
};

struct calls {
	struct slot *slots;
	uint32_t n_slots, max_calls, per_owner, n_pending;
	uint32_t n_orphans;            /* pending calls marked orphan: checked every loop pass */
	uint32_t free_head, free_tail; /* FIFO of free slots */
	uint64_t seq;
	struct owner *owners;          /* owners with pending calls */
	uint32_t n_owners, cap_owners;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

int calls_new(struct calls **out, uint32_t max_calls, uint32_t per_owner)
{
	if (max_calls == 0 || max_calls > SLOT_MASK || per_owner == 0)
		return -EINVAL;
	struct calls *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->max_calls = max_calls;
	t->per_owner = per_owner;
	t->free_head = t->free_tail = NO_SLOT;
	*out = t;
	return 0;
}

static void slot_release(struct slot *s)
{
	free(s->type);
	free(s->reply_type);
	free(s->targets);
	s->type = s->reply_type = NULL;
	s->targets = NULL;
	s->n_targets = s->cap_targets = 0;
}

void calls_free(struct calls *t)
{
	if (!t)
		return;
	for (uint32_t i = 0; i < t->n_slots; i++)
		slot_release(&t->slots[i]);
	free(t->slots);
	free(t->owners);
	free(t);
}

static bool name_ok(const char *s, size_t max)
{
	size_t n = s ? strnlen(s, max + 1) : 0;
	return n >= 1 && n <= max;
}

bool calls_id_is_valid(const char *s, size_t len)
{
	const size_t plen = sizeof(CALL_WIRE_PREFIX) - 1;

	if (len == 0 || len > CALL_ID_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' ||
		      ch == '_' || ch == ':' || ch == '-'))
			return false;
	}
	/* The router's own ids name answers, never new calls; a near miss ("capbus:" and anything
	 * else) is refused too, so no caller's id can pass for the router's. */
	return !(len >= plen && memcmp(s, CALL_WIRE_PREFIX, plen) == 0);
}

void calls_format_id(uint64_t id, char out[CALL_WIRE_ID_LEN + 1])
{
	snprintf(out, CALL_WIRE_ID_LEN + 1, CALL_WIRE_PREFIX "%016llx", (unsigned long long)id);
}

bool calls_parse_id(const char *s, size_t len, uint64_t *id)
{
	const size_t plen = sizeof(CALL_WIRE_PREFIX) - 1;
	uint64_t v = 0;

	if (len != CALL_WIRE_ID_LEN || memcmp(s, CALL_WIRE_PREFIX, plen) != 0)
		return false;
	for (size_t i = plen; i < len; i++) {
		char ch = s[i];
		unsigned d;
		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else
			return false;
		v = v << 4 | d;
	}
	if (v == 0)
		return false;
	*id = v;
	return true;
}

static struct owner *owner_find(const struct calls *t, const char *name, uint32_t *index)
{
	for (uint32_t i = 0; i < t->n_owners; i++)
		if (strcmp(t->owners[i].name, name) == 0) {
			if (index)
				*index = i;
			return &t->owners[i];
		}
	return NULL;
}

uint32_t calls_owner_pending(const struct calls *t, const char *owner)
{
	const struct owner *o = owner_find(t, owner, NULL);
	return o ? o->pending : 0;
}

uint32_t calls_pending(const struct calls *t)
{
	return t->n_pending;
}

/* A pending call's slot by router id, or NULL. */
static struct slot *lookup(const struct calls *t, uint64_t id)
{
	uint32_t i = (uint32_t)(id & SLOT_MASK);
	if (id == 0 || i >= t->n_slots || t->slots[i].id != id)
		return NULL;
	return &t->slots[i];
}

/* A free slot: a new one while fewer than RECENT_MIN are free, else the oldest free one; so an
 * ended call is remembered until RECENT_MIN - 1 calls ended after it (unless at max_calls). */
static int take_slot(struct calls *t, uint32_t *index)
{
	if (t->n_slots < t->max_calls && (t->n_slots - t->n_pending < RECENT_MIN || t->free_head == NO_SLOT)) {
		struct slot *v = realloc(t->slots, (t->n_slots + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		t->slots = v;
		memset(&v[t->n_slots], 0, sizeof(*v));
		*index = t->n_slots++;
		return 0;
	}
	if (t->free_head == NO_SLOT)
		return CALLS_FULL;
	*index = t->free_head;
	t->free_head = t->slots[*index].next_free;
	if (t->free_head == NO_SLOT)
		t->free_tail = NO_SLOT;
	return 0;
}

static void put_slot(struct calls *t, uint32_t index)
{
	t->slots[index].next_free = NO_SLOT;
	if (t->free_tail == NO_SLOT)
		t->free_head = index;
	else
		t->slots[t->free_tail].next_free = index;
	t->free_tail = index;
}

int calls_open(struct calls *t, const struct call_request *req, uint64_t *id)
{
	if (!name_ok(req->owner, CALL_OWNER_MAX) || !req->call_id ||
	    !calls_id_is_valid(req->call_id, strnlen(req->call_id, CALL_ID_MAX + 1)) ||
	    !name_ok(req->type, CALL_TYPE_MAX) || !name_ok(req->reply_type, CALL_TYPE_MAX))
		return -EINVAL;
	uint32_t oi = 0;
	struct owner *o = owner_find(t, req->owner, &oi);
	if (o && o->pending >= t->per_owner)
		return CALLS_OWNER_QUOTA;
	if (t->n_pending >= t->max_calls)
		return CALLS_FULL;
	if (!o) {
		if (t->n_owners == t->cap_owners) {
			uint32_t cap = t->cap_owners ? 2 * t->cap_owners : 8;
			struct owner *v = realloc(t->owners, cap * sizeof(*v));
			if (!v)
				return -ENOMEM;
			t->owners = v;
			t->cap_owners = cap;
		}
		oi = t->n_owners;
		o = &t->owners[oi];
		memset(o, 0, sizeof(*o));
		strcpy(o->name, req->owner);
	}
	char *type = strdup(req->type), *reply_type = strdup(req->reply_type);
	uint32_t index = 0;
	int r = type && reply_type ? take_slot(t, &index) : -ENOMEM;
	if (r != 0) {
		free(type);
		free(reply_type);
		return r;
	}
	if (oi == t->n_owners)
		t->n_owners++;
	struct slot *s = &t->slots[index];
	s->id = (++t->seq << SLOT_BITS) | index;
	s->pending = true;
	s->orphan = false;
	s->caller = req->caller;
	s->deadline_ms = req->deadline_ms;
	s->reply_hash = hash_str(reply_type);
	s->type = type;
	s->reply_type = reply_type;
	strcpy(s->call_id, req->call_id);
	s->owner = oi;
	o->pending++;
	t->n_pending++;
	*id = s->id;
	return 0;
}

int calls_add_target(struct calls *t, uint64_t id, uint64_t conn)
{
	struct slot *s = lookup(t, id);
	if (!s || !s->pending)
		return -ENOENT;
	for (uint32_t i = 0; i < s->n_targets; i++)
		if (s->targets[i] == conn)
			return 0;
	if (s->n_targets == s->cap_targets) {
		uint32_t cap = s->cap_targets ? 2 * s->cap_targets : 4;
		uint64_t *v = realloc(s->targets, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		s->targets = v;
		s->cap_targets = cap;
	}
	s->targets[s->n_targets++] = conn;
	return 0;
}

uint32_t calls_n_targets(const struct calls *t, uint64_t id)
{
	const struct slot *s = lookup(t, id);
	return s && s->pending ? s->n_targets : 0;
}

/* Ends the call in s: copies what the router needs into *end (if any), frees the rest, and
 * keeps id and reply hash for recognising late replies. */
static void fill_end(const struct slot *s, struct call_end *end)
{
	memset(end, 0, sizeof(*end));
	end->caller = s->caller;
	strcpy(end->call_id, s->call_id);
	strcpy(end->type, s->type);
	strcpy(end->reply_type, s->reply_type);
}

static void finish(struct calls *t, struct slot *s, struct call_end *end)
{
	if (end)
		fill_end(s, end);
	struct owner *o = &t->owners[s->owner];
	if (--o->pending == 0) {
		/* Keep owners dense: move the last one into this place and fix its slots. */
		uint32_t last = --t->n_owners;
		if (s->owner != last) {
			t->owners[s->owner] = t->owners[last];
			for (uint32_t i = 0; i < t->n_slots; i++)
				if (t->slots[i].pending && t->slots[i].owner == last)
					t->slots[i].owner = s->owner;
		}
	}
	slot_release(s);
	if (s->orphan)
		t->n_orphans--;
	s->pending = false;
	s->orphan = false;
	t->n_pending--;
	put_slot(t, (uint32_t)(s - t->slots));
}

bool calls_end(struct calls *t, uint64_t id, struct call_end *end)
{
	struct slot *s = lookup(t, id);
	if (!s || !s->pending)
		return false;
	finish(t, s, end);
	return true;
}

static enum call_verdict judge(struct calls *t, uint64_t id, uint64_t from, const char *type, struct slot **bound)
{
	struct slot *s = lookup(t, id);

	if (!s)
		return CALL_UNKNOWN;
	if (!s->pending)
		return s->reply_hash == hash_str(type) ? CALL_FINISHED : CALL_UNKNOWN;
	if (strcmp(s->reply_type, type) != 0)
		return CALL_OTHER_TYPE;
	for (uint32_t i = 0; i < s->n_targets; i++)
		if (s->targets[i] == from) {
			*bound = s;
			return CALL_BOUND;
		}
	return CALL_NOT_RECIPIENT;
}

enum call_verdict calls_answer(struct calls *t, uint64_t id, uint64_t from, const char *type, struct call_end *end)
{
	struct slot *s = NULL;
	enum call_verdict v = judge(t, id, from, type, &s);

	if (v == CALL_BOUND)
		finish(t, s, end);
	return v;
}

enum call_verdict calls_judge(struct calls *t, uint64_t id, uint64_t from, const char *type, struct call_end *end)
{
	struct slot *s = NULL;
	enum call_verdict v = judge(t, id, from, type, &s);

	if (v == CALL_BOUND && end)
		fill_end(s, end);
	return v;
}

bool calls_next_expired(struct calls *t, uint64_t now_ms, struct call_end *end)
{
	if (t->n_pending == 0)
		return false;
	for (uint32_t i = 0; i < t->n_slots; i++)
		if (t->slots[i].pending && t->slots[i].deadline_ms <= now_ms) {
			finish(t, &t->slots[i], end);
			return true;
		}
	return false;
}

void calls_conn_gone(struct calls *t, uint64_t conn)
{
	if (t->n_pending == 0)
		return;
	for (uint32_t i = 0; i < t->n_slots; i++) {
		struct slot *s = &t->slots[i];
		if (!s->pending)
			continue;
		if (s->caller == conn) {
			finish(t, s, NULL);
			continue;
		}
		for (uint32_t j = 0; j < s->n_targets; j++)
			if (s->targets[j] == conn) {
				s->targets[j] = s->targets[--s->n_targets];
				if (s->n_targets == 0) {
					s->orphan = true;
					t->n_orphans++;
				}
				break;
			}
	}
}

bool calls_next_orphan(struct calls *t, struct call_end *end)
{
	if (t->n_orphans == 0)
		return false;
	for (uint32_t i = 0; i < t->n_slots; i++)
		if (t->slots[i].pending && t->slots[i].orphan) {
			finish(t, &t->slots[i], end);
			return true;
		}
	return false;
}
