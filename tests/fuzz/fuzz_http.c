/*
 * libFuzzer target: arbitrary bytes through the gateway's HTTP glue
 * (http_parser callbacks, limits, pipelining), in memory, no sockets.
 * The input is fed in two pieces split at a position taken from the first
 * byte, so requests cut anywhere are exercised too.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "actors/gateway/http.h"
#include "ipc/log.h"

static void answer(struct http_request *req, void *ud)
{
	(void)ud;
	/* Touch what the router would read. */
	size_t n = strlen(req->path) + strlen(req->query) + req->body_len;
	const char *h = http_header_get(req, "authorization");
	if (h)
		n += strlen(h);
	http_respond(req, n % 2 ? 200 : 404, NULL, NULL, req->body, req->body_len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_level(LOG_ERROR); /* one line per 400 would be most of the time */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct http_limits lim = {16, 1, 1, 1};
	if (size < 1)
		return 0;
	size_t cut = data[0] % size;
	struct http_server *s = http_server_new(NULL, -1, &lim, answer, NULL);
	struct http_conn *c = http_conn_memory(s);
	if (http_conn_feed(c, (const char *)data + 1, cut > 0 ? cut - 1 : 0) == 0)
		http_conn_feed(c, (const char *)data + (cut > 0 ? cut : 1),
		               size - (cut > 0 ? cut : 1));
	size_t olen;
	(void)http_conn_output(c, &olen);
	http_conn_free(c);
	http_server_free(s);
	return 0;
}
