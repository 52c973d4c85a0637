/*
 * Configuration: defaults, file, environment, and precise errors.
 */
#include "ipc/config.h"
#include "tests/harness.h"

TEST(defaults_apply_without_a_file)
{
	char err[256] = "";
	unsetenv("VIRALSUP_HTTP_ADDR");
	struct config *c = config_parse("", "t.conf", err, sizeof err);
	ASSERT(c != NULL);
	ASSERT_EQ_STR(config_str(c, "http.addr"), "127.0.0.1:8000");
	ASSERT_EQ_INT(config_int(c, "supervisor.fetchers"), 2);
	ASSERT_EQ_INT(config_int(c, "scheduler.concurrency"), 8);
	config_free(c);
}

TEST(file_values_and_environment_overrides)
{
	char err[256] = "";
	setenv("VIRALSUP_HTTP_ADDR", "127.0.0.1:9999", 1);
	struct config *c = config_parse("[http]\naddr = 0.0.0.0:1\nmax_connections = 7\n"
	                                "[supervisor]\nmigrate = no\n",
	                                "t.conf", err, sizeof err);
	ASSERT(c != NULL);
	ASSERT_EQ_STR(config_str(c, "http.addr"), "127.0.0.1:9999");
	ASSERT_EQ_INT(config_int(c, "http.max_connections"), 7);
	ASSERT(!config_bool(c, "supervisor.migrate"));
	config_free(c);
}

TEST(errors_name_the_file_line_and_reason)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
	    {"[http]\nnope = 1\n", "t.conf:2: unknown key 'nope' in [http]"},
	    {"\n\n[http]\nmax_connections = many\n",
	     "t.conf:4: http.max_connections: \"many\" is not an integer"},
	    {"[http]\nmax_connections = 0\n", "t.conf:2: http.max_connections: 0 is out of range"},
	    {"[supervisor]\nmigrate = perhaps\n",
	     "t.conf:2: supervisor.migrate: \"perhaps\" is not a boolean"},
	    {"[http\n", "t.conf:1: syntax error"},
	    {"addr = 1\n", "t.conf:1: key 'addr' outside of any [section]"},
	    {"[child x]\nbogus = 1\n", "t.conf:2: unknown key 'bogus' in [child x]"},
	};
	unsetenv("VIRALSUP_HTTP_ADDR");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char err[256] = "";
		struct config *c = config_parse(cases[i].text, "t.conf", err, sizeof err);
		if (c)
			FAIL("case %zu accepted: %s", i, cases[i].text);
		ASSERT_CONTAINS(err, cases[i].want);
	}
}

TEST(bad_environment_value_is_an_error)
{
	char err[256] = "";
	setenv("VIRALSUP_FETCHERS", "-3", 1);
	struct config *c = config_parse("", "t.conf", err, sizeof err);
	ASSERT(c == NULL);
	ASSERT_CONTAINS(err, "VIRALSUP_FETCHERS");
	unsetenv("VIRALSUP_FETCHERS");
}

TEST(child_sections_keep_file_order)
{
	char err[256] = "";
	struct config *c = config_parse("[child b]\nprogram = /bin/b\ncount = 2\n"
	                                "[child a]\nprogram = /bin/a\nrestart = transient\n",
	                                "t.conf", err, sizeof err);
	ASSERT(c != NULL);
	ASSERT_EQ_INT(config_child_count(c), 2);
	ASSERT_EQ_STR(config_child_name(c, 0), "b");
	ASSERT_EQ_STR(config_child_get(c, 0, "count"), "2");
	ASSERT_EQ_STR(config_child_get(c, 1, "restart"), "transient");
	ASSERT(config_child_get(c, 1, "count") == NULL);
	config_free(c);
}
