// SPDX-License-Identifier: MIT
/* main.c - capbus: global options, command dispatch, exit codes. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "util.h"

static void usage(FILE *f)
{
	fputs("Usage: capbus [--socket PATH] [--key FILE] COMMAND ...\n"
	      "\n"
	      "Messages:\n"
	      "  send TYPE [DATA_JSON]                        send one message\n"
	      "  listen PATTERN... [--count N] [--timeout S]  print delivered messages, one JSON per line\n"
	      "  call TYPE DATA_JSON --reply TYPE [--timeout S]  request/response\n"
	      "Administration (admin key):\n"
	      "  keygen ID --out FILE                         issue a client key\n"
	      "  install FILE [--grant PATTERN]...            install a manifest\n"
	      "  remove ID                                    remove an identity\n"
	      "  grant ID PATTERN / revoke ID PATTERN         change dangerous permissions\n"
	      "  skills [--json]                              list skills and their state\n"
	      "  logs ID [--follow]                           a skill's recent stdout and stderr lines\n"
	      "  stats                                        daemon counters (JSON)\n"
	      "  guard                                        kernel guard state, allow-list, denials (JSON)\n"
	      "  reload                                       re-read manifests and grants\n"
	      "  run MANIFEST [--dir D] [--state D]          run one skill in its sandbox, in the foreground\n"
	      "  token ID [--revoke TID | --revoke-all]      a new gateway token for ID (printed once), or revoke\n"
	      "Local:\n"
	      "  manifest check FILE                          validate and explain a manifest\n"
	      "  gateway-cert [--cert F] [--key F] [--name N]... [--days N] [--force]\n"
	      "                                               self-signed TLS pair for capbus-gateway\n"
	      "\n"
	      "Defaults: --socket $CAPBUS_SOCKET or " CAPBUS_DEFAULT_SOCKET ", --key $CAPBUS_KEY;\n"
	      "inside a sandbox the inherited bus connection is used when no key is given.\n"
	      "Exit codes: 0 ok, 1 usage or config error, 2 cannot connect or authenticate,\n"
	      "3 permission denied, 4 timeout.\n",
	      f);
}

int cli_connect(struct cli *cli)
{
	if (cli->bus)
		return EXIT_OK;
	int r = capbus_open(&cli->bus, cli->socket, cli->key);
	if (r == 0)
		return EXIT_OK;
	const char *sock = cli->socket ? cli->socket : getenv("CAPBUS_SOCKET");
	if (!sock)
		sock = CAPBUS_DEFAULT_SOCKET;
	if (r == CAPBUS_E_KEYFILE && !cli->key && !getenv("CAPBUS_KEY"))
		fprintf(stderr, "capbus: no key given: use --key FILE or set CAPBUS_KEY\n");
	else if (r == CAPBUS_E_KEYFILE || r == -ENOENT || r == -EACCES)
		fprintf(stderr, "capbus: cannot use the key or socket (%s): check --key and --socket %s\n",
			capbus_strerror(r), sock);
	else if (r == CAPBUS_E_AUTH)
		fprintf(stderr, "capbus: authentication failed at %s: the key is wrong or revoked, or whatever serves this socket is not the capbusd that issued it\n", sock);
	else if (r == CAPBUS_E_VERSION)
		fprintf(stderr, "capbus: cannot connect to %s: %s: use a capbus and a capbusd of the same protocol version\n",
			sock, capbus_strerror(r));
	else
		fprintf(stderr, "capbus: cannot connect to %s: %s (is capbusd running?)\n", sock, capbus_strerror(r));
	return EXIT_CONNECT;
}

int cli_fail(struct cli *cli, const char *what, int r)
{
	const char *detail = cli->bus && capbus_error_message(cli->bus)[0] ? capbus_error_message(cli->bus) : capbus_strerror(r);

	switch (r) {
	case CAPBUS_E_DENIED:
		fprintf(stderr, "capbus: %s: permission denied: %s\n", what, detail);
		return EXIT_DENIED;
	case CAPBUS_E_TIMEOUT:
		fprintf(stderr, "capbus: %s: timed out waiting for the daemon (try a longer --timeout)\n", what);
		return EXIT_TIMEOUT;
	case CAPBUS_E_AUTH:
	case CAPBUS_E_CLOSED:
	case CAPBUS_E_PROTOCOL:
		fprintf(stderr, "capbus: %s: connection lost: %s\n", what, capbus_strerror(r));
		return EXIT_CONNECT;
	case CAPBUS_E_REFUSED:
		if (cli->bus && streq(capbus_error_code(cli->bus), "needs_grant")) {
			fprintf(stderr, "capbus: %s: %s\n", what, detail);
			return EXIT_DENIED;
		}
		fprintf(stderr, "capbus: %s: refused (%s): %s\n", what, cli->bus ? capbus_error_code(cli->bus) : "?", detail);
		return EXIT_USAGE;
	default:
		fprintf(stderr, "capbus: %s: %s\n", what, detail);
		return r < 0 ? EXIT_CONNECT : EXIT_USAGE;
	}
}

int cli_parse_seconds(const char *s, int *ms)
{
	char *end = NULL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || !end || *end || end == s || v < 0 || v > 86400 * 365) {
		fprintf(stderr, "capbus: \"%s\" is not a number of seconds\n", s);
		return -EINVAL;
	}
	*ms = (int)(v * 1000);
	return 0;
}

static const struct {
	const char *name;
	int (*fn)(struct cli *, int, char **);
} commands[] = {
	{ "send", cmd_send },       { "listen", cmd_listen },   { "call", cmd_call },     { "keygen", cmd_keygen },
	{ "manifest", cmd_manifest }, { "install", cmd_install }, { "remove", cmd_remove }, { "grant", cmd_grant },
	{ "revoke", cmd_revoke },   { "skills", cmd_skills },   { "stats", cmd_stats },   { "logs", cmd_logs },   { "reload", cmd_reload },
	{ "guard", cmd_guard },     { "run", cmd_run },
	{ "gateway-cert", cmd_gateway_cert }, { "token", cmd_token },
};

int main(int argc, char **argv)
{
	struct cli cli = { 0 };
	int i = 1;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i];
		if (streq(a, "-h") || streq(a, "--help")) {
			usage(stdout);
			return EXIT_OK;
		}
		if (streq(a, "-V") || streq(a, "--version")) {
			puts("capbus " CAPBUS_VERSION);
			return EXIT_OK;
		}
		if ((streq(a, "--socket") || streq(a, "--key")) && i + 1 < argc) {
			*(streq(a, "--socket") ? &cli.socket : &cli.key) = argv[++i];
		} else if (startswith(a, "--socket=")) {
			cli.socket = a + 9;
		} else if (startswith(a, "--key=")) {
			cli.key = a + 6;
		} else {
			fprintf(stderr, "capbus: unknown option %s (see capbus --help)\n", a);
			return EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t c = 0; c < ARRAY_SIZE(commands); c++)
		if (streq(argv[i], commands[c].name)) {
			int r = commands[c].fn(&cli, argc - i, argv + i);
			capbus_close(cli.bus);
			return r;
		}
	fprintf(stderr, "capbus: unknown command \"%s\" (see capbus --help)\n", argv[i]);
	return EXIT_USAGE;
}
