/* tokenizer.c - encoding text exactly like HF's BertTokenizerFast.
 *
 * The pipeline of HF tokenizers (Rust), applied one code point at a time in a
 * single pass over the input:
 *   added tokens  [CLS] [SEP] ... are matched verbatim in the raw text first
 *                 (AddedVocabulary, normalized=false) and split the text;
 *   BertNormalizer, in its order: clean_text (drop U+0000, U+FFFD and "other"
 *                 characters Cc/Cf/Co except \t \n \r; whitespace -> ' '),
 *                 handle_chinese_chars (spaces around CJK ideographs),
 *                 strip_accents (NFD, drop Mn), lowercase (full mapping,
 *                 char by char, no final-sigma rule);
 *   BertPreTokenizer: split on whitespace; every punctuation char (ASCII
 *                 33-47, 58-64, 91-96, 123-126, or Unicode P*) is a word;
 *   WordPiece:    greedy longest-match-first, "##" continuations, words over
 *                 max_input_chars_per_word chars or with no match -> [UNK];
 *   post-processor [CLS] ... [SEP], truncated to max_len keeping [SEP].
 * Unicode properties come from utf8proc.  Known differences from HF come only
 * from Unicode versions: HF's categories (unicode_categories crate) are
 * Unicode 8.0, utf8proc's are newer, so characters assigned since 2015 as
 * Cf/P/Mn are treated as such here but as ordinary letters by HF.
 *
 * Speed: ASCII bytes take a table-driven path; words are buffered on the
 * stack and looked up by incremental (seeded) FNV hashing; nothing is allocated. */
#include <string.h>

#include <utf8proc.h>

#include "tokenizer.h"
#include "vocab.h"

enum { A_DROP = 0, A_SPACE = 1, A_PUNCT = 2, A_WORD = 3 };
/* ASCII classes: controls are dropped (clean_text), \t \n \r and ' ' split,
 * the four ASCII punctuation ranges are words of their own. */
static const unsigned char ascii_class[128] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2,
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2,
    2, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 0,
};

#define WORD_CAP (4 * VKB_MAX_WORD_CHARS + 8)

typedef struct enc {
    const vkb_tokenizer *t;
    int32_t *ids;
    int n;      /* ids written */
    int limit;  /* content ids go to ids[1 .. limit-1]; ids[limit] is [SEP] */
    int full;   /* truncation reached: the rest of the text is irrelevant */
    uint32_t wbytes;
    int wchars;
    char word[WORD_CAP];
} enc;

static inline void emit(enc *e, int32_t id) {
    if (e->n < e->limit) e->ids[e->n++] = id;
    else e->full = 1;
}

/* Id of "##" + s[0..n) given the hash of that string, or -1. */
static inline int32_t find_cont(const vkb_tokenizer *t, uint64_t h, const char *s, uint32_t n) {
    uint64_t i = vkb_vocab_home(t, h);
    for (uint32_t k = 0; k <= t->max_probe; k++, i = (i + 1) & t->mask) {
        int32_t id = t->slot[i];
        if (id < 0) return -1;
        const char *tok = t->tok[id];
        if (t->hash[id] == h && t->len[id] == n + 2 && tok[0] == '#' && tok[1] == '#' &&
            memcmp(tok + 2, s, n) == 0)
            return id;
    }
    return -1;
}

/* Greedy longest-match-first WordPiece on the buffered word.  Pieces are
 * written straight into ids and rolled back if the word turns out unknown. */
static void wordpiece(enc *e) {
    const vkb_tokenizer *t = e->t;
    const char *w = e->word;
    uint32_t len = e->wbytes;
    int start_n = e->n, full = e->full;
    uint64_t hs[VKB_MAX_WORD_CHARS + 1];
    uint32_t ends[VKB_MAX_WORD_CHARS + 1];
    uint32_t start = 0;
    while (start < len) {
        int cont = start > 0;
        uint32_t room = t->max_tok_bytes > (cont ? 2u : 0u) ? t->max_tok_bytes - (cont ? 2u : 0u) : 0;
        uint32_t lim = len - start < room ? len : start + room;
        /* Hashes of every candidate w[start..end) at char boundaries. */
        uint64_t h = cont ? t->cont_seed : t->seed;
        int k = 0;
        for (uint32_t p = start; p < lim;) {
            h = vkb_fnv_step(h, (unsigned char)w[p++]);
            if (p == len || ((unsigned char)w[p] & 0xC0) != 0x80) {
                hs[k] = h;
                ends[k++] = p;
            }
        }
        int32_t id = -1;
        while (k-- > 0) {
            uint32_t n = ends[k] - start;
            id = cont ? find_cont(t, hs[k], w + start, n) : vkb_vocab_find(t, hs[k], w + start, n);
            if (id >= 0) break;
        }
        if (id < 0) {
            e->n = start_n;
            e->full = full;
            emit(e, t->unk);
            return;
        }
        emit(e, id);
        start = ends[k];
    }
}

static inline void flush(enc *e) {
    if (e->wchars == 0) return;
    if (e->wchars > e->t->max_chars_per_word) emit(e, e->t->unk);
    else wordpiece(e);
    e->wchars = 0;
    e->wbytes = 0;
}

static inline void append_cp(enc *e, int32_t c) {
    /* Past max_chars_per_word the word is [UNK]: only count. */
    if (++e->wchars <= e->t->max_chars_per_word)
        e->wbytes += (uint32_t)utf8proc_encode_char(c, (utf8proc_uint8_t *)e->word + e->wbytes);
}

static inline int is_punct_cat(utf8proc_category_t c) {
    return c >= UTF8PROC_CATEGORY_PC && c <= UTF8PROC_CATEGORY_PO;
}
static inline int is_space_cat(utf8proc_category_t c) {
    return c >= UTF8PROC_CATEGORY_ZS && c <= UTF8PROC_CATEGORY_ZP;
}

/* A normalized char through BertPreTokenizer. */
static void pretok_cp(enc *e, int32_t c) {
    if (c < 0x80) {
        switch (ascii_class[c]) {
        case A_WORD: append_cp(e, c); return;
        case A_PUNCT: flush(e); append_cp(e, c); flush(e); return;
        default: flush(e); return; /* space (controls were cleaned already) */
        }
    }
    utf8proc_category_t cat = utf8proc_category(c);
    if (is_punct_cat(cat)) { flush(e); append_cp(e, c); flush(e); }
    else if (is_space_cat(cat)) flush(e);
    else append_cp(e, c);
}

/* Rust's char::to_lowercase: the simple mapping, except U+0130 whose full
 * (unconditional, SpecialCasing) lowercase is "i" + U+0307. */
static void lower_pretok(enc *e, int32_t c) {
    if (!e->t->lowercase) { pretok_cp(e, c); return; }
    if (c == 0x130) { pretok_cp(e, 'i'); pretok_cp(e, 0x307); return; }
    pretok_cp(e, utf8proc_tolower(c));
}

/* strip_accents then lowercase (HF's order), then pre-tokenization. */
static void normalize_cp(enc *e, int32_t c) {
    if (!e->t->strip_accents) { lower_pretok(e, c); return; }
    utf8proc_int32_t d[32];
    int last = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(c, d, 32, UTF8PROC_DECOMPOSE, &last);
    if (n < 0 || n > 32) { d[0] = c; n = 1; }
    for (utf8proc_ssize_t i = 0; i < n; i++)
        if (utf8proc_category(d[i]) != UTF8PROC_CATEGORY_MN) lower_pretok(e, d[i]);
}

/* The CJK ranges of HF's BertNormalizer (tokenizers/src/normalizers/bert.rs),
 * including its 0x2B920 where Google's BERT has 0x2B820. */
static inline int is_chinese(int32_t c) {
    return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
           (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
           (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B920 && c <= 0x2CEAF) ||
           (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* A non-ASCII code point of the raw text. */
static void handle_cp(enc *e, int32_t c) {
    if (c == 0xFFFD) return;
    utf8proc_category_t cat = utf8proc_category(c);
    if (cat == UTF8PROC_CATEGORY_CC || cat == UTF8PROC_CATEGORY_CF ||
        cat == UTF8PROC_CATEGORY_CO || cat == UTF8PROC_CATEGORY_CS)
        return;
    if (is_space_cat(cat)) { flush(e); return; }
    if (is_chinese(c)) { flush(e); normalize_cp(e, c); flush(e); return; }
    normalize_cp(e, c);
}

/* Decodes one UTF-8 sequence at s[0..n), n >= 1, s[0] >= 0x80.  Invalid or
 * truncated sequences give U+FFFD and consume one byte, so no valid byte
 * after them is lost. */
static inline int32_t decode(const unsigned char *s, size_t n, size_t *adv) {
    unsigned c = s[0];
    int32_t cp;
    size_t k;
    if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; }
    else { *adv = 1; return 0xFFFD; }
    if (n <= k) { *adv = 1; return 0xFFFD; }
    for (size_t j = 1; j <= k; j++) {
        if ((s[j] & 0xC0) != 0x80) { *adv = 1; return 0xFFFD; }
        cp = (cp << 6) | (s[j] & 0x3F);
    }
    if ((k == 2 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (k == 3 && (cp < 0x10000 || cp > 0x10FFFF))) {
        *adv = 1;
        return 0xFFFD;
    }
    *adv = k + 1;
    return cp;
}

/* Length of the longest added token at s[0..n), or 0; *id gets its id. */
static inline size_t match_added(const vkb_tokenizer *t, const unsigned char *s, size_t n, int32_t *id) {
    size_t best = 0;
    for (int i = 0; i < t->n_added; i++) {
        const vkb_added_token *a = &t->added[i];
        if (a->len > best && a->len <= n && memcmp(a->content, s, a->len) == 0) {
            best = a->len;
            *id = a->id;
        }
    }
    return best;
}

int vkb_tokenize(const vkb_tokenizer *t, const char *text, size_t len, int max_len, int32_t *ids) {
    if (!t || !ids || max_len < 2 || (!text && len)) return -1;
    enc e;
    e.t = t;
    e.ids = ids;
    e.n = 0;
    e.limit = max_len - 1;
    e.full = 0;
    e.wbytes = 0;
    e.wchars = 0;
    ids[e.n++] = t->cls;
    const unsigned char *s = (const unsigned char *)text;
    const int lower = t->lowercase;
    size_t i = 0;
    while (i < len && !e.full) {
        unsigned c = s[i];
        if (t->added_first[c >> 3] & (1u << (c & 7))) {
            int32_t id;
            size_t m = match_added(t, s + i, len - i, &id);
            if (m) {
                flush(&e);
                emit(&e, id);
                i += m;
                continue;
            }
        }
        if (c < 0x80) {
            switch (ascii_class[c]) {
            case A_WORD:
                if (e.wchars < t->max_chars_per_word) {
                    e.word[e.wbytes++] = (char)(lower && c - 'A' < 26u ? c + 32 : c);
                    e.wchars++;
                } else {
                    append_cp(&e, (int32_t)c); /* only counts */
                }
                break;
            case A_PUNCT:
                flush(&e);
                append_cp(&e, (int32_t)c);
                flush(&e);
                break;
            case A_SPACE: flush(&e); break;
            default: break; /* ASCII control: dropped by clean_text */
            }
            i++;
            continue;
        }
        size_t adv;
        int32_t cp = decode(s + i, len - i, &adv);
        i += adv;
        handle_cp(&e, cp);
    }
    if (!e.full) flush(&e);
    ids[e.n++] = t->sep;
    return e.n;
}

const char *vkb_token_str(const vkb_tokenizer *t, int32_t id) {
    if (!t || id < 0 || id >= t->n) return NULL;
    return t->tok[id];
}

int vkb_tokenizer_vocab_size(const vkb_tokenizer *t) { return t ? t->n : 0; }

int vkb_tokenizer_max_len(const vkb_tokenizer *t) { return t ? t->max_len : 0; }
