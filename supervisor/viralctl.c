/*
 * viralctl: talks to a running viralsup through its control socket.
 * A plain blocking client: one CONTROL request, one CONTROL_REPLY.
 * docs/viralctl.md lists the commands and exit codes.
 */
#include <errno.h>
#include <jansson.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ipc/frame.h"
#include "ipc/msg.h"
#include "supervisor/control.h"

/* Exit codes: stable, for scripts (docs/viralctl.md). */
enum {
	CTL_OK = 0,
	CTL_FAILED = 1,      /* the supervisor refused or the command failed */
	CTL_USAGE = 2,       /* bad command line */
	CTL_NOT_RUNNING = 3, /* no supervisor at the socket */
	CTL_PERMISSION = 4,  /* not allowed to talk to it */
	CTL_UNKNOWN_ACTOR = 5,
	CTL_TIMEOUT = 6,
};

#define REPLY_MAX (64u * 1024u * 1024u)

static const char *socket_path;
static bool json_out;
static double timeout_s = 5.0;

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	fputs("viralctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

static const char *const usage_text =
    "usage: viralctl [--socket PATH] [--json] [--timeout S] COMMAND [ARGS]\n"
    "\n"
    "commands:\n"
    "  status              every actor: state, pid, uptime, restarts, last exit\n"
    "  restart NAME        stop NAME (or every member of a pool) and start it again\n"
    "  stop NAME           stop NAME; it stays down until start\n"
    "  start NAME          start NAME (also after it was marked failed)\n"
    "  kill NAME           SIGKILL NAME; the supervisor restarts it as after a crash\n"
    "  logs [NAME] [-n N] [-f]   recent log lines of every actor or of NAME\n"
    "  help                this text\n"
    "\n"
    "options:\n"
    "  --socket PATH   control socket (default $VIRALSUP_RUN_DIR/control.sock, else\n"
    "                  var/run/control.sock)\n"
    "  --json          print the reply's data as JSON\n"
    "  --timeout S     seconds to wait for the supervisor (default 5)\n"
    "  --version       print the version\n"
    "\n"
    "exit codes: 0 ok, 1 failed, 2 usage, 3 supervisor not running,\n"
    "            4 permission denied, 5 unknown actor, 6 timeout\n";

static const char *const command_help[][2] = {
    {"status", "usage: viralctl [--json] status\n"
               "Shows every actor: name, state, pid, uptime, restarts (total and within\n"
               "the intensity window), resident memory and the last exit.\n"},
    {"restart", "usage: viralctl restart NAME\n"
                "Stops NAME (SIGTERM, then SIGKILL after its shutdown timeout) and starts\n"
                "it again. NAME is an actor (fetcher[1]) or a pool (fetcher).\n"},
    {"stop", "usage: viralctl stop NAME\n"
             "Stops NAME; the supervisor does not restart it until `viralctl start`.\n"},
    {"start", "usage: viralctl start NAME\n"
              "Starts a stopped or failed actor, forgetting its past restarts.\n"},
    {"kill", "usage: viralctl kill NAME\n"
             "Sends SIGKILL to NAME; the supervisor handles it as a crash (restart\n"
             "with backoff, counted against the intensity limit).\n"},
    {"logs", "usage: viralctl logs [NAME] [-n N] [-f]\n"
             "Prints the newest N (default 100) captured log lines, of every actor or\n"
             "of NAME (an actor or a pool). -f keeps printing new lines.\n"},
};

/* --- the connection --------------------------------------------------------- */

static int ctl_connect(int *fd_out)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	if (strlcpy(sa.sun_path, socket_path, sizeof sa.sun_path) >= sizeof sa.sun_path)
		return fail(CTL_USAGE, "socket path too long: %s", socket_path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return fail(CTL_FAILED, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
			return fail(CTL_NOT_RUNNING,
			            "supervisor not running (no control socket at %s)",
			            socket_path);
		if (e == EACCES || e == EPERM)
			return fail(CTL_PERMISSION,
			            "permission denied on %s (run as the user running viralsup)",
			            socket_path);
		return fail(CTL_NOT_RUNNING, "cannot connect to %s: %s", socket_path, strerror(e));
	}
	*fd_out = fd;
	return CTL_OK;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Waits for fd to be ready for events until deadline: 1, 0 on timeout. */
static int wait_fd(int fd, short events, double deadline)
{
	for (;;) {
		double left = deadline - now_s();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* The reply arrived without being one: what to tell the user. */
static int closed_early(void)
{
	struct stat st;
	if (stat(socket_path, &st) == 0 && st.st_uid != geteuid() && geteuid() != 0)
		return fail(CTL_PERMISSION,
		            "permission denied: the supervisor at %s runs as uid %d, we are uid %d",
		            socket_path, (int)st.st_uid, (int)geteuid());
	return fail(CTL_FAILED, "the supervisor closed the connection without answering");
}

/*
 * Sends out, reads one reply frame into *payload (malloc'd, caller frees).
 * Returns an exit code.
 */
static int ctl_exchange(int fd, struct msg_out *out, char **payload, size_t *plen)
{
	double deadline = now_s() + timeout_s;
	const char *data;
	size_t len, off = 0;
	uint8_t prefix[FRAME_PREFIX];
	uint32_t n;

	if (msg_out_finish(out, FRAME_MAX_DEFAULT) < 0)
		return fail(CTL_USAGE, "request too large");
	data = msg_out_data(out, &len);
	while (off < len) {
		if (wait_fd(fd, POLLOUT, deadline) <= 0)
			return fail(CTL_TIMEOUT, "timed out after %.0f s sending to %s", timeout_s,
			            socket_path);
		ssize_t w = send(fd, data + off, len - off, MSG_NOSIGNAL);
		if (w < 0 && errno != EINTR && errno != EAGAIN)
			return closed_early();
		if (w > 0)
			off += (size_t)w;
	}
	char *buf = NULL;
	size_t have = 0, want = FRAME_PREFIX;
	while (have < want) {
		if (wait_fd(fd, POLLIN, deadline) <= 0) {
			free(buf);
			return fail(CTL_TIMEOUT, "no answer from the supervisor within %.0f s",
			            timeout_s);
		}
		uint8_t *dst =
		    have < FRAME_PREFIX ? prefix + have : (uint8_t *)buf + (have - FRAME_PREFIX);
		size_t room = have < FRAME_PREFIX ? FRAME_PREFIX - have : want - have;
		ssize_t r = read(fd, dst, room);
		if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
			free(buf);
			return closed_early();
		}
		if (r < 0)
			continue;
		have += (size_t)r;
		if (have == FRAME_PREFIX && !buf) {
			n = (uint32_t)prefix[0] << 24 | (uint32_t)prefix[1] << 16 |
			    (uint32_t)prefix[2] << 8 | prefix[3];
			if (n == 0 || n > REPLY_MAX)
				return fail(CTL_FAILED,
				            "bad reply from the supervisor (frame of %u bytes)", n);
			buf = malloc(n);
			if (!buf)
				return fail(CTL_FAILED, "out of memory");
			want = FRAME_PREFIX + n;
		}
	}
	*payload = buf;
	*plen = want - FRAME_PREFIX;
	return CTL_OK;
}

/* --- output ----------------------------------------------------------------- */

static json_t *to_json(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		return json_null();
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
	case MSGPACK_OBJECT_BIN:
		return json_stringn_nocheck(o->via.bin.ptr, o->via.bin.size);
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
			json_object_set_new(m, key, to_json(&o->via.map.ptr[i].val));
			free(key);
		}
		return m;
	}
	default:
		return json_null();
	}
}

static void print_json(const msgpack_object *data)
{
	json_t *j = to_json(data);
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(j);
}

static const char *jstr(json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : def;
}

static void fmt_duration(double s, char *buf, size_t len)
{
	long t = (long)s;
	if (t < 60)
		snprintf(buf, len, "%lds", t);
	else if (t < 3600)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
}

static void print_status(const msgpack_object *data)
{
	json_t *j = to_json(data), *children = json_object_get(j, "children"), *c;
	size_t i;
	char up[32];

	printf("viralsup %s on %s, pid %lld, run dir %s\n", jstr(j, "version", "?"),
	       jstr(j, "node", "?"), (long long)json_integer_value(json_object_get(j, "pid")),
	       jstr(j, "run_dir", "?"));
	printf("%-14s %-12s %8s %9s %10s %8s  %s\n", "NAME", "STATE", "PID", "UPTIME", "RESTARTS",
	       "RSS", "LAST EXIT");
	json_array_foreach(children, i, c)
	{
		json_t *pid = json_object_get(c, "pid"), *rss = json_object_get(c, "rss_kb");
		json_t *last = json_object_get(c, "last_exit");
		char pidbuf[16] = "-", rssbuf[16] = "-", rst[32], lastbuf[96] = "-";
		if (json_is_integer(pid))
			snprintf(pidbuf, sizeof pidbuf, "%lld", (long long)json_integer_value(pid));
		if (json_is_integer(rss))
			snprintf(rssbuf, sizeof rssbuf, "%.1fM", json_integer_value(rss) / 1024.0);
		if (json_is_integer(pid))
			fmt_duration(json_real_value(json_object_get(c, "uptime_s")), up,
			             sizeof up);
		else
			strcpy(up, "-");
		snprintf(rst, sizeof rst, "%lld/%lld",
		         (long long)json_integer_value(json_object_get(c, "restarts_total")),
		         (long long)json_integer_value(json_object_get(c, "restarts_in_window")));
		if (json_is_object(last)) {
			json_t *at = json_object_get(last, "at");
			char ago[32] = "";
			if (json_is_integer(at)) {
				fmt_duration((double)(time(NULL) - json_integer_value(at)), ago,
				             sizeof ago);
				snprintf(lastbuf, sizeof lastbuf, "%s, %s ago",
				         jstr(last, "reason", "?"), ago);
			} else {
				snprintf(lastbuf, sizeof lastbuf, "%s", jstr(last, "reason", "?"));
			}
		}
		printf("%-14s %-12s %8s %9s %10s %8s  %s\n", jstr(c, "name", "?"),
		       jstr(c, "state", "?"), pidbuf, up, rst, rssbuf, lastbuf);
	}
	json_decref(j);
}

static void print_actor_result(const char *cmd, const msgpack_object *data)
{
	json_t *j = to_json(data), *c;
	size_t i;
	json_array_foreach(json_object_get(j, "children"), i, c)
	{
		json_t *pid = json_object_get(c, "killed_pid");
		if (!strcmp(cmd, "kill"))
			printf("%s: killed pid %lld\n", jstr(c, "name", "?"),
			       (long long)json_integer_value(pid));
		else
			printf("%s: %s (%s)\n", jstr(c, "name", "?"), cmd, jstr(c, "state", "?"));
	}
	json_decref(j);
}

/* Prints the lines; returns the reply's last_seq. */
static uint64_t print_logs(const msgpack_object *data)
{
	int64_t last = 0;
	const msgpack_object *lines = msg_field(data, "lines");
	msg_get_int(data, "last_seq", &last);
	if (lines && lines->type == MSGPACK_OBJECT_ARRAY)
		for (uint32_t i = 0; i < lines->via.array.size; i++) {
			const msgpack_object *l = &lines->via.array.ptr[i];
			if (l->type == MSGPACK_OBJECT_STR)
				printf("%.*s\n", (int)l->via.str.size, l->via.str.ptr);
		}
	fflush(stdout);
	return (uint64_t)last;
}

/* --- commands --------------------------------------------------------------- */

struct request {
	const char *cmd;
	const char *name;
	long n;
	uint64_t after;
};

/* One round trip; on success *data_out gets the data (valid until zone cleared). */
static int run_request(const struct request *rq, msgpack_zone *zone, char **payload,
                       struct msg *reply)
{
	struct msg_out out;
	size_t plen = 0;
	int fd = -1, code;
	uint32_t nf = 2 + (rq->name ? 1 : 0) + (rq->n >= 0 ? 1 : 0) + (rq->after ? 1 : 0);
	const char *why;

	if ((code = ctl_connect(&fd)) != CTL_OK)
		return code;
	msg_out_init(&out, MSG_CONTROL, 0, nf);
	msg_put_int(&out, "v", CONTROL_VERSION);
	msg_put_str(&out, "cmd", rq->cmd);
	if (rq->name)
		msg_put_str(&out, "name", rq->name);
	if (rq->n >= 0)
		msg_put_int(&out, "n", rq->n);
	if (rq->after)
		msg_put_int(&out, "after", (int64_t)rq->after);
	code = ctl_exchange(fd, &out, payload, &plen);
	msg_out_free(&out);
	close(fd);
	if (code != CTL_OK)
		return code;
	if (msg_decode(*payload, plen, zone, reply, &why) < 0)
		return fail(CTL_FAILED, "bad reply from the supervisor: %s", why);
	if (reply->type != MSG_CONTROL_REPLY)
		return fail(CTL_FAILED, "bad reply from the supervisor: %s",
		            msg_type_name(reply->type));
	bool ok = false;
	msg_get_bool(reply->body, "ok", &ok);
	if (!ok) {
		char err[512] = "unknown error", ecode[32] = "";
		msg_copy_str(reply->body, "error", err, sizeof err);
		msg_copy_str(reply->body, "code", ecode, sizeof ecode);
		int x = !strcmp(ecode, "unknown_actor") ? CTL_UNKNOWN_ACTOR
		        : !strcmp(ecode, "timeout")     ? CTL_TIMEOUT
		                                        : CTL_FAILED;
		return fail(x, "%s", err);
	}
	return CTL_OK;
}

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int command(const struct request *rq, bool follow)
{
	msgpack_zone zone;
	struct msg reply;
	char *payload = NULL;
	int code;
	struct request r = *rq;

	msgpack_zone_init(&zone, 4096);
	code = run_request(&r, &zone, &payload, &reply);
	if (code == CTL_OK) {
		const msgpack_object *data = msg_field(reply.body, "data");
		msgpack_object nil = {.type = MSGPACK_OBJECT_NIL};
		if (!data)
			data = &nil;
		if (json_out)
			print_json(data);
		else if (!strcmp(r.cmd, "status"))
			print_status(data);
		else if (!strcmp(r.cmd, "logs"))
			r.after = print_logs(data);
		else if (data->type == MSGPACK_OBJECT_MAP && msg_field(data, "children"))
			print_actor_result(r.cmd, data);
		else if (data->type != MSGPACK_OBJECT_NIL)
			print_json(data);
	}
	free(payload);
	msgpack_zone_destroy(&zone);
	if (code != CTL_OK || !follow)
		return code;

	/* logs -f: ask for what came after the last line seen. */
	signal(SIGINT, on_sigint);
	r.n = 10000;
	while (!interrupted) {
		struct timespec ts = {0, 300 * 1000 * 1000};
		nanosleep(&ts, NULL);
		msgpack_zone_init(&zone, 4096);
		payload = NULL;
		code = run_request(&r, &zone, &payload, &reply);
		if (code == CTL_OK) {
			const msgpack_object *data = msg_field(reply.body, "data");
			if (data)
				r.after = print_logs(data);
		}
		free(payload);
		msgpack_zone_destroy(&zone);
		if (code != CTL_OK)
			return code;
	}
	return CTL_OK;
}

static int help(const char *cmd)
{
	for (size_t i = 0; i < sizeof command_help / sizeof command_help[0]; i++)
		if (!strcmp(command_help[i][0], cmd)) {
			fputs(command_help[i][1], stdout);
			return CTL_OK;
		}
	fputs(usage_text, stdout);
	return CTL_OK;
}

int main(int argc, char **argv)
{
	static char default_path[4096];
	const char *env = getenv("VIRALSUP_RUN_DIR");
	int i;

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--socket") && i + 1 < argc)
			socket_path = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json_out = true;
		else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			timeout_s = strtod(argv[++i], &end);
			if (*end || timeout_s <= 0)
				return fail(CTL_USAGE,
				            "--timeout wants a positive number of seconds");
		} else if (!strcmp(argv[i], "--version")) {
			printf("viralctl %s (control protocol v%d)\n", VIRALSUP_VERSION,
			       CONTROL_VERSION);
			return CTL_OK;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(usage_text, stdout);
			return CTL_OK;
		} else {
			fputs(usage_text, stderr);
			return fail(CTL_USAGE, "unknown option %s", argv[i]);
		}
	}
	if (i == argc) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	if (!socket_path) {
		snprintf(default_path, sizeof default_path, "%.4000s/control.sock",
		         env && *env ? env : "var/run");
		socket_path = default_path;
	}

	const char *cmd = argv[i++];
	struct request rq = {.cmd = cmd, .n = -1};
	bool follow = false;

	/* --help anywhere after the command shows that command's help. */
	for (int k = i; k < argc; k++)
		if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
			return help(cmd);
	if (!strcmp(cmd, "help"))
		return help(i < argc ? argv[i] : "");
	if (!strcmp(cmd, "status")) {
		if (i != argc)
			return fail(CTL_USAGE, "status takes no arguments");
	} else if (!strcmp(cmd, "restart") || !strcmp(cmd, "stop") || !strcmp(cmd, "start") ||
	           !strcmp(cmd, "kill")) {
		if (argc - i != 1)
			return fail(CTL_USAGE, "usage: viralctl %s NAME", cmd);
		rq.name = argv[i];
	} else if (!strcmp(cmd, "logs")) {
		for (; i < argc; i++) {
			if (!strcmp(argv[i], "-f"))
				follow = true;
			else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
				char *end;
				rq.n = strtol(argv[++i], &end, 10);
				if (*end || rq.n < 0)
					return fail(CTL_USAGE, "-n wants a number of lines");
			} else if (!rq.name && argv[i][0] != '-')
				rq.name = argv[i];
			else
				return fail(CTL_USAGE, "usage: viralctl logs [NAME] [-n N] [-f]");
		}
	} else {
		/* Not ours: the supervisor forwards it (to the scheduler). */
		if (i < argc)
			rq.name = argv[i++];
		if (i < argc)
			return fail(CTL_USAGE, "too many arguments for %s", cmd);
	}
	return command(&rq, follow);
}
