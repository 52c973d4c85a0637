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
 * Up to SPARE_MAX standard chunks are kept per thread between runs: a run
 * then usually costs no malloc/free of its working memory at all.
 */
#define SPARE_MAX 8
static _Thread_local struct arena_chunk *spare;
static _Thread_local int nspare;

static void *arena_raw(struct arena *a, size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = a->head;
	if (!c || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		if (cap == ARENA_CHUNK && spare) {
			c = spare;
			spare = c->next;
			nspare--;
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
		if (c->cap == ARENA_CHUNK && nspare < SPARE_MAX) {
			c->next = spare;
			spare = c;
			nspare++;
		} else {
			free(c);
		}
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

static bool is_pictograph(uint32_t cp)
{
	return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2190 && cp <= 0x2BFF) || cp == 0xFE0F;
}

/*
 * Words that open a new sentence when they appear capitalised right after a
 * lower-case word with no punctuation in between: transcripts are joined
 * from caption segments without punctuation ("Leg day today Here's what you
 * need to know."), and the hook must stop before the glued-on line.
 */
static const char *const openers[] = {
    "And",    "But",    "Check",  "Comment",     "Consistency", "Double", "Follow", "Form",
    "Full",   "Here",   "Here's", "Ingredients", "It's",        "Let's",  "Link",   "Not",
    "Number", "Prices", "Recipe", "Save",        "Send",        "Serves", "Share",  "Step",
    "Swipe",  "Tag",    "That's", "Trust",       "Which",       NULL};

/* Whether s[i..] starts with an opener followed by a non-letter. */
static bool opener_at(const char *s, size_t len, size_t i)
{
	for (const char *const *o = openers; *o; o++) {
		size_t n = strlen(*o);
		if (i + n <= len && !memcmp(s + i, *o, n) &&
		    (i + n == len ||
		     !(((s[i + n] | 0x20) >= 'a' && (s[i + n] | 0x20) <= 'z') || s[i + n] == '\'')))
			return true;
	}
	return false;
}

/*
 * Whether a sentence ends at the space s[i] (no punctuation): after an
 * emoji before a capitalised word, or after a lower-case word (the hook is
 * not Title Case) before an opener.
 */
static bool glued_break(const char *s, size_t len, size_t i, uint32_t prev, size_t word_start)
{
	size_t j = i;
	while (j < len && s[j] == ' ')
		j++;
	if (j >= len || s[j] < 'A' || s[j] > 'Z')
		return false;
	if (is_pictograph(prev))
		return true;
	bool lower_word = s[word_start] < 'A' || s[word_start] > 'Z'; /* not Title Case */
	bool lower_end = (prev >= 'a' && prev <= 'z') || (prev >= '0' && prev <= '9');
	return lower_word && lower_end && opener_at(s, len, j);
}

/* End (exclusive) of the sentence starting at s[i] of the cleaned text s. */
static size_t sentence_end(const char *s, size_t len, size_t i)
{
	uint32_t prev = 0;
	size_t word_start = i;
	bool in_space = false;
	while (i < len) {
		uint32_t cp;
		size_t n = next_cp(s, len, i, &cp);
		if (cp == '\n')
			return i;
		if (cp == ' ') {
			if (!in_space && prev && glued_break(s, len, i, prev, word_start))
				return i;
			in_space = true;
			i += n;
			continue;
		}
		if (in_space)
			word_start = i;
		in_space = false;
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
			prev = '.';
			i = j;
			continue;
		}
		prev = cp;
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

static bool is_hyphen(uint32_t cp)
{
	return cp == '-' || cp == 0x2010 || cp == 0x2011;
}

void text_tokens(const char *s, size_t len, size_t max_bytes, int flags, token_fn fn, void *ud)
{
	if (!s)
		return;
	if (len > max_bytes)
		len = max_bytes;
	char tok[TOKEN_MAX + 8];
	size_t i = 0;
	bool brk = true;
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
			/* Spaces and tabs join words; anything else separates phrases. */
			if (cp != ' ' && cp != '\t')
				brk = true;
			i += n;
			continue;
		}
		/* Collect one token. */
		size_t t = 0, start = i;
		bool toolong = false;
		while (i < len) {
			n = next_cp(s, len, i, &cp);
			bool ok = is_word_cp(cp) || (sigil && cp == '_');
			bool joiner = is_apostrophe(cp) ||
			              ((flags & TOKENS_HYPHENS) && !sigil && is_hyphen(cp));
			if (!ok && joiner && t > 0) {
				uint32_t nx = 0;
				if (i + n < len)
					next_cp(s, len, i + n, &nx);
				if (is_word_cp(nx)) {
					if (t < TOKEN_MAX)
						tok[t++] = is_apostrophe(cp) ? '\'' : '-';
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
			brk = true;
			continue;
		}
		if (toolong || t == 0 || sigil == '@') {
			brk = true;
			continue;
		}
		size_t rawlen = i - start;
		if (t > 2 && tok[t - 2] == '\'' && tok[t - 1] == 's') {
			tok[t -= 2] = '\0';
			/* The raw form drops the 's too: 's' after ' or U+2019 (3 bytes). */
			const char *r = s + start;
			rawlen--;
			if (rawlen >= 1 && r[rawlen - 1] == '\'')
				rawlen--;
			else if (rawlen >= 3 && !memcmp(r + rawlen - 3, "\xE2\x80\x99", 3))
				rawlen -= 3;
		}
		struct token tk = {
		    sigil == '#' ? TOKEN_HASHTAG : TOKEN_WORD, tok, t, s + start, rawlen, brk};
		brk = sigil == '#'; /* a hashtag is not part of a phrase */
		if (fn(ud, &tk))
			return;
	}
}

struct norm_state {
	char *out;
	size_t o;
};

static int norm_add(void *ud, const struct token *t)
{
	struct norm_state *st = ud;
	memcpy(st->out + st->o, t->tok, t->len);
	st->o += t->len;
	st->out[st->o++] = ' ';
	return 0;
}

char *text_normalize(struct arena *a, const char *s, size_t len)
{
	if (!s)
		len = 0;
	struct norm_state st = {arena_raw(a, 2 * len + 4), 0};
	st.out[st.o++] = ' ';
	text_tokens(s, len, len, 0, norm_add, &st);
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

struct word_class_entry {
	const char *word;
	enum word_class cls;
};

/* Generated sorted (strcmp order) for bsearch; see text.h for the classes. */
static const struct word_class_entry word_classes[] = {
    {"a", WORD_STOP},           {"about", WORD_STOP},       {"above", WORD_STOP},
    {"account", WORD_STOP},     {"accounts", WORD_STOP},    {"across", WORD_STOP},
    {"active", WORD_MOD},       {"actually", WORD_STOP},    {"after", WORD_STOP},
    {"again", WORD_STOP},       {"against", WORD_STOP},     {"ago", WORD_STOP},
    {"ahead", WORD_STOP},       {"all", WORD_STOP},         {"almost", WORD_STOP},
    {"alone", WORD_STOP},       {"along", WORD_STOP},       {"already", WORD_STOP},
    {"also", WORD_STOP},        {"although", WORD_STOP},    {"always", WORD_STOP},
    {"am", WORD_STOP},          {"amazing", WORD_STOP},     {"among", WORD_STOP},
    {"an", WORD_STOP},          {"and", WORD_STOP},         {"another", WORD_STOP},
    {"answer", WORD_STOP},      {"answers", WORD_STOP},     {"any", WORD_STOP},
    {"anybody", WORD_STOP},     {"anymore", WORD_STOP},     {"anyone", WORD_STOP},
    {"anything", WORD_STOP},    {"anyway", WORD_STOP},      {"anywhere", WORD_STOP},
    {"are", WORD_STOP},         {"aren't", WORD_STOP},      {"around", WORD_STOP},
    {"as", WORD_STOP},          {"ask", WORD_STOP},         {"asked", WORD_STOP},
    {"asking", WORD_STOP},      {"asks", WORD_STOP},        {"at", WORD_STOP},
    {"ate", WORD_STOP},         {"away", WORD_STOP},        {"awesome", WORD_STOP},
    {"back", WORD_STOP},        {"bad", WORD_STOP},         {"baked", WORD_MOD},
    {"basic", WORD_STOP},       {"basically", WORD_STOP},   {"be", WORD_STOP},
    {"beat", WORD_STOP},        {"beats", WORD_STOP},       {"beautiful", WORD_STOP},
    {"became", WORD_STOP},      {"because", WORD_STOP},     {"become", WORD_STOP},
    {"becomes", WORD_STOP},     {"been", WORD_STOP},        {"before", WORD_STOP},
    {"began", WORD_STOP},       {"begin", WORD_STOP},       {"being", WORD_STOP},
    {"believe", WORD_STOP},     {"below", WORD_STOP},       {"beside", WORD_STOP},
    {"besides", WORD_STOP},     {"best", WORD_STOP},        {"better", WORD_STOP},
    {"between", WORD_STOP},     {"beyond", WORD_STOP},      {"big", WORD_STOP},
    {"bigger", WORD_STOP},      {"biggest", WORD_STOP},     {"billion", WORD_STOP},
    {"bio", WORD_STOP},         {"black", WORD_MOD},        {"both", WORD_STOP},
    {"bought", WORD_STOP},      {"bring", WORD_STOP},       {"brings", WORD_STOP},
    {"broke", WORD_STOP},       {"brought", WORD_STOP},     {"brown", WORD_MOD},
    {"budget", WORD_MOD},       {"busy", WORD_STOP},        {"but", WORD_STOP},
    {"buy", WORD_STOP},         {"buying", WORD_STOP},      {"by", WORD_STOP},
    {"call", WORD_STOP},        {"called", WORD_STOP},      {"calls", WORD_STOP},
    {"came", WORD_STOP},        {"can", WORD_STOP},         {"can't", WORD_STOP},
    {"cannot", WORD_STOP},      {"caption", WORD_STOP},     {"captions", WORD_STOP},
    {"certainly", WORD_STOP},   {"challenge", WORD_STOP},   {"challenges", WORD_STOP},
    {"change", WORD_STOP},      {"changed", WORD_STOP},     {"changes", WORD_STOP},
    {"channel", WORD_STOP},     {"cheap", WORD_MOD},        {"check", WORD_STOP},
    {"checked", WORD_STOP},     {"chewy", WORD_MOD},        {"chinese", WORD_MOD},
    {"choose", WORD_STOP},      {"chose", WORD_STOP},       {"classic", WORD_MOD},
    {"clearly", WORD_STOP},     {"cold", WORD_MOD},         {"come", WORD_STOP},
    {"comes", WORD_STOP},       {"coming", WORD_STOP},      {"comment", WORD_STOP},
    {"comments", WORD_STOP},    {"common", WORD_STOP},      {"complete", WORD_STOP},
    {"completely", WORD_STOP},  {"consistent", WORD_STOP},  {"content", WORD_STOP},
    {"cook", WORD_STOP},        {"cooked", WORD_STOP},      {"cool", WORD_STOP},
    {"cost", WORD_STOP},        {"costs", WORD_STOP},       {"could", WORD_STOP},
    {"couldn't", WORD_STOP},    {"crazy", WORD_STOP},       {"creamy", WORD_MOD},
    {"crispy", WORD_MOD},       {"crunchy", WORD_MOD},      {"cut", WORD_STOP},
    {"cuts", WORD_STOP},        {"daily", WORD_MOD},        {"day", WORD_TIME},
    {"days", WORD_TIME},        {"decide", WORD_STOP},      {"decided", WORD_STOP},
    {"deeply", WORD_STOP},      {"definitely", WORD_STOP},  {"did", WORD_STOP},
    {"didn't", WORD_STOP},      {"die", WORD_STOP},         {"difference", WORD_STOP},
    {"different", WORD_STOP},   {"difficult", WORD_STOP},   {"digital", WORD_MOD},
    {"dm", WORD_STOP},          {"dms", WORD_STOP},         {"do", WORD_STOP},
    {"does", WORD_STOP},        {"doesn't", WORD_STOP},     {"doesnt", WORD_STOP},
    {"doing", WORD_STOP},       {"don't", WORD_STOP},       {"done", WORD_STOP},
    {"dont", WORD_STOP},        {"down", WORD_STOP},        {"dozen", WORD_STOP},
    {"drink", WORD_STOP},       {"drinks", WORD_STOP},      {"drop", WORD_STOP},
    {"dropped", WORD_STOP},     {"dry", WORD_MOD},          {"dumb", WORD_STOP},
    {"during", WORD_STOP},      {"each", WORD_STOP},        {"early", WORD_STOP},
    {"easier", WORD_STOP},      {"easiest", WORD_STOP},     {"easily", WORD_STOP},
    {"easy", WORD_STOP},        {"eat", WORD_STOP},         {"eaten", WORD_STOP},
    {"eats", WORD_STOP},        {"eight", WORD_STOP},       {"eighteen", WORD_STOP},
    {"either", WORD_STOP},      {"eleven", WORD_STOP},      {"else", WORD_STOP},
    {"end", WORD_STOP},         {"ended", WORD_STOP},       {"enough", WORD_STOP},
    {"entire", WORD_STOP},      {"entirely", WORD_STOP},    {"epic", WORD_STOP},
    {"episode", WORD_STOP},     {"episodes", WORD_STOP},    {"especially", WORD_STOP},
    {"essential", WORD_STOP},   {"etc", WORD_STOP},         {"even", WORD_STOP},
    {"evening", WORD_TIME},     {"evenings", WORD_TIME},    {"ever", WORD_STOP},
    {"every", WORD_STOP},       {"everybody", WORD_STOP},   {"everyone", WORD_STOP},
    {"everything", WORD_STOP},  {"everywhere", WORD_STOP},  {"exact", WORD_STOP},
    {"exactly", WORD_STOP},     {"example", WORD_STOP},     {"examples", WORD_STOP},
    {"explain", WORD_STOP},     {"explained", WORD_STOP},   {"explore", WORD_STOP},
    {"explored", WORD_STOP},    {"explores", WORD_STOP},    {"exploring", WORD_STOP},
    {"extra", WORD_STOP},       {"extra-virgin", WORD_MOD}, {"extremely", WORD_STOP},
    {"fact", WORD_STOP},        {"facts", WORD_STOP},       {"fair", WORD_STOP},
    {"fall", WORD_STOP},        {"false", WORD_STOP},       {"famous", WORD_STOP},
    {"fast", WORD_STOP},        {"faster", WORD_STOP},      {"fastest", WORD_STOP},
    {"favorite", WORD_STOP},    {"favourite", WORD_STOP},   {"feel", WORD_STOP},
    {"feeling", WORD_STOP},     {"feels", WORD_STOP},       {"fell", WORD_STOP},
    {"felt", WORD_STOP},        {"few", WORD_STOP},         {"fifteen", WORD_STOP},
    {"fifth", WORD_STOP},       {"fifty", WORD_STOP},       {"final", WORD_STOP},
    {"finally", WORD_STOP},     {"financial", WORD_MOD},    {"find", WORD_STOP},
    {"finding", WORD_STOP},     {"finds", WORD_STOP},       {"fine", WORD_STOP},
    {"finish", WORD_STOP},      {"finished", WORD_STOP},    {"first", WORD_STOP},
    {"five", WORD_STOP},        {"fix", WORD_STOP},         {"fixed", WORD_STOP},
    {"fluffy", WORD_MOD},       {"follow", WORD_STOP},      {"followed", WORD_STOP},
    {"follower", WORD_STOP},    {"followers", WORD_STOP},   {"following", WORD_STOP},
    {"follows", WORD_STOP},     {"for", WORD_STOP},         {"forever", WORD_STOP},
    {"forget", WORD_STOP},      {"forgets", WORD_STOP},     {"forgot", WORD_STOP},
    {"forgotten", WORD_STOP},   {"forty", WORD_STOP},       {"found", WORD_STOP},
    {"four", WORD_STOP},        {"fourteen", WORD_STOP},    {"fourth", WORD_STOP},
    {"free", WORD_STOP},        {"french", WORD_MOD},       {"fresh", WORD_MOD},
    {"friday", WORD_TIME},      {"fried", WORD_MOD},        {"from", WORD_STOP},
    {"frozen", WORD_MOD},       {"full", WORD_STOP},        {"fully", WORD_STOP},
    {"fun", WORD_STOP},         {"funny", WORD_STOP},       {"further", WORD_STOP},
    {"gave", WORD_STOP},        {"genuinely", WORD_STOP},   {"get", WORD_STOP},
    {"gets", WORD_STOP},        {"getting", WORD_STOP},     {"give", WORD_STOP},
    {"given", WORD_STOP},       {"gives", WORD_STOP},       {"giving", WORD_STOP},
    {"go", WORD_STOP},          {"goes", WORD_STOP},        {"going", WORD_STOP},
    {"golden", WORD_MOD},       {"gone", WORD_STOP},        {"gonna", WORD_STOP},
    {"good", WORD_STOP},        {"got", WORD_STOP},         {"gotten", WORD_STOP},
    {"great", WORD_STOP},       {"greek", WORD_MOD},        {"green", WORD_MOD},
    {"grew", WORD_STOP},        {"grilled", WORD_MOD},      {"grow", WORD_STOP},
    {"grows", WORD_STOP},       {"guide", WORD_TIME},       {"guides", WORD_TIME},
    {"guys", WORD_STOP},        {"hack", WORD_TIME},        {"hacks", WORD_TIME},
    {"had", WORD_STOP},         {"hadn't", WORD_STOP},      {"half", WORD_STOP},
    {"happen", WORD_STOP},      {"happened", WORD_STOP},    {"happening", WORD_STOP},
    {"happens", WORD_STOP},     {"happy", WORD_STOP},       {"hard", WORD_STOP},
    {"harder", WORD_STOP},      {"hardest", WORD_STOP},     {"has", WORD_STOP},
    {"hasn't", WORD_STOP},      {"hate", WORD_STOP},        {"hated", WORD_STOP},
    {"have", WORD_STOP},        {"haven't", WORD_STOP},     {"having", WORD_STOP},
    {"he", WORD_STOP},          {"he's", WORD_STOP},        {"healthy", WORD_MOD},
    {"hear", WORD_STOP},        {"heard", WORD_STOP},       {"heavy", WORD_STOP},
    {"help", WORD_STOP},        {"helped", WORD_STOP},      {"helps", WORD_STOP},
    {"her", WORD_STOP},         {"here", WORD_STOP},        {"here's", WORD_STOP},
    {"hers", WORD_STOP},        {"herself", WORD_STOP},     {"high", WORD_STOP},
    {"higher", WORD_STOP},      {"highest", WORD_STOP},     {"highlight", WORD_STOP},
    {"highlights", WORD_STOP},  {"him", WORD_STOP},         {"himself", WORD_STOP},
    {"his", WORD_STOP},         {"hit", WORD_STOP},         {"hold", WORD_STOP},
    {"homemade", WORD_MOD},     {"honest", WORD_STOP},      {"honestly", WORD_STOP},
    {"hope", WORD_STOP},        {"hoped", WORD_STOP},       {"hot", WORD_STOP},
    {"hour", WORD_TIME},        {"hours", WORD_TIME},       {"how", WORD_STOP},
    {"how's", WORD_STOP},       {"however", WORD_STOP},     {"huge", WORD_STOP},
    {"hugely", WORD_STOP},      {"hundred", WORD_STOP},     {"i", WORD_STOP},
    {"i'd", WORD_STOP},         {"i'll", WORD_STOP},        {"i'm", WORD_STOP},
    {"i've", WORD_STOP},        {"idea", WORD_STOP},        {"ideas", WORD_STOP},
    {"if", WORD_STOP},          {"ignore", WORD_STOP},      {"ignored", WORD_STOP},
    {"ignoring", WORD_STOP},    {"im", WORD_STOP},          {"important", WORD_STOP},
    {"impossible", WORD_STOP},  {"in", WORD_STOP},          {"incredible", WORD_STOP},
    {"indian", WORD_MOD},       {"insane", WORD_STOP},      {"inside", WORD_STOP},
    {"instagram", WORD_STOP},   {"instantly", WORD_STOP},   {"instead", WORD_STOP},
    {"interesting", WORD_STOP}, {"into", WORD_STOP},        {"is", WORD_STOP},
    {"isn't", WORD_STOP},       {"it", WORD_STOP},          {"it'll", WORD_STOP},
    {"it's", WORD_STOP},        {"italian", WORD_MOD},      {"its", WORD_STOP},
    {"itself", WORD_STOP},      {"ive", WORD_STOP},         {"japanese", WORD_MOD},
    {"just", WORD_STOP},        {"keep", WORD_STOP},        {"keeping", WORD_STOP},
    {"keeps", WORD_STOP},       {"kept", WORD_STOP},        {"kind", WORD_STOP},
    {"kinds", WORD_STOP},       {"knew", WORD_STOP},        {"know", WORD_STOP},
    {"knowing", WORD_STOP},     {"known", WORD_STOP},       {"knows", WORD_STOP},
    {"korean", WORD_MOD},       {"last", WORD_STOP},        {"late", WORD_STOP},
    {"lately", WORD_STOP},      {"later", WORD_STOP},       {"lazy", WORD_MOD},
    {"lean", WORD_MOD},         {"learn", WORD_STOP},       {"learned", WORD_STOP},
    {"learning", WORD_STOP},    {"learns", WORD_STOP},      {"least", WORD_STOP},
    {"leave", WORD_STOP},       {"leaves", WORD_STOP},      {"left", WORD_STOP},
    {"less", WORD_STOP},        {"lesson", WORD_STOP},      {"lessons", WORD_STOP},
    {"let", WORD_STOP},         {"let's", WORD_STOP},       {"lie", WORD_STOP},
    {"lied", WORD_STOP},        {"lies", WORD_STOP},        {"like", WORD_STOP},
    {"liked", WORD_STOP},       {"likes", WORD_STOP},       {"link", WORD_STOP},
    {"links", WORD_STOP},       {"list", WORD_STOP},        {"literally", WORD_STOP},
    {"little", WORD_STOP},      {"live", WORD_STOP},        {"lived", WORD_STOP},
    {"local", WORD_MOD},        {"long", WORD_STOP},        {"longer", WORD_STOP},
    {"look", WORD_STOP},        {"looked", WORD_STOP},      {"looking", WORD_STOP},
    {"looks", WORD_STOP},       {"lose", WORD_STOP},        {"loses", WORD_STOP},
    {"losing", WORD_STOP},      {"lost", WORD_STOP},        {"lot", WORD_STOP},
    {"lots", WORD_STOP},        {"love", WORD_STOP},        {"loved", WORD_STOP},
    {"loves", WORD_STOP},       {"low", WORD_STOP},         {"low-carb", WORD_MOD},
    {"lower", WORD_STOP},       {"mad", WORD_STOP},         {"made", WORD_STOP},
    {"main", WORD_STOP},        {"major", WORD_STOP},       {"make", WORD_STOP},
    {"makes", WORD_STOP},       {"making", WORD_STOP},      {"many", WORD_STOP},
    {"massive", WORD_STOP},     {"may", WORD_STOP},         {"maybe", WORD_STOP},
    {"me", WORD_STOP},          {"mean", WORD_STOP},        {"means", WORD_STOP},
    {"meant", WORD_STOP},       {"meet", WORD_STOP},        {"mere", WORD_STOP},
    {"met", WORD_STOP},         {"mexican", WORD_MOD},      {"might", WORD_STOP},
    {"million", WORD_STOP},     {"mine", WORD_STOP},        {"minor", WORD_STOP},
    {"minute", WORD_TIME},      {"minutes", WORD_TIME},     {"miss", WORD_STOP},
    {"missed", WORD_STOP},      {"missing", WORD_STOP},     {"mistake", WORD_STOP},
    {"mistakes", WORD_STOP},    {"monday", WORD_TIME},      {"mondays", WORD_TIME},
    {"month", WORD_TIME},       {"monthly", WORD_MOD},      {"months", WORD_TIME},
    {"more", WORD_STOP},        {"morning", WORD_TIME},     {"mornings", WORD_TIME},
    {"most", WORD_STOP},        {"mostly", WORD_STOP},      {"move", WORD_STOP},
    {"moved", WORD_STOP},       {"much", WORD_STOP},        {"must", WORD_STOP},
    {"my", WORD_STOP},          {"myself", WORD_STOP},      {"naturally", WORD_STOP},
    {"near", WORD_STOP},        {"nearly", WORD_STOP},      {"need", WORD_STOP},
    {"needed", WORD_STOP},      {"needs", WORD_STOP},       {"neither", WORD_STOP},
    {"never", WORD_STOP},       {"new", WORD_STOP},         {"next", WORD_STOP},
    {"nice", WORD_STOP},        {"nine", WORD_STOP},        {"nineteen", WORD_STOP},
    {"no", WORD_STOP},          {"nobody", WORD_STOP},      {"none", WORD_STOP},
    {"nor", WORD_STOP},         {"normal", WORD_STOP},      {"normally", WORD_STOP},
    {"not", WORD_STOP},         {"nothing", WORD_STOP},     {"now", WORD_STOP},
    {"nowhere", WORD_STOP},     {"number", WORD_STOP},      {"numbers", WORD_STOP},
    {"obvious", WORD_STOP},     {"obviously", WORD_STOP},   {"of", WORD_STOP},
    {"off", WORD_STOP},         {"officially", WORD_STOP},  {"often", WORD_STOP},
    {"oh", WORD_STOP},          {"ok", WORD_STOP},          {"okay", WORD_STOP},
    {"old", WORD_STOP},         {"on", WORD_STOP},          {"once", WORD_STOP},
    {"one", WORD_STOP},         {"only", WORD_STOP},        {"onto", WORD_STOP},
    {"open", WORD_STOP},        {"opened", WORD_STOP},      {"opinion", WORD_STOP},
    {"opinions", WORD_STOP},    {"or", WORD_STOP},          {"organic", WORD_MOD},
    {"other", WORD_STOP},       {"others", WORD_STOP},      {"otherwise", WORD_STOP},
    {"our", WORD_STOP},         {"ours", WORD_STOP},        {"ourselves", WORD_STOP},
    {"out", WORD_STOP},         {"outside", WORD_STOP},     {"over", WORD_STOP},
    {"overhyped", WORD_STOP},   {"overrated", WORD_STOP},   {"own", WORD_STOP},
    {"paid", WORD_STOP},        {"part", WORD_STOP},        {"parts", WORD_STOP},
    {"passive", WORD_MOD},      {"pay", WORD_STOP},         {"pays", WORD_STOP},
    {"people", WORD_STOP},      {"per", WORD_STOP},         {"perfect", WORD_STOP},
    {"perhaps", WORD_STOP},     {"personal", WORD_MOD},     {"personally", WORD_STOP},
    {"pick", WORD_STOP},        {"picked", WORD_STOP},      {"plain", WORD_STOP},
    {"plant-based", WORD_MOD},  {"play", WORD_STOP},        {"played", WORD_STOP},
    {"please", WORD_STOP},      {"plus", WORD_STOP},        {"poor", WORD_STOP},
    {"popular", WORD_STOP},     {"possible", WORD_STOP},    {"possibly", WORD_STOP},
    {"post", WORD_STOP},        {"posts", WORD_STOP},       {"pov", WORD_STOP},
    {"powerful", WORD_STOP},    {"pretty", WORD_STOP},      {"probably", WORD_STOP},
    {"problem", WORD_STOP},     {"problems", WORD_STOP},    {"progressive", WORD_MOD},
    {"proper", WORD_STOP},      {"properly", WORD_STOP},    {"put", WORD_STOP},
    {"puts", WORD_STOP},        {"question", WORD_STOP},    {"questions", WORD_STOP},
    {"quick", WORD_STOP},       {"quickly", WORD_STOP},     {"quietly", WORD_STOP},
    {"quit", WORD_STOP},        {"quite", WORD_STOP},       {"rarely", WORD_STOP},
    {"rather", WORD_STOP},      {"raw", WORD_MOD},          {"reach", WORD_STOP},
    {"reached", WORD_STOP},     {"read", WORD_STOP},        {"readily", WORD_STOP},
    {"ready", WORD_STOP},       {"real", WORD_STOP},        {"realize", WORD_STOP},
    {"realized", WORD_STOP},    {"really", WORD_STOP},      {"reason", WORD_STOP},
    {"reasons", WORD_STOP},     {"recently", WORD_STOP},    {"recipe", WORD_TIME},
    {"recipes", WORD_TIME},     {"red", WORD_MOD},          {"reel", WORD_STOP},
    {"reels", WORD_STOP},       {"regularly", WORD_STOP},   {"remember", WORD_STOP},
    {"result", WORD_STOP},      {"results", WORD_STOP},     {"review", WORD_STOP},
    {"reviews", WORD_STOP},     {"rich", WORD_STOP},        {"right", WORD_STOP},
    {"roasted", WORD_MOD},      {"routine", WORD_STOP},     {"routines", WORD_STOP},
    {"rule", WORD_STOP},        {"rules", WORD_STOP},       {"run", WORD_STOP},
    {"runs", WORD_STOP},        {"sad", WORD_STOP},         {"safe", WORD_STOP},
    {"said", WORD_STOP},        {"salty", WORD_MOD},        {"same", WORD_STOP},
    {"saturday", WORD_TIME},    {"save", WORD_STOP},        {"saved", WORD_STOP},
    {"saves", WORD_STOP},       {"savory", WORD_MOD},       {"savoury", WORD_MOD},
    {"saw", WORD_STOP},         {"say", WORD_STOP},         {"says", WORD_STOP},
    {"second", WORD_STOP},      {"secret", WORD_STOP},      {"secrets", WORD_STOP},
    {"see", WORD_STOP},         {"seeing", WORD_STOP},      {"seem", WORD_STOP},
    {"seems", WORD_STOP},       {"seen", WORD_STOP},        {"sell", WORD_STOP},
    {"send", WORD_STOP},        {"sent", WORD_STOP},        {"series", WORD_STOP},
    {"serious", WORD_STOP},     {"seriously", WORD_STOP},   {"set", WORD_STOP},
    {"seven", WORD_STOP},       {"seventeen", WORD_STOP},   {"several", WORD_STOP},
    {"share", WORD_STOP},       {"shares", WORD_STOP},      {"she", WORD_STOP},
    {"she's", WORD_STOP},       {"short", WORD_STOP},       {"should", WORD_STOP},
    {"shouldn't", WORD_STOP},   {"show", WORD_STOP},        {"showed", WORD_STOP},
    {"shown", WORD_STOP},       {"shows", WORD_STOP},       {"sign", WORD_STOP},
    {"signs", WORD_STOP},       {"simple", WORD_STOP},      {"simplest", WORD_STOP},
    {"simply", WORD_STOP},      {"since", WORD_STOP},       {"single", WORD_STOP},
    {"sit", WORD_STOP},         {"six", WORD_STOP},         {"sixteen", WORD_STOP},
    {"skip", WORD_STOP},        {"skipped", WORD_STOP},     {"slow", WORD_STOP},
    {"slow-cooked", WORD_MOD},  {"slowly", WORD_STOP},      {"small", WORD_STOP},
    {"smart", WORD_STOP},       {"so", WORD_STOP},          {"solo", WORD_MOD},
    {"some", WORD_STOP},        {"somebody", WORD_STOP},    {"someone", WORD_STOP},
    {"something", WORD_STOP},   {"sometimes", WORD_STOP},   {"somewhere", WORD_STOP},
    {"soon", WORD_STOP},        {"sooner", WORD_STOP},      {"sound", WORD_STOP},
    {"sounds", WORD_STOP},      {"sour", WORD_MOD},         {"spanish", WORD_MOD},
    {"special", WORD_STOP},     {"spend", WORD_STOP},       {"spending", WORD_STOP},
    {"spends", WORD_STOP},      {"spent", WORD_STOP},       {"spicy", WORD_MOD},
    {"start", WORD_STOP},       {"started", WORD_STOP},     {"starting", WORD_STOP},
    {"starts", WORD_STOP},      {"stay", WORD_STOP},        {"stayed", WORD_STOP},
    {"step", WORD_STOP},        {"steps", WORD_STOP},       {"still", WORD_STOP},
    {"stop", WORD_STOP},        {"stopped", WORD_STOP},     {"stopping", WORD_STOP},
    {"stops", WORD_STOP},       {"stories", WORD_STOP},     {"story", WORD_STOP},
    {"stuff", WORD_STOP},       {"stupid", WORD_STOP},      {"subscribe", WORD_STOP},
    {"such", WORD_STOP},        {"suddenly", WORD_STOP},    {"sunday", WORD_TIME},
    {"sundays", WORD_TIME},     {"super", WORD_STOP},       {"sure", WORD_STOP},
    {"surely", WORD_STOP},      {"sweet", WORD_MOD},        {"tag", WORD_STOP},
    {"take", WORD_STOP},        {"taken", WORD_STOP},       {"takes", WORD_STOP},
    {"taking", WORD_STOP},      {"talk", WORD_STOP},        {"talked", WORD_STOP},
    {"talking", WORD_STOP},     {"talks", WORD_STOP},       {"taste", WORD_STOP},
    {"tastes", WORD_STOP},      {"taught", WORD_STOP},      {"teach", WORD_STOP},
    {"tell", WORD_STOP},        {"telling", WORD_STOP},     {"tells", WORD_STOP},
    {"ten", WORD_STOP},         {"terrible", WORD_STOP},    {"tested", WORD_STOP},
    {"thai", WORD_MOD},         {"than", WORD_STOP},        {"that", WORD_STOP},
    {"that's", WORD_STOP},      {"the", WORD_STOP},         {"their", WORD_STOP},
    {"theirs", WORD_STOP},      {"them", WORD_STOP},        {"themselves", WORD_STOP},
    {"then", WORD_STOP},        {"there", WORD_STOP},       {"there's", WORD_STOP},
    {"these", WORD_STOP},       {"they", WORD_STOP},        {"they'd", WORD_STOP},
    {"they'll", WORD_STOP},     {"they're", WORD_STOP},     {"they've", WORD_STOP},
    {"thing", WORD_STOP},       {"things", WORD_STOP},      {"think", WORD_STOP},
    {"thinking", WORD_STOP},    {"thinks", WORD_STOP},      {"third", WORD_STOP},
    {"thirteen", WORD_STOP},    {"thirty", WORD_STOP},      {"this", WORD_STOP},
    {"those", WORD_STOP},       {"though", WORD_STOP},      {"thought", WORD_STOP},
    {"thousand", WORD_STOP},    {"three", WORD_STOP},       {"through", WORD_STOP},
    {"thru", WORD_STOP},        {"thursday", WORD_TIME},    {"tiktok", WORD_STOP},
    {"till", WORD_STOP},        {"time", WORD_TIME},        {"times", WORD_TIME},
    {"tiny", WORD_STOP},        {"tip", WORD_TIME},         {"tips", WORD_TIME},
    {"to", WORD_STOP},          {"today", WORD_STOP},       {"together", WORD_STOP},
    {"told", WORD_STOP},        {"tomorrow", WORD_STOP},    {"tonight", WORD_STOP},
    {"too", WORD_STOP},         {"took", WORD_STOP},        {"top", WORD_STOP},
    {"total", WORD_STOP},       {"totally", WORD_STOP},     {"tough", WORD_STOP},
    {"toward", WORD_STOP},      {"towards", WORD_STOP},     {"trick", WORD_TIME},
    {"tricks", WORD_TIME},      {"tried", WORD_STOP},       {"tries", WORD_STOP},
    {"true", WORD_STOP},        {"truly", WORD_STOP},       {"truth", WORD_STOP},
    {"try", WORD_STOP},         {"trying", WORD_STOP},      {"tuesday", WORD_TIME},
    {"turn", WORD_STOP},        {"turned", WORD_STOP},      {"turns", WORD_STOP},
    {"tutorial", WORD_STOP},    {"tutorials", WORD_STOP},   {"twelve", WORD_STOP},
    {"twenty", WORD_STOP},      {"twice", WORD_STOP},       {"two", WORD_STOP},
    {"type", WORD_STOP},        {"types", WORD_STOP},       {"ugly", WORD_STOP},
    {"ultimate", WORD_STOP},    {"under", WORD_STOP},       {"underrated", WORD_STOP},
    {"understand", WORD_STOP},  {"understood", WORD_STOP},  {"unless", WORD_STOP},
    {"unpopular", WORD_STOP},   {"until", WORD_STOP},       {"up", WORD_STOP},
    {"update", WORD_STOP},      {"updates", WORD_STOP},     {"upon", WORD_STOP},
    {"us", WORD_STOP},          {"use", WORD_STOP},         {"used", WORD_STOP},
    {"useful", WORD_STOP},      {"useless", WORD_STOP},     {"uses", WORD_STOP},
    {"using", WORD_STOP},       {"usually", WORD_STOP},     {"vegan", WORD_MOD},
    {"vegetarian", WORD_MOD},   {"version", WORD_STOP},     {"very", WORD_STOP},
    {"via", WORD_STOP},         {"video", WORD_STOP},       {"videos", WORD_STOP},
    {"viewers", WORD_STOP},     {"vs", WORD_STOP},          {"wait", WORD_STOP},
    {"waited", WORD_STOP},      {"waiting", WORD_STOP},     {"want", WORD_STOP},
    {"wanted", WORD_STOP},      {"wanting", WORD_STOP},     {"wants", WORD_STOP},
    {"warm", WORD_MOD},         {"was", WORD_STOP},         {"wasn't", WORD_STOP},
    {"watch", WORD_STOP},       {"watched", WORD_STOP},     {"watching", WORD_STOP},
    {"way", WORD_STOP},         {"ways", WORD_STOP},        {"we", WORD_STOP},
    {"we'd", WORD_STOP},        {"we'll", WORD_STOP},       {"we're", WORD_STOP},
    {"we've", WORD_STOP},       {"wednesday", WORD_TIME},   {"week", WORD_TIME},
    {"weekend", WORD_TIME},     {"weekends", WORD_TIME},    {"weekly", WORD_MOD},
    {"weeks", WORD_TIME},       {"weird", WORD_STOP},       {"well", WORD_STOP},
    {"went", WORD_STOP},        {"were", WORD_STOP},        {"weren't", WORD_STOP},
    {"what", WORD_STOP},        {"what's", WORD_STOP},      {"whatever", WORD_STOP},
    {"when", WORD_STOP},        {"where", WORD_STOP},       {"where's", WORD_STOP},
    {"whether", WORD_STOP},     {"which", WORD_STOP},       {"while", WORD_STOP},
    {"white", WORD_MOD},        {"who", WORD_STOP},         {"who's", WORD_STOP},
    {"whole", WORD_STOP},       {"whole-grain", WORD_MOD},  {"whom", WORD_STOP},
    {"whose", WORD_STOP},       {"why", WORD_STOP},         {"wild", WORD_STOP},
    {"will", WORD_STOP},        {"win", WORD_STOP},         {"wish", WORD_STOP},
    {"wished", WORD_STOP},      {"wishes", WORD_STOP},      {"with", WORD_STOP},
    {"within", WORD_STOP},      {"without", WORD_STOP},     {"won", WORD_STOP},
    {"won't", WORD_STOP},       {"wonderful", WORD_STOP},   {"work", WORD_STOP},
    {"worked", WORD_STOP},      {"works", WORD_STOP},       {"worry", WORD_STOP},
    {"worse", WORD_STOP},       {"worst", WORD_STOP},       {"worth", WORD_STOP},
    {"would", WORD_STOP},       {"wouldn't", WORD_STOP},    {"write", WORD_STOP},
    {"wrong", WORD_STOP},       {"wrote", WORD_STOP},       {"yeah", WORD_STOP},
    {"year", WORD_TIME},        {"years", WORD_TIME},       {"yes", WORD_STOP},
    {"yesterday", WORD_STOP},   {"yet", WORD_STOP},         {"you", WORD_STOP},
    {"you'd", WORD_STOP},       {"you'll", WORD_STOP},      {"you're", WORD_STOP},
    {"you've", WORD_STOP},      {"young", WORD_STOP},       {"your", WORD_STOP},
    {"youre", WORD_STOP},       {"yours", WORD_STOP},       {"yourself", WORD_STOP},
    {"yourselves", WORD_STOP},  {"youtube", WORD_STOP},     {"zero", WORD_STOP},
};

static int cmp_class(const void *key, const void *elem)
{
	return strcmp((const char *)key, ((const struct word_class_entry *)elem)->word);
}

enum word_class text_word_class(const char *word, size_t len)
{
	bool ascii = true;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)word[i];
		if (ch >= '0' && ch <= '9')
			return WORD_STOP;
		ascii &= ch < 0x80;
	}
	if (ascii ? len < 3 : text_chars(word) < 2)
		return WORD_STOP;
	if (text_is_stopword(word))
		return WORD_STOP;
	/*
	 * How creators actually type (contractions without apostrophes, chat
	 * spelling) and the Spanish and Portuguese function words they mix in:
	 * never a topic word.
	 */
	static const char *const informal[] = {
	    "thats", "youre",  "ive",  "ill",  "pls",  "plz",   "gonna", "wanna", "gotta",
	    "lol",   "omg",    "tbh",  "idk",  "btw",  "min",   "mins",  "sec",   "secs",
	    "deep",  "que",    "para", "pra",  "com",  "sem",   "los",   "las",   "una",
	    "uma",   "del",    "das",  "dos",  "mais", "muito", "todos", "todas", "tus",
	    "mis",   "nos",    "por",  "pero", "mas",  "não",   "sí",    "sim",   "más",
	    "eu",    "você",   "esto", "isso", "esta", "este",  "aqui",  "aquí",  "tem",
	    "tiene", "tienes", "hay",  "bora", "tipo", "nada",  NULL};
	for (int i = 0; informal[i]; i++)
		if (!strcmp(word, informal[i]))
			return WORD_STOP;
	const struct word_class_entry *e =
	    bsearch(word, word_classes, sizeof(word_classes) / sizeof(word_classes[0]),
	            sizeof(word_classes[0]), cmp_class);
	return e ? e->cls : WORD_CONTENT;
}
