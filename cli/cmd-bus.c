// SPDX-License-Identifier: MIT
/* cmd-bus.c - capbus send, listen and call. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS 10000

int cmd_send(struct cli *cli, int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "capbus: usage: send TYPE [DATA_JSON]\n");
		return EXIT_USAGE;
	}
	int rc = cli_connect(cli);
	if (rc != EXIT_OK)
		return rc;
	int r = capbus_send(cli->bus, argv[1], argc == 3 ? argv[2] : NULL);
	if (r == CAPBUS_E_INVALID) {
		fprintf(stderr, "capbus: send: TYPE must be like \"a.b\" or \"a:b\" and DATA_JSON a JSON object\n");
		return EXIT_USAGE;
	}
	/* The daemon answers a ping only after it processed the message: a refusal arrives first. */
	if (r == 0)
		r = capbus_sync(cli->bus, DEFAULT_TIMEOUT_MS);
	return r == 0 ? EXIT_OK : cli_fail(cli, "send", r);
}

int cmd_listen(struct cli *cli, int argc, char **argv)
{
	long count = -1;
	int timeout_ms = -1;
	int n_patterns = 0;
	char **patterns = calloc((size_t)argc, sizeof(char *));

	if (!patterns)
		return EXIT_USAGE;
	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--count") && i + 1 < argc) {
			uint64_t v;
			if (parse_u64(argv[++i], 1000000000, &v) < 0 || v == 0) {
				fprintf(stderr, "capbus: listen: --count takes a positive number\n");
				free(patterns);
				return EXIT_USAGE;
			}
			count = (long)v;
		} else if (streq(argv[i], "--timeout") && i + 1 < argc) {
			if (cli_parse_seconds(argv[++i], &timeout_ms) < 0) {
				free(patterns);
				return EXIT_USAGE;
			}
		} else if (argv[i][0] == '-') {
			fprintf(stderr, "capbus: listen: unknown option %s\n", argv[i]);
			free(patterns);
			return EXIT_USAGE;
		} else {
			patterns[n_patterns++] = argv[i];
		}
	}
	if (n_patterns == 0) {
		fprintf(stderr, "capbus: usage: listen PATTERN... [--count N] [--timeout SECONDS]\n");
		free(patterns);
		return EXIT_USAGE;
	}
	int rc = cli_connect(cli);
	for (int i = 0; rc == EXIT_OK && i < n_patterns; i++) {
		int r = capbus_subscribe(cli->bus, patterns[i], DEFAULT_TIMEOUT_MS);
		if (r != 0) {
			_cleanup_free_ char *what = NULL;
			rc = cli_fail(cli, asprintf(&what, "listen %s", patterns[i]) < 0 ? "listen" : what, r);
		}
	}
	free(patterns);
	if (rc != EXIT_OK)
		return rc;

	int64_t start = -1;
	for (long got = 0; count < 0 || got < count; got++) {
		capbus_msg *m = NULL;
		int wait = timeout_ms;
		if (timeout_ms >= 0) {
			int64_t now = (int64_t)monotonic_ms();
			if (start < 0)
				start = now;
			wait = (int)(timeout_ms - (now - start));
			if (wait < 0)
				wait = 0;
		}
		int r = capbus_recv(cli->bus, &m, wait);
		if (r == CAPBUS_E_TIMEOUT && count < 0)
			return EXIT_OK; /* no --count: the timeout is the normal end */
		if (r != 0)
			return cli_fail(cli, "listen", r);
		printf("%s\n", capbus_msg_json(m));
		fflush(stdout);
		capbus_msg_free(m);
	}
	return EXIT_OK;
}

int cmd_call(struct cli *cli, int argc, char **argv)
{
	const char *reply_type = NULL;
	int timeout_ms = DEFAULT_TIMEOUT_MS;
	const char *args[2];
	int n = 0;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--reply") && i + 1 < argc)
			reply_type = argv[++i];
		else if (streq(argv[i], "--timeout") && i + 1 < argc) {
			if (cli_parse_seconds(argv[++i], &timeout_ms) < 0)
				return EXIT_USAGE;
		} else if (argv[i][0] != '-' && n < 2)
			args[n++] = argv[i];
		else {
			n = -1;
			break;
		}
	}
	if (n != 2 || !reply_type) {
		fprintf(stderr, "capbus: usage: call TYPE DATA_JSON --reply TYPE [--timeout SECONDS]\n");
		return EXIT_USAGE;
	}
	int rc = cli_connect(cli);
	if (rc != EXIT_OK)
		return rc;
	capbus_msg *reply = NULL;
	int r = capbus_call(cli->bus, args[0], args[1], reply_type, timeout_ms, &reply);
	if (r == CAPBUS_E_INVALID) {
		fprintf(stderr, "capbus: call: TYPE must be like \"a.b\" and DATA_JSON a JSON object\n");
		return EXIT_USAGE;
	}
	if (r != 0)
		return cli_fail(cli, "call", r);
	printf("%s\n", capbus_msg_json(reply));
	capbus_msg_free(reply);
	return EXIT_OK;
}
