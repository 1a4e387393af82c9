/* table.c — asctl's one table printer (see asctl_print_table in asctl.h): columns measured in
 * terminal columns, so Chinese names and descriptions (two columns per character) line up and are
 * cut at character boundaries, never inside a UTF-8 sequence; numbers are right-aligned. */
#include "asctl.h"

#include <stdio.h>
#include <string.h>

/* Decode one UTF-8 sequence at s (at most n bytes): its length in *len (1 for a malformed
 * byte) and its code point. */
static unsigned utf8_next(const unsigned char *s, size_t n, size_t *len)
{
    unsigned c = s[0];
    size_t want = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (want == 0 || want > n) {
        *len = 1;
        return 0xFFFD;
    }
    if (want == 1) {
        *len = 1;
        return c;
    }
    unsigned cp = c & (0x7Fu >> want);
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            *len = 1;
            return 0xFFFD;
        }
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    *len = want;
    return cp;
}

/* Terminal columns of a code point: 2 for East Asian wide and full-width characters. */
static int cp_width(unsigned cp)
{
    if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
        return 0;
    if ((cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF && cp != 0x303F) ||
        (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
        (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
        (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD))
        return 2;
    return 1;
}

/* Print `s` in exactly `width` terminal columns: cut at a character boundary (never inside a
 * UTF-8 sequence or a wide character), padded with spaces on the right, or on the left when
 * `right` is set. Control characters (a line break in a note) print as a space and bytes that
 * are not UTF-8 as '?', so that one cell never breaks the table. */
static void put_cell(const char *s, int width, int right)
{
    const unsigned char *p = (const unsigned char *)s;
    char out[1024];
    size_t n = strlen(s), i = 0, o = 0;
    int used = 0;
    while (i < n) {
        size_t len;
        unsigned cp = utf8_next(p + i, n - i, &len);
        int bad = cp == 0xFFFD && len == 1;
        int ctl = cp < 0x20 || (cp >= 0x7F && cp < 0xA0);
        int w = bad || ctl ? 1 : cp_width(cp);
        if (used + w > width || o + len >= sizeof out)
            break;
        if (bad || ctl) {
            out[o++] = bad ? '?' : ' ';
        } else {
            memcpy(out + o, p + i, len);
            o += len;
        }
        used += w;
        i += len;
    }
    if (right)
        printf("%*s", width - used, "");
    fwrite(out, 1, o, stdout);
    if (!right)
        printf("%*s", width - used, "");
}

void asctl_print_table(json_t *rows, const asctl_col_t *cols, int ncols)
{
    for (int c = 0; c < ncols; c++) {
        size_t pl = strlen(cols[c].path);
        int right = pl > 5 && strcmp(cols[c].path + pl - 5, "_yuan") == 0;
        put_cell(cols[c].title, cols[c].width, right);
        putchar(' ');
    }
    printf("\n");
    for (int c = 0; c < ncols; c++) {
        for (int k = 0; k < cols[c].width; k++)
            putchar('-');
        putchar(' ');
    }
    printf("\n");
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        for (int c = 0; c < ncols; c++) {
            char buf[512];
            const char *path = cols[c].path;
            size_t pl = strlen(path);
            json_t *v = row;
            char key[128];
            for (const char *p = path; v && *p;) {
                size_t k = strcspn(p, ".");
                snprintf(key, sizeof key, "%.*s", (int)k, p);
                v = json_object_get(v, key);
                p += k + (p[k] == '.');
            }
            int right = json_is_integer(v) || (pl > 5 && strcmp(path + pl - 5, "_yuan") == 0);
            put_cell(asctl_get(row, path, buf, sizeof buf), cols[c].width, right);
            putchar(' ');
        }
        printf("\n");
    }
}

void asctl_print_row(json_t *row, const char *const *money, const asctl_col_t *cols, int ncols)
{
    json_t *rows = json_array();
    json_array_append(rows, row);
    if (money)
        asctl_verb_add_yuan(rows, money);
    asctl_print_table(rows, cols, ncols);
    json_decref(rows);
}
