// SPDX-License-Identifier: MIT
/* cmd-admin.c - capbus keygen, manifest check, install, remove, grant, revoke, skills, logs, stats. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "authority.h"
#include "cli.h"
#include "describe.h"
#include "envelope.h"
#include "keyfile.h"
#include "levels.h"
#include "manifest.h"
#include "gw-tokens.h"
#include "regfile.h"
#include "util.h"

#define ADMIN_TIMEOUT_MS 15000


/* Sends an admin request built from data (consumed) and returns the reply. */
static int admin_request(struct cli *cli, const char *what, const char *type, cJSON *data, capbus_msg **reply)
{
	_cleanup_(cjson_deletep) cJSON *owned = data;
	_cleanup_free_ char *json = data ? cJSON_PrintUnformatted(data) : NULL;
	int rc = cli_connect(cli);

	if (rc != EXIT_OK)
		return rc;
	int r = capbus_request(cli->bus, type, json, ADMIN_TIMEOUT_MS, reply);
	return r == 0 ? EXIT_OK : cli_fail(cli, what, r);
}

/* The authority key of the key file in use (--key or $CAPBUS_KEY); prints why not. */
static int load_authority(struct cli *cli, const char *what, uint8_t authority[AUTHORITY_KEY_LEN])
{
	const char *path = cli->key ? cli->key : getenv("CAPBUS_KEY");
	int r = path ? keyfile_read_authority(path, authority) : KEYFILE_NO_AUTHORITY;

	if (r == 0)
		return EXIT_OK;
	if (r == KEYFILE_NO_AUTHORITY)
		fprintf(stderr, "capbus: %s: %s holds no admin authority: use the admin key file (--key STATE_DIR/admin.key)\n",
			what, path ? path : "the inherited connection");
	else
		fprintf(stderr, "capbus: %s: cannot read the admin authority from %s: %s\n", what, path,
			r < 0 ? strerror(-r) : keyfile_strerror(r));
	return EXIT_DENIED;
}

/* An admin request that changes policy or issues a key: fetches a fresh nonce from the daemon and
 * adds it with the admin's tag over (op, id, arg, body) to data (consumed). See docs/protocol.md. */
static int signed_request(struct cli *cli, const char *what, const char *type, enum authority_op op, const char *id,
			  const char *arg, const char *body, cJSON *data, capbus_msg **reply)
{
	_cleanup_(cjson_deletep) cJSON *owned = data;
	uint8_t authority[AUTHORITY_KEY_LEN], nonce[AUTHORITY_NONCE_LEN], tag[AUTHORITY_TAG_LEN];
	char nonce_hex[2 * AUTHORITY_NONCE_LEN + 1], tag_hex[2 * AUTHORITY_TAG_LEN + 1];
	capbus_msg *nreply = NULL;
	size_t bin_len = 0;
	int rc = cli_connect(cli);

	if (rc != EXIT_OK)
		return rc;
	rc = load_authority(cli, what, authority);
	if (rc != EXIT_OK)
		return rc;
	rc = admin_request(cli, what, "capbus.nonce", NULL, &nreply);
	const char *hex = rc == EXIT_OK ? capbus_msg_get_string(nreply, "nonce") : NULL;
	bool ok = hex && strlen(hex) == 2 * AUTHORITY_NONCE_LEN &&
		  sodium_hex2bin(nonce, sizeof(nonce), hex, strlen(hex), NULL, &bin_len, NULL) == 0 && bin_len == sizeof(nonce);
	capbus_msg_free(nreply);
	if (rc != EXIT_OK || !ok) {
		sodium_memzero(authority, sizeof(authority));
		if (rc == EXIT_OK)
			fprintf(stderr, "capbus: %s: the daemon sent no usable nonce\n", what);
		return rc != EXIT_OK ? rc : EXIT_CONNECT;
	}
	int r = authority_sign(authority, nonce, op, id, arg, arg ? strlen(arg) : 0, body, body ? strlen(body) : 0, tag);
	sodium_memzero(authority, sizeof(authority));
	if (r < 0) {
		fprintf(stderr, "capbus: %s: cannot sign this request: %s\n", what, strerror(-r));
		return EXIT_USAGE;
	}
	sodium_bin2hex(nonce_hex, sizeof(nonce_hex), nonce, sizeof(nonce));
	sodium_bin2hex(tag_hex, sizeof(tag_hex), tag, sizeof(tag));
	cJSON_AddStringToObject(data, "nonce", nonce_hex);
	cJSON_AddStringToObject(data, "authority", tag_hex);
	_cleanup_free_ char *json = cJSON_PrintUnformatted(owned);
	r = json ? capbus_request(cli->bus, type, json, ADMIN_TIMEOUT_MS, reply) : -ENOMEM;
	/* The router relays the privileged parent's errno as its strerror text: ENOENT from a
	 * token revocation means id holds no token with that tid (absent, or another identity's). */
	if (r == CAPBUS_E_REFUSED && op == AUTHORITY_OP_TOKEN_REVOKE && streq(capbus_error_code(cli->bus), "internal") &&
	    streq(capbus_error_message(cli->bus), strerror(ENOENT))) {
		fprintf(stderr, "capbus: %s: %s holds no token %s: nothing was revoked (the tid is the second field of "
			"the token, cbt1_TID_SECRET; check the identity)\n", what, id, arg);
		return EXIT_USAGE;
	}
	if (r == CAPBUS_E_REFUSED && streq(capbus_error_code(cli->bus), "internal")) {
		/* The daemon changes its files all or nothing (docs/architecture.md): a failure to
		 * store the change (a full disk, a read-only file system) leaves the old state. */
		fprintf(stderr, "capbus: %s: the daemon could not apply it: %s; nothing was changed (see the daemon's log, "
			"free space in its state and manifest directories, and retry)\n", what, capbus_error_message(cli->bus));
		return EXIT_USAGE;
	}
	return r == 0 ? EXIT_OK : cli_fail(cli, what, r);
}

int cli_fetch_key(struct cli *cli, const char *what, const char *id, uint8_t key[32])
{
	capbus_msg *reply = NULL;
	size_t bin_len = 0;
	cJSON *data = cJSON_CreateObject();

	cJSON_AddStringToObject(data, "id", id);
	int rc = signed_request(cli, what, "capbus.keygen", AUTHORITY_OP_KEYGEN, id, NULL, NULL, data, &reply);
	if (rc != EXIT_OK)
		return rc;
	const char *hex = capbus_msg_get_string(reply, "secret");
	bool ok = hex && sodium_hex2bin(key, 32, hex, strlen(hex), NULL, &bin_len, NULL) == 0 && bin_len == 32;
	capbus_msg_free(reply);
	if (!ok) {
		fprintf(stderr, "capbus: %s: the daemon sent no usable key\n", what);
		return EXIT_CONNECT;
	}
	return EXIT_OK;
}

int cmd_keygen(struct cli *cli, int argc, char **argv)
{
	const char *id = NULL, *out = NULL;
	uint8_t key[32];

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--out") && i + 1 < argc)
			out = argv[++i];
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			id = out = NULL, i = argc;
	}
	if (!id || !out) {
		fprintf(stderr, "capbus: usage: keygen ID --out FILE\n");
		return EXIT_USAGE;
	}
	/* Writing over the key this command authenticates with would lock its owner out. */
	struct stat out_st, key_st;
	const char *key_path = cli->key ? cli->key : getenv("CAPBUS_KEY");
	if (key_path && stat(out, &out_st) == 0 && stat(key_path, &key_st) == 0 && out_st.st_dev == key_st.st_dev &&
	    out_st.st_ino == key_st.st_ino) {
		fprintf(stderr, "capbus: keygen: %s is the key you are using: pick another --out\n", out);
		return EXIT_USAGE;
	}
	int rc = cli_fetch_key(cli, "keygen", id, key);
	if (rc != EXIT_OK)
		return rc;
	int r = keyfile_write(out, id, key, false);
	sodium_memzero(key, sizeof(key));
	if (r < 0) {
		fprintf(stderr, "capbus: keygen: cannot write %s: %s\n", out, strerror(-r));
		return EXIT_USAGE;
	}
	fprintf(stderr, "capbus: wrote the key of \"%s\" to %s (mode 0600); keep it private\n", id, out);
	return EXIT_OK;
}

int cli_read_text(const char *path, char **out)
{
	/* The user named this file: a symlink is followed; a FIFO, device or directory is refused
	 * rather than read (a FIFO would hang us). */
	_cleanup_free_ char *buf = malloc(MANIFEST_MAX_SIZE + 1);
	if (!buf)
		return -ENOMEM;
	ssize_t n = regfile_read(AT_FDCWD, path, REGFILE_FOLLOW, MANIFEST_MAX_SIZE, buf, NULL);
	if (n == -EFBIG || n == -REGFILE_E_NOT_REGULAR) {
		fprintf(stderr, "capbus: %s: not a regular file of at most %d bytes\n", path, MANIFEST_MAX_SIZE);
		return -EINVAL;
	}
	if (n < 0) {
		fprintf(stderr, "capbus: cannot read %s: %s\n", path, strerror((int)-n));
		return (int)n;
	}
	*out = TAKE_PTR(buf);
	return 0;
}

static int load_levels(struct level_policy **lp)
{
	_cleanup_free_ char *text = NULL;
	char *err = NULL;

	if (access(LEVEL_POLICY_PATH, R_OK) == 0 && cli_read_text(LEVEL_POLICY_PATH, &text) == 0) {
		int r = level_policy_parse(text, strlen(text), LEVEL_POLICY_PATH, lp, &err);
		if (r == 0)
			return 0;
		fprintf(stderr, "capbus: warning: %s\n", err ? err : "invalid system policy; using the built-in one");
		free(err);
	}
	return level_policy_new_default(lp);
}

/* Parses and prints a manifest in plain words; hands out its text and id when asked. Returns 0
 * or an exit code. */
static int explain(const char *path, char **text_out, char **id_out)
{
	_cleanup_free_ char *text = NULL, *err = NULL, *words = NULL;
	struct manifest *m = NULL;
	struct level_policy *lp = NULL;

	if (cli_read_text(path, &text) < 0)
		return EXIT_USAGE;
	int r = manifest_parse(text, strlen(text), path, &m, &err);
	if (r != 0) {
		fprintf(stderr, "%s\n", err ? err : "capbus: out of memory");
		return EXIT_USAGE;
	}
	if (load_levels(&lp) < 0) {
		manifest_free(m);
		return EXIT_USAGE;
	}
	words = manifest_describe(m, lp);
	if (words)
		fputs(words, stdout);
	if (id_out && !(*id_out = strdup(m->id))) {
		manifest_free(m);
		level_policy_free(lp);
		return EXIT_USAGE;
	}
	manifest_free(m);
	level_policy_free(lp);
	if (text_out)
		*text_out = TAKE_PTR(text);
	return EXIT_OK;
}

int cmd_manifest(struct cli *cli, int argc, char **argv)
{
	(void)cli;
	if (argc != 3 || !streq(argv[1], "check")) {
		fprintf(stderr, "capbus: usage: manifest check FILE\n");
		return EXIT_USAGE;
	}
	return explain(argv[2], NULL, NULL);
}

int cmd_install(struct cli *cli, int argc, char **argv)
{
	const char *path = NULL;
	_cleanup_free_ char *text = NULL, *id = NULL, *arg = NULL;
	cJSON *data = cJSON_CreateObject();
	cJSON *grants = cJSON_AddArrayToObject(data, "grant");
	size_t arg_len = 0;

	for (int i = 1; i < argc; i++) {
		if (streq(argv[i], "--grant") && i + 1 < argc) {
			cJSON_AddItemToArray(grants, cJSON_CreateString(argv[++i]));
			arg_len += strlen(argv[i]) + 1;
		} else if (!path && argv[i][0] != '-') {
			path = argv[i];
		} else {
			path = NULL, i = argc;
		}
	}
	if (!path) {
		cJSON_Delete(data);
		fprintf(stderr, "capbus: usage: install FILE [--grant PATTERN]...\n");
		return EXIT_USAGE;
	}
	int rc = explain(path, &text, &id);
	/* The signed arg: the --grant patterns in order, joined by "\n". */
	arg = rc == EXIT_OK ? calloc(1, arg_len + 1) : NULL;
	if (rc != EXIT_OK || !arg) {
		cJSON_Delete(data);
		return rc != EXIT_OK ? rc : EXIT_USAGE;
	}
	for (const cJSON *g = grants->child; g; g = g->next) {
		if (g != grants->child)
			strcat(arg, "\n");
		strcat(arg, g->valuestring);
	}
	cJSON_AddStringToObject(data, "manifest", text);
	capbus_msg *reply = NULL;
	rc = signed_request(cli, "install", "capbus.install", AUTHORITY_OP_INSTALL, id, arg, text, data, &reply);
	if (rc == EXIT_OK) {
		printf("installed %s\n", capbus_msg_get_string(reply, "id"));
		capbus_msg_free(reply);
	}
	return rc;
}

static int id_command(struct cli *cli, int argc, char **argv, const char *type, enum authority_op op, bool with_pattern)
{
	if (argc != (with_pattern ? 3 : 2)) {
		fprintf(stderr, "capbus: usage: %s ID%s\n", argv[0], with_pattern ? " PATTERN" : "");
		return EXIT_USAGE;
	}
	cJSON *data = cJSON_CreateObject();
	cJSON_AddStringToObject(data, "id", argv[1]);
	if (with_pattern)
		cJSON_AddStringToObject(data, "pattern", argv[2]);
	capbus_msg *reply = NULL;
	int rc = signed_request(cli, argv[0], type, op, argv[1], with_pattern ? argv[2] : NULL, NULL, data, &reply);
	capbus_msg_free(reply);
	return rc;
}

int cmd_remove(struct cli *cli, int argc, char **argv)
{
	return id_command(cli, argc, argv, "capbus.remove", AUTHORITY_OP_REMOVE, false);
}

int cmd_grant(struct cli *cli, int argc, char **argv)
{
	return id_command(cli, argc, argv, "capbus.grant", AUTHORITY_OP_GRANT, true);
}

int cmd_revoke(struct cli *cli, int argc, char **argv)
{
	return id_command(cli, argc, argv, "capbus.revoke", AUTHORITY_OP_REVOKE, true);
}

/* "0", "812K", "1.5M", "64M": df -h's way, powers of 1024. */
static void human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	double v = (double)bytes;
	int u = -1;

	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, len, "%" PRIu64, bytes);
	else if (v < 10 && v != (double)(uint64_t)v)
		snprintf(buf, len, "%.1f%c", v, units[u]);
	else
		snprintf(buf, len, "%.0f%c", v, units[u]);
}

int cmd_skills(struct cli *cli, int argc, char **argv)
{
	bool json = argc == 2 && streq(argv[1], "--json");
	capbus_msg *reply = NULL;

	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "capbus: usage: skills [--json]\n");
		return EXIT_USAGE;
	}
	int rc = admin_request(cli, "skills", "capbus.skills", NULL, &reply);
	if (rc != EXIT_OK)
		return rc;
	_cleanup_(cjson_deletep) cJSON *data = cJSON_Parse(capbus_msg_data_json(reply));
	capbus_msg_free(reply);
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(data, "skills");
	if (!cJSON_IsArray(list)) {
		fprintf(stderr, "capbus: skills: unexpected answer from the daemon\n");
		return EXIT_CONNECT;
	}
	if (json) {
		_cleanup_free_ char *s = cJSON_PrintUnformatted(list);
		printf("%s\n", s ? s : "[]");
		return EXIT_OK;
	}
	printf("%-32s %-10s %8s %8s %-15s  %s\n", "ID", "STATE", "PID", "RESTARTS", "/STATE USED", "LAST EXIT");
	for (const cJSON *s = list->child; s; s = s->next) {
		const cJSON *last = cJSON_GetObjectItemCaseSensitive(s, "last_exit");
		char used[16], limit[16], state[40];
		const cJSON *u = cJSON_GetObjectItemCaseSensitive(s, "state_used");
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(s, "state_limit");
		human_size(cJSON_IsNumber(u) ? (uint64_t)u->valuedouble : 0, used, sizeof(used));
		human_size(cJSON_IsNumber(l) ? (uint64_t)l->valuedouble : 0, limit, sizeof(limit));
		snprintf(state, sizeof(state), "%s/%s", cJSON_IsNumber(u) ? used : "-", cJSON_IsNumber(l) ? limit : "-");
		printf("%-32s %-10s %8d %8d %-15s  %s\n", cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "id")),
		       cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "state")),
		       cJSON_GetObjectItemCaseSensitive(s, "pid")->valueint,
		       cJSON_GetObjectItemCaseSensitive(s, "restarts")->valueint, state,
		       cJSON_IsString(last) ? last->valuestring : "-");
	}
	return EXIT_OK;
}

#define LOGS_POLL_MS 250

/* Prints one answer of capbus.logs; *cursor becomes its "next". Returns EXIT_OK or why not. */
static int print_logs(const char *data_json, uint64_t *cursor, bool *more)
{
	_cleanup_(cjson_deletep) cJSON *data = cJSON_Parse(data_json);
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(data, "lines");
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(data, "next");
	const cJSON *dropped = cJSON_GetObjectItemCaseSensitive(data, "dropped");

	if (!cJSON_IsArray(lines) || !cJSON_IsNumber(next) || !cJSON_IsNumber(dropped)) {
		fprintf(stderr, "capbus: logs: unexpected answer from the daemon\n");
		return EXIT_CONNECT;
	}
	if (dropped->valuedouble > 0)
		printf("-- %.0f line(s) left the ring before they could be shown --\n", dropped->valuedouble);
	for (const cJSON *l = lines->child; l; l = l->next) {
		const char *stream = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "stream"));
		const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(l, "text"));
		printf("[%s] %s\n", stream ? stream : "?", text ? text : "");
	}
	fflush(stdout);
	*cursor = (uint64_t)next->valuedouble;
	*more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(data, "more"));
	return EXIT_OK;
}

/* capbus logs ID [--follow]: the lines the daemon holds for the skill; with --follow, asks again
 * with the last cursor every LOGS_POLL_MS (at once while the answer says more are ready), so no
 * line is shown twice or missed while the ring holds it. */
int cmd_logs(struct cli *cli, int argc, char **argv)
{
	bool follow = argc == 3 && streq(argv[2], "--follow");
	uint64_t cursor = 0;

	if (argc < 2 || argc > 3 || (argc == 3 && !follow)) {
		fprintf(stderr, "capbus: usage: logs ID [--follow]\n");
		return EXIT_USAGE;
	}
	for (;;) {
		capbus_msg *reply = NULL;
		bool more = false;
		cJSON *data = cJSON_CreateObject();
		if (!data)
			return EXIT_CONNECT;
		cJSON_AddStringToObject(data, "id", argv[1]);
		cJSON_AddNumberToObject(data, "cursor", (double)cursor);
		int rc = admin_request(cli, "logs", "capbus.logs", data, &reply);
		if (rc == EXIT_OK)
			rc = print_logs(capbus_msg_data_json(reply), &cursor, &more);
		capbus_msg_free(reply);
		if (rc != EXIT_OK || (!follow && !more))
			return rc;
		if (!more) {
			struct timespec ts = { 0, LOGS_POLL_MS * 1000000L };
			nanosleep(&ts, NULL);
		}
	}
}

/* Admin requests without arguments whose answer is printed as JSON. */
static int json_command(struct cli *cli, int argc, char **argv, const char *type)
{
	capbus_msg *reply = NULL;

	if (argc != 1) {
		fprintf(stderr, "capbus: usage: %s\n", argv[0]);
		return EXIT_USAGE;
	}
	int rc = admin_request(cli, argv[0], type, NULL, &reply);
	if (rc == EXIT_OK)
		printf("%s\n", capbus_msg_data_json(reply));
	capbus_msg_free(reply);
	return rc;
}

int cmd_stats(struct cli *cli, int argc, char **argv)
{
	return json_command(cli, argc, argv, "capbus.stats");
}

int cmd_guard(struct cli *cli, int argc, char **argv)
{
	return json_command(cli, argc, argv, "capbus.guard");
}

int cmd_reload(struct cli *cli, int argc, char **argv)
{
	capbus_msg *reply = NULL;
	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "capbus: usage: reload\n");
		return EXIT_USAGE;
	}
	int rc = admin_request(cli, "reload", "capbus.reload", NULL, &reply);
	capbus_msg_free(reply);
	return rc;
}

/* capbus token ID: a new gateway token, printed once. The token and its hash are made here; only
 * the hash (crypto_pwhash_str) goes to the daemon, in a request signed like every policy change.
 * capbus token ID --revoke TID|--revoke-all: removes one token of ID, or all of them. */
int cmd_token(struct cli *cli, int argc, char **argv)
{
	bool revoke = argc == 4 && streq(argv[2], "--revoke"), revoke_all = argc == 3 && streq(argv[2], "--revoke-all");

	if (argc != 2 && !revoke && !revoke_all) {
		fprintf(stderr, "capbus: usage: token ID [--revoke TID | --revoke-all]\n");
		return EXIT_USAGE;
	}
	const char *id = argv[1];
	cJSON *data = cJSON_CreateObject();
	capbus_msg *reply = NULL;
	if (!data)
		return EXIT_USAGE;
	cJSON_AddStringToObject(data, "id", id);
	if (revoke || revoke_all) {
		const char *tid = revoke_all ? "*" : argv[3];
		bool hex = strlen(tid) == GW_TID_LEN;
		for (size_t i = 0; hex && i < GW_TID_LEN; i++)
			hex = (tid[i] >= '0' && tid[i] <= '9') || (tid[i] >= 'a' && tid[i] <= 'f');
		if (!revoke_all && !hex) {
			cJSON_Delete(data);
			fprintf(stderr, "capbus: token: \"%s\" is not a token id (16 lowercase hex digits)\n", tid);
			return EXIT_USAGE;
		}
		cJSON_AddStringToObject(data, "tid", tid);
		int rc = signed_request(cli, "token", "capbus.token_revoke", AUTHORITY_OP_TOKEN_REVOKE, id, tid, NULL, data,
					&reply);
		capbus_msg_free(reply);
		if (rc == EXIT_OK)
			fprintf(stderr, "capbus: revoked %s of %s\n", revoke_all ? "every token" : tid, id);
		return rc;
	}
	char token[GW_TOKEN_LEN + 1], tid[GW_TID_LEN + 1], hash[crypto_pwhash_STRBYTES];
	gw_token_generate(token, tid);
	int r = gw_token_hash(token, strlen(token), hash);
	if (r < 0) {
		sodium_memzero(token, sizeof(token));
		cJSON_Delete(data);
		fprintf(stderr, "capbus: token: cannot hash the token: %s\n", strerror(-r));
		return EXIT_USAGE;
	}
	cJSON_AddStringToObject(data, "tid", tid);
	cJSON_AddStringToObject(data, "hash", hash);
	int rc = signed_request(cli, "token", "capbus.token_add", AUTHORITY_OP_TOKEN_ADD, id, tid, hash, data, &reply);
	capbus_msg_free(reply);
	if (rc == EXIT_OK) {
		printf("%s\n", token);
		fflush(stdout);
		fprintf(stderr, "capbus: token %s for %s: use ws(s)://HOST:PORT/core?token=... or Authorization: Basic; "
			"it is shown once\n", tid, id);
	}
	sodium_memzero(token, sizeof(token));
	return rc;
}
