/*
 * Text helpers for the analysis engine: a per-run arena, UTF-8 repair and
 * safe truncation, sentence and token extraction. Everything here works on
 * (pointer, length) pairs, accepts arbitrary bytes (invalid UTF-8, NULs)
 * and produces valid UTF-8 without control characters, so its output can
 * go into jansson strings and PostgreSQL text/jsonb (which rejects \u0000).
 */
#ifndef VIRALSUP_ANALYZER_TEXT_H
#define VIRALSUP_ANALYZER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A bump allocator freed as a whole at the end of a run. */
struct arena_chunk;
struct arena {
	struct arena_chunk *head;
};
/* Returns zeroed memory owned by the arena; aborts on out-of-memory. */
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(struct arena *a);

/*
 * Decodes one code point at s[i] (i < len) into *cp and returns the bytes it
 * used (>= 1). Invalid, overlong, surrogate or truncated sequences yield
 * U+FFFD and consume one byte.
 */
size_t utf8_next(const char *s, size_t len, size_t i, uint32_t *cp);

enum text_flags {
	TEXT_ONELINE = 1,  /* every whitespace run (newlines too) becomes one space */
	TEXT_ELLIPSIS = 2, /* when truncated, cut at a word boundary and append U+2026 */
};

/*
 * Returns a repaired copy (arena) of s[0..len): valid UTF-8, invalid bytes
 * replaced by U+FFFD, NUL and other control characters turned into spaces
 * (newlines kept unless TEXT_ONELINE), leading/trailing space trimmed, at
 * most max_bytes bytes (cut on a code point boundary). Never NULL.
 */
char *text_clean(struct arena *a, const char *s, size_t len, size_t max_bytes, int flags);

/*
 * The first sentence of s (ends at . ! ? … or their CJK forms followed by
 * a space or the end, or at a line break), extended by the next sentence
 * when shorter than 16 bytes; one line, at most max_chars code points
 * (TEXT_ELLIPSIS cut). Only the first 2 KiB of s are looked at. Returns an
 * empty string when s holds no text.
 */
char *text_first_sentence(struct arena *a, const char *s, size_t len, size_t max_chars);

/* Number of code points in a valid UTF-8 string. */
size_t text_chars(const char *s);

enum token_kind { TOKEN_WORD, TOKEN_HASHTAG };
#define TOKEN_MAX 40 /* longer tokens are skipped as junk */

struct token {
	enum token_kind kind;
	const char *tok; /* NUL-terminated, ASCII lower-cased, no '#', no trailing "'s" */
	size_t len;      /* strlen(tok) */
	const char *raw; /* the token as written in s (original case, '#' excluded) */
	size_t rawlen;
	bool brk; /* punctuation, a symbol, an emoji, a skipped mention/URL or a line
	             break since the previous token (or none before it) */
};

enum token_flags {
	TOKENS_HYPHENS = 1, /* "one-pan", "high-yield": inner hyphens join a word */
};

/*
 * Calls fn for every word and hashtag of s[0..len) (at most max_bytes
 * looked at). Words are runs of letters, digits and inner apostrophes
 * (and inner hyphens with TOKENS_HYPHENS), ASCII lower-cased, without a
 * trailing "'s"; hashtags are given without '#'. Mentions (@x) and URLs are
 * skipped. The token is only valid during the call. Stops early when fn
 * returns non-zero.
 */
typedef int (*token_fn)(void *ud, const struct token *t);
void text_tokens(const char *s, size_t len, size_t max_bytes, int flags, token_fn fn, void *ud);

/*
 * " tok1 tok2 ... " (arena): s's words and hashtags, lower-cased, each
 * surrounded by single spaces, for phrase matching with strstr(" how to ").
 */
char *text_normalize(struct arena *a, const char *s, size_t len);

/* True when word is in the fixed English stop-word list. */
bool text_is_stopword(const char *word);

/*
 * What a lower-cased word can be in a topic phrase (no part-of-speech
 * tagging: fixed lists). WORD_STOP: never (function words, common verbs,
 * adverbs and evaluative adjectives, numbers, hook devices like "tips" or
 * "secret", social-media filler; any word with a digit; ASCII words under 3
 * letters); WORD_MOD: a descriptive adjective, only before the head noun
 * ("crispy tofu"); WORD_TIME: a time unit or a list noun, only as the head after
 * another word ("rest days", "leg day", "hostel hacks"); WORD_CONTENT: anything else.
 */
enum word_class { WORD_CONTENT, WORD_STOP, WORD_MOD, WORD_TIME };
enum word_class text_word_class(const char *word, size_t len);

#endif
