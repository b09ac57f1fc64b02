// SPDX-License-Identifier: MIT
/* soak-client - a well-behaved capbus client for the soak test (tests/soak/soak.py).
 *
 *   soak-client pub --socket S --key K --rate N --duration SECS [--pad BYTES] [--sync-every N]
 *       Sends type soak.data.seq at N messages/s for SECS seconds, data {"seq": "<n>", "t": "<ns>",
 *       "pad": "..."} with seq counting from 0, then one last message {"seq": "<count>",
 *       "end": "1"}. Every --sync-every messages it makes a round trip (capbus_sync) that must
 *       report no refusal. Prints one JSON line: sent, elapsed, rate, refusals.
 *
 *   soak-client sub --socket S --key K --publishers N --timeout SECS [--pattern P]
 *       Subscribes to P (default soak.data.*), prints "ready", then checks every delivery: sender
 *       is a publisher, seq is exactly the next one expected from that sender (no gap, no
 *       duplicate, no reordering). Ends once N publishers sent their end marker (or at the
 *       timeout, or on SIGTERM) and prints one JSON line with what it saw.
 *
 * Sequence numbers travel as decimal strings: the client API reads strings without a second
 * JSON parse. Exit status: 0 clean, 1 anomalies seen, 2 connection or usage problem. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "capbus.h"

#define MAX_PUBS 64
#define MAX_NOTES 8
#define LAT_BUCKETS 40 /* powers of two of microseconds */

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !stop_requested)
		;
}

struct opts {
	const char *mode, *socket, *key, *pattern;
	double rate, duration, timeout;
	long pad, sync_every, publishers;
};

static int usage(void)
{
	fprintf(stderr, "usage: soak-client pub|sub --socket PATH --key FILE [--rate N --duration SECS "
			"--pad BYTES --sync-every N] [--publishers N --timeout SECS --pattern P]\n");
	return 2;
}

static bool parse_num(const char *s, double *out)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !end || end == s || *end || v < 0)
		return false;
	*out = v;
	return true;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },    { "key", required_argument, NULL, 'k' },
		{ "rate", required_argument, NULL, 'r' },      { "duration", required_argument, NULL, 'd' },
		{ "pad", required_argument, NULL, 'p' },       { "sync-every", required_argument, NULL, 'y' },
		{ "publishers", required_argument, NULL, 'n' }, { "timeout", required_argument, NULL, 't' },
		{ "pattern", required_argument, NULL, 'P' },   { NULL, 0, NULL, 0 },
	};
	double v;
	int c;

	*o = (struct opts){ .pattern = "soak.data.*", .rate = 500, .duration = 10, .timeout = 60, .pad = 128,
			    .sync_every = 1000, .publishers = 1 };
	if (argc < 2)
		return usage();
	o->mode = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 's': o->socket = optarg; break;
		case 'k': o->key = optarg; break;
		case 'P': o->pattern = optarg; break;
		case 'r': case 'd': case 't': case 'p': case 'y': case 'n':
			if (!parse_num(optarg, &v))
				return usage();
			if (c == 'r') o->rate = v;
			else if (c == 'd') o->duration = v;
			else if (c == 't') o->timeout = v;
			else if (c == 'p') o->pad = (long)v;
			else if (c == 'y') o->sync_every = (long)v;
			else o->publishers = (long)v;
			break;
		default:
			return usage();
		}
	}
	if (optind != argc || !o->socket || !o->key || o->pad > 60000 || o->publishers < 1 ||
	    o->publishers > MAX_PUBS || o->rate <= 0)
		return usage();
	if (strcmp(o->mode, "pub") != 0 && strcmp(o->mode, "sub") != 0)
		return usage();
	return 0;
}

static int run_pub(capbus *bus, const struct opts *o)
{
	char *pad = malloc((size_t)o->pad + 1);
	char data[61000];
	uint64_t sent = 0, refusals = 0, syncs = 0;
	char note[256] = "";

	if (!pad)
		return 2;
	memset(pad, 'x', (size_t)o->pad);
	pad[o->pad] = '\0';
	const uint64_t start = mono_ns();
	const uint64_t end = start + (uint64_t)(o->duration * 1e9);
	int ret = 0;
	while (!stop_requested) {
		uint64_t now = mono_ns();
		if (now >= end)
			break;
		/* Paced by the clock: send what is due, then sleep a little. */
		uint64_t due = (uint64_t)((double)(now - start) * o->rate / 1e9) + 1;
		while (sent < due && ret == 0) {
			snprintf(data, sizeof(data), "{\"seq\":\"%" PRIu64 "\",\"t\":\"%" PRIu64 "\",\"pad\":\"%s\"}", sent,
				 mono_ns(), pad);
			ret = capbus_send(bus, "soak.data.seq", data);
			if (ret != 0)
				break;
			sent++;
			if (o->sync_every > 0 && sent % (uint64_t)o->sync_every == 0) {
				int r = capbus_sync(bus, 10000);
				syncs++;
				if (r != 0) {
					refusals++;
					if (!note[0])
						snprintf(note, sizeof(note), "sync after %" PRIu64 ": %s (%s)", sent,
							 capbus_strerror(r), capbus_error_code(bus));
					if (r < 0 || r == CAPBUS_E_CLOSED || r == CAPBUS_E_PROTOCOL || r == CAPBUS_E_TIMEOUT) {
						ret = r;
						break;
					}
				}
			}
		}
		if (ret != 0)
			break;
		sleep_ns(2000000);
	}
	double elapsed = (double)(mono_ns() - start) / 1e9;
	if (ret == 0) {
		snprintf(data, sizeof(data), "{\"seq\":\"%" PRIu64 "\",\"end\":\"1\"}", sent);
		ret = capbus_send(bus, "soak.data.seq", data);
		if (ret == 0) {
			int r = capbus_sync(bus, 10000);
			if (r != 0) {
				refusals++;
				if (!note[0])
					snprintf(note, sizeof(note), "final sync: %s (%s)", capbus_strerror(r),
						 capbus_error_code(bus));
			}
		}
	}
	if (ret != 0 && !note[0])
		snprintf(note, sizeof(note), "send failed after %" PRIu64 ": %s", sent, capbus_strerror(ret));
	printf("{\"mode\":\"pub\",\"id\":\"%s\",\"sent\":%" PRIu64 ",\"elapsed\":%.3f,\"rate\":%.1f,\"syncs\":%" PRIu64
	       ",\"refusals\":%" PRIu64 ",\"ok\":%s,\"note\":\"%s\"}\n",
	       capbus_id(bus), sent, elapsed, elapsed > 0 ? (double)sent / elapsed : 0.0, syncs, refusals,
	       ret == 0 && refusals == 0 ? "true" : "false", note);
	free(pad);
	return ret == 0 && refusals == 0 ? 0 : (ret != 0 ? 2 : 1);
}

struct pub_state {
	char id[65];
	uint64_t expected;  /* next seq */
	uint64_t received;  /* data messages */
	uint64_t total;     /* from the end marker */
	bool ended;
	uint8_t *seen;      /* bitmap of seqs received */
	uint64_t seen_cap;  /* bits */
};

struct sub_stats {
	struct pub_state pubs[MAX_PUBS];
	int n_pubs, n_ended;
	uint64_t gaps, missing, dups, reorders, unexpected, after_end, errors, bad_fields;
	uint64_t lat_hist[LAT_BUCKETS], lat_max_us, lat_sum_us, lat_n;
	char notes[MAX_NOTES][160];
	int n_notes;
};

static void note(struct sub_stats *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(struct sub_stats *s, const char *fmt, ...)
{
	if (s->n_notes >= MAX_NOTES)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->notes[s->n_notes++], sizeof(s->notes[0]), fmt, ap);
	va_end(ap);
}

static struct pub_state *find_pub(struct sub_stats *s, const char *id)
{
	for (int i = 0; i < s->n_pubs; i++)
		if (strcmp(s->pubs[i].id, id) == 0)
			return &s->pubs[i];
	if (s->n_pubs == MAX_PUBS)
		return NULL;
	struct pub_state *p = &s->pubs[s->n_pubs++];
	snprintf(p->id, sizeof(p->id), "%s", id);
	return p;
}

/* Marks seq as seen; returns whether it was seen before. */
static bool mark_seen(struct pub_state *p, uint64_t seq)
{
	if (seq >= p->seen_cap) {
		uint64_t cap = p->seen_cap ? p->seen_cap : 65536;
		while (cap <= seq)
			cap *= 2;
		uint8_t *v = realloc(p->seen, cap / 8);
		if (!v) {
			fprintf(stderr, "soak-client: out of memory\n");
			exit(2);
		}
		memset(v + p->seen_cap / 8, 0, (cap - p->seen_cap) / 8);
		p->seen = v;
		p->seen_cap = cap;
	}
	bool was = p->seen[seq / 8] & (1u << (seq % 8));
	p->seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
	return was;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end = NULL;
	if (!s || !*s || *s == '-')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

static void record_latency(struct sub_stats *s, const char *t)
{
	uint64_t sent_ns;
	if (!parse_u64(t, &sent_ns))
		return;
	uint64_t now = mono_ns();
	uint64_t us = now > sent_ns ? (now - sent_ns) / 1000 : 0;
	int b = 0;
	while (b < LAT_BUCKETS - 1 && (UINT64_C(1) << (b + 1)) <= us + 1)
		b++;
	s->lat_hist[b]++;
	s->lat_sum_us += us;
	s->lat_n++;
	if (us > s->lat_max_us)
		s->lat_max_us = us;
}

/* Upper bound (us) of the bucket holding quantile q. */
static uint64_t lat_quantile(const struct sub_stats *s, double q)
{
	uint64_t want = (uint64_t)((double)s->lat_n * q), acc = 0;
	for (int b = 0; b < LAT_BUCKETS; b++) {
		acc += s->lat_hist[b];
		if (acc > want)
			return (UINT64_C(1) << (b + 1)) - 1;
	}
	return 0;
}

static void check_message(struct sub_stats *s, capbus_msg *m)
{
	const char *type = capbus_msg_type(m), *sender = capbus_msg_sender(m);
	uint64_t seq;

	if (strcmp(type, "soak.data.seq") != 0 || !sender || strncmp(sender, "soak-pub", 8) != 0) {
		s->unexpected++;
		note(s, "unexpected message type=%s sender=%s", type, sender ? sender : "(none)");
		return;
	}
	struct pub_state *p = find_pub(s, sender);
	if (!p) {
		s->unexpected++;
		note(s, "too many publishers (%s)", sender);
		return;
	}
	if (!parse_u64(capbus_msg_get_string(m, "seq"), &seq)) {
		s->bad_fields++;
		note(s, "%s: message without a valid seq: %s", sender, capbus_msg_data_json(m));
		return;
	}
	if (p->ended) {
		s->after_end++;
		note(s, "%s: seq %" PRIu64 " after its end marker", sender, seq);
		return;
	}
	if (capbus_msg_get_string(m, "end")) {
		p->ended = true;
		p->total = seq;
		s->n_ended++;
		if (seq != p->expected) {
			note(s, "%s: end marker says %" PRIu64 " sent, next expected was %" PRIu64, sender, seq, p->expected);
			if (seq > p->expected)
				s->gaps++;
		}
		return;
	}
	record_latency(s, capbus_msg_get_string(m, "t"));
	p->received++;
	bool dup = mark_seen(p, seq);
	if (seq == p->expected) {
		p->expected++;
	} else if (seq > p->expected) {
		s->gaps++;
		note(s, "%s: gap: got seq %" PRIu64 ", expected %" PRIu64, sender, seq, p->expected);
		p->expected = seq + 1;
	} else if (dup) {
		s->dups++;
		note(s, "%s: duplicate seq %" PRIu64 " (expected %" PRIu64 ")", sender, seq, p->expected);
	} else {
		s->reorders++;
		note(s, "%s: seq %" PRIu64 " late (expected %" PRIu64 ")", sender, seq, p->expected);
	}
}

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int run_sub(capbus *bus, const struct opts *o)
{
	static struct sub_stats s;
	char fatal[160] = "";
	int r = capbus_subscribe(bus, o->pattern, 10000);

	if (r != 0) {
		fprintf(stderr, "soak-client: subscribe %s: %s\n", o->pattern, capbus_strerror(r));
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	const uint64_t start = mono_ns(), deadline = start + (uint64_t)(o->timeout * 1e9);
	uint64_t first = 0, last = 0, count = 0;
	while (!stop_requested && s.n_ended < o->publishers) {
		uint64_t now = mono_ns();
		if (now >= deadline) {
			snprintf(fatal, sizeof(fatal), "timed out after %.0fs with %d of %ld end markers", o->timeout,
				 s.n_ended, o->publishers);
			break;
		}
		capbus_msg *m = NULL;
		r = capbus_recv(bus, &m, 500);
		if (r == CAPBUS_E_TIMEOUT)
			continue;
		if (r == CAPBUS_E_DENIED || r == CAPBUS_E_REFUSED || r == CAPBUS_E_INVALID) {
			s.errors++;
			note(&s, "bus.error %s: %s", capbus_error_code(bus), capbus_error_message(bus));
			continue;
		}
		if (r != 0) {
			snprintf(fatal, sizeof(fatal), "receive failed: %s", capbus_strerror(r));
			break;
		}
		if (!first)
			first = mono_ns();
		last = mono_ns();
		count++;
		check_message(&s, m);
		capbus_msg_free(m);
	}
	uint64_t received = 0;
	for (int i = 0; i < s.n_pubs; i++) {
		struct pub_state *p = &s.pubs[i];
		received += p->received;
		uint64_t distinct = 0;
		uint64_t limit = p->ended ? p->total : p->expected;
		for (uint64_t q = 0; q < limit && q < p->seen_cap; q++)
			distinct += (p->seen[q / 8] >> (q % 8)) & 1;
		if (distinct < limit)
			s.missing += limit - distinct;
	}
	bool ok = !fatal[0] && s.gaps == 0 && s.missing == 0 && s.dups == 0 && s.reorders == 0 && s.unexpected == 0 &&
		  s.after_end == 0 && s.errors == 0 && s.bad_fields == 0 && s.n_ended == o->publishers;
	double span = last > first ? (double)(last - first) / 1e9 : 0;
	printf("{\"mode\":\"sub\",\"id\":\"%s\",\"received\":%" PRIu64 ",\"frames\":%" PRIu64 ",\"span\":%.3f,"
	       "\"rate\":%.1f,\"gaps\":%" PRIu64 ",\"missing\":%" PRIu64 ",\"dups\":%" PRIu64 ",\"reorders\":%" PRIu64
	       ",\"unexpected\":%" PRIu64 ",\"after_end\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"bad_fields\":%" PRIu64
	       ",\"ended\":%d,\"lat_mean_us\":%" PRIu64 ",\"lat_p50_us\":%" PRIu64 ",\"lat_p99_us\":%" PRIu64
	       ",\"lat_max_us\":%" PRIu64 ",\"ok\":%s,\"fatal\":",
	       capbus_id(bus), received, count, span, span > 0 ? (double)count / span : 0.0, s.gaps, s.missing, s.dups,
	       s.reorders, s.unexpected, s.after_end, s.errors, s.bad_fields, s.n_ended,
	       s.lat_n ? s.lat_sum_us / s.lat_n : 0, lat_quantile(&s, 0.5), lat_quantile(&s, 0.99), s.lat_max_us,
	       ok ? "true" : "false");
	json_string(fatal);
	printf(",\"publishers\":{");
	for (int i = 0; i < s.n_pubs; i++) {
		printf("%s", i ? "," : "");
		json_string(s.pubs[i].id);
		printf(":{\"received\":%" PRIu64 ",\"total\":%" PRIu64 ",\"ended\":%s}", s.pubs[i].received,
		       s.pubs[i].total, s.pubs[i].ended ? "true" : "false");
		free(s.pubs[i].seen);
	}
	printf("},\"notes\":[");
	for (int i = 0; i < s.n_notes; i++) {
		printf("%s", i ? "," : "");
		json_string(s.notes[i]);
	}
	printf("]}\n");
	return fatal[0] ? 2 : (ok ? 0 : 1);
}

int main(int argc, char **argv)
{
	struct opts o;
	capbus *bus = NULL;

	if (parse_opts(argc, argv, &o) != 0)
		return 2;
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	int r = capbus_connect(&bus, o.socket, o.key);
	if (r != 0) {
		fprintf(stderr, "soak-client: cannot connect to %s: %s\n", o.socket, capbus_strerror(r));
		return 2;
	}
	r = strcmp(o.mode, "pub") == 0 ? run_pub(bus, &o) : run_sub(bus, &o);
	fflush(stdout);
	capbus_close(bus);
	return r;
}
