/* SPDX-License-Identifier: MIT */
/* cli.h - shared pieces of the capbus command-line tool. */
#pragma once

#include <stdint.h>

#include "capbus.h"

/* Exit codes of the interface contract. */
enum {
	EXIT_OK = 0,
	EXIT_USAGE = 1,   /* usage or configuration error */
	EXIT_CONNECT = 2, /* cannot connect or authenticate */
	EXIT_DENIED = 3,
	EXIT_TIMEOUT = 4,
};

struct cli {
	const char *socket; /* NULL: $CAPBUS_SOCKET or the default */
	const char *key;    /* NULL: $CAPBUS_KEY or the inherited sandbox connection */
	capbus *bus;
};

/* Connects (once). Prints the reason and returns an exit code on failure. */
int cli_connect(struct cli *cli);

/* Maps a libcapbus result to an exit code, printing one line that says what to do. */
int cli_fail(struct cli *cli, const char *what, int r);

/* Parses "--timeout SECONDS" style values into milliseconds. */
int cli_parse_seconds(const char *s, int *ms);

int cmd_send(struct cli *cli, int argc, char **argv);
int cmd_listen(struct cli *cli, int argc, char **argv);
int cmd_call(struct cli *cli, int argc, char **argv);
int cmd_keygen(struct cli *cli, int argc, char **argv);
int cmd_manifest(struct cli *cli, int argc, char **argv);
int cmd_install(struct cli *cli, int argc, char **argv);
int cmd_remove(struct cli *cli, int argc, char **argv);
int cmd_grant(struct cli *cli, int argc, char **argv);
int cmd_revoke(struct cli *cli, int argc, char **argv);
int cmd_skills(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_logs(struct cli *cli, int argc, char **argv);
int cmd_reload(struct cli *cli, int argc, char **argv);
int cmd_guard(struct cli *cli, int argc, char **argv);
int cmd_run(struct cli *cli, int argc, char **argv);
int cmd_gateway_cert(struct cli *cli, int argc, char **argv);
int cmd_token(struct cli *cli, int argc, char **argv);

/* Asks the daemon (admin key) for the key of id; prints why not. Returns an exit code. */
int cli_fetch_key(struct cli *cli, const char *what, const char *id, uint8_t key[32]);

/* Reads a manifest-sized text file, printing why not. Returns 0 or a negative errno. */
int cli_read_text(const char *path, char **out);
