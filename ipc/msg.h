/*
 * The message envelope. Every frame holds one msgpack map:
 *
 *   { "type": "FETCH_DONE", "id": 42, "re": 7, "body": { ... } }
 *
 * type  one of the names in MSG_TYPES below (anything else is rejected)
 * id    unique per sending process (a counter), never 0
 * re    the id being replied to, 0 when this is not a reply
 * body  a map; its fields per type are in docs/ARCHITECTURE.md
 *
 * Build with msg_out_*, decode with msg_decode, read fields with msg_get_*.
 */
#ifndef VIRALSUP_IPC_MSG_H
#define VIRALSUP_IPC_MSG_H

#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>

/* The message catalogue: X(name). docs/ARCHITECTURE.md documents each. */
#define MSG_TYPES(X)                                                                       \
	X(READY)         /* actor -> supervisor: ready to serve */                         \
	X(PEER_UP)       /* supervisor -> actors: an actor became ready */                 \
	X(PEER_DOWN)     /* supervisor -> actors: an actor exited */                       \
	X(PING)          /* anyone -> anyone: liveness; answered by PONG */                \
	X(PONG)          /* reply to PING */                                               \
	X(ERROR)         /* reply: the request failed {code, detail} */                    \
	X(CONTROL)       /* viralctl -> supervisor (-> actor): a command {v, cmd, args} */ \
	X(CONTROL_REPLY) /* reply to CONTROL {ok, error, data} */                          \
	X(BATCH_TRIGGER) /* gateway/viralctl -> scheduler: process pending jobs now */     \
	X(JOB_PROCESS)   /* gateway/viralctl -> scheduler: run one job now */              \
	X(JOB_CANCEL)    /* gateway/viralctl -> scheduler: cancel one job */               \
	X(JOB_RETRY)     /* gateway/viralctl -> scheduler: failed job back to pending */   \
	X(REPLY)         /* generic success reply to a request, fields per request */      \
	X(CREDIT)        /* fetcher/analyzer/writer -> scheduler: free slots */            \
	X(FETCH_ACCOUNT) /* scheduler -> fetcher: fetch one account of one job */          \
	X(FETCH_DONE)    /* fetcher -> scheduler: account fetched and stored, or failed */ \
	X(ANALYZE_JOB)   /* scheduler -> analyzer: analyse one job run */                  \
	X(ANALYZE_DONE)  /* analyzer -> scheduler: result stored, or failed */             \
	X(WRITE_CONTENT) /* fetcher -> writer: profile + reels upsert */                   \
	X(WRITE_RESULT)  /* analyzer -> writer: analysis result, reels, scripts */         \
	X(WRITE_ACK)     /* writer -> sender: committed (or refused) */

enum msg_type {
	MSG_NONE = 0,
#define MSG_ENUM_(name) MSG_##name,
	MSG_TYPES(MSG_ENUM_)
#undef MSG_ENUM_
	    MSG_TYPE_COUNT
};

/* "FETCH_DONE" for MSG_FETCH_DONE; "?" when out of range. */
const char *msg_type_name(enum msg_type t);
/* MSG_NONE when name (len bytes, not NUL-terminated) is not in the catalogue. */
enum msg_type msg_type_lookup(const char *name, size_t len);

/* A decoded message. body points into the decoder's zone: valid only
 * during the callback that delivers the message. */
struct msg {
	enum msg_type type;
	uint64_t id;
	uint64_t re;
	const msgpack_object *body; /* always a map */
};

/*
 * Decodes one frame payload into out, allocating from zone (the caller
 * owns the zone and clears it). Returns 0, or -EBADMSG with *why set to a
 * static description (truncated data, trailing bytes, not a map, a field
 * of the wrong type, an unknown type).
 */
int msg_decode(const char *payload, size_t len, msgpack_zone *zone, struct msg *out,
               const char **why);

/* Body field access. Return 0, -ENOENT when absent (or nil), -EINVAL when of another type. */
const msgpack_object *msg_field(const msgpack_object *map, const char *key);
int msg_get_str(const msgpack_object *map, const char *key, const char **s, size_t *len);
int msg_get_int(const msgpack_object *map, const char *key, int64_t *v);
int msg_get_bool(const msgpack_object *map, const char *key, bool *v);
int msg_get_double(const msgpack_object *map, const char *key, double *v);
/* Copies a string field into dst (NUL-terminated); -ENAMETOOLONG when it does not fit. */
int msg_copy_str(const msgpack_object *map, const char *key, char *dst, size_t dstlen);
/* A malloc'd NUL-terminated copy of a string field, or NULL (caller frees). */
char *msg_dup_str(const msgpack_object *map, const char *key);

/*
 * A new jansson value for a msgpack object (caller owns it): maps with
 * string keys become objects (other keys are skipped), strings that are
 * not UTF-8 become null, nesting deeper than 16 becomes null. For
 * relaying replies as JSON (gateway, viralctl).
 */
typedef struct json_t json_t;
json_t *msg_to_json(const msgpack_object *o);

/*
 * An outgoing message being built: the frame prefix, the envelope, and a
 * body map of nfields entries that the caller then packs, each as a key
 * followed by a value, with the msg_put_* helpers or directly on pk.
 */
struct msg_out {
	msgpack_sbuffer buf;
	msgpack_packer pk;
	uint64_t id;
	enum msg_type type;
};

/* Starts a message; re is the id replied to (0 if none). Assigns out->id. */
void msg_out_init(struct msg_out *out, enum msg_type type, uint64_t re, uint32_t nfields);
void msg_put_key(struct msg_out *out, const char *key); /* then pack a value on out->pk */
void msg_put_str(struct msg_out *out, const char *key, const char *val); /* NULL packs nil */
void msg_put_strn(struct msg_out *out, const char *key, const char *val, size_t len);
void msg_put_int(struct msg_out *out, const char *key, int64_t val);
void msg_put_bool(struct msg_out *out, const char *key, bool val);
void msg_put_double(struct msg_out *out, const char *key, double val);
/* Packs a string value (no key), for arrays and nested maps. */
void msg_pack_str(msgpack_packer *pk, const char *s);
/* Writes the length prefix. 0, or -EMSGSIZE when the frame exceeds max. */
int msg_out_finish(struct msg_out *out, uint32_t max);
/* The finished frame bytes (prefix included). */
const char *msg_out_data(const struct msg_out *out, size_t *len);
void msg_out_free(struct msg_out *out);

#endif
