/*
 * Text helpers: arena, UTF-8 repair, sentences and tokens (see text.h).
 * Every loop here is linear in its (bounded) input.
 */
#include "actors/analyzer/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

#define ARENA_CHUNK (64 * 1024)

/*
 * One standard chunk is kept per thread between runs: a run then usually
 * costs no malloc/free of its working memory at all.
 */
static _Thread_local struct arena_chunk *spare;

static void *arena_raw(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		if (cap == ARENA_CHUNK && spare) {
			c = spare;
			spare = NULL;
		} else if (!(c = malloc(sizeof(*c) + cap))) {
			fprintf(stderr, "analysis: out of memory (%zu bytes)\n", cap);
			abort();
		}
		c->cap = cap;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

void *arena_alloc(struct arena *a, size_t n)
{
	return memset(arena_raw(a, n), 0, n);
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_raw(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	char *p = arena_raw(a, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

void arena_free(struct arena *a)
{
	struct arena_chunk *c = a->head;
	while (c) {
		struct arena_chunk *next = c->next;
		if (c->cap == ARENA_CHUNK && !spare)
			spare = c;
		else
			free(c);
		c = next;
	}
	a->head = NULL;
}

static size_t utf8_multi(const char *str, size_t len, size_t i, uint32_t *cp);

/* ASCII inline, the rest out of line: most text is ASCII. */
static inline size_t next_cp(const char *s, size_t len, size_t i, uint32_t *cp)
{
	unsigned char c = (unsigned char)s[i];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	return utf8_multi(s, len, i, cp);
}

size_t utf8_next(const char *s, size_t len, size_t i, uint32_t *cp)
{
	return next_cp(s, len, i, cp);
}

static size_t utf8_multi(const char *str, size_t len, size_t i, uint32_t *cp)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char c = s[i];
	size_t n;
	uint32_t v, min;
	if ((c & 0xE0) == 0xC0) {
		n = 2, v = c & 0x1F, min = 0x80;
	} else if ((c & 0xF0) == 0xE0) {
		n = 3, v = c & 0x0F, min = 0x800;
	} else if ((c & 0xF8) == 0xF0) {
		n = 4, v = c & 0x07, min = 0x10000;
	} else {
		*cp = 0xFFFD;
		return 1;
	}
	if (len - i < n) {
		*cp = 0xFFFD;
		return 1;
	}
	for (size_t k = 1; k < n; k++) {
		if ((s[i + k] & 0xC0) != 0x80) {
			*cp = 0xFFFD;
			return 1;
		}
		v = (v << 6) | (s[i + k] & 0x3F);
	}
	if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) {
		*cp = 0xFFFD;
		return 1;
	}
	*cp = v;
	return n;
}

static size_t utf8_put(char *out, uint32_t cp)
{
	unsigned char *o = (unsigned char *)out;
	if (cp < 0x80) {
		o[0] = (unsigned char)cp;
		return 1;
	} else if (cp < 0x800) {
		o[0] = (unsigned char)(0xC0 | (cp >> 6));
		o[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	} else if (cp < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (cp >> 12));
		o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (unsigned char)(0xF0 | (cp >> 18));
	o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

enum ws { WS_NONE, WS_SPACE, WS_NEWLINE, WS_DROP };

static enum ws classify_space(uint32_t cp)
{
	if (cp == '\n' || cp == '\r' || cp == 0x85 || cp == 0x2028 || cp == 0x2029)
		return WS_NEWLINE;
	if (cp <= 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0) || cp == 0xA0 ||
	    (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000)
		return WS_SPACE;
	if (cp == 0xFEFF || cp == 0x200B)
		return WS_DROP;
	return WS_NONE;
}

/* Shortens valid UTF-8 out[0..*o) so that it ends on a word boundary and an ellipsis fits. */
static void cut_with_ellipsis(char *out, size_t *o, size_t max_bytes)
{
	size_t n = *o;
	while (n > 0 && n + 3 > max_bytes) {
		n--;
		while (n > 0 && ((unsigned char)out[n] & 0xC0) == 0x80)
			n--;
	}
	size_t keep = n;
	while (keep > 0 && out[keep - 1] != ' ' && out[keep - 1] != '\n')
		keep--;
	if (keep * 10 >= n * 6)
		n = keep;
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\n'))
		n--;
	memcpy(out + n, "\xE2\x80\xA6", 3);
	*o = n + 3;
}

char *text_clean(struct arena *a, const char *s, size_t len, size_t max_bytes, int flags)
{
	if (!s)
		len = 0;
	size_t cap = len * 3 < max_bytes ? len * 3 : max_bytes;
	char *out = arena_raw(a, cap + 8);
	size_t o = 0;
	enum ws pending = WS_NONE;
	bool truncated = false;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		i += next_cp(s, len, i, &cp);
		enum ws w = classify_space(cp);
		if (w == WS_DROP)
			continue;
		if (w != WS_NONE) {
			if ((flags & TEXT_ONELINE) && w == WS_NEWLINE)
				w = WS_SPACE;
			if (o > 0 && w > pending)
				pending = w;
			continue;
		}
		char enc[4];
		size_t n = utf8_put(enc, cp);
		size_t need = n + (pending != WS_NONE);
		if (o + need > max_bytes) {
			truncated = true;
			break;
		}
		if (pending != WS_NONE)
			out[o++] = pending == WS_NEWLINE ? '\n' : ' ';
		pending = WS_NONE;
		memcpy(out + o, enc, n);
		o += n;
	}
	if (truncated && (flags & TEXT_ELLIPSIS) && max_bytes >= 4)
		cut_with_ellipsis(out, &o, max_bytes);
	out[o] = '\0';
	return out;
}

size_t text_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static bool is_closer(uint32_t cp)
{
	return cp == '"' || cp == '\'' || cp == ')' || cp == ']' || cp == 0x201D || cp == 0x2019;
}

/* End (exclusive) of the sentence starting at s[i] of the cleaned text s. */
static size_t sentence_end(const char *s, size_t len, size_t i)
{
	while (i < len) {
		uint32_t cp;
		size_t n = next_cp(s, len, i, &cp);
		if (cp == '\n')
			return i;
		bool cjk = cp == 0x3002 || cp == 0xFF01 || cp == 0xFF1F;
		if (cp == '.' || cp == '!' || cp == '?' || cp == 0x2026 || cjk) {
			size_t j = i + n;
			while (j < len) {
				size_t m = next_cp(s, len, j, &cp);
				if (cp == '.' || cp == '!' || cp == '?' || cp == 0x2026 || cjk ||
				    is_closer(cp))
					j += m;
				else
					break;
			}
			if (cjk || j >= len || s[j] == ' ' || s[j] == '\n')
				return j;
			i = j;
			continue;
		}
		i += n;
	}
	return len;
}

char *text_first_sentence(struct arena *a, const char *s, size_t len, size_t max_chars)
{
	if (!s)
		len = 0;
	/* Enough for max_chars of 4-byte characters plus a short first sentence. */
	size_t scan = max_chars * 4 + 64;
	if (len > scan)
		len = scan;
	char *c = text_clean(a, s, len, scan, 0);
	size_t clen = strlen(c);
	size_t end = sentence_end(c, clen, 0);
	if (end < 16 && end < clen) {
		size_t next = end;
		while (next < clen && (c[next] == ' ' || c[next] == '\n'))
			next++;
		if (next < clen)
			end = sentence_end(c, clen, next);
	}
	/* 4 bytes per char at most, +3 for the ellipsis. */
	char *line = text_clean(a, c, end, max_chars * 4 + 3, TEXT_ONELINE | TEXT_ELLIPSIS);
	if (text_chars(line) <= max_chars)
		return line;
	size_t o = 0, chars = 0;
	while (line[o] && chars < max_chars - 1) {
		o++;
		while (((unsigned char)line[o] & 0xC0) == 0x80)
			o++;
		chars++;
	}
	cut_with_ellipsis(line, &o, o + 3);
	line[o] = '\0';
	return line;
}

static inline bool is_word_cp(uint32_t cp)
{
	if (cp < 0x80)
		return ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') || (cp >= '0' && cp <= '9');
	if (cp == 0xD7 || cp == 0xF7)
		return false;
	return (cp >= 0xC0 && cp <= 0x24F) || (cp >= 0x300 && cp <= 0x58F) ||
	       (cp >= 0x5D0 && cp <= 0x5EA) || (cp >= 0x620 && cp <= 0x64A) ||
	       (cp >= 0x900 && cp <= 0xDFF) || (cp >= 0xE00 && cp <= 0xE7F) ||
	       (cp >= 0x1E00 && cp <= 0x1FFF) || (cp >= 0x3040 && cp <= 0x30FF) ||
	       (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x4E00 && cp <= 0x9FFF) ||
	       (cp >= 0xAC00 && cp <= 0xD7AF);
}

static bool is_apostrophe(uint32_t cp)
{
	return cp == '\'' || cp == 0x2019;
}

void text_tokens(const char *s, size_t len, size_t max_bytes, token_fn fn, void *ud)
{
	if (!s)
		return;
	if (len > max_bytes)
		len = max_bytes;
	char tok[TOKEN_MAX + 8];
	size_t i = 0;
	while (i < len) {
		uint32_t cp;
		size_t n = next_cp(s, len, i, &cp);
		int sigil = 0;
		if (cp == '#' || cp == '@') {
			uint32_t nx = 0;
			if (i + 1 < len)
				next_cp(s, len, i + 1, &nx);
			if (is_word_cp(nx) || nx == '_') {
				sigil = (int)cp;
				i += 1;
				n = next_cp(s, len, i, &cp);
			}
		}
		if (!sigil && !is_word_cp(cp)) {
			i += n;
			continue;
		}
		/* Collect one token. */
		size_t t = 0;
		bool toolong = false;
		while (i < len) {
			n = next_cp(s, len, i, &cp);
			bool ok = is_word_cp(cp) || (sigil && cp == '_');
			if (!ok && is_apostrophe(cp) && t > 0) {
				uint32_t nx = 0;
				if (i + n < len)
					next_cp(s, len, i + n, &nx);
				if (is_word_cp(nx)) {
					if (t < TOKEN_MAX)
						tok[t++] = '\'';
					else
						toolong = true;
					i += n;
					continue;
				}
			}
			if (!ok)
				break;
			if (t + n > TOKEN_MAX) {
				toolong = true;
			} else if (n == 1) {
				char ch = (char)cp;
				tok[t++] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
			} else {
				memcpy(tok + t, s + i, n);
				t += n;
			}
			i += n;
		}
		tok[t] = '\0';
		if (!sigil && i < len && (s[i] == ':' || s[i] == '.') &&
		    (!strcmp(tok, "http") || !strcmp(tok, "https") || !strcmp(tok, "www"))) {
			while (i < len && s[i] != ' ' && s[i] != '\n' && s[i] != '\t')
				i++;
			continue;
		}
		if (toolong || t == 0 || sigil == '@')
			continue;
		if (t > 2 && tok[t - 2] == '\'' && tok[t - 1] == 's')
			tok[t -= 2] = '\0';
		if (fn(ud, sigil == '#' ? TOKEN_HASHTAG : TOKEN_WORD, tok, t))
			return;
	}
}

struct norm_state {
	char *out;
	size_t o;
};

static int norm_add(void *ud, enum token_kind kind, const char *tok, size_t toklen)
{
	(void)kind;
	struct norm_state *st = ud;
	memcpy(st->out + st->o, tok, toklen);
	st->o += toklen;
	st->out[st->o++] = ' ';
	return 0;
}

char *text_normalize(struct arena *a, const char *s, size_t len)
{
	if (!s)
		len = 0;
	struct norm_state st = {arena_raw(a, 2 * len + 4), 0};
	st.out[st.o++] = ' ';
	text_tokens(s, len, len, norm_add, &st);
	st.out[st.o] = '\0';
	return st.out;
}

static const char *const stopwords[] = {
    "a",          "about",      "above",     "after",     "again",   "against",   "all",
    "almost",     "also",       "always",    "am",        "an",      "and",       "any",
    "anyone",     "are",        "aren't",    "around",    "as",      "at",        "be",
    "because",    "been",       "before",    "being",     "below",   "between",   "both",
    "but",        "by",         "can",       "can't",     "cannot",  "could",     "couldn't",
    "did",        "didn't",     "do",        "does",      "doesn't", "doing",     "don't",
    "down",       "during",     "each",      "even",      "ever",    "every",     "few",
    "for",        "from",       "further",   "get",       "gets",    "getting",   "go",
    "goes",       "going",      "gonna",     "got",       "had",     "hadn't",    "has",
    "hasn't",     "have",       "haven't",   "having",    "he",      "her",       "here",
    "here's",     "hers",       "herself",   "him",       "himself", "his",       "how",
    "i",          "i'd",        "i'll",      "i'm",       "i've",    "if",        "in",
    "into",       "is",         "isn't",     "it",        "it's",    "its",       "itself",
    "just",       "know",       "let",       "let's",     "like",    "make",      "makes",
    "many",       "may",        "me",        "more",      "most",    "much",      "must",
    "my",         "myself",     "need",      "no",        "nor",     "not",       "now",
    "of",         "off",        "on",        "once",      "one",     "only",      "or",
    "other",      "our",        "ours",      "ourselves", "out",     "over",      "own",
    "really",     "right",      "said",      "same",      "say",     "says",      "see",
    "she",        "should",     "shouldn't", "so",        "some",    "something", "still",
    "such",       "than",       "that",      "that's",    "the",     "their",     "theirs",
    "them",       "themselves", "then",      "there",     "there's", "these",     "they",
    "they're",    "thing",      "things",    "think",     "this",    "those",     "through",
    "to",         "too",        "under",     "until",     "up",      "us",        "use",
    "used",       "using",      "very",      "want",      "was",     "wasn't",    "way",
    "we",         "we're",      "were",      "weren't",   "what",    "what's",    "when",
    "where",      "which",      "while",     "who",       "why",     "will",      "with",
    "won't",      "would",      "wouldn't",  "yeah",      "yes",     "yet",       "you",
    "you'd",      "you'll",     "you're",    "you've",    "your",    "yours",     "yourself",
    "yourselves",
};

static int cmp_str(const void *key, const void *elem)
{
	return strcmp((const char *)key, *(const char *const *)elem);
}

bool text_is_stopword(const char *word)
{
	return bsearch(word, stopwords, sizeof(stopwords) / sizeof(stopwords[0]),
	               sizeof(stopwords[0]), cmp_str) != NULL;
}
