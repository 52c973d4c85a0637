/*
 * viralctl: talks to a running viralsup through its control socket.
 * A plain blocking client: one CONTROL request, one CONTROL_REPLY per
 * round trip (watch and logs -f repeat them). The supervisor answers
 * status, restart, stop, start, kill and logs; it forwards the rest (jobs,
 * queue, job, trigger, process, cancel, retry, pause, resume, scheduler)
 * to the scheduler. docs/viralctl.md lists the commands and exit codes.
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
	CTL_UNKNOWN_JOB = 7,
	CTL_CONFLICT = 8,    /* the job's state does not allow it (cancel a completed job) */
	CTL_UNAVAILABLE = 9, /* the scheduler is not running or the database is unreachable */
};

#define REPLY_MAX (64u * 1024u * 1024u)

static const char *socket_path;
static bool json_out;
static bool quiet; /* auxiliary requests: no error messages */
static double timeout_s = 5.0;

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return code;
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
    "actors (answered by the supervisor):\n"
    "  status              every actor: state, pid, uptime, restarts, RSS, in-flight\n"
    "                      work, last exit; node, version, database reachability\n"
    "  restart NAME        stop NAME (or every member of a pool) and start it again\n"
    "  stop NAME           stop NAME; it stays down until start\n"
    "  start NAME          start NAME (also after it was marked failed)\n"
    "  kill NAME           SIGKILL NAME; the supervisor restarts it as after a crash\n"
    "  logs [NAME] [-n N] [-f]   recent log lines of every actor or of NAME\n"
    "jobs (answered by the scheduler):\n"
    "  jobs [--all] [-n N] jobs in flight on this node; --all adds N recent finished\n"
    "  queue               counts by status, due, stuck, oldest pending, batch + ETA\n"
    "  job ID              one job: history, competitors, results\n"
    "  watch [--interval S] [--count N]   live view of actors and jobs\n"
    "  trigger             process every pending job now (POST /process-pending)\n"
    "  process ID          run one job now; cancel ID; retry ID (a failed job)\n"
    "  pause | resume      stop / restart claiming new jobs (in-flight ones finish)\n"
    "  help [COMMAND]      this text, or a command's\n"
    "\n"
    "options (before or after the command):\n"
    "  --socket PATH   control socket (default $VIRALSUP_RUN_DIR/control.sock, else\n"
    "                  var/run/control.sock)\n"
    "  --json          print the reply's data as JSON\n"
    "  --timeout S     seconds to wait for an answer (default 5)\n"
    "  --version       print the version\n"
    "\n"
    "exit codes: 0 ok, 1 failed, 2 usage, 3 supervisor not running, 4 permission\n"
    "            denied, 5 unknown actor, 6 timeout, 7 unknown job, 8 conflict\n"
    "            (wrong job state), 9 scheduler or database unavailable\n";

static const char *const command_help[][2] = {
    {"status", "usage: viralctl [--json] status\n"
               "Shows every actor: name, state, pid, uptime, restarts (total and within\n"
               "the intensity window), resident memory, in-flight work and the last exit;\n"
               "and the node id, the version and whether the database is reachable (as\n"
               "the scheduler sees it; \"unknown\" while no scheduler runs).\n"},
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
    {"jobs", "usage: viralctl [--json] jobs [--all] [-n N]\n"
             "Lists the jobs this node's scheduler holds right now (from its memory):\n"
             "id, primary username, run, step, progress, accounts fetched, attempts,\n"
             "the worker holding it, elapsed time and session. --all adds the N\n"
             "(default 20) most recently completed or failed jobs from the database,\n"
             "with their duration and error.\n"},
    {"queue", "usage: viralctl [--json] queue\n"
              "The queue in the database: jobs per status, pending jobs due now, stuck\n"
              "jobs (expired lease or dead owner), the age of the oldest pending job,\n"
              "and the current batch (id, done/total, estimated completion).\n"},
    {"job", "usage: viralctl [--json] job ID\n"
            "One job: its row, every status transition from the event log (time,\n"
            "actor, node, reason), its competitors with their fetch status, and its\n"
            "results (one per run). Exit 7 when no such job exists.\n"},
    {"watch", "usage: viralctl watch [--interval S] [--count N]\n"
              "Refreshes a view of the actors, the queue and the jobs in flight (with\n"
              "progress bars) every S seconds (default 1) until Ctrl-C, or N times.\n"
              "When stdout is not a terminal it prints plain lines instead, one per\n"
              "actor summary, queue summary and job, each starting with the time.\n"},
    {"trigger", "usage: viralctl [--json] trigger\n"
                "Starts a batch over every due pending job and every stuck one, exactly\n"
                "like POST /process-pending (joins the batch already running).\n"},
    {"process", "usage: viralctl process ID\n"
                "Runs one job now, out of turn (also in triggered mode and while paused).\n"
                "A failed or completed job starts again (a new run when completed).\n"},
    {"cancel", "usage: viralctl cancel ID\n"
               "Fails a pending, paused or processing job with \"cancelled by an\n"
               "administrator\"; its holder stops working on it. Exit 8 when it is\n"
               "already completed or failed.\n"},
    {"retry", "usage: viralctl retry ID\n"
              "Puts a failed job back to pending with its attempts reset. Exit 8 when\n"
              "the job is not failed.\n"},
    {"pause", "usage: viralctl pause\n"
              "The scheduler stops claiming new jobs; jobs in flight finish. Lasts until\n"
              "`viralctl resume` or a restart of the scheduler.\n"},
    {"resume", "usage: viralctl resume\n"
               "The scheduler claims jobs again.\n"},
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

static void print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (s)
		printf("%s\n", s);
	free(s);
}

static const char *jstr(json_t *o, const char *k, const char *def)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : def;
}

static long long jint(json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static void fmt_duration(double s, char *buf, size_t len)
{
	long t = (long)s;
	if (s < 10 && s >= 0)
		snprintf(buf, len, "%.1fs", s);
	else if (t < 60)
		snprintf(buf, len, "%lds", t);
	else if (t < 3600)
		snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
	else if (t < 86400)
		snprintf(buf, len, "%ldh%02ldm", t / 3600, t % 3600 / 60);
	else
		snprintf(buf, len, "%ldd%02ldh", t / 86400, t % 86400 / 3600);
}

/* A JSON number (or null) as a duration, "-" when null. */
static const char *jdur(json_t *o, const char *k, char *buf, size_t len)
{
	json_t *v = json_object_get(o, k);
	if (!json_is_number(v))
		return "-";
	fmt_duration(json_number_value(v), buf, len);
	return buf;
}

/* --- requests ----------------------------------------------------------------- */

struct request {
	const char *cmd;
	const char *name; /* actor */
	const char *id;   /* job */
	long n;           /* -1: not sent */
	uint64_t after;
	bool all;
};

/* The exit code for an error reply's code. */
static int code_exit(const char *ecode, const char *cmd)
{
	if (!strcmp(ecode, "unknown_actor"))
		return CTL_UNKNOWN_ACTOR;
	if (!strcmp(ecode, "timeout"))
		return CTL_TIMEOUT;
	if (!strcmp(ecode, "unknown_job"))
		return CTL_UNKNOWN_JOB;
	if (!strcmp(ecode, "conflict"))
		return CTL_CONFLICT;
	if (!strcmp(ecode, "unavailable"))
		return CTL_UNAVAILABLE;
	/* The supervisor does not know scheduler commands while none runs. */
	if (!strcmp(ecode, "unknown_command") &&
	    (!strcmp(cmd, "jobs") || !strcmp(cmd, "queue") || !strcmp(cmd, "job") ||
	     !strcmp(cmd, "trigger") || !strcmp(cmd, "process") || !strcmp(cmd, "cancel") ||
	     !strcmp(cmd, "retry") || !strcmp(cmd, "pause") || !strcmp(cmd, "resume") ||
	     !strcmp(cmd, "scheduler")))
		return CTL_UNAVAILABLE;
	return CTL_FAILED;
}

/* One round trip; on success *data gets the reply's data (caller decrefs). */
static int call(const struct request *rq, json_t **data)
{
	struct msg_out out;
	struct msg reply;
	msgpack_zone zone;
	char *payload = NULL;
	size_t plen = 0;
	int fd = -1, code;
	uint32_t nf = 2 + (rq->name ? 1 : 0) + (rq->id ? 1 : 0) + (rq->n >= 0 ? 1 : 0) +
	              (rq->after ? 1 : 0) + (rq->all ? 1 : 0);
	const char *why;

	*data = NULL;
	if ((code = ctl_connect(&fd)) != CTL_OK)
		return code;
	msg_out_init(&out, MSG_CONTROL, 0, nf);
	msg_put_int(&out, "v", CONTROL_VERSION);
	msg_put_str(&out, "cmd", rq->cmd);
	if (rq->name)
		msg_put_str(&out, "name", rq->name);
	if (rq->id)
		msg_put_str(&out, "id", rq->id);
	if (rq->n >= 0)
		msg_put_int(&out, "n", rq->n);
	if (rq->after)
		msg_put_int(&out, "after", (int64_t)rq->after);
	if (rq->all)
		msg_put_bool(&out, "all", true);
	code = ctl_exchange(fd, &out, &payload, &plen);
	msg_out_free(&out);
	close(fd);
	if (code != CTL_OK)
		return code;
	msgpack_zone_init(&zone, 4096);
	if (msg_decode(payload, plen, &zone, &reply, &why) < 0)
		code = fail(CTL_FAILED, "bad reply from the supervisor: %s", why);
	else if (reply.type != MSG_CONTROL_REPLY)
		code = fail(CTL_FAILED, "bad reply from the supervisor: %s",
		            msg_type_name(reply.type));
	else {
		bool ok = false;
		msg_get_bool(reply.body, "ok", &ok);
		if (!ok) {
			char err[512] = "unknown error", ecode[32] = "";
			msg_copy_str(reply.body, "error", err, sizeof err);
			msg_copy_str(reply.body, "code", ecode, sizeof ecode);
			code = fail(code_exit(ecode, rq->cmd), "%s", err);
		} else {
			const msgpack_object *d = msg_field(reply.body, "data");
			*data = d ? msg_to_json(d) : json_null();
		}
	}
	msgpack_zone_destroy(&zone);
	free(payload);
	return code;
}

/* --- status ----------------------------------------------------------------- */

/* Adds the scheduler's view to a status: {scheduler} and each child's inflight. */
static void status_merge(json_t *st)
{
	struct request rq = {.cmd = "scheduler", .n = -1};
	json_t *sch = NULL, *c, *w;
	size_t i, k;
	bool was = quiet;

	quiet = true;
	call(&rq, &sch);
	quiet = was;
	if (!json_is_object(sch)) {
		json_decref(sch);
		sch = json_null();
	}
	json_object_set_new(st, "database",
	                    json_string(!json_is_object(sch) ? "unknown"
	                                : json_is_true(json_object_get(sch, "database_up"))
	                                    ? "up"
	                                    : "down"));
	json_array_foreach(json_object_get(st, "children"), i, c)
	{
		json_t *v = json_null();
		const char *name = jstr(c, "name", "");
		if (json_is_object(sch) && !strcmp(jstr(c, "role", ""), "scheduler"))
			v = json_incref(json_object_get(sch, "jobs_inflight"));
		json_array_foreach(json_object_get(sch, "workers"), k,
		                   w) if (!strcmp(jstr(w, "name", ""), name))
		{
			json_decref(v);
			v = json_incref(json_object_get(w, "inflight"));
		}
		json_object_set_new(c, "inflight", v ? v : json_null());
	}
	json_object_set_new(st, "scheduler", sch);
}

static void print_status(json_t *j)
{
	json_t *children = json_object_get(j, "children"), *c,
	       *sch = json_object_get(j, "scheduler");
	size_t i;
	char up[32];

	printf("viralsup %s on %s, pid %lld, run dir %s\n", jstr(j, "version", "?"),
	       jstr(j, "node", "?"), jint(j, "pid"), jstr(j, "run_dir", "?"));
	if (json_is_object(sch))
		printf("database %s, scheduler owner %lld, %s%s, %lld jobs in flight\n",
		       jstr(j, "database", "?"), jint(sch, "owner"), jstr(sch, "processing", "?"),
		       json_is_true(json_object_get(sch, "paused")) ? " (claiming PAUSED)" : "",
		       jint(sch, "jobs_inflight"));
	else
		printf("database unknown (no scheduler running)\n");
	printf("%-14s %-12s %8s %9s %10s %8s %8s  %s\n", "NAME", "STATE", "PID", "UPTIME",
	       "RESTARTS", "RSS", "INFLIGHT", "LAST EXIT");
	json_array_foreach(children, i, c)
	{
		json_t *pid = json_object_get(c, "pid"), *rss = json_object_get(c, "rss_kb");
		json_t *last = json_object_get(c, "last_exit"),
		       *inf = json_object_get(c, "inflight");
		char pidbuf[16] = "-", rssbuf[16] = "-", rst[32], lastbuf[96] = "-",
		     infbuf[16] = "-";
		if (json_is_integer(pid))
			snprintf(pidbuf, sizeof pidbuf, "%lld", (long long)json_integer_value(pid));
		if (json_is_integer(rss))
			snprintf(rssbuf, sizeof rssbuf, "%.1fM", json_integer_value(rss) / 1024.0);
		if (json_is_integer(inf))
			snprintf(infbuf, sizeof infbuf, "%lld", (long long)json_integer_value(inf));
		if (json_is_integer(pid))
			fmt_duration(json_real_value(json_object_get(c, "uptime_s")), up,
			             sizeof up);
		else
			strcpy(up, "-");
		snprintf(rst, sizeof rst, "%lld/%lld", jint(c, "restarts_total"),
		         jint(c, "restarts_in_window"));
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
		printf("%-14s %-12s %8s %9s %10s %8s %8s  %s\n", jstr(c, "name", "?"),
		       jstr(c, "state", "?"), pidbuf, up, rst, rssbuf, infbuf, lastbuf);
	}
}

static void print_actor_result(const char *cmd, json_t *j)
{
	json_t *c;
	size_t i;
	json_array_foreach(json_object_get(j, "children"), i, c)
	{
		if (!strcmp(cmd, "kill"))
			printf("%s: killed pid %lld\n", jstr(c, "name", "?"),
			       jint(c, "killed_pid"));
		else
			printf("%s: %s (%s)\n", jstr(c, "name", "?"), cmd, jstr(c, "state", "?"));
	}
}

/* Prints the lines; returns the reply's last_seq. */
static uint64_t print_logs(json_t *j)
{
	json_t *l;
	size_t i;
	json_array_foreach(json_object_get(j, "lines"), i, l) if (json_is_string(l))
	    printf("%s\n", json_string_value(l));
	fflush(stdout);
	return (uint64_t)jint(j, "last_seq");
}

/* --- jobs ---------------------------------------------------------------------- */

static void print_jobs(json_t *j)
{
	json_t *jobs = json_object_get(j, "jobs"), *x, *recent = json_object_get(j, "recent");
	size_t i;
	char el[32], acc[32];

	printf("node %s, scheduler owner %lld, %zu in flight%s\n", jstr(j, "node", "?"),
	       jint(j, "owner"), json_array_size(jobs),
	       json_is_true(json_object_get(j, "paused")) ? ", claiming PAUSED" : "");
	if (json_array_size(jobs) > 0)
		printf("%-36s  %-20s %3s  %-9s %4s %5s %3s  %-12s %8s  %s\n", "ID", "PRIMARY",
		       "RUN", "STEP", "PROG", "ACCTS", "ATT", "HOLDER", "ELAPSED", "SESSION");
	json_array_foreach(jobs, i, x)
	{
		json_t *a = json_object_get(x, "accounts");
		snprintf(acc, sizeof acc, "%lld/%lld", jint(a, "done"), jint(a, "total"));
		printf("%-36s  %-20s %3lld  %-9s %3lld%% %5s %3lld  %-12s %8s  %s\n",
		       jstr(x, "id", "?"), jstr(x, "primary", "?"), jint(x, "run"),
		       jstr(x, "step", "?"), jint(x, "progress"), acc, jint(x, "attempts"),
		       jstr(x, "holder", "-"), jdur(x, "elapsed_s", el, sizeof el),
		       jstr(x, "session", ""));
	}
	if (!json_is_array(recent))
		return;
	printf("\nrecently finished (%zu)\n", json_array_size(recent));
	if (json_array_size(recent) > 0)
		printf("%-36s  %-20s %-9s %4s %8s  %-20s  %s\n", "ID", "PRIMARY", "STATUS", "RUNS",
		       "DURATION", "FINISHED", "ERROR");
	json_array_foreach(recent, i, x)
	{
		printf("%-36s  %-20s %-9s %4lld %8s  %-20s  %s\n", jstr(x, "id", "?"),
		       jstr(x, "primary", "?"), jstr(x, "status", "?"), jint(x, "runs"),
		       jdur(x, "duration_s", el, sizeof el), jstr(x, "finished_at", "-"),
		       jstr(x, "error", ""));
	}
}

/* One line: the batch's id, done/total and ETA; "" when there is none. */
static void batch_line(json_t *b, char *buf, size_t len)
{
	char eta[32];
	buf[0] = '\0';
	if (!json_is_object(b))
		return;
	snprintf(buf, len, "batch %s (%s): %lld/%lld done, %lld failed, ETA %s%s%s",
	         jstr(b, "id", "?"), jstr(b, "source", "?"),
	         jint(b, "completed") + jint(b, "failed"), jint(b, "total"), jint(b, "failed"),
	         jint(b, "remaining") > 0 ? jdur(b, "eta_s", eta, sizeof eta) : "done",
	         jint(b, "remaining") > 0 ? " at " : "",
	         jint(b, "remaining") > 0 ? jstr(b, "eta", "?") : "");
}

static void print_queue(json_t *q)
{
	json_t *c = json_object_get(q, "counts");
	char age[32], line[256];
	printf("pending %lld (due now %lld), processing %lld, completed %lld, failed %lld, "
	       "paused %lld, total %lld\n",
	       jint(c, "pending"), jint(q, "due"), jint(c, "processing"), jint(c, "completed"),
	       jint(c, "failed"), jint(c, "paused"), jint(c, "total"));
	printf("stuck %lld, oldest pending %s, mean job %s\n", jint(q, "stuck"),
	       jdur(q, "oldest_pending_s", age, sizeof age),
	       jdur(q, "avg_job_s", line, sizeof line));
	batch_line(json_object_get(q, "batch"), line, sizeof line);
	printf("%s\n", line[0] ? line : "no batch running");
	printf("node %s: %s, concurrency %lld, %lld in flight here%s\n", jstr(q, "node", "?"),
	       jstr(q, "processing", "?"), jint(q, "concurrency"), jint(q, "inflight_here"),
	       json_is_true(json_object_get(q, "paused")) ? ", claiming PAUSED" : "");
}

static void print_job(json_t *d)
{
	json_t *j = json_object_get(d, "job"), *x, *inf = json_object_get(d, "inflight");
	size_t i;

	if (json_is_object(j)) {
		printf("job %s  session %s  primary @%s\n", jstr(j, "id", "?"),
		       jstr(j, "session", "?"), jstr(j, "primary", "?"));
		printf("status %s, progress %lld%%, step \"%s\", attempts %lld/%lld, rescues %lld, "
		       "runs %lld, priority %lld\n",
		       jstr(j, "status", "?"), jint(j, "progress"), jstr(j, "step", ""),
		       jint(j, "attempts"), jint(j, "max_attempts"), jint(j, "rescues"),
		       jint(j, "runs"), jint(j, "priority"));
		printf("submitted %s, started %s, completed %s\n", jstr(j, "submitted_at", "-"),
		       jstr(j, "started_at", "-"), jstr(j, "completed_at", "-"));
		if (json_is_integer(json_object_get(j, "lease_owner")))
			printf("lease: owner %lld on %s, expires %s\n", jint(j, "lease_owner"),
			       jstr(j, "lease_node", "?"), jstr(j, "lease_expires_at", "-"));
		if (json_is_string(json_object_get(j, "next_attempt_at")))
			printf("next attempt %s\n", jstr(j, "next_attempt_at", ""));
		if (json_is_string(json_object_get(j, "error")))
			printf("error: %s\n", jstr(j, "error", ""));
		else if (json_is_string(json_object_get(j, "last_error")))
			printf("last error: %s\n", jstr(j, "last_error", ""));
	} else {
		printf("job deleted; its history:\n");
	}
	if (json_is_object(inf)) {
		printf("\nin flight here: %s (%lld%%), holder %s, elapsed %.1fs\n",
		       jstr(inf, "step_text", "?"), jint(inf, "progress"), jstr(inf, "holder", "-"),
		       json_number_value(json_object_get(inf, "elapsed_s")));
		json_array_foreach(json_object_get(inf, "account_states"), i, x)
		    printf("  @%-24s %-10s %s\n", jstr(x, "username", "?"), jstr(x, "role", ""),
		           jstr(x, "state", "?"));
	}
	printf("\nevents (%zu)\n", json_array_size(json_object_get(d, "events")));
	printf("%-24s  %-10s  %-10s  %-24s %-12s %3s  %s\n", "AT", "FROM", "TO", "ACTOR", "NODE",
	       "ATT", "REASON");
	json_array_foreach(json_object_get(d, "events"), i, x)
	{
		char att[16] = "-";
		if (json_is_integer(json_object_get(x, "attempt")))
			snprintf(att, sizeof att, "%lld", jint(x, "attempt"));
		printf("%-24s  %-10s  %-10s  %-24s %-12s %3s  %s\n", jstr(x, "at", "?"),
		       jstr(x, "from", "-"), jstr(x, "to", "?"), jstr(x, "actor", "-"),
		       jstr(x, "node", "-"), att, jstr(x, "reason", ""));
	}
	printf("\ncompetitors (%zu)\n", json_array_size(json_object_get(d, "competitors")));
	json_array_foreach(json_object_get(d, "competitors"), i, x)
	{
		printf("  @%-24s %-10s %s%s%s\n", jstr(x, "username", "?"), jstr(x, "status", "?"),
		       json_is_false(json_object_get(x, "active")) ? "(removed) " : "",
		       jstr(x, "processed_at", ""),
		       json_is_string(json_object_get(x, "error")) ? "  error: " : "");
		if (json_is_string(json_object_get(x, "error")))
			printf("      %s\n", jstr(x, "error", ""));
	}
	printf("\nresults (%zu)\n", json_array_size(json_object_get(d, "results")));
	json_array_foreach(json_object_get(d, "results"), i, x)
	{
		printf("  run %lld %-9s %-10s reels %lld (primary %lld, competitors %lld), "
		       "transcripts %lld, selected %lld, scripts %lld, completed %s\n",
		       jint(x, "run"), jstr(x, "type", "?"), jstr(x, "status", "?"),
		       jint(x, "reels"), jint(x, "primary_reels"), jint(x, "competitor_reels"),
		       jint(x, "transcripts"), jint(x, "selected_reels"), jint(x, "scripts"),
		       jstr(x, "completed_at", "-"));
		/* The llm engine's record (analysis_data.engine); the rules engine has none. */
		json_t *e = json_object_get(x, "engine");
		if (json_is_object(e))
			printf("      engine %s (requested %s), model %s, prompt %s, %lld calls, "
			       "tokens %lld prompt + %lld completion, %lld cache hits\n",
			       jstr(e, "used", "?"), jstr(e, "requested", "?"),
			       jstr(e, "model", "?"), jstr(e, "prompt_version", "?"),
			       jint(e, "calls"), jint(e, "prompt_tokens"),
			       jint(e, "completion_tokens"), jint(e, "cache_hits"));
	}
}

static void print_action(const char *cmd, json_t *d)
{
	if (!strcmp(cmd, "trigger")) {
		printf("%s", jstr(d, "status", "?"));
		if (json_is_string(json_object_get(d, "batch_id")))
			printf(": batch %s, %lld jobs (%lld pending, %lld stuck), %lld completed, "
			       "%lld failed, estimated completion %s",
			       jstr(d, "batch_id", "?"), jint(d, "total_jobs"),
			       jint(d, "pending_count"), jint(d, "stuck_count"),
			       jint(d, "completed_jobs"), jint(d, "failed_jobs"),
			       jstr(d, "estimated_completion_time", "?"));
		printf("\n");
	} else if (!strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		printf("claiming %s (was %s), %lld jobs in flight\n",
		       json_is_true(json_object_get(d, "paused")) ? "paused" : "running",
		       json_is_true(json_object_get(d, "was_paused")) ? "paused" : "running",
		       jint(d, "jobs_inflight"));
	} else {
		printf("%s: %s (was %s)\n", jstr(d, "job_id", "?"), jstr(d, "status", "?"),
		       jstr(d, "previous_status", "?"));
	}
}

/* --- watch --------------------------------------------------------------------- */

static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Sleeps s seconds unless Ctrl-C comes first. */
static void pause_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
	while (!interrupted && nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void progress_bar(long long pct, char *buf, int width)
{
	int fill = (int)(pct < 0 ? 0 : pct > 100 ? width : pct * width / 100);
	for (int i = 0; i < width; i++)
		buf[i] = i < fill ? '#' : '.';
	buf[width] = '\0';
}

/* One frame from a status (merged), the jobs, the queue (may be NULL). */
static void watch_frame(json_t *st, json_t *jobs, json_t *q, bool tty)
{
	char now[32], line[256], el[32], bar[41];
	time_t t = time(NULL);
	struct tm tm;
	json_t *c, *x;
	size_t i;
	int ready = 0, n = (int)json_array_size(json_object_get(st, "children"));

	localtime_r(&t, &tm);
	strftime(now, sizeof now, "%H:%M:%S", &tm);
	json_array_foreach(json_object_get(st, "children"), i, c) ready +=
	    !strcmp(jstr(c, "state", ""), "ready");
	if (tty) {
		struct winsize ws = {0};
		int cols = ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
		int bw = cols >= 120 ? 40 : cols >= 100 ? 30 : 20;
		fputs("\033[H\033[2J", stdout);
		printf("viralctl watch  %s  node %s  database %s  (Ctrl-C to quit)\n\n", now,
		       jstr(st, "node", "?"), jstr(st, "database", "?"));
		printf("%-14s %-12s %8s %9s %8s %8s\n", "ACTOR", "STATE", "PID", "UPTIME",
		       "INFLIGHT", "RSS");
		json_array_foreach(json_object_get(st, "children"), i, c)
		{
			char pid[16] = "-", inf[16] = "-", rss[16] = "-", up[32] = "-";
			if (json_is_integer(json_object_get(c, "pid"))) {
				snprintf(pid, sizeof pid, "%lld", jint(c, "pid"));
				fmt_duration(json_number_value(json_object_get(c, "uptime_s")), up,
				             sizeof up);
			}
			if (json_is_integer(json_object_get(c, "inflight")))
				snprintf(inf, sizeof inf, "%lld", jint(c, "inflight"));
			if (json_is_integer(json_object_get(c, "rss_kb")))
				snprintf(rss, sizeof rss, "%.1fM", jint(c, "rss_kb") / 1024.0);
			printf("%-14s %-12s %8s %9s %8s %8s\n", jstr(c, "name", "?"),
			       jstr(c, "state", "?"), pid, up, inf, rss);
		}
		if (json_is_object(q)) {
			json_t *k = json_object_get(q, "counts");
			printf("\nqueue: pending %lld (due %lld), processing %lld, completed %lld, "
			       "failed %lld, stuck %lld%s\n",
			       jint(k, "pending"), jint(q, "due"), jint(k, "processing"),
			       jint(k, "completed"), jint(k, "failed"), jint(q, "stuck"),
			       json_is_true(json_object_get(q, "paused")) ? "  [claiming PAUSED]"
			                                                  : "");
			batch_line(json_object_get(q, "batch"), line, sizeof line);
			if (line[0])
				printf("%s\n", line);
		}
		printf("\njobs in flight: %zu\n", json_array_size(json_object_get(jobs, "jobs")));
		json_array_foreach(json_object_get(jobs, "jobs"), i, x)
		{
			progress_bar(jint(x, "progress"), bar, bw);
			printf("%.8s @%-18.18s [%s] %3lld%%  %-9s %-12s %7s\n", jstr(x, "id", "?"),
			       jstr(x, "primary", "?"), bar, jint(x, "progress"),
			       jstr(x, "step", "?"), jstr(x, "holder", "-"),
			       jdur(x, "elapsed_s", el, sizeof el));
		}
	} else {
		/* Plain lines for logs and pipes: one fact per line, time first. */
		printf("%s actors ready=%d/%d database=%s\n", now, ready, n,
		       jstr(st, "database", "?"));
		if (json_is_object(q)) {
			json_t *k = json_object_get(q, "counts");
			printf("%s queue pending=%lld due=%lld processing=%lld completed=%lld "
			       "failed=%lld stuck=%lld paused=%s\n",
			       now, jint(k, "pending"), jint(q, "due"), jint(k, "processing"),
			       jint(k, "completed"), jint(k, "failed"), jint(q, "stuck"),
			       json_is_true(json_object_get(q, "paused")) ? "yes" : "no");
		}
		json_array_foreach(json_object_get(jobs, "jobs"), i, x)
		{
			printf("%s job %s primary=%s step=%s progress=%lld holder=%s elapsed=%s\n",
			       now, jstr(x, "id", "?"), jstr(x, "primary", "?"),
			       jstr(x, "step", "?"), jint(x, "progress"), jstr(x, "holder", "-"),
			       jdur(x, "elapsed_s", el, sizeof el));
		}
	}
	fflush(stdout);
}

static int watch(double interval, long count)
{
	bool tty = isatty(1);
	int code = CTL_OK;

	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);
	for (long k = 0; !interrupted && (count <= 0 || k < count); k++) {
		struct request rs = {.cmd = "status", .n = -1}, rj = {.cmd = "jobs", .n = -1},
		               rq = {.cmd = "queue", .n = -1};
		json_t *st = NULL, *jobs = NULL, *q = NULL;
		if (k > 0)
			pause_s(interval);
		if (interrupted)
			break;
		if ((code = call(&rs, &st)) != CTL_OK)
			return code; /* the supervisor went away: say so and stop */
		status_merge(st);
		quiet = true;
		call(&rj, &jobs);
		call(&rq, &q);
		quiet = false;
		if (json_out) {
			json_t *f = json_pack("{s:I, s:O, s:O, s:O}", "at", (json_int_t)time(NULL),
			                      "status", st, "jobs", jobs ? jobs : json_null(),
			                      "queue", q ? q : json_null());
			char *s = json_dumps(f, JSON_COMPACT | JSON_SORT_KEYS);
			printf("%s\n", s ? s : "null");
			fflush(stdout);
			free(s);
			json_decref(f);
		} else {
			watch_frame(st, jobs, q, tty);
		}
		json_decref(st);
		json_decref(jobs);
		json_decref(q);
	}
	return code;
}

/* --- commands --------------------------------------------------------------- */

static int command(struct request *rq, bool follow)
{
	json_t *d = NULL;
	int code = call(rq, &d);

	if (code == CTL_OK && !strcmp(rq->cmd, "status"))
		status_merge(d);
	if (code == CTL_OK) {
		const char *c = rq->cmd;
		if (json_out)
			print_json(d);
		else if (!strcmp(c, "status"))
			print_status(d);
		else if (!strcmp(c, "logs"))
			rq->after = print_logs(d);
		else if (!strcmp(c, "jobs"))
			print_jobs(d);
		else if (!strcmp(c, "queue"))
			print_queue(d);
		else if (!strcmp(c, "job"))
			print_job(d);
		else if (!strcmp(c, "trigger") || !strcmp(c, "process") || !strcmp(c, "cancel") ||
		         !strcmp(c, "retry") || !strcmp(c, "pause") || !strcmp(c, "resume"))
			print_action(c, d);
		else if (json_is_object(d) && json_object_get(d, "children"))
			print_actor_result(c, d);
		else if (!json_is_null(d))
			print_json(d);
	}
	json_decref(d);
	if (code != CTL_OK || !follow)
		return code;

	/* logs -f: ask for what came after the last line seen. */
	signal(SIGINT, on_sigint);
	rq->n = 10000;
	while (!interrupted) {
		pause_s(0.3);
		if (interrupted)
			break;
		if ((code = call(rq, &d)) != CTL_OK)
			return code;
		if (json_out)
			print_json(d);
		else
			rq->after = print_logs(d);
		if (json_out)
			rq->after = (uint64_t)jint(d, "last_seq");
		json_decref(d);
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

static bool job_id_ok(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && n <= 64;
}

int main(int argc, char **argv)
{
	static char default_path[4096];
	const char *env = getenv("VIRALSUP_RUN_DIR");
	const char *cmd = NULL;
	const char *args[64];
	int nargs = 0;
	bool want_help = false;

	/* Global options anywhere; the first other word is the command. */
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--socket") && i + 1 < argc)
			socket_path = argv[++i];
		else if (!strcmp(a, "--json"))
			json_out = true;
		else if (!strcmp(a, "--timeout") && i + 1 < argc) {
			char *end;
			timeout_s = strtod(argv[++i], &end);
			if (*end || !(timeout_s > 0) || timeout_s > 86400)
				return fail(CTL_USAGE,
				            "--timeout wants a positive number of seconds");
		} else if (!strcmp(a, "--version")) {
			printf("viralctl %s (control protocol v%d)\n", VIRALSUP_VERSION,
			       CONTROL_VERSION);
			return CTL_OK;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			want_help = true;
		} else if (!cmd && a[0] != '-') {
			cmd = a;
		} else if (cmd) {
			if (nargs == (int)(sizeof args / sizeof args[0]))
				return fail(CTL_USAGE, "too many arguments");
			args[nargs++] = a;
		} else {
			fputs(usage_text, stderr);
			return fail(CTL_USAGE, "unknown option %s", a);
		}
	}
	if (want_help || (cmd && !strcmp(cmd, "help")))
		return help(cmd && strcmp(cmd, "help") ? cmd : nargs > 0 ? args[0] : "");
	if (!cmd) {
		fputs(usage_text, stderr);
		return CTL_USAGE;
	}
	if (!socket_path) {
		snprintf(default_path, sizeof default_path, "%.4000s/control.sock",
		         env && *env ? env : "var/run");
		socket_path = default_path;
	}

	struct request rq = {.cmd = cmd, .n = -1};
	bool follow = false;
	char *end;

	if (!strcmp(cmd, "status") || !strcmp(cmd, "queue") || !strcmp(cmd, "trigger") ||
	    !strcmp(cmd, "pause") || !strcmp(cmd, "resume")) {
		if (nargs != 0)
			return fail(CTL_USAGE, "%s takes no arguments", cmd);
	} else if (!strcmp(cmd, "restart") || !strcmp(cmd, "stop") || !strcmp(cmd, "start") ||
	           !strcmp(cmd, "kill")) {
		if (nargs != 1 || args[0][0] == '-')
			return fail(CTL_USAGE, "usage: viralctl %s NAME", cmd);
		rq.name = args[0];
	} else if (!strcmp(cmd, "job") || !strcmp(cmd, "process") || !strcmp(cmd, "cancel") ||
	           !strcmp(cmd, "retry")) {
		if (nargs != 1 || args[0][0] == '-' || !job_id_ok(args[0]))
			return fail(CTL_USAGE, "usage: viralctl %s ID", cmd);
		rq.id = args[0];
	} else if (!strcmp(cmd, "jobs")) {
		for (int k = 0; k < nargs; k++) {
			if (!strcmp(args[k], "--all") || !strcmp(args[k], "-a"))
				rq.all = true;
			else if (!strcmp(args[k], "-n") && k + 1 < nargs) {
				rq.n = strtol(args[++k], &end, 10);
				if (*end || rq.n < 0 || rq.n > 1000)
					return fail(CTL_USAGE,
					            "-n wants a number of jobs (0-1000)");
			} else
				return fail(CTL_USAGE, "usage: viralctl jobs [--all] [-n N]");
		}
	} else if (!strcmp(cmd, "watch")) {
		double interval = 1.0;
		long count = 0;
		for (int k = 0; k < nargs; k++) {
			if (!strcmp(args[k], "--interval") && k + 1 < nargs) {
				interval = strtod(args[++k], &end);
				if (*end || !(interval >= 0.05) || interval > 3600)
					return fail(CTL_USAGE,
					            "--interval wants seconds (0.05-3600)");
			} else if ((!strcmp(args[k], "--count") || !strcmp(args[k], "-c")) &&
			           k + 1 < nargs) {
				count = strtol(args[++k], &end, 10);
				if (*end || count < 1)
					return fail(CTL_USAGE, "--count wants a positive number");
			} else
				return fail(CTL_USAGE,
				            "usage: viralctl watch [--interval S] [--count N]");
		}
		return watch(interval, count);
	} else if (!strcmp(cmd, "logs")) {
		for (int k = 0; k < nargs; k++) {
			if (!strcmp(args[k], "-f"))
				follow = true;
			else if (!strcmp(args[k], "-n") && k + 1 < nargs) {
				rq.n = strtol(args[++k], &end, 10);
				if (*end || rq.n < 0)
					return fail(CTL_USAGE, "-n wants a number of lines");
			} else if (!rq.name && args[k][0] != '-')
				rq.name = args[k];
			else
				return fail(CTL_USAGE, "usage: viralctl logs [NAME] [-n N] [-f]");
		}
	} else {
		/* Not known here: the supervisor forwards it to the scheduler. */
		if (nargs > 1)
			return fail(CTL_USAGE, "too many arguments for %s", cmd);
		if (nargs == 1)
			rq.name = args[0];
	}
	return command(&rq, follow);
}
