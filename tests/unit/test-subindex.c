// SPDX-License-Identifier: MIT
/* test-subindex.c - unit tests for busd/subindex.c: subscription patterns to subscribers.
 *
 * Includes the module's source so that the table's capacity can be checked after churn:
 * subscribing and unsubscribing must not make the table grow without bound. */
#include "subindex.c"

#include <stdio.h>

#include "check.h"

#define MAX_SEEN 64

struct seen {
	void *subs[MAX_SEEN];
	size_t n;
};

static void collect(void *sub, void *userdata)
{
	struct seen *s = userdata;
	if (s->n < MAX_SEEN)
		s->subs[s->n] = sub;
	s->n++;
}

static size_t match(const struct subindex *idx, const char *type, struct seen *s)
{
	memset(s, 0, sizeof(*s));
	subindex_match(idx, type, strlen(type), collect, s);
	return s->n;
}

static bool has(const struct seen *s, void *sub)
{
	for (size_t i = 0; i < s->n && i < MAX_SEEN; i++)
		if (s->subs[i] == sub)
			return true;
	return false;
}

static int A, B, C, D;

static void test_matching(void)
{
	struct subindex *idx = NULL;
	struct seen s;

	CHECK(subindex_new(&idx) == 0);
	CHECK(match(idx, "speak", &s) == 0);

	CHECK(subindex_add(idx, "speak", &A) == 0);
	CHECK(subindex_add(idx, "weather.*", &B) == 0);
	CHECK(subindex_add(idx, "recognizer_loop:*", &C) == 0);
	CHECK(subindex_add(idx, "*", &D) == 0);
	CHECK(subindex_add(idx, "weather.today", &A) == 0);

	CHECK(match(idx, "speak", &s) == 2 && has(&s, &A) && has(&s, &D));
	CHECK(match(idx, "speak.done", &s) == 1 && has(&s, &D));
	CHECK(match(idx, "spea", &s) == 1 && has(&s, &D));
	CHECK(match(idx, "weather", &s) == 1 && has(&s, &D)); /* "weather.*" needs something after the dot */
	CHECK(match(idx, "weather.tomorrow", &s) == 2 && has(&s, &B) && has(&s, &D));
	CHECK(match(idx, "weather.today", &s) == 3 && has(&s, &A) && has(&s, &B) && has(&s, &D));
	CHECK(match(idx, "weather.a.b.c", &s) == 2 && has(&s, &B));
	CHECK(match(idx, "weather:x", &s) == 1);
	CHECK(match(idx, "weatherx.y", &s) == 1);
	CHECK(match(idx, "recognizer_loop:utterance", &s) == 2 && has(&s, &C));
	CHECK(match(idx, "recognizer_loop.utterance", &s) == 1);
	/* The separators of "a.b:c" each give a prefix. */
	CHECK(subindex_add(idx, "a.*", &A) == 0);
	CHECK(subindex_add(idx, "a.b:*", &B) == 0);
	CHECK(match(idx, "a.b:c", &s) == 3 && has(&s, &A) && has(&s, &B) && has(&s, &D));
	/* A type containing '*' literally does not hit prefix patterns by accident. */
	CHECK(match(idx, "weather*", &s) == 1);

	/* The longest valid type still reaches "*" and its prefix patterns. */
	char longest[256];
	memset(longest, 'x', 255);
	longest[255] = '\0';
	longest[1] = '.';
	longest[253] = ':';
	CHECK(subindex_add(idx, "x.*", &C) == 0);
	CHECK(match(idx, longest, &s) == 2 && has(&s, &C) && has(&s, &D));
	subindex_remove(idx, "x.*", &C);

	/* The length argument is honoured: the type need not be terminated. */
	memset(&s, 0, sizeof(s));
	subindex_match(idx, "speakXXXX", 5, collect, &s);
	CHECK(s.n == 2 && has(&s, &A));
	memset(&s, 0, sizeof(s));
	subindex_match(idx, "weather.todayXX", 13, collect, &s);
	CHECK(s.n == 3);

	/* Several subscribers on one pattern. */
	CHECK(subindex_add(idx, "speak", &B) == 0);
	CHECK(subindex_add(idx, "speak", &C) == 0);
	CHECK(match(idx, "speak", &s) == 4);

	/* Remove. */
	subindex_remove(idx, "speak", &B);
	CHECK(match(idx, "speak", &s) == 3 && !has(&s, &B));
	subindex_remove(idx, "speak", &B); /* absent: no-op */
	subindex_remove(idx, "nothing", &B);
	subindex_remove(idx, "*", &D);
	CHECK(match(idx, "speak", &s) == 2 && has(&s, &A) && has(&s, &C) && !has(&s, &D));
	subindex_remove(idx, "speak", &A);
	subindex_remove(idx, "speak", &C);
	CHECK(match(idx, "speak", &s) == 0);
	/* Re-adding after removal works (tombstone reuse). */
	CHECK(subindex_add(idx, "speak", &D) == 0);
	CHECK(match(idx, "speak", &s) == 1 && has(&s, &D));
	CHECK(match(idx, "weather.today", &s) == 2);

	subindex_free(idx);
	subindex_free(NULL);
}

static void test_many(void)
{
	struct subindex *idx = NULL;
	struct seen s;
	char name[64];
	enum { N = 20000 };

	CHECK(subindex_new(&idx) == 0);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "skill%d.*", i);
		CHECK(subindex_add(idx, name, &A) == 0);
		snprintf(name, sizeof(name), "skill%d.exact", i);
		CHECK(subindex_add(idx, name, &B) == 0);
	}
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "busy.type");
		CHECK(subindex_add(idx, name, (char *)&C + i) == 0);
	}
	CHECK(match(idx, "skill123.exact", &s) == 2 && has(&s, &A) && has(&s, &B));
	CHECK(match(idx, "skill19999.x.y", &s) == 1 && has(&s, &A));
	CHECK(match(idx, "skill20000.x", &s) == 0);
	CHECK(match(idx, "busy.type", &s) == 1000);
	for (int i = 0; i < N; i += 2) {
		snprintf(name, sizeof(name), "skill%d.*", i);
		subindex_remove(idx, name, &A);
	}
	CHECK(match(idx, "skill122.exact", &s) == 1 && has(&s, &B));
	CHECK(match(idx, "skill123.exact", &s) == 2);
	for (int i = 0; i < 1000; i++)
		subindex_remove(idx, "busy.type", (char *)&C + i);
	CHECK(match(idx, "busy.type", &s) == 0);
	subindex_free(idx);
}

/* A client that subscribes and unsubscribes ever new patterns keeps at most a few live
 * entries; the table must stay proportional to that, not to the number of operations. */
static void test_churn(void)
{
	struct subindex *idx = NULL;
	struct seen s;
	char name[64];

	CHECK(subindex_new(&idx) == 0);
	CHECK(subindex_add(idx, "stays", &A) == 0);
	size_t initial = idx->cap;
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "alice:%d", i);
		CHECK(subindex_add(idx, name, &B) == 0);
		subindex_remove(idx, name, &B);
	}
	CHECK(match(idx, "stays", &s) == 1);
	CHECK(match(idx, "alice:5", &s) == 0);
	CHECK(idx->cap <= 4 * initial);
	if (idx->cap > 4 * initial)
		fprintf(stderr, "  table grew from %zu to %zu slots for 1 live pattern\n", initial, idx->cap);

	/* The same pattern added and removed forever reuses its slot. */
	subindex_free(idx);
	CHECK(subindex_new(&idx) == 0);
	for (int i = 0; i < 100000; i++) {
		CHECK(subindex_add(idx, "same", &B) == 0);
		subindex_remove(idx, "same", &B);
	}
	CHECK(idx->cap == initial);
	subindex_free(idx);
}

int main(void)
{
	test_matching();
	test_many();
	test_churn();
	return check_finish("test-subindex");
}
