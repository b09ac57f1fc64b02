// SPDX-License-Identifier: MIT
/* describe.c - plain-words description of a manifest and its permissions.
 *
 * What a user reads before installing is the consent, so the wording errs on the side of the
 * worst thing a permission allows, and anything taken from the manifest is escaped. */
#include "describe.h"

#include <stdio.h>
#include <sys/socket.h>

#include "pattern.h"
#include "util.h"

struct phrase {
	enum perm_dir dir;
	const char *pattern;
	const char *words;
};

/* Known parts of the Mycroft / OpenVoiceOS vocabulary. Exact entries are found first; a
 * pattern inside a prefix entry borrows its words. */
static const struct phrase phrases[] = {
	{ PERM_SEND, "*", "send any message at all, including ones that act for you" },
	{ PERM_SEND, "speak", "make the assistant say something out loud" },
	{ PERM_SEND, "recognizer_loop:utterance", "pretend you said something (inject spoken commands)" },
	{ PERM_SEND, "recognizer_loop:*", "pretend to be the microphone and speech recognizer" },
	{ PERM_SEND, "mycroft.mic.listen", "make the assistant start listening to you" },
	{ PERM_SEND, "mycroft.mic.*", "turn the microphone on or off, or make it listen" },
	{ PERM_SEND, "mycroft.skills.*", "manage other skills" },
	{ PERM_SEND, "skillmanager.*", "activate, deactivate or list other skills" },
	{ PERM_SEND, "configuration.*", "change the assistant's configuration" },
	{ PERM_SEND, "system.*", "reboot, shut down or update the device" },
	{ PERM_SEND, "mycroft.device.*", "change device settings" },
	{ PERM_SEND, "mycroft.stop", "stop whatever the assistant is doing" },
	{ PERM_SEND, "enclosure.*", "control the device's display and lights" },
	{ PERM_SEND, "mycroft.audio.service.*", "control audio playback" },
	{ PERM_SEND, "capbus.*", "control the message bus itself" },
	{ PERM_SEND, "bus.*", "forge the bus's own status and error messages" },
	{ PERM_RECEIVE, "*", "hear every message on the bus, including everything you say" },
	{ PERM_RECEIVE, "recognizer_loop:utterance", "hear everything you say" },
	{ PERM_RECEIVE, "recognizer_loop:record_begin", "know when you start speaking" },
	{ PERM_RECEIVE, "recognizer_loop:record_end", "know when you stop speaking" },
	{ PERM_RECEIVE, "recognizer_loop:*", "hear everything you say and when you speak" },
	{ PERM_RECEIVE, "speak", "hear everything the assistant says to you" },
	{ PERM_RECEIVE, "mycroft.stop", "know when you ask the assistant to stop" },
	{ PERM_RECEIVE, "capbus.*", "watch the message bus's control traffic" },
};

static const struct phrase *find_phrase(enum perm_dir dir, const char *pattern, bool (*rel)(const char *, const char *))
{
	for (size_t i = 0; i < ARRAY_SIZE(phrases); i++)
		if (phrases[i].dir == dir && rel(phrases[i].pattern, pattern))
			return &phrases[i];
	return NULL;
}

static bool same(const char *a, const char *b)
{
	return streq(a, b);
}

/* The "*" entries describe only "*" itself: borrowing "send any message at all" for every
 * pattern would say nothing. */
static bool covers(const char *entry, const char *pattern)
{
	return !streq(entry, "*") && pattern_covers(entry, pattern);
}

static bool overlaps(const char *entry, const char *pattern)
{
	return !streq(entry, "*") && pattern_overlaps(entry, pattern);
}

/* Patterns are validated to a safe charset, but describe is also called on what callers
 * built themselves; this keeps terminal control bytes out either way. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '\\')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void put_explanation(FILE *f, enum perm_dir dir, const char *pattern)
{
	const struct phrase *p = find_phrase(dir, pattern, same);

	if (!p)
		p = find_phrase(dir, pattern, covers);
	if (p) {
		fputs(p->words, f);
		return;
	}
	fputs(dir == PERM_SEND ? "send " : "receive ", f);
	if (streq(pattern, "*"))
		fputs("every message", f);
	else {
		fputs(strchr(pattern, '*') ? "any \"" : "\"", f);
		put_escaped(f, pattern);
		fputs("\" messages", f);
	}
	p = find_phrase(dir, pattern, overlaps);
	if (p)
		fprintf(f, ", which includes: %s", p->words);
}

/* The memstream's buffer is only final after fclose, hence the pointer to it. */
static char *finish(FILE *f, char **buf)
{
	bool failed = ferror(f);

	if (fclose(f) != 0 || failed) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

char *permission_explain(enum perm_dir dir, const char *pattern)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	put_explanation(f, dir, pattern);
	return finish(f, &buf);
}

static void put_permissions(FILE *f, const struct level_policy *lp, enum perm_dir dir, char *const *list, size_t n)
{
	fputs(dir == PERM_SEND ? "It may send:\n" : "It may hear:\n", f);
	if (n == 0)
		fputs("  nothing\n", f);
	for (size_t i = 0; i < n; i++) {
		const char *because = NULL;
		enum perm_level level = level_policy_classify(lp, dir, list[i], &because);

		fputs("  - ", f);
		put_explanation(f, dir, list[i]);
		fputs(" (", f);
		put_escaped(f, list[i]);
		fputs(")", f);
		switch (level) {
		case PERM_LEVEL_NORMAL:
			fputs(" - normal\n", f);
			break;
		case PERM_LEVEL_DANGEROUS:
			fputs(" - DANGEROUS, needs --grant ", f);
			put_escaped(f, list[i]);
			fputs("\n", f);
			break;
		case PERM_LEVEL_SYSTEM:
			fputs(" - SYSTEM, never granted to skills", f);
			if (because) {
				fputs(" (overlaps ", f);
				put_escaped(f, because);
				fputs(")", f);
			}
			fputs("\n", f);
			break;
		}
	}
}

/* Shell-style, so the line can be read back as the command it runs. */
static void put_arg(FILE *f, const char *s)
{
	bool plain = *s && s[strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_./:=@%+,-")] == '\0';

	if (plain) {
		fputs(s, f);
		return;
	}
	fputc('\'', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '\'')
			fputs("'\\''", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
	fputc('\'', f);
}

static void put_size(FILE *f, uint64_t bytes)
{
	static const char *const units[] = { "TiB", "GiB", "MiB", "KiB" };

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		unsigned shift = 40 - 10 * (unsigned)i;

		if (bytes >= (UINT64_C(1) << shift) && bytes % (UINT64_C(1) << shift) == 0) {
			fprintf(f, "%llu %s", (unsigned long long)(bytes >> shift), units[i]);
			return;
		}
	}
	fprintf(f, "%llu bytes", (unsigned long long)bytes);
}

static void put_paths(FILE *f, const char *verb, char *const *paths, size_t n)
{
	fprintf(f, "  %s: ", verb);
	if (n == 0)
		fputs("nothing", f);
	for (size_t i = 0; i < n; i++) {
		if (i)
			fputs(", ", f);
		if (streq(paths[i], MANIFEST_STATE_DIR))
			fputs("its own state directory", f);
		else if (streq(paths[i], "/"))
			fputs("/ (the whole file system)", f);
		else
			put_escaped(f, paths[i]);
	}
	fputs("\n", f);
}

static void put_sandbox(FILE *f, const struct manifest *m)
{
	const struct manifest_sandbox *sb = &m->sandbox;
	const struct manifest_limits *l = &m->limits;

	fputs("Network: ", f);
	if (!sb->network) {
		fputs("none\n", f);
	} else {
		fputs(sb->n_net_rules ? "may connect to " : "may connect nowhere", f);
		for (size_t i = 0; i < sb->n_net_rules; i++) {
			const struct net_rule *r = &sb->net_rules[i];

			if (i)
				fputs(", ", f);
			if (r->family == AF_UNSPEC)
				fprintf(f, "any host on %s port %u", r->proto == NET_PROTO_TCP ? "TCP" : "UDP", r->port);
			else {
				/* The part after the protocol is the validated address and port. */
				put_escaped(f, r->text + 4);
				fprintf(f, " (%s)", r->proto == NET_PROTO_TCP ? "TCP" : "UDP");
			}
		}
		for (size_t i = 0; i < sb->n_listen; i++)
			fprintf(f, "%s TCP port %u", i ? "," : "; accepts connections on", sb->listen[i]);
		fputs("\n", f);
	}
	fputs("Files (besides the system's own read-only files and a private /tmp):\n", f);
	put_paths(f, "read", sb->fs_read, sb->n_fs_read);
	put_paths(f, "write", sb->fs_write, sb->n_fs_write);
	fputs("System calls: \"", f);
	put_escaped(f, sb->syscalls);
	fputs("\" profile\n", f);
	fputs("Limits: memory ", f);
	put_size(f, l->memory);
	fprintf(f, ", %u processes, %u%% of one CPU, %u open files, ", l->pids, l->cpu_percent, l->nofile);
	put_size(f, l->state);
	fputs(" of /state\n", f);
}

char *manifest_describe(const struct manifest *m, const struct level_policy *lp)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	fputs("Skill ", f);
	put_escaped(f, m->id);
	if (m->version) {
		fputs(" version ", f);
		put_escaped(f, m->version);
	}
	fputs("\n", f);
	if (m->exec) {
		fputs("Runs a program in a sandbox: ", f);
		for (size_t i = 0; i < m->n_exec; i++) {
			if (i)
				fputc(' ', f);
			put_arg(f, m->exec[i]);
		}
		fputs("\n", f);
	} else if (m->transports & MANIFEST_T_SOCKET) {
		fputs("External client: capbus does not start or sandbox it; it connects with its own key\n", f);
	} else {
		fputs("External client: capbus does not start or sandbox it; it has no connection of its own to the bus\n", f);
	}
	if (m->transports & MANIFEST_T_GATEWAY)
		fputs("May be reached through the WebSocket gateway (from the network, with a token or a browser key)\n", f);
	put_permissions(f, lp, PERM_SEND, m->send, m->n_send);
	put_permissions(f, lp, PERM_RECEIVE, m->receive, m->n_receive);
	if (m->namespace)
		fprintf(f, "Namespace: %s:* and %s.* are its own; nobody else sends or hears there without a grant\n", m->id,
			m->id);
	if (m->dispatch) {
		const char *d = level_policy_dispatcher(lp);
		fprintf(f, "Dispatch: send into and hear every other identity's namespace - SYSTEM, %s\n",
			d && !strcmp(d, m->id) ? "in effect: the system policy names this identity as dispatcher"
					       : "not in effect unless the system policy names this identity as dispatcher");
	}
	if (m->exec)
		put_sandbox(f, m);
	fprintf(f, "Messages: at most %u per second\n", m->limits.msg_rate);
	return finish(f, &buf);
}
