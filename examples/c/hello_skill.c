// SPDX-License-Identifier: MIT
/* hello_skill.c - a capbus skill in C: answers intent.hello.greet with speak.
 *
 * Shows the libcapbus calls a skill needs: capbus_open (key file, or the connection a sandboxed
 * skill inherits), capbus_subscribe, an event loop around capbus_fd, capbus_recv without
 * blocking, and a reply that carries the request's context: its call_id (the daemon's id for
 * the call) makes the daemon deliver it to the caller of `capbus call` as the reply. An
 * example, so it trusts the bus no more
 * than any skill should: data fields are checked before use.
 *
 *   hello_skill [--socket PATH|@NAME] [--key FILE]      (default: $CAPBUS_SOCKET, $CAPBUS_KEY)
 */
#include <capbus.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int signo)
{
	(void)signo;
	stop_requested = 1;
}

/* The context of m as JSON text (caller frees), so that a reply keeps its call_id. */
static char *context_of(capbus_msg *m)
{
	cJSON *root = cJSON_Parse(capbus_msg_json(m));
	cJSON *ctx = cJSON_GetObjectItemCaseSensitive(root, "context");
	char *text = cJSON_IsObject(ctx) ? cJSON_PrintUnformatted(ctx) : NULL;

	cJSON_Delete(root);
	return text;
}

/* Answers one greeting; returns 0 or a libcapbus error. */
static int greet(capbus *bus, capbus_msg *m)
{
	const char *name = capbus_msg_get_string(m, "name");
	if (!name || !*name || strlen(name) > 64)
		name = "there";

	cJSON *data = cJSON_CreateObject();
	char utterance[96];
	snprintf(utterance, sizeof(utterance), "Hello, %s!", name);
	if (!data || !cJSON_AddStringToObject(data, "utterance", utterance)) {
		cJSON_Delete(data);
		return -ENOMEM;
	}
	char *data_json = cJSON_PrintUnformatted(data);
	char *context_json = context_of(m);
	cJSON_Delete(data);
	int r = data_json ? capbus_send_ctx(bus, "speak", data_json, context_json) : -ENOMEM;
	free(data_json);
	free(context_json);
	return r;
}

/* Handles everything already received; returns 0 when drained, else a libcapbus error. */
static int drain(capbus *bus)
{
	for (;;) {
		capbus_msg *m = NULL;
		int r = capbus_recv(bus, &m, 0);
		if (r == CAPBUS_E_TIMEOUT)
			return 0;
		if (r == CAPBUS_E_DENIED || r == CAPBUS_E_REFUSED || r == CAPBUS_E_INVALID) {
			/* A refusal of something we sent earlier: report it and carry on. */
			fprintf(stderr, "hello_skill: the bus refused a message: %s: %s\n", capbus_error_code(bus),
				capbus_error_message(bus));
			continue;
		}
		if (r != 0)
			return r;
		if (strcmp(capbus_msg_type(m), "intent.hello.greet") == 0) {
			const char *sender = capbus_msg_sender(m);
			fprintf(stderr, "hello_skill: greeting requested by %s\n", sender ? sender : "?");
			r = greet(bus, m);
		}
		capbus_msg_free(m);
		if (r != 0)
			return r;
	}
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL, *key_path = NULL;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strcmp(argv[i], "--key") == 0 && i + 1 < argc)
			key_path = argv[++i];
		else {
			fprintf(stderr, "usage: hello_skill [--socket PATH|@NAME] [--key FILE]\n");
			return 1;
		}
	}

	/* SIGTERM and SIGINT are blocked except inside ppoll, so a stop request is never missed. */
	sigset_t block, during_poll;
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &during_poll);
	sigdelset(&during_poll, SIGTERM);
	sigdelset(&during_poll, SIGINT);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	capbus *bus = NULL;
	int r = capbus_open(&bus, socket_path, key_path);
	if (r != 0) {
		fprintf(stderr, "hello_skill: cannot connect to the bus: %s\n", capbus_strerror(r));
		return 2;
	}
	r = capbus_subscribe(bus, "intent.hello.*", 5000);
	if (r != 0) {
		fprintf(stderr, "hello_skill: subscribing to intent.hello.*: %s (check the manifest)\n",
			capbus_strerror(r));
		capbus_close(bus);
		return 3;
	}
	fprintf(stderr, "hello_skill: ready as %s\n", capbus_id(bus));

	/* Messages may already be buffered after the subscribe round trip: drain before polling. */
	r = drain(bus);
	while (r == 0 && !stop_requested) {
		struct pollfd p = { .fd = capbus_fd(bus), .events = POLLIN };
		int n = ppoll(&p, 1, NULL, &during_poll);
		if (n < 0 && errno != EINTR) {
			r = -errno;
			break;
		}
		if (n > 0)
			r = drain(bus);
	}
	if (r != 0)
		fprintf(stderr, "hello_skill: %s\n", capbus_strerror(r));
	capbus_close(bus);
	return r == 0 ? 0 : 2;
}
