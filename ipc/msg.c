/*
 * Envelope encoding and defensive decoding. See msg.h.
 */
#include "ipc/msg.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "ipc/frame.h"
#include "ipc/log.h"

#define MSG_MAX_DEPTH 16

static const char *const type_names[MSG_TYPE_COUNT] = {[MSG_NONE] = "NONE",
#define MSG_NAME_(name) [MSG_##name] = #name,
                                                       MSG_TYPES(MSG_NAME_)
#undef MSG_NAME_
};

const char *msg_type_name(enum msg_type t)
{
	return t > MSG_NONE && t < MSG_TYPE_COUNT ? type_names[t] : "?";
}

enum msg_type msg_type_lookup(const char *name, size_t len)
{
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++)
		if (strlen(type_names[t]) == len && memcmp(type_names[t], name, len) == 0)
			return (enum msg_type)t;
	return MSG_NONE;
}

/*
 * Walks the msgpack bytes without allocating, checking that every
 * container announces no more elements than there are bytes left and that
 * nesting stays shallow. msgpack-c sizes its allocations from the
 * announced counts, so without this a 20-byte frame claiming a billion
 * elements would make it allocate gigabytes.
 */
static int prescan(const uint8_t *p, size_t len, size_t *off, int depth)
{
	uint64_t n = 0, skip = 0;
	int containers = 0; /* 1: array of n, 2: map of n pairs */
	uint8_t b;

	if (depth > MSG_MAX_DEPTH || *off >= len)
		return -1;
	b = p[(*off)++];
#define NEED(k)                       \
	do {                          \
		if (len - *off < (k)) \
			return -1;    \
	} while (0)
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if ((b & 0xf0) == 0x80) {
		n = b & 0x0f;
		containers = 2;
	} else if ((b & 0xf0) == 0x90) {
		n = b & 0x0f;
		containers = 1;
	} else if ((b & 0xe0) == 0xa0) {
		skip = b & 0x1f;
	} else {
		switch (b) {
		case 0xcc:
		case 0xd0:
			skip = 1;
			break;
		case 0xcd:
		case 0xd1:
			skip = 2;
			break;
		case 0xca:
		case 0xce:
		case 0xd2:
			skip = 4;
			break;
		case 0xcb:
		case 0xcf:
		case 0xd3:
			skip = 8;
			break;
		case 0xd4:
			skip = 2;
			break;
		case 0xd5:
			skip = 3;
			break;
		case 0xd6:
			skip = 5;
			break;
		case 0xd7:
			skip = 9;
			break;
		case 0xd8:
			skip = 17;
			break;
		case 0xc4:
		case 0xd9:
			NEED(1);
			skip = p[*off];
			*off += 1;
			break;
		case 0xc5:
		case 0xda:
			NEED(2);
			skip = (uint64_t)p[*off] << 8 | p[*off + 1];
			*off += 2;
			break;
		case 0xc6:
		case 0xdb:
			NEED(4);
			skip = (uint64_t)p[*off] << 24 | (uint64_t)p[*off + 1] << 16 |
			       (uint64_t)p[*off + 2] << 8 | p[*off + 3];
			*off += 4;
			break;
		case 0xc7:
			NEED(1);
			skip = 1 + (uint64_t)p[*off];
			*off += 1;
			break;
		case 0xc8:
			NEED(2);
			skip = 1 + ((uint64_t)p[*off] << 8 | p[*off + 1]);
			*off += 2;
			break;
		case 0xc9:
			NEED(4);
			skip = 1 + ((uint64_t)p[*off] << 24 | (uint64_t)p[*off + 1] << 16 |
			            (uint64_t)p[*off + 2] << 8 | p[*off + 3]);
			*off += 4;
			break;
		case 0xdc:
		case 0xde:
			NEED(2);
			n = (uint64_t)p[*off] << 8 | p[*off + 1];
			*off += 2;
			containers = b == 0xdc ? 1 : 2;
			break;
		case 0xdd:
		case 0xdf:
			NEED(4);
			n = (uint64_t)p[*off] << 24 | (uint64_t)p[*off + 1] << 16 |
			    (uint64_t)p[*off + 2] << 8 | p[*off + 3];
			*off += 4;
			containers = b == 0xdd ? 1 : 2;
			break;
		default: /* 0xc1 is never used */
			return -1;
		}
	}
#undef NEED
	if (skip) {
		if (len - *off < skip)
			return -1;
		*off += skip;
		return 0;
	}
	if (containers) {
		uint64_t items = n * (uint64_t)containers;
		if (items > len - *off)
			return -1;
		for (uint64_t i = 0; i < items; i++)
			if (prescan(p, len, off, depth + 1) < 0)
				return -1;
	}
	return 0;
}

static int key_is(const msgpack_object_kv *kv, const char *key)
{
	size_t klen = strlen(key);
	return kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == klen &&
	       memcmp(kv->key.via.str.ptr, key, klen) == 0;
}

const msgpack_object *msg_field(const msgpack_object *map, const char *key)
{
	if (!map || map->type != MSGPACK_OBJECT_MAP)
		return NULL;
	for (uint32_t i = 0; i < map->via.map.size; i++) {
		const msgpack_object_kv *kv = &map->via.map.ptr[i];
		if (key_is(kv, key))
			return kv->val.type == MSGPACK_OBJECT_NIL ? NULL : &kv->val;
	}
	return NULL;
}

int msg_get_str(const msgpack_object *map, const char *key, const char **s, size_t *len)
{
	const msgpack_object *o = msg_field(map, key);
	if (!o)
		return -ENOENT;
	if (o->type != MSGPACK_OBJECT_STR)
		return -EINVAL;
	*s = o->via.str.ptr;
	if (len)
		*len = o->via.str.size;
	return 0;
}

int msg_get_int(const msgpack_object *map, const char *key, int64_t *v)
{
	const msgpack_object *o = msg_field(map, key);
	if (!o)
		return -ENOENT;
	if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		if (o->via.u64 > INT64_MAX)
			return -EINVAL;
		*v = (int64_t)o->via.u64;
		return 0;
	}
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*v = o->via.i64;
		return 0;
	}
	return -EINVAL;
}

int msg_get_bool(const msgpack_object *map, const char *key, bool *v)
{
	const msgpack_object *o = msg_field(map, key);
	if (!o)
		return -ENOENT;
	if (o->type != MSGPACK_OBJECT_BOOLEAN)
		return -EINVAL;
	*v = o->via.boolean;
	return 0;
}

int msg_get_double(const msgpack_object *map, const char *key, double *v)
{
	const msgpack_object *o = msg_field(map, key);
	if (!o)
		return -ENOENT;
	switch (o->type) {
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		*v = o->via.f64;
		return 0;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		*v = (double)o->via.u64;
		return 0;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		*v = (double)o->via.i64;
		return 0;
	default:
		return -EINVAL;
	}
}

int msg_copy_str(const msgpack_object *map, const char *key, char *dst, size_t dstlen)
{
	const char *s;
	size_t len;
	int r = msg_get_str(map, key, &s, &len);
	if (r < 0)
		return r;
	if (len >= dstlen || memchr(s, '\0', len))
		return -ENAMETOOLONG;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

char *msg_dup_str(const msgpack_object *map, const char *key)
{
	const char *s;
	size_t len;
	if (msg_get_str(map, key, &s, &len) < 0)
		return NULL;
	return xstrndup(s, len);
}

int msg_decode(const char *payload, size_t len, msgpack_zone *zone, struct msg *out,
               const char **why)
{
	msgpack_object root;
	size_t off = 0, scan = 0;
	const msgpack_object *o;
	const char *tname;
	size_t tlen;
	int64_t v;

	memset(out, 0, sizeof *out);
	if (prescan((const uint8_t *)payload, len, &scan, 0) < 0) {
		*why = "malformed msgpack (truncated, bad count or too deep)";
		return -EBADMSG;
	}
	if (scan != len) {
		*why = "trailing bytes after the msgpack object";
		return -EBADMSG;
	}
	switch (msgpack_unpack(payload, len, &off, zone, &root)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		*why = "out of memory decoding msgpack";
		return -EBADMSG;
	default:
		*why = "malformed msgpack";
		return -EBADMSG;
	}
	if (root.type != MSGPACK_OBJECT_MAP) {
		*why = "envelope is not a map";
		return -EBADMSG;
	}
	if (msg_get_str(&root, "type", &tname, &tlen) < 0) {
		*why = "envelope has no string \"type\"";
		return -EBADMSG;
	}
	out->type = msg_type_lookup(tname, tlen);
	if (out->type == MSG_NONE) {
		*why = "unknown message type";
		return -EBADMSG;
	}
	if (msg_get_int(&root, "id", &v) < 0 || v <= 0) {
		*why = "envelope has no positive integer \"id\"";
		return -EBADMSG;
	}
	out->id = (uint64_t)v;
	v = 0;
	if (msg_get_int(&root, "re", &v) == -EINVAL || v < 0) {
		*why = "envelope \"re\" is not a non-negative integer";
		return -EBADMSG;
	}
	out->re = (uint64_t)v;
	o = msg_field(&root, "body");
	if (!o || o->type != MSGPACK_OBJECT_MAP) {
		*why = "envelope \"body\" is not a map";
		return -EBADMSG;
	}
	out->body = o;
	return 0;
}

static void pack_cstr(msgpack_packer *pk, const char *s, size_t len)
{
	msgpack_pack_str(pk, len);
	msgpack_pack_str_body(pk, s, len);
}

void msg_pack_str(msgpack_packer *pk, const char *s)
{
	if (!s)
		msgpack_pack_nil(pk);
	else
		pack_cstr(pk, s, strlen(s));
}

void msg_out_init(struct msg_out *out, enum msg_type type, uint64_t re, uint32_t nfields)
{
	static uint64_t next_id;
	static const uint8_t zero[FRAME_PREFIX];

	out->id = ++next_id;
	out->type = type;
	msgpack_sbuffer_init(&out->buf);
	msgpack_packer_init(&out->pk, &out->buf, msgpack_sbuffer_write);
	msgpack_sbuffer_write(&out->buf, (const char *)zero, sizeof zero);
	msgpack_pack_map(&out->pk, 4);
	msg_pack_str(&out->pk, "type");
	msg_pack_str(&out->pk, msg_type_name(type));
	msg_pack_str(&out->pk, "id");
	msgpack_pack_uint64(&out->pk, out->id);
	msg_pack_str(&out->pk, "re");
	msgpack_pack_uint64(&out->pk, re);
	msg_pack_str(&out->pk, "body");
	msgpack_pack_map(&out->pk, nfields);
}

void msg_put_key(struct msg_out *out, const char *key)
{
	msg_pack_str(&out->pk, key);
}

void msg_put_str(struct msg_out *out, const char *key, const char *val)
{
	msg_put_key(out, key);
	msg_pack_str(&out->pk, val);
}

void msg_put_strn(struct msg_out *out, const char *key, const char *val, size_t len)
{
	msg_put_key(out, key);
	pack_cstr(&out->pk, val, len);
}

void msg_put_int(struct msg_out *out, const char *key, int64_t val)
{
	msg_put_key(out, key);
	msgpack_pack_int64(&out->pk, val);
}

void msg_put_bool(struct msg_out *out, const char *key, bool val)
{
	msg_put_key(out, key);
	if (val)
		msgpack_pack_true(&out->pk);
	else
		msgpack_pack_false(&out->pk);
}

void msg_put_double(struct msg_out *out, const char *key, double val)
{
	msg_put_key(out, key);
	msgpack_pack_double(&out->pk, val);
}

int msg_out_finish(struct msg_out *out, uint32_t max)
{
	size_t payload = out->buf.size - FRAME_PREFIX;
	if (payload > max)
		return -EMSGSIZE;
	frame_put_len((uint8_t *)out->buf.data, (uint32_t)payload);
	return 0;
}

const char *msg_out_data(const struct msg_out *out, size_t *len)
{
	*len = out->buf.size;
	return out->buf.data;
}

void msg_out_free(struct msg_out *out)
{
	msgpack_sbuffer_destroy(&out->buf);
	out->buf.data = NULL;
	out->buf.size = 0;
}

static json_t *to_json(const msgpack_object *o, int depth)
{
	if (depth > 16)
		return json_null();
	switch (o->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		return json_boolean(o->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return json_integer((json_int_t)o->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return json_integer((json_int_t)o->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return json_real(o->via.f64);
	case MSGPACK_OBJECT_STR: {
		json_t *s = json_stringn(o->via.str.ptr, o->via.str.size);
		return s ? s : json_null();
	}
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(a, to_json(&o->via.array.ptr[i], depth + 1));
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object_kv *kv = &o->via.map.ptr[i];
			if (kv->key.type != MSGPACK_OBJECT_STR || kv->key.via.str.size > 255)
				continue;
			char key[256];
			memcpy(key, kv->key.via.str.ptr, kv->key.via.str.size);
			key[kv->key.via.str.size] = '\0';
			json_object_set_new(m, key, to_json(&kv->val, depth + 1));
		}
		return m;
	}
	default:
		return json_null();
	}
}

json_t *msg_to_json(const msgpack_object *o)
{
	return to_json(o, 0);
}
