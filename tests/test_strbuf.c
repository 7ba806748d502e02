/* test_strbuf.c - the growable buffer of the base layer (host/strbuf.c),
 * which the input readers, the output line and the CLI share. */
#include "testutil.h"
#include "strbuf.h"
#include "clock.h"
#include <stdint.h>
#include <string.h>

int main(void) {
    vkb_strbuf b = {0};
    CHECK(vkb_sb_put(&b, "", 0) == 0 && b.p && b.p[0] == 0 && b.n == 0, "empty put gives an empty string");
    for (int i = 0; i < 1000; i++) CHECK(vkb_sb_putc(&b, (char)('a' + i % 26)) == 0, "putc %d", i);
    CHECK(b.n == 1000 && b.cap > 1000 && b.p[1000] == 0 && b.p[26] == 'a' && b.p[999] == 'l', "1000 chars");
    char big[3000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    CHECK(vkb_sb_printf(&b, "[%d|%s]", 42, big) == 0 && b.n == 1000 + 4 + 2999 + 1 &&
          !memcmp(b.p + 1000, "[42|x", 5) && b.p[b.n - 1] == ']' && b.p[b.n] == 0, "printf past the first size");
    CHECK(vkb_sb_puts(&b, "end") == 0 && !strcmp(b.p + b.n - 3, "end") && !b.oom, "puts");
    /* A request that cannot be met fails, keeps the contents and sets oom. */
    size_t n = b.n;
    CHECK(vkb_sb_reserve(&b, SIZE_MAX - 2) == -1 && b.oom && b.n == n && !strcmp(b.p + n - 3, "end"),
          "impossible reserve");
    CHECK(vkb_sb_put(&b, "z", 1) == 0 && b.oom, "oom stays set after a later success");
    free(b.p);
    double t0 = vkb_now_s(), t1 = vkb_now_s();
    CHECK(t0 > 0 && t1 >= t0, "monotonic clock %f %f", t0, t1);
    return vkb_test_done("test_strbuf");
}
