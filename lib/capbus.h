/* SPDX-License-Identifier: MIT */
/* capbus.h - libcapbus, the client API of the capbus message bus.
 *
 * A connection is authenticated before any message flows: the daemon and the client prove to
 * each other that they know the client's key, then every frame in both directions carries a MAC
 * over an implicit sequence number. Messages are Mycroft-shaped JSON:
 *     {"type": "speak", "data": {"utterance": "hi"}, "context": {"sender": "org.example.weather"}}
 * context.sender is always stamped by the daemon.
 *
 * Return values: 0 on success, a negative errno for system failures, or a positive CAPBUS_E_*
 * code; capbus_strerror() turns either into words. Calls are blocking unless they take a timeout
 * (milliseconds, -1 waits forever). A capbus handle is not thread-safe.
 *
 * Typical skill:
 *     capbus *bus;
 *     if (capbus_open(&bus, NULL, NULL) != 0) ...          // env, inherited fd or defaults
 *     capbus_subscribe(bus, "intent.weather.*");
 *     capbus_msg *m;
 *     while (capbus_recv(bus, &m, -1) == 0) {
 *         capbus_send(bus, "speak", "{\"utterance\": \"sunny\"}");
 *         capbus_msg_free(m);
 *     }
 *     capbus_close(bus);
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct capbus capbus;
typedef struct capbus_msg capbus_msg;

enum capbus_error {
	CAPBUS_E_AUTH = 1,        /* authentication failed (wrong key, unknown id, not the daemon) */
	CAPBUS_E_DENIED = 2,      /* the daemon refused: outside the manifest */
	CAPBUS_E_TIMEOUT = 3,
	CAPBUS_E_PROTOCOL = 4,    /* the peer broke the protocol (bad MAC, bad frame) */
	CAPBUS_E_CLOSED = 5,      /* the daemon closed the connection */
	CAPBUS_E_INVALID = 6,     /* bad argument: type syntax, data not a JSON object */
	CAPBUS_E_REFUSED = 7,     /* the daemon answered with another bus.error (see capbus_error_code) */
	CAPBUS_E_KEYFILE = 8,     /* key file unreadable, wrong mode or owner, malformed */
	CAPBUS_E_VERSION = 9,     /* the daemon speaks another capbus protocol version */
};

#define CAPBUS_DEFAULT_SOCKET "/run/capbus/bus.sock"

/* libcapbus.so is built with hidden visibility and a version script (LIBCAPBUS_0): it exports
 * exactly the functions marked here, and nothing of its internals. */
#if defined(__GNUC__) || defined(__clang__)
#define CAPBUS_EXPORT __attribute__((visibility("default")))
#else
#define CAPBUS_EXPORT
#endif

/* Connects to socket_path ("@name" for an abstract socket) with the key in key_path.
 * On success *out owns the connection. CAPBUS_E_VERSION when the daemon speaks another protocol
 * version than this library's (2); nothing is sent to it then. */
CAPBUS_EXPORT int capbus_connect(capbus **out, const char *socket_path, const char *key_path);

/* Only connects (no handshake): a close-on-exec stream fd, or a negative errno. For handing a
 * connection to another process that authenticates itself (`capbus run`). */
CAPBUS_EXPORT int capbus_dial(const char *socket_path);

/* Authenticates over an already connected stream fd (takes ownership of fd, even on failure). */
CAPBUS_EXPORT int capbus_connect_fd(capbus **out, int fd, const char *id, const uint8_t key[32]);

/* Picks the connection the environment offers: with a key (key_path, else $CAPBUS_KEY) it
 * connects to socket_path (else $CAPBUS_SOCKET, else CAPBUS_DEFAULT_SOCKET); with no key inside a
 * sandbox it uses the inherited bus fd ($CAPBUS_FD) and key fd ($CAPBUS_KEY_FD). */
CAPBUS_EXPORT int capbus_open(capbus **out, const char *socket_path, const char *key_path);

CAPBUS_EXPORT void capbus_close(capbus *bus);

/* The authenticated identity of this connection. */
CAPBUS_EXPORT const char *capbus_id(const capbus *bus);

/* Sends a message; data_json is a JSON object or NULL. Returns once written; refusals arrive
 * later as bus.error (use capbus_sync to wait for them). */
CAPBUS_EXPORT int capbus_send(capbus *bus, const char *type, const char *data_json);

/* Same, with a context object (JSON) to carry along; context.sender is replaced by the daemon. */
CAPBUS_EXPORT int capbus_send_ctx(capbus *bus, const char *type, const char *data_json, const char *context_json);

/* Subscribes to a pattern ("a.b", "a.*", "a:*", "*"); waits for the daemon's answer.
 * CAPBUS_E_DENIED when the pattern is outside the manifest's receive permissions. */
CAPBUS_EXPORT int capbus_subscribe(capbus *bus, const char *pattern, int timeout_ms);
CAPBUS_EXPORT int capbus_unsubscribe(capbus *bus, const char *pattern, int timeout_ms);

/* Round trip to the daemon: returns once everything sent before was processed, with the first
 * refusal among those (CAPBUS_E_DENIED, CAPBUS_E_REFUSED) if any. */
CAPBUS_EXPORT int capbus_sync(capbus *bus, int timeout_ms);

/* Next delivered message. CAPBUS_E_TIMEOUT when none arrived in time (0 polls). */
CAPBUS_EXPORT int capbus_recv(capbus *bus, capbus_msg **out, int timeout_ms);

/* Request/response, bound by the daemon: sends with a fresh context.call_id (plus reply_type and
 * call_timeout_ms) and waits for the one reply the daemon binds to this call (context.bound_call
 * equal to our call_id; no subscription is needed, and unbound messages of reply_type are never
 * taken for the reply). The daemon answers itself when nobody can: CAPBUS_E_TIMEOUT at the
 * deadline (timeout_ms; -1 means the daemon's longest, 300 s), CAPBUS_E_REFUSED with
 * capbus_error_code() "no_responder" when no connection could receive the request or all that
 * did have gone, CAPBUS_E_DENIED when the manifest forbids sending type or receiving
 * reply_type. Other messages that arrive meanwhile stay queued for capbus_recv. */
CAPBUS_EXPORT int capbus_call(capbus *bus, const char *type, const char *data_json, const char *reply_type,
		int timeout_ms, capbus_msg **reply);

/* Sends a control request (admin commands: "capbus.keygen", "capbus.skills" ...) and waits for
 * its answer, which is returned as a message. Refusals of earlier messages stay queued. */
CAPBUS_EXPORT int capbus_request(capbus *bus, const char *type, const char *data_json, int timeout_ms, capbus_msg **reply);

/* A file descriptor to poll for POLLIN in the caller's own event loop; then call capbus_recv(.., 0). */
CAPBUS_EXPORT int capbus_fd(const capbus *bus);

/* The last bus.error the daemon sent: its code ("denied", "malformed", ...) and message. */
CAPBUS_EXPORT const char *capbus_error_code(const capbus *bus);
CAPBUS_EXPORT const char *capbus_error_message(const capbus *bus);

CAPBUS_EXPORT const char *capbus_strerror(int r);

/* Message accessors; strings live as long as the message. */
CAPBUS_EXPORT const char *capbus_msg_type(const capbus_msg *m);
CAPBUS_EXPORT const char *capbus_msg_sender(const capbus_msg *m);
/* The data object as compact JSON; the whole message as compact JSON. */
CAPBUS_EXPORT const char *capbus_msg_data_json(capbus_msg *m);
CAPBUS_EXPORT const char *capbus_msg_json(capbus_msg *m);
/* The context object as compact JSON: copy it into a reply, so that its call_id (the daemon's
 * id for a call) makes the daemon deliver the reply to the caller as the answer to its call. */
CAPBUS_EXPORT const char *capbus_msg_context_json(capbus_msg *m);
/* A string field of data, or NULL. */
CAPBUS_EXPORT const char *capbus_msg_get_string(const capbus_msg *m, const char *key);
CAPBUS_EXPORT void capbus_msg_free(capbus_msg *m);

#ifdef __cplusplus
}
#endif
