/*
 * bare_http [--port N]: the ceiling for the gateway rows of `make bench`.
 * The least an HTTP server on this stack (libev + http_parser, one
 * process, keep-alive) can do: every request gets 200 {"status":"ok"},
 * the same bytes the gateway's /healthz answers, without routing, logging
 * or metrics. Prints the bound port on stdout, then serves until killed.
 */
#include "tests/bench/mini_http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void handle(const struct mh_req *req, struct mh_buf *out)
{
	(void)req;
	static const char body[] = "{\"status\":\"ok\"}";
	mh_respond(out, 200, body, sizeof body - 1);
}

int main(int argc, char **argv)
{
	int port = argc > 2 && !strcmp(argv[1], "--port") ? atoi(argv[2]) : 0;
	struct ev_loop *loop = EV_DEFAULT;
	int p = mh_listen(loop, port, handle);
	if (p < 0) {
		fprintf(stderr, "bare_http: cannot listen: %s\n", strerror(-p));
		return 1;
	}
	printf("%d\n", p);
	fflush(stdout);
	ev_run(loop, 0);
	return 0;
}
