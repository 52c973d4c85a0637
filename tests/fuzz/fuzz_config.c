/*
 * libFuzzer target: arbitrary text as a configuration file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	char *text = malloc(size + 1);
	memcpy(text, data, size);
	text[size] = '\0';
	struct config *c = config_parse(text, "fuzz.conf", err, sizeof err);
	config_free(c);
	free(text);
	return 0;
}
