/*
 * The chaos driver. See chaos.h.
 */
#include "tests/chaos/chaos.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc/frame.h"
#include "ipc/msg.h"

#define CTL_VERSION   1           /* supervisor/control.h CONTROL_VERSION */
#define REPLY_MAX     (16u << 20) /* a status is a few kB */
#define POLL_MS       10          /* status polls while waiting */
#define MAX_PENDING   64          /* victims not back yet */
#define MAX_KILLS     100000      /* recovery samples kept */
#define GONE_LIMIT_MS 10000       /* supervisor silent this long: give up */

double chaos_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static json_t *to_json(const msgpack_object *o)
{
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
	case MSGPACK_OBJECT_STR:
		return json_stringn_nocheck(o->via.str.ptr, o->via.str.size);
	case MSGPACK_OBJECT_ARRAY: {
		json_t *a = json_array();
		for (uint32_t i = 0; i < o->via.array.size; i++)
			json_array_append_new(a, to_json(&o->via.array.ptr[i]));
		return a;
	}
	case MSGPACK_OBJECT_MAP: {
		json_t *m = json_object();
		for (uint32_t i = 0; i < o->via.map.size; i++) {
			const msgpack_object *k = &o->via.map.ptr[i].key;
			if (k->type != MSGPACK_OBJECT_STR)
				continue;
			char *key = strndup(k->via.str.ptr, k->via.str.size);
			if (!key)
				abort();
			json_object_set_new(m, key, to_json(&o->via.map.ptr[i].val));
			free(key);
		}
		return m;
	}
	default:
		return json_null();
	}
}

/* Waits for events on fd until deadline (ms): 1 ready, 0 timeout/error. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - chaos_now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)left + 1);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

json_t *chaos_status(const char *sock, int timeout_ms)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	double deadline = chaos_now_ms() + timeout_ms;
	json_t *data = NULL;
	char *buf = NULL;
	if (strlen(sock) >= sizeof sa.sun_path)
		return NULL;
	strcpy(sa.sun_path, sock);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS) {
		close(fd);
		return NULL;
	}
	struct msg_out out;
	msg_out_init(&out, MSG_CONTROL, 0, 2);
	msg_put_int(&out, "v", CTL_VERSION);
	msg_put_str(&out, "cmd", "status");
	size_t len, off = 0;
	const char *req =
	    msg_out_finish(&out, FRAME_MAX_DEFAULT) == 0 ? msg_out_data(&out, &len) : NULL;
	while (req && off < len) {
		if (!wait_fd(fd, POLLOUT, deadline))
			goto out;
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			goto out;
		if (w > 0)
			off += (size_t)w;
	}
	uint8_t prefix[FRAME_PREFIX];
	size_t have = 0, want = FRAME_PREFIX;
	while (req && have < want) {
		if (!wait_fd(fd, POLLIN, deadline))
			goto out;
		uint8_t *dst =
		    have < FRAME_PREFIX ? prefix + have : (uint8_t *)buf + (have - FRAME_PREFIX);
		size_t room = have < FRAME_PREFIX ? FRAME_PREFIX - have : want - have;
		ssize_t r = read(fd, dst, room);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN))
			goto out;
		if (r < 0)
			continue;
		have += (size_t)r;
		if (have == FRAME_PREFIX && !buf) {
			uint32_t n = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
			             (uint32_t)prefix[2] << 8 | prefix[3];
			if (n == 0 || n > REPLY_MAX)
				goto out;
			buf = malloc(n);
			if (!buf)
				abort();
			want = FRAME_PREFIX + n;
		}
	}
	if (req) {
		msgpack_zone zone;
		struct msg reply;
		const char *why;
		bool ok = false;
		msgpack_zone_init(&zone, 4096);
		if (msg_decode(buf, want - FRAME_PREFIX, &zone, &reply, &why) == 0 &&
		    reply.type == MSG_CONTROL_REPLY && msg_get_bool(reply.body, "ok", &ok) == 0 &&
		    ok) {
			const msgpack_object *d = msg_field(reply.body, "data");
			data = d ? to_json(d) : NULL;
		}
		msgpack_zone_destroy(&zone);
	}
out:
	msg_out_free(&out);
	free(buf);
	close(fd);
	return data;
}

long chaos_vmhwm_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmHWM:", 6)) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

/* --- the driver ------------------------------------------------------------- */

struct victim {
	char name[32];
	char role[32];
	pid_t pid;
	double at;
};

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static bool role_wanted(const char *roles, const char *role)
{
	if (!roles || !*roles)
		return true;
	size_t n = strlen(role);
	for (const char *p = roles; *p;) {
		size_t l = strcspn(p, ",");
		if (l == n && !strncmp(p, role, n))
			return true;
		p += l + (p[l] == ',');
	}
	return false;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* Counts kills per role into a "role:n,..." string. */
static void count_role(char *by_role, size_t len, const char *role)
{
	char out[256] = "", *p = by_role;
	bool found = false;
	while (*p) {
		char item[64];
		size_t l = strcspn(p, ",");
		snprintf(item, sizeof item, "%.*s", (int)l, p);
		char *colon = strrchr(item, ':');
		if (colon) {
			*colon = '\0';
			int n = atoi(colon + 1);
			if (!strcmp(item, role)) {
				n++;
				found = true;
			}
			size_t o = strlen(out);
			snprintf(out + o, sizeof out - o, "%s%s:%d", o ? "," : "", item, n);
		}
		p += l + (p[l] == ',');
	}
	if (!found) {
		size_t o = strlen(out);
		snprintf(out + o, sizeof out - o, "%s%s:1", o ? "," : "", role);
	}
	snprintf(by_role, len, "%s", out);
}

int chaos_run(const struct chaos_opts *o, struct chaos_stats *st)
{
	struct victim pending[MAX_PENDING];
	int npending = 0, rc = 0;
	double *samples = calloc(MAX_KILLS, sizeof *samples);
	unsigned seed = o->seed ? o->seed : (unsigned)time(NULL);
	double start = chaos_now_ms(), last_answer = start;
	double next_kill = start + o->min_ms + rand_r(&seed) % (o->max_ms - o->min_ms + 1);
	bool stopping = false;
	double stop_at = 0;

	if (!samples)
		abort();
	memset(st, 0, sizeof *st);
	for (;;) {
		double now = chaos_now_ms();
		if (!stopping && ((o->stop && *o->stop) ||
		                  (o->duration_ms > 0 && now - start >= o->duration_ms))) {
			stopping = true;
			stop_at = now;
		}
		if (stopping && (npending == 0 || now - stop_at > 10000))
			break;
		json_t *s = chaos_status(o->sock, 1000);
		now = chaos_now_ms();
		if (!s) {
			if (now - last_answer > GONE_LIMIT_MS) {
				rc = -EIO;
				break;
			}
		} else {
			last_answer = now;
			json_t *children = json_object_get(s, "children"), *c;
			size_t i;
			/* Who is back: a ready process under the victim's name, new pid. */
			for (int k = 0; k < npending; k++) {
				json_array_foreach(children, i, c)
				{
					pid_t pid =
					    (pid_t)json_integer_value(json_object_get(c, "pid"));
					if (strcmp(jstr(c, "name"), pending[k].name) ||
					    strcmp(jstr(c, "state"), "ready") || pid <= 0 ||
					    pid == pending[k].pid)
						continue;
					double ms = now - pending[k].at;
					if (st->recovered < MAX_KILLS)
						samples[st->recovered] = ms;
					st->recovered++;
					if (o->log)
						fprintf(o->log,
						        "recovered %s pid %d -> %d after %.1f ms\n",
						        pending[k].name, (int)pending[k].pid,
						        (int)pid, ms);
					pending[k--] = pending[--npending];
					break;
				}
			}
			if (!stopping && now >= next_kill && npending < MAX_PENDING) {
				/* A ready actor of a wanted role, chosen at random. */
				json_t *pick[64];
				int n = 0;
				json_array_foreach(children, i, c)
				{
					if (n < 64 && !strcmp(jstr(c, "state"), "ready") &&
					    json_integer_value(json_object_get(c, "pid")) > 0 &&
					    role_wanted(o->roles, jstr(c, "role")))
						pick[n++] = c;
				}
				if (n > 0) {
					c = pick[rand_r(&seed) % (unsigned)n];
					struct victim *v = &pending[npending];
					snprintf(v->name, sizeof v->name, "%s", jstr(c, "name"));
					snprintf(v->role, sizeof v->role, "%s", jstr(c, "role"));
					v->pid =
					    (pid_t)json_integer_value(json_object_get(c, "pid"));
					v->at = chaos_now_ms();
					if (kill(v->pid, SIGKILL) == 0) {
						npending++;
						st->kills++;
						count_role(st->by_role, sizeof st->by_role,
						           v->role);
						if (o->log)
							fprintf(
							    o->log, "%.0f ms: SIGKILL %s pid %d\n",
							    v->at - start, v->name, (int)v->pid);
					}
				}
				next_kill = now + o->min_ms +
				            rand_r(&seed) % (unsigned)(o->max_ms - o->min_ms + 1);
			}
			if (stopping) {
				st->failed_children = 0;
				json_array_foreach(children, i,
				                   c) if (!strcmp(jstr(c, "state"), "failed"))
				    st->failed_children++;
			}
			json_decref(s);
		}
		struct timespec ts = {0, POLL_MS * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	int n = st->recovered < MAX_KILLS ? st->recovered : MAX_KILLS;
	if (n > 0) {
		qsort(samples, (size_t)n, sizeof *samples, cmp_double);
		st->median_ms = samples[n / 2];
		int p = (int)(0.99 * (n - 1) + 0.5);
		st->p99_ms = samples[p];
		st->max_ms = samples[n - 1];
	}
	free(samples);
	return rc;
}

void chaos_format(const struct chaos_stats *st, char *buf, size_t len)
{
	snprintf(buf, len,
	         "kills=%d recovered=%d median_ms=%.1f p99_ms=%.1f max_ms=%.1f failed=%d "
	         "by_role=%s",
	         st->kills, st->recovered, st->median_ms, st->p99_ms, st->max_ms,
	         st->failed_children, st->by_role[0] ? st->by_role : "-");
}
