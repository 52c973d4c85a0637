/*
 * viralsup-gateway: the HTTP API actor. Sets up the listening socket,
 * the database pool and the link to the scheduler, then serves until
 * told to stop. See docs/API.md.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "actors/gateway/gateway.h"
#include "ipc/actor.h"
#include "ipc/config.h"
#include "ipc/conn.h"
#include "ipc/log.h"
#include "sql/pg.h"

/* An environment secret, or NULL when unset or empty (copied). */
static char *env_secret(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? xstrdup(v) : NULL;
}

/* Listens on "host:port" ("[v6]:port"); port 0 picks a free one. Returns
 * the fd or -errno, and the bound address in bound. */
static int listen_on(const char *addr, char *bound, size_t boundlen)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host)
		return -EINVAL;
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	char *h = host;
	if (*h == '[' && h[strlen(h) - 1] == ']') {
		h[strlen(h) - 1] = '\0';
		h++;
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	if (getaddrinfo(*h ? h : NULL, colon + 1, &hints, &ai) != 0)
		return -EINVAL;
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err = 0;
	if (fd < 0) {
		err = -errno;
	} else {
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
			err = -errno;
			close(fd);
		}
	}
	freeaddrinfo(ai);
	if (err)
		return err;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	char ip[64] = "?";
	int port = 0;
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	if (ss.ss_family == AF_INET) {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, sizeof ip);
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		snprintf(bound, boundlen, "%s:%d", ip, port);
	} else {
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, sizeof ip);
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		snprintf(bound, boundlen, "[%s]:%d", ip, port);
	}
	return fd;
}

static void sched_up(struct link *l, struct conn *c, void *ud)
{
	(void)l;
	(void)c;
	struct gateway *gw = ud;
	gw->sched_up = gw->sched_linked = true;
	log_info("scheduler link up");
}

static void on_sched_pong(struct conn *c, const struct msg *reply, int err, void *arg)
{
	struct gateway *gw = arg;
	(void)c;
	(void)reply;
	gw->sched_probing = false;
	if (err == -ECONNRESET || !gw->sched_linked)
		return;
	if (err == 0 && !gw->sched_up)
		log_info("scheduler answers again");
	else if (err && gw->sched_up)
		log_warn("scheduler does not answer: not ready until it does");
	gw->sched_up = err == 0;
}

/* A connected scheduler is up only while it answers: a stopped one keeps
 * its socket open, and /readyz must not say ready for it. */
static void on_sched_probe(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct gateway *gw = w->data;
	struct conn *c = gw->sched ? link_conn(gw->sched) : NULL;
	struct msg_out out;
	(void)loop;
	(void)revents;
	if (!c || gw->sched_probing)
		return;
	msg_out_init(&out, MSG_PING, 0, 0);
	if (conn_request(c, &out, 1.0, on_sched_pong, gw) == 0)
		gw->sched_probing = true;
	msg_out_free(&out);
}

static void sched_msg(struct link *l, struct conn *c, const struct msg *m, void *ud)
{
	(void)l;
	(void)c;
	(void)ud;
	log_debug("unexpected %s from the scheduler", msg_type_name(m->type));
}

static void sched_down(struct link *l, const char *reason, void *ud)
{
	(void)l;
	struct gateway *gw = ud;
	if (gw->sched_linked)
		log_warn("scheduler link down: %s", reason);
	gw->sched_up = gw->sched_linked = false;
}

static void on_peer(struct actor *a, const char *name, const char *role, int index, int pid,
                    bool up, const char *reason)
{
	struct gateway *gw = a->ud;
	(void)name;
	(void)role;
	(void)index;
	(void)pid;
	if (up)
		return;
	gw->actor_exits++;
	if (!strncmp(reason, "hung", 4))
		gw->actor_hangs++;
}

static void pg_state(struct pg *pg, bool up, const char *why, void *arg)
{
	(void)pg;
	(void)arg;
	if (up)
		log_info("database connection up");
	else
		log_warn("database connection down: %s", why ? why : "?");
}

/* The HTTP layer's own error answers carry the same CORS headers as ours. */
static void cors_for_http_errors(const struct http_request *req, char *buf, size_t len, void *ud)
{
	edge_cors_headers(ud, req, buf, len);
}

int main(int argc, char **argv)
{
	struct actor a;
	static struct gateway gw;
	actor_init(&a, "gateway", argc, argv);
	gw.a = &a;
	gw.loop = a.loop;
	gw.admin_token = env_secret("ADMIN_API_TOKEN");
	gw.api_token = env_secret("VIRALSUP_API_TOKEN");
	gw.allowed_ips = env_secret("ADMIN_ALLOWED_IPS");
	gw.fail_per_client = (int)config_int(a.config, "http.admin_rate_per_min");
	gw.fail_per_prefix = (int)config_int(a.config, "http.auth_fail_per_prefix_per_min");
	gw.fail_global = (int)config_int(a.config, "http.auth_fail_global_per_min");
	const char *cors = config_str(a.config, "http.cors_origins");
	const char *proxies = config_str(a.config, "http.trusted_proxies");
	char why[256], bad[96];
	int bad_config = edge_config_check(cors, proxies, why, sizeof why);
	if (!bad_config && gw.allowed_ips && !addr_list_valid(gw.allowed_ips, bad, sizeof bad)) {
		snprintf(why, sizeof why, "ADMIN_ALLOWED_IPS: not an address or CIDR: \"%s\"", bad);
		bad_config = -EINVAL;
	}
	if (bad_config) {
		log_error("%s", why);
		free(gw.admin_token);
		free(gw.api_token);
		free(gw.allowed_ips);
		actor_cleanup(&a);
		return EXIT_PERMANENT;
	}
	gw.cors_origins = *cors ? xstrdup(cors) : NULL;
	gw.trusted_proxies = *proxies ? xstrdup(proxies) : NULL;
	/* Failed tries are limited, not impossible (a correct token is never
	 * refused for others' failures): the token's length is what makes
	 * guessing hopeless. */
	if (gw.admin_token && strlen(gw.admin_token) < 32)
		log_warn("ADMIN_API_TOKEN is shorter than 32 characters: use a random one "
		         "(e.g. openssl rand -hex 32)");
	gw.action_timeout = (double)config_int(a.config, "http.action_timeout_ms") / 1000.;
	if (!gw.admin_token)
		log_warn("ADMIN_API_TOKEN is not set: admin endpoints answer 503");

	/* The supervisor may hand over a listening socket so that a restart
	 * of the gateway loses no queued connection. */
	char bound[128] = "";
	int lfd;
	const char *fdenv = getenv("VIRALSUP_HTTP_LISTEN_FD");
	if (fdenv && *fdenv) {
		lfd = atoi(fdenv);
		fcntl(lfd, F_SETFL, fcntl(lfd, F_GETFL) | O_NONBLOCK);
		snprintf(bound, sizeof bound, "fd %d", lfd);
	} else {
		const char *addr = config_str(a.config, "http.addr");
		lfd = listen_on(addr, bound, sizeof bound);
		if (lfd < 0) {
			log_error("cannot listen on %s: %s", addr, strerror(-lfd));
			return lfd == -EINVAL ? EXIT_PERMANENT : EXIT_TEMPORARY;
		}
	}
	/* Tests and tools find the port here when http.addr asked for port 0. */
	char *addr_file = xasprintf("%s/gateway.http", a.run_dir);
	FILE *f = fopen(addr_file, "w");
	if (f) {
		fprintf(f, "%s\n", bound);
		fclose(f);
	}
	free(addr_file);

	const char *url = config_str(a.config, "database.url");
	if (*url) {
		for (int i = 0; i < GW_PG_POOL; i++) {
			struct pg_config pc = {.conninfo = url,
			                       .application_name = "viralsup-gateway",
			                       .statement_timeout_ms = 5000,
			                       .reconnect_min_ms = 50,
			                       .reconnect_max_ms = 2000,
			                       .max_pending = 1000,
			                       .on_state = i == 0 ? pg_state : NULL,
			                       .arg = &gw};
			gw.pg[i] = pg_new(a.loop, &pc);
		}
	} else {
		log_warn("database.url (DATABASE_URL) is empty: data endpoints answer 503");
	}

	static const struct link_ops lops = {sched_up, sched_msg, sched_down};
	char *sock = actor_socket_path(&a, "scheduler");
	gw.sched = link_new(a.loop, sock, "scheduler", &lops, &gw);
	free(sock);
	ev_timer_init(&gw.sched_probe, on_sched_probe, 0.5, 0.5);
	gw.sched_probe.data = &gw;
	ev_timer_start(a.loop, &gw.sched_probe);

	struct http_limits lim = {
	    .max_connections = (int)config_int(a.config, "http.max_connections"),
	    .header_timeout = (double)config_int(a.config, "http.header_timeout_ms") / 1000.,
	    .body_timeout = (double)config_int(a.config, "http.body_timeout_ms") / 1000.,
	    .idle_timeout = (double)config_int(a.config, "http.idle_timeout_ms") / 1000.,
	    .max_per_addr = (int)config_int(a.config, "http.max_connections_per_addr"),
	};
	gw.http = http_server_new(a.loop, lfd, &lim, routes_handle, &gw);
	http_server_set_error_headers(gw.http, cors_for_http_errors, &gw);
	log_info("listening on http://%s (max %d connections, %d per client)%s%s", bound,
	         lim.max_connections, lim.max_per_addr, gw.cors_origins ? "; CORS for " : "",
	         gw.cors_origins ? gw.cors_origins : "");

	a.ud = &gw;
	a.on_peer = on_peer;
	actor_ready(&a);
	int code = actor_run(&a);

	http_server_free(gw.http);
	close(lfd);
	link_free(gw.sched);
	for (int i = 0; i < GW_PG_POOL; i++)
		if (gw.pg[i])
			pg_free(gw.pg[i]);
	free(gw.admin_token);
	free(gw.api_token);
	free(gw.allowed_ips);
	free(gw.cors_origins);
	free(gw.trusted_proxies);
	actor_cleanup(&a);
	return code;
}
