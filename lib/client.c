// SPDX-License-Identifier: MIT
/* client.c - libcapbus connections: connect, handshake, MAC'd frames, control round trips.
 *
 * Runs in skills and the CLI; trusts nothing the socket says until the daemon has proven it
 * knows the client's key. */
#include "capbus.h"

#include <fcntl.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>

#include "envelope.h"
#include "frame.h"
#include "handshake.h"
#include "keyfile.h"
#include "util.h"

/* What the daemon may deliver: max_frame may be set up to the protocol's limit, and every
 * delivered copy fits it. The read buffer grows to a frame's size only when one arrives. */
#define CLIENT_MAX_FRAME FRAME_MAX_BODY_HARD

/* A delivered message keeps its bytes as they came; the data and context objects are parsed
 * only when an accessor needs a field, so a receiver that forwards or counts messages never
 * builds a tree. The accessors fill these caches (a message is not thread-safe). */
struct capbus_msg {
	const char *body; /* the whole message, NUL-terminated, in this allocation */
	const char *type; /* NUL-terminated copy, in this allocation */
	size_t data_off, data_len, ctx_off, ctx_len; /* 0 len: absent, reads as {} */
	cJSON *data, *context;           /* parsed on first use */
	char *data_json, *context_json;  /* copied on first use */
	struct capbus_msg *next;
	char bytes[];
};

struct capbus {
	int fd;
	struct hs_session session;
	uint8_t *in;       /* receive buffer */
	size_t in_off, in_len, in_cap; /* unread bytes are in[in_off..in_len) */
	capbus_msg *queue_head, *queue_tail; /* delivered messages read while waiting for a reply */
	uint64_t next_ping;
	uint64_t call_base; /* random per connection: call_ids of two callers do not meet */
	uint64_t calls;
	char **subs;       /* patterns this connection subscribed to */
	size_t n_subs;
	char err_code[32];
	char err_message[256];
	char *out;         /* send buffer for message bodies, reused */
	size_t out_cap;
};

const char *capbus_strerror(int r)
{
	if (r < 0)
		return strerror(-r);
	switch (r) {
	case 0:
		return "success";
	case CAPBUS_E_AUTH:
		return "authentication failed (wrong key, unknown identity, or not a capbus daemon)";
	case CAPBUS_E_DENIED:
		return "permission denied by the bus policy";
	case CAPBUS_E_TIMEOUT:
		return "timed out";
	case CAPBUS_E_PROTOCOL:
		return "protocol violation by the peer";
	case CAPBUS_E_CLOSED:
		return "the daemon closed the connection";
	case CAPBUS_E_INVALID:
		return "invalid argument";
	case CAPBUS_E_REFUSED:
		return "the daemon refused the request";
	case CAPBUS_E_KEYFILE:
		return "unusable key file";
	case CAPBUS_E_VERSION:
		return "the daemon speaks another capbus protocol version (this library speaks version 2)";
	default:
		return "unknown error";
	}
}

static int64_t now_ms(void)
{
	return (int64_t)monotonic_ms();
}

/* Milliseconds left until deadline (-1 = forever). */
static int remaining(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - now_ms();
	return left < 0 ? 0 : (int)(left > INT32_MAX ? INT32_MAX : left);
}

static int64_t deadline_after(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t w = writev(fd, iov, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd p = { .fd = fd, .events = POLLOUT };
				poll(&p, 1, -1);
				continue;
			}
			return errno == EPIPE || errno == ECONNRESET ? CAPBUS_E_CLOSED : negative_errno();
		}
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Sends one frame; signed when the session is established. */
static int send_frame(capbus *bus, const uint8_t *body, size_t len, bool sign)
{
	uint8_t hdr[FRAME_HEADER_LEN], tag[FRAME_TAG_LEN];
	struct iovec iov[3] = {
		{ hdr, sizeof(hdr) }, { (void *)body, len }, { tag, sizeof(tag) },
	};

	if (len == 0 || len > CLIENT_MAX_FRAME)
		return CAPBUS_E_INVALID;
	frame_put_header(hdr, (uint32_t)len);
	if (sign)
		mac_sign(&bus->session.tx, hdr, body, len, tag);
	return write_all(bus->fd, iov, sign ? 3 : 2);
}

#define CLIENT_READ_BUFFER (64u * 1024)

/* Reads until one whole frame is buffered; *view points into bus->in until the next call.
 * Frames are consumed by advancing an offset; the rest moves to the front only when more
 * must be read, so a read that brought many frames costs no copying per frame. */
static int recv_frame(capbus *bus, bool tagged, int64_t deadline, struct frame_view *view)
{
	for (;;) {
		size_t needed = 0;
		int r = frame_parse(bus->in + bus->in_off, bus->in_len - bus->in_off, CLIENT_MAX_FRAME,
				    tagged ? FRAME_TAG_LEN : 0, view, &needed);
		if (r == FRAME_OK)
			return 0;
		if (r != FRAME_INCOMPLETE)
			return CAPBUS_E_PROTOCOL;
		if (bus->in_off > 0) {
			memmove(bus->in, bus->in + bus->in_off, bus->in_len - bus->in_off);
			bus->in_len -= bus->in_off;
			bus->in_off = 0;
		}
		if (needed > bus->in_cap || bus->in_cap < CLIENT_READ_BUFFER) {
			size_t cap = bus->in_cap > CLIENT_READ_BUFFER ? bus->in_cap : CLIENT_READ_BUFFER;
			while (cap < needed)
				cap *= 2;
			uint8_t *p = realloc(bus->in, cap);
			if (!p)
				return -ENOMEM;
			bus->in = p;
			bus->in_cap = cap;
		}
		struct pollfd p = { .fd = bus->fd, .events = POLLIN };
		r = poll(&p, 1, remaining(deadline));
		if (r < 0 && errno != EINTR)
			return negative_errno();
		if (r == 0)
			return CAPBUS_E_TIMEOUT;
		ssize_t n = read(bus->fd, bus->in + bus->in_len, bus->in_cap - bus->in_len);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return errno == ECONNRESET ? CAPBUS_E_CLOSED : negative_errno();
		}
		if (n == 0)
			return CAPBUS_E_CLOSED;
		bus->in_len += (size_t)n;
	}
}

static void consume_frame(capbus *bus, const struct frame_view *view)
{
	bus->in_off += view->total_len;
	if (bus->in_off == bus->in_len)
		bus->in_off = bus->in_len = 0;
}

#define CLIENT_MAX_DEPTH 64

/* A message from the bytes of a frame. The daemon writes every message compactly with plain
 * keys; one with escaped keys or type is decoded by the full parser first. */
static int msg_new(const uint8_t *body, size_t len, capbus_msg **out)
{
	_cleanup_free_ char *compact = NULL, *decoded_type = NULL;
	struct envelope_view v;
	int r = envelope_locate(body, len, CLIENT_MAX_DEPTH, &v);

	if (r == ENVELOPE_NEEDS_TREE) {
		_cleanup_(envelope_clear) struct envelope env = { 0 };
		const char *why = NULL;
		r = envelope_parse(body, len, CLIENT_MAX_DEPTH, &env, &why);
		if (r == 0) {
			if (!(compact = envelope_serialize(&env, &len)) || !(decoded_type = strdup(env.type)))
				return -ENOMEM;
			body = (const uint8_t *)compact;
			/* a type with '"' or '\\' stays escaped in the text: the decoded one is kept apart */
			r = envelope_locate_written(body, len, CLIENT_MAX_DEPTH + 1, &v);
		}
	}
	if (r != 0)
		return r < 0 ? r : CAPBUS_E_PROTOCOL;
	const char *type = decoded_type ? decoded_type : (const char *)body + v.type_off;
	size_t type_len = decoded_type ? strlen(decoded_type) : v.type_len;
	capbus_msg *m = malloc(sizeof(*m) + len + 1 + type_len + 1);
	if (!m)
		return -ENOMEM;
	*m = (struct capbus_msg){ .body = m->bytes, .type = m->bytes + len + 1, .data_off = v.data_off,
				  .data_len = v.data_len, .ctx_off = v.ctx_off, .ctx_len = v.ctx_len };
	memcpy(m->bytes, body, len);
	m->bytes[len] = '\0';
	memcpy(m->bytes + len + 1, type, type_len);
	m->bytes[len + 1 + type_len] = '\0';
	*out = m;
	return 0;
}

/* Reads, verifies and parses the next message from the daemon. */
static int recv_msg(capbus *bus, int64_t deadline, capbus_msg **out)
{
	struct frame_view view;
	int r = recv_frame(bus, true, deadline, &view);

	if (r != 0)
		return r;
	if (!mac_verify(&bus->session.rx, view.header, view.body, view.body_len, view.tag))
		return CAPBUS_E_PROTOCOL;
	r = msg_new(view.body, view.body_len, out);
	consume_frame(bus, &view);
	return r;
}

static int handshake(capbus *bus, const char *id, const uint8_t key[32])
{
	_cleanup_(hs_client_clear) struct hs_client hc = { 0 };
	uint8_t auth[HS_AUTH_MAX];
	size_t auth_len = 0;
	struct frame_view view;
	int64_t deadline = deadline_after(10000);

	int r = recv_frame(bus, false, deadline, &view);
	if (r != 0)
		return r == CAPBUS_E_CLOSED ? CAPBUS_E_AUTH : r;
	r = hs_client_auth(&hc, id, key, view.body, view.body_len, auth, &auth_len);
	consume_frame(bus, &view);
	if (r == HS_VERSION)
		return CAPBUS_E_VERSION;
	if (r != HS_OK)
		return r == HS_MALFORMED && !hs_id_is_valid(id, strlen(id)) ? CAPBUS_E_INVALID : CAPBUS_E_PROTOCOL;
	r = send_frame(bus, auth, auth_len, false);
	if (r != 0)
		return r;
	r = recv_frame(bus, false, deadline, &view);
	if (r != 0)
		return r == CAPBUS_E_CLOSED ? CAPBUS_E_AUTH : r;
	r = hs_client_finish(&hc, view.body, view.body_len, &bus->session);
	consume_frame(bus, &view);
	return r == HS_OK ? 0 : r == HS_REJECTED ? CAPBUS_E_AUTH : CAPBUS_E_PROTOCOL;
}

int capbus_connect_fd(capbus **out, int fd, const char *id, const uint8_t key[32])
{
	capbus *bus = calloc(1, sizeof(*bus));
	if (!bus) {
		close(fd);
		return -ENOMEM;
	}
	bus->fd = fd;
	randombytes_buf(&bus->call_base, sizeof(bus->call_base));
	int r = handshake(bus, id, key);
	if (r != 0) {
		capbus_close(bus);
		return r;
	}
	*out = bus;
	return 0;
}

int capbus_dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len = strlen(path);
	socklen_t salen;

	if (len == 0 || len >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	if (path[0] == '@') {
		/* Abstract: the name is exactly the bytes after '@', no trailing NUL. */
		memcpy(sa.sun_path + 1, path + 1, len - 1);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	} else {
		memcpy(sa.sun_path, path, len);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return negative_errno();
	while (connect(fd, (struct sockaddr *)&sa, salen) < 0) {
		if (errno == EINTR)
			continue;
		int r = negative_errno();
		close(fd);
		return r;
	}
	return fd;
}

static void wipe_key(uint8_t (*k)[32])
{
	sodium_memzero(*k, sizeof(*k));
}

int capbus_connect(capbus **out, const char *socket_path, const char *key_path)
{
	_cleanup_(wipe_key) uint8_t key[32];
	char id[HS_ID_MAX + 1];

	if (sodium_init() < 0)
		return -EIO;
	int r = keyfile_read(key_path, id, key);
	if (r != 0)
		return r < 0 ? r : CAPBUS_E_KEYFILE;
	int fd = capbus_dial(socket_path);
	if (fd < 0)
		return fd;
	return capbus_connect_fd(out, fd, id, key);
}

static int env_fd(const char *name, int *fd)
{
	uint64_t v;
	const char *s = getenv(name);

	if (!s || parse_u64(s, INT32_MAX, &v) < 0 || fcntl((int)v, F_GETFD) < 0)
		return -EBADF;
	*fd = (int)v;
	return 0;
}

int capbus_open(capbus **out, const char *socket_path, const char *key_path)
{
	if (!key_path)
		key_path = getenv("CAPBUS_KEY");
	if (!socket_path)
		socket_path = getenv("CAPBUS_SOCKET");
	if (!socket_path)
		socket_path = CAPBUS_DEFAULT_SOCKET;
	if (key_path)
		return capbus_connect(out, socket_path, key_path);

	/* Inside a sandbox: the bus connection and the key arrive as inherited fds. */
	_cleanup_(wipe_key) uint8_t key[32];
	char id[HS_ID_MAX + 1];
	int bus_fd, key_fd;
	if (env_fd("CAPBUS_FD", &bus_fd) < 0 || env_fd("CAPBUS_KEY_FD", &key_fd) < 0)
		return CAPBUS_E_KEYFILE;
	if (sodium_init() < 0)
		return -EIO;
	int r = keyfile_read_fd(key_fd, id, key);
	if (r != 0)
		return r < 0 ? r : CAPBUS_E_KEYFILE;
	fcntl(bus_fd, F_SETFD, FD_CLOEXEC);
	return capbus_connect_fd(out, bus_fd, id, key);
}

static void queue_free(capbus *bus)
{
	while (bus->queue_head) {
		capbus_msg *m = bus->queue_head;
		bus->queue_head = m->next;
		capbus_msg_free(m);
	}
	bus->queue_tail = NULL;
}

void capbus_close(capbus *bus)
{
	if (!bus)
		return;
	if (bus->fd >= 0)
		close(bus->fd);
	queue_free(bus);
	for (size_t i = 0; i < bus->n_subs; i++)
		free(bus->subs[i]);
	free(bus->subs);
	free(bus->in);
	free(bus->out);
	hs_session_clear(&bus->session);
	free(bus);
}

const char *capbus_id(const capbus *bus)
{
	return bus->session.id;
}

int capbus_fd(const capbus *bus)
{
	return bus->fd;
}

const char *capbus_error_code(const capbus *bus)
{
	return bus->err_code;
}

const char *capbus_error_message(const capbus *bus)
{
	return bus->err_message;
}

static int send_envelope(capbus *bus, struct envelope *env)
{
	size_t len = 0;
	_cleanup_free_ char *body = envelope_serialize(env, &len);

	if (!body)
		return -ENOMEM;
	return send_frame(bus, (const uint8_t *)body, len, true);
}

/* The bytes of a JSON object given by the caller, without surrounding whitespace; false when
 * json is not exactly one object. */
static bool object_text(const char *json, const char **start, size_t *len)
{
	size_t n = strlen(json), count = 0;

	if (json_scan_object((const uint8_t *)json, n, ENVELOPE_DEFAULT_DEPTH, NULL, 0, &count) != 0)
		return false;
	while (n > 0 && (json[n - 1] == ' ' || json[n - 1] == '\t' || json[n - 1] == '\n' || json[n - 1] == '\r'))
		n--;
	while (*json != '{') {
		json++;
		n--;
	}
	*start = json;
	*len = n;
	return true;
}

/* Messages are written straight from the caller's validated JSON, with no tree in between. */
int capbus_send_ctx(capbus *bus, const char *type, const char *data_json, const char *context_json)
{
	const char *data = NULL, *ctx = NULL;
	size_t type_len = strlen(type), data_len = 0, ctx_len = 0;

	if (!envelope_type_is_valid(type, type_len) || (data_json && !object_text(data_json, &data, &data_len)) ||
	    (context_json && !object_text(context_json, &ctx, &ctx_len)))
		return CAPBUS_E_INVALID;
	size_t need = envelope_write_size(type_len, data_len, ctx_len);
	if (need > bus->out_cap) {
		char *p = realloc(bus->out, need);
		if (!p)
			return -ENOMEM;
		bus->out = p;
		bus->out_cap = need;
	}
	size_t len = envelope_write(bus->out, type, type_len, data, data_len, ctx, ctx_len);
	return send_frame(bus, (const uint8_t *)bus->out, len, true);
}

int capbus_send(capbus *bus, const char *type, const char *data_json)
{
	return capbus_send_ctx(bus, type, data_json, NULL);
}

static void remember_error(capbus *bus, const capbus_msg *m)
{
	const char *code = capbus_msg_get_string(m, "code");
	const char *message = capbus_msg_get_string(m, "message");

	snprintf(bus->err_code, sizeof(bus->err_code), "%s", code ? code : "unknown");
	snprintf(bus->err_message, sizeof(bus->err_message), "%s", message ? message : "");
}

static int error_to_code(const capbus *bus)
{
	if (streq(bus->err_code, "denied"))
		return CAPBUS_E_DENIED;
	if (streq(bus->err_code, "invalid") || streq(bus->err_code, "malformed"))
		return CAPBUS_E_INVALID;
	return CAPBUS_E_REFUSED;
}

static void enqueue(capbus *bus, capbus_msg *m)
{
	m->next = NULL;
	if (bus->queue_tail)
		bus->queue_tail->next = m;
	else
		bus->queue_head = m;
	bus->queue_tail = m;
}

static const cJSON *msg_data(const capbus_msg *m);
static const cJSON *msg_context(const capbus_msg *m);

/* The daemon's answer (bus.error, bound to a call) to a call whose caller stopped waiting: it is
 * no refusal of anything sent since, so readers drop it. */
static bool late_call_answer(const capbus_msg *m)
{
	return streq(capbus_msg_type(m), "bus.error") && cJSON_GetObjectItemCaseSensitive(msg_context(m), "bound_call");
}

static bool is_ours(const capbus_msg *m, uint64_t request_id)
{
	const cJSON *req = cJSON_GetObjectItemCaseSensitive(msg_data(m), "request");
	return cJSON_IsNumber(req) && (uint64_t)req->valuedouble == request_id;
}

/* Waits for the answer to request_id. Ordinary messages are queued for capbus_recv; so are
 * refusals of earlier messages, unless collect_earlier is set (capbus_sync), which then reports
 * the first of them. */
static int wait_reply(capbus *bus, const char *reply_type, uint64_t request_id, int64_t deadline,
		      capbus_msg **reply, bool collect_earlier)
{
	int first_error = 0;

	for (;;) {
		capbus_msg *m = NULL;
		int r = recv_msg(bus, deadline, &m);
		if (r != 0)
			return r;
		if (late_call_answer(m)) {
			capbus_msg_free(m);
			continue;
		}
		bool error = streq(capbus_msg_type(m), "bus.error"), answer = streq(capbus_msg_type(m), reply_type);
		bool ours = (error || answer) && is_ours(m, request_id);
		if (error && (ours || collect_earlier)) {
			remember_error(bus, m);
			if (!first_error)
				first_error = error_to_code(bus);
			capbus_msg_free(m);
			if (ours)
				return first_error;
			continue;
		}
		if (ours && answer) {
			if (reply)
				*reply = m;
			else
				capbus_msg_free(m);
			return first_error;
		}
		enqueue(bus, m);
	}
}

static int request(capbus *bus, const char *type, const char *data_json, int timeout_ms, capbus_msg **reply,
		   bool collect_earlier)
{
	_cleanup_(envelope_clear) struct envelope env = { 0 };
	const char *why = NULL;
	uint64_t id = ++bus->next_ping;

	int r = envelope_build(type, data_json, &env, &why);
	if (r != 0)
		return r < 0 ? r : CAPBUS_E_INVALID;
	if (!cJSON_AddNumberToObject(env.data, "request", (double)id))
		return -ENOMEM;
	r = send_envelope(bus, &env);
	if (r != 0)
		return r;
	_cleanup_free_ char *reply_type = NULL;
	if (asprintf(&reply_type, "%s.reply", type) < 0)
		return -ENOMEM;
	return wait_reply(bus, reply_type, id, deadline_after(timeout_ms), reply, collect_earlier);
}

int capbus_request(capbus *bus, const char *type, const char *data_json, int timeout_ms, capbus_msg **reply)
{
	return request(bus, type, data_json, timeout_ms, reply, false);
}

static void track_sub(capbus *bus, const char *pattern, bool add)
{
	for (size_t i = 0; i < bus->n_subs; i++)
		if (streq(bus->subs[i], pattern)) {
			if (!add) {
				free(bus->subs[i]);
				bus->subs[i] = bus->subs[--bus->n_subs];
			}
			return;
		}
	if (!add)
		return;
	char **v = realloc(bus->subs, (bus->n_subs + 1) * sizeof(char *));
	if (!v)
		return;
	bus->subs = v;
	if ((v[bus->n_subs] = strdup(pattern)))
		bus->n_subs++;
}

static int subscription(capbus *bus, const char *op, const char *pattern, int timeout_ms)
{
	_cleanup_(cjson_deletep) cJSON *data = cJSON_CreateObject();
	_cleanup_free_ char *json = NULL;

	if (!data || !cJSON_AddStringToObject(data, "pattern", pattern) || !(json = cJSON_PrintUnformatted(data)))
		return -ENOMEM;
	int r = capbus_request(bus, op, json, timeout_ms, NULL);
	if (r == 0)
		track_sub(bus, pattern, streq(op, "capbus.subscribe"));
	return r;
}

int capbus_subscribe(capbus *bus, const char *pattern, int timeout_ms)
{
	return subscription(bus, "capbus.subscribe", pattern, timeout_ms);
}

int capbus_unsubscribe(capbus *bus, const char *pattern, int timeout_ms)
{
	return subscription(bus, "capbus.unsubscribe", pattern, timeout_ms);
}

int capbus_sync(capbus *bus, int timeout_ms)
{
	return request(bus, "capbus.ping", NULL, timeout_ms, NULL, true);
}

int capbus_recv(capbus *bus, capbus_msg **out, int timeout_ms)
{
	int64_t deadline = deadline_after(timeout_ms);

	for (;;) {
		capbus_msg *m = NULL;
		int r = 0;
		if (bus->queue_head) {
			m = bus->queue_head;
			bus->queue_head = m->next;
			if (!bus->queue_head)
				bus->queue_tail = NULL;
			m->next = NULL;
		} else {
			r = recv_msg(bus, deadline, &m);
		}
		if (r != 0)
			return r;
		if (late_call_answer(m)) {
			capbus_msg_free(m);
			continue;
		}
		if (streq(capbus_msg_type(m), "bus.error")) {
			remember_error(bus, m);
			r = error_to_code(bus);
			capbus_msg_free(m);
			/* A refusal of something sent earlier: report it to the reader. */
			return r;
		}
		*out = m;
		return 0;
	}
}

/* The router's longest deadline for a call (docs/protocol.md): a caller that waits forever asks
 * for this one. */
#define CALL_TIMEOUT_MAX_MS 300000

/* Is m bound by the router to our call: context.bound_call, which only the router writes, says
 * so (a client cannot forge it: the router removes it from every message a client sends). */
static bool bound_to(const capbus_msg *m, const char *call_id)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(msg_context(m), "bound_call");
	return cJSON_IsString(b) && streq(b->valuestring, call_id);
}

int capbus_call(capbus *bus, const char *type, const char *data_json, const char *reply_type,
		int timeout_ms, capbus_msg **reply)
{
	int64_t deadline = deadline_after(timeout_ms);
	char call_id[17], ctx[96 + 2 * ENVELOPE_TYPE_MAX];
	int router_ms = timeout_ms < 0 || timeout_ms > CALL_TIMEOUT_MAX_MS ? CALL_TIMEOUT_MAX_MS :
			timeout_ms == 0 ? 1 : timeout_ms;

	if (!reply_type || !envelope_type_is_valid(reply_type, strlen(reply_type)))
		return CAPBUS_E_INVALID;
	/* Unique per call without a system call: a random base per connection plus a count. The
	 * router delivers the reply to this connection alone, so no subscription is needed. */
	snprintf(call_id, sizeof(call_id), "%016llx", (unsigned long long)(bus->call_base + ++bus->calls));
	char rt[2 * ENVELOPE_TYPE_MAX + 3];
	*envelope_put_string_n(rt, reply_type, strlen(reply_type)) = '\0';
	snprintf(ctx, sizeof(ctx), "{\"call_id\":\"%s\",\"reply_type\":%s,\"call_timeout_ms\":%d}", call_id,
		 rt, router_ms);
	int r = capbus_send_ctx(bus, type, data_json, ctx);
	/* Everything else that arrives meanwhile is kept for capbus_recv. */
	while (r == 0) {
		capbus_msg *m = NULL;
		r = recv_msg(bus, deadline, &m);
		if (r != 0)
			break;
		const char *mtype = capbus_msg_type(m);
		bool error = streq(mtype, "bus.error");
		if (bound_to(m, call_id)) {
			if (error) {
				/* The router's answer: refused, timed out, or nobody could answer. */
				remember_error(bus, m);
				r = streq(bus->err_code, "timeout") ? CAPBUS_E_TIMEOUT : error_to_code(bus);
				capbus_msg_free(m);
				break;
			}
			if (streq(mtype, reply_type)) {
				*reply = m;
				break;
			}
		} else if (error && !cJSON_GetObjectItemCaseSensitive(msg_context(m), "bound_call")) {
			/* Refused before it became a call (rate limit, send permission): names our type.
			 * (A bound error of an earlier call that timed out here is not ours.) */
			const char *about = capbus_msg_get_string(m, "type");
			if (about && streq(about, type)) {
				remember_error(bus, m);
				r = error_to_code(bus);
				capbus_msg_free(m);
				break;
			}
		}
		if (late_call_answer(m)) {
			capbus_msg_free(m); /* the answer to an earlier call that gave up waiting */
			continue;
		}
		/* Anything else, including an unbound message of the reply type, is not our reply. */
		enqueue(bus, m);
	}
	return r;
}

const char *capbus_msg_type(const capbus_msg *m)
{
	return m->type;
}

/* The caches below are filled on first use; the message is the caller's alone. */
static capbus_msg *cache_of(const capbus_msg *m)
{
	return (capbus_msg *)m;
}

/* Parses an object of the message once; NULL when absent (reads as empty) or out of memory. */
static const cJSON *msg_object(const capbus_msg *m, size_t off, size_t len, cJSON **cache)
{
	if (!*cache && len)
		*cache = cJSON_ParseWithLength(m->body + off, len);
	return *cache;
}

static const cJSON *msg_data(const capbus_msg *m)
{
	return msg_object(m, m->data_off, m->data_len, &cache_of(m)->data);
}

static const cJSON *msg_context(const capbus_msg *m)
{
	return msg_object(m, m->ctx_off, m->ctx_len, &cache_of(m)->context);
}

const char *capbus_msg_sender(const capbus_msg *m)
{
	const cJSON *s = cJSON_GetObjectItemCaseSensitive(msg_context(m), "sender");
	return cJSON_IsString(s) ? s->valuestring : NULL;
}

const char *capbus_msg_json(capbus_msg *m)
{
	return m->body;
}

/* A copy of one object's bytes, made once. */
static const char *msg_slice(const capbus_msg *m, size_t off, size_t len, char **cache)
{
	if (!len)
		return "{}";
	if (!*cache)
		*cache = strndup(m->body + off, len);
	return *cache;
}

const char *capbus_msg_data_json(capbus_msg *m)
{
	return msg_slice(m, m->data_off, m->data_len, &m->data_json);
}

const char *capbus_msg_context_json(capbus_msg *m)
{
	return msg_slice(m, m->ctx_off, m->ctx_len, &m->context_json);
}

const char *capbus_msg_get_string(const capbus_msg *m, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg_data(m), key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

void capbus_msg_free(capbus_msg *m)
{
	if (!m)
		return;
	cJSON_Delete(m->data);
	cJSON_Delete(m->context);
	free(m->data_json);
	free(m->context_json);
	free(m);
}
