/* bus_transport — what the [bus] output (bus.c) needs of a broker client:
 * one table per transport (bus_nats.c: NATS JetStream with libnats;
 * bus_mqtt.c: MQTT 3.1.1/5 QoS 1 with libmosquitto).
 *
 * Subjects are dot-separated ("lockstep.rig.frameset"); the MQTT transport
 * turns the dots into '/' for its topics (and back for what it receives).
 *
 * Threads: open/close on the main thread; publish, connected, stats and
 * last_error from the bus's publisher thread (stats also from the rig's
 * stats thread: it reads atomics only); a subscription's callback on the
 * client library's own thread, and reply from there or any other. */
#ifndef LS_BUS_TRANSPORT_H
#define LS_BUS_TRANSPORT_H

#include <glib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/** One message of a batch. */
struct ls_bus_msg {
	const char *subject; /**< dot-separated */
	const char
		*msg_id; /**< JetStream Nats-Msg-Id (duplicates within the stream's window are dropped); MQTT: unused */
	const char *data;
	size_t len;
	bool acked; /**< set by publish: the broker acknowledged it (JetStream PubAck, MQTT PUBACK) */
};

/** A request on a subscribed subject: @reply is where to answer (NATS
 *  reply inbox, MQTT 5 response topic, dot-separated) or NULL. @data is
 *  not NUL-terminated. Valid during the call only. */
typedef void (*ls_bus_request_fn)(void *user, const char *subject, const char *reply, const char *data, size_t len);

struct ls_bus_transport {
	const char *name; /**< "nats", "mqtt" */
	/** Checks what can be checked without a broker (files of creds and
	 *  TLS exist and read, the client accepts the options) and starts
	 *  connecting in the background: a broker that is down is not an
	 *  error here, it is retried for ever (connected() says when it is
	 *  up). NULL and *err one line naming the [bus] key at fault. */
	void *(*open)(const struct ls_bus_config *bc, char **err);
	/** True while a connection is up (and, for JetStream, the stream
	 *  exists or was made). */
	bool (*connected)(void *t);
	/** Publishes @n messages in order and waits up to @timeout_ms for the
	 *  broker's acknowledgements; sets m[i].acked. Returns the number
	 *  acked, or a negative errno when none could be sent (not
	 *  connected: -ENOTCONN). */
	int (*publish)(void *t, struct ls_bus_msg *m, int n, int timeout_ms);
	/** Subscribes to @subject (made before or after the connection is up;
	 *  kept across reconnects). 0 or a negative errno. */
	int (*subscribe)(void *t, const char *subject, ls_bus_request_fn fn, void *user);
	/** Answers a request at @reply (best effort, QoS 1 on MQTT). 0 or a negative errno. */
	int (*reply)(void *t, const char *reply, const char *data, size_t len);
	/** Appends the transport's counters, each starting with ',' (e.g.
	 *  ",\"reconnects\":2"). Reads atomics only. */
	void (*stats_json)(void *t, GString *j);
	/** The last connection or publish error, one line (g_free it), or NULL. */
	char *(*last_error)(void *t);
	/** Flushes what the client holds (up to 2 s), disconnects and frees. NULL-safe. */
	void (*close)(void *t);
};

extern const struct ls_bus_transport ls_bus_nats;
extern const struct ls_bus_transport ls_bus_mqtt;

/** The transport of a [bus] url's kind. */
static inline const struct ls_bus_transport *ls_bus_transport_of(enum ls_bus_transport_kind kind)
{
	return kind == LS_BUS_MQTT ? &ls_bus_mqtt : &ls_bus_nats;
}

#endif
