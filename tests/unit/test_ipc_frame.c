/*
 * Framing and envelope decoding: edge cases and hostile bytes.
 */
#include <errno.h>

#include "ipc/frame.h"
#include "ipc/log.h"
#include "ipc/msg.h"
#include "tests/harness.h"

#include <jansson.h>

static int decode_bytes(const char *p, size_t n, struct msg *m, const char **why)
{
	msgpack_zone z;
	msgpack_zone_init(&z, 1024);
	int r = msg_decode(p, n, &z, m, why);
	msgpack_zone_destroy(&z);
	return r;
}

TEST(frame_waits_for_the_prefix_and_the_payload)
{
	uint8_t buf[16] = {0, 0, 0, 5, 'a', 'b'};
	uint32_t len = 0;
	ASSERT_EQ_INT(frame_check(buf, 0, 1024, &len), 0);
	ASSERT_EQ_INT(frame_check(buf, 3, 1024, &len), 0);
	ASSERT_EQ_INT(frame_check(buf, 6, 1024, &len), 0);
	ASSERT_EQ_INT(frame_check(buf, 9, 1024, &len), 1);
	ASSERT_EQ_INT(len, 5);
}

TEST(frame_rejects_zero_and_oversized_lengths_before_the_bytes_arrive)
{
	uint8_t zero[4] = {0, 0, 0, 0}, big[4] = {0xff, 0xff, 0xff, 0xff};
	uint8_t at_max[4] = {0, 0, 4, 0}, over_max[4] = {0, 0, 4, 1};
	uint32_t len;
	ASSERT_EQ_INT(frame_check(zero, 4, 1024, &len), -EBADMSG);
	ASSERT_EQ_INT(frame_check(big, 4, 1024, &len), -EMSGSIZE);
	ASSERT_EQ_INT(frame_check(at_max, 4, 1024, &len), 0);
	ASSERT_EQ_INT(frame_check(over_max, 4, 1024, &len), -EMSGSIZE);
}

TEST(envelope_round_trips_with_every_field_type)
{
	struct msg_out out;
	struct msg m;
	const char *why = NULL, *s;
	size_t n, slen;
	int64_t i;
	bool b;
	double d;

	msg_out_init(&out, MSG_FETCH_DONE, 7, 5);
	msg_put_str(&out, "job", "3f0c");
	msg_put_int(&out, "count", -12);
	msg_put_bool(&out, "ok", true);
	msg_put_double(&out, "score", 2.5);
	msg_put_str(&out, "none", NULL);
	ASSERT_EQ_INT(msg_out_finish(&out, FRAME_MAX_DEFAULT), 0);
	const char *data = msg_out_data(&out, &n);
	uint32_t plen;
	ASSERT_EQ_INT(frame_check((const uint8_t *)data, n, FRAME_MAX_DEFAULT, &plen), 1);
	ASSERT_EQ_INT(plen + FRAME_PREFIX, n);

	msgpack_zone z;
	msgpack_zone_init(&z, 1024);
	ASSERT_EQ_INT(msg_decode(data + FRAME_PREFIX, plen, &z, &m, &why), 0);
	ASSERT_EQ_INT(m.type, MSG_FETCH_DONE);
	ASSERT_EQ_INT(m.id, out.id);
	ASSERT_EQ_INT(m.re, 7);
	ASSERT_EQ_INT(msg_get_str(m.body, "job", &s, &slen), 0);
	ASSERT_EQ_INT(slen, 4);
	ASSERT_EQ_INT(msg_get_int(m.body, "count", &i), 0);
	ASSERT_EQ_INT(i, -12);
	ASSERT_EQ_INT(msg_get_bool(m.body, "ok", &b), 0);
	ASSERT(b);
	ASSERT_EQ_INT(msg_get_double(m.body, "score", &d), 0);
	ASSERT(d == 2.5);
	ASSERT_EQ_INT(msg_get_str(m.body, "none", &s, &slen), -ENOENT);
	ASSERT_EQ_INT(msg_get_str(m.body, "count", &s, &slen), -EINVAL);
	ASSERT_EQ_INT(msg_get_int(m.body, "absent", &i), -ENOENT);
	char small[3];
	ASSERT_EQ_INT(msg_copy_str(m.body, "job", small, sizeof small), -ENAMETOOLONG);
	msgpack_zone_destroy(&z);
	msg_out_free(&out);
}

TEST(message_over_the_maximum_is_refused_when_finished)
{
	struct msg_out out;
	char big[2048];
	memset(big, 'x', sizeof big);
	msg_out_init(&out, MSG_PING, 0, 1);
	msg_put_strn(&out, "pad", big, sizeof big);
	ASSERT_EQ_INT(msg_out_finish(&out, 1024), -EMSGSIZE);
	ASSERT_EQ_INT(msg_out_finish(&out, 4096), 0);
	msg_out_free(&out);
}

/* Packs an arbitrary object with a packer callback into buf; returns length. */
static size_t pack(msgpack_sbuffer *sb, void (*fn)(msgpack_packer *))
{
	msgpack_packer pk;
	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	fn(&pk);
	return sb->size;
}

static void pack_array(msgpack_packer *pk)
{
	msgpack_pack_array(pk, 1);
	msgpack_pack_int(pk, 1);
}

static void pack_unknown_type(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 4);
	msg_pack_str(pk, "type");
	msg_pack_str(pk, "LAUNCH_MISSILES");
	msg_pack_str(pk, "id");
	msgpack_pack_int(pk, 1);
	msg_pack_str(pk, "re");
	msgpack_pack_int(pk, 0);
	msg_pack_str(pk, "body");
	msgpack_pack_map(pk, 0);
}

static void pack_type_not_string(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	msg_pack_str(pk, "type");
	msgpack_pack_int(pk, 3);
	msg_pack_str(pk, "id");
	msgpack_pack_int(pk, 1);
	msg_pack_str(pk, "body");
	msgpack_pack_map(pk, 0);
}

static void pack_body_not_map(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 3);
	msg_pack_str(pk, "type");
	msg_pack_str(pk, "PING");
	msg_pack_str(pk, "id");
	msgpack_pack_int(pk, 1);
	msg_pack_str(pk, "body");
	msg_pack_str(pk, "hello");
}

static void pack_zero_id(msgpack_packer *pk)
{
	msgpack_pack_map(pk, 2);
	msg_pack_str(pk, "type");
	msg_pack_str(pk, "PING");
	msg_pack_str(pk, "body");
	msgpack_pack_map(pk, 0);
}

TEST(decoder_rejects_wrong_shapes_with_a_reason)
{
	static const struct {
		void (*fn)(msgpack_packer *);
		const char *why;
	} cases[] = {
	    {pack_array, "not a map"},
	    {pack_unknown_type, "unknown message type"},
	    {pack_type_not_string, "no string \"type\""},
	    {pack_body_not_map, "\"body\" is not a map"},
	    {pack_zero_id, "\"id\""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		msgpack_sbuffer sb;
		struct msg m;
		const char *why = NULL;
		size_t n = pack(&sb, cases[i].fn);
		ASSERT_EQ_INT(decode_bytes(sb.data, n, &m, &why), -EBADMSG);
		ASSERT_CONTAINS(why, cases[i].why);
		msgpack_sbuffer_destroy(&sb);
	}
}

TEST(decoder_rejects_truncated_trailing_and_bomb_bytes)
{
	struct msg_out out;
	struct msg m;
	const char *why;
	size_t n;
	msg_out_init(&out, MSG_PING, 0, 1);
	msg_put_str(&out, "k", "value");
	msg_out_finish(&out, FRAME_MAX_DEFAULT);
	const char *data = msg_out_data(&out, &n);
	const char *payload = data + FRAME_PREFIX;
	size_t plen = n - FRAME_PREFIX;

	for (size_t cut = 1; cut < plen; cut++)
		ASSERT_EQ_INT(decode_bytes(payload, cut, &m, &why), -EBADMSG);
	char *extra = xmalloc(plen + 1);
	memcpy(extra, payload, plen);
	extra[plen] = (char)0xc0;
	ASSERT_EQ_INT(decode_bytes(extra, plen + 1, &m, &why), -EBADMSG);
	ASSERT_CONTAINS(why, "trailing");
	free(extra);

	/* An array announcing 2^32-1 elements in 5 bytes must not allocate. */
	const char bomb[] = {(char)0xdd, (char)0xff, (char)0xff, (char)0xff, (char)0xff};
	ASSERT_EQ_INT(decode_bytes(bomb, sizeof bomb, &m, &why), -EBADMSG);
	/* Nesting deeper than allowed. */
	char deep[64];
	memset(deep, (char)0x91, sizeof deep);
	deep[63] = 0x01;
	ASSERT_EQ_INT(decode_bytes(deep, sizeof deep, &m, &why), -EBADMSG);
	/* The never-used byte. */
	const char c1[] = {(char)0xc1};
	ASSERT_EQ_INT(decode_bytes(c1, 1, &m, &why), -EBADMSG);
	msg_out_free(&out);
}

TEST(type_catalogue_names_round_trip)
{
	for (int t = MSG_NONE + 1; t < MSG_TYPE_COUNT; t++) {
		const char *name = msg_type_name((enum msg_type)t);
		ASSERT_EQ_INT(msg_type_lookup(name, strlen(name)), t);
	}
	ASSERT_EQ_INT(msg_type_lookup("PIN", 3), MSG_NONE);
	ASSERT_EQ_STR(msg_type_name(MSG_TYPE_COUNT), "?");
}

TEST(msg_to_json_converts_maps_and_nulls_what_json_cannot_hold)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	msgpack_zone z;
	msgpack_object o;
	size_t off = 0;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 4);
	msg_pack_str(&pk, "n");
	msgpack_pack_int(&pk, -7);
	msg_pack_str(&pk, "bad");
	msgpack_pack_str(&pk, 2);
	msgpack_pack_str_body(&pk, "\xff\xfe", 2);
	msg_pack_str(&pk, "list");
	msgpack_pack_array(&pk, 2);
	msgpack_pack_true(&pk);
	msgpack_pack_double(&pk, 1.5);
	msgpack_pack_int(&pk, 3); /* a non-string key: skipped */
	msgpack_pack_int(&pk, 4);
	msgpack_zone_init(&z, 1024);
	ASSERT_EQ_INT(msgpack_unpack(sb.data, sb.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
	json_t *j = msg_to_json(&o);
	char *text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	ASSERT_EQ_STR(text, "{\"bad\":null,\"list\":[true,1.5],\"n\":-7}");
	free(text);
	json_decref(j);
	msgpack_zone_destroy(&z);
	msgpack_sbuffer_destroy(&sb);
}
