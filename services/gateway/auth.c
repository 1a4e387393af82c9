/* auth.c — the hashed token table behind auth.h. */
#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

typedef struct token_entry {
    char hash[65];
    gw_principal_t p;
    UT_hash_handle hh;
} token_entry_t;

struct gw_tokens {
    token_entry_t *map;
    size_t n;
};

static const char *const ROLES[] = {"admin",   "region",   "center", "warehouse",
                                    "finance", "reviewer", NULL};

gw_tokens_t *gw_tokens_load(const char *path, char *err, size_t errlen)
{
    if (sodium_init() < 0) {
        snprintf(err, errlen, "libsodium failed to initialise");
        return NULL;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "cannot read tokens file %s", path);
        return NULL;
    }
    gw_tokens_t *t = calloc(1, sizeof *t);
    char line[512];
    int lineno = 0;
    while (t && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        token_entry_t *e = calloc(1, sizeof *e);
        if (!e)
            break;
        if (sscanf(line, "%64s %71s %15s %23s %39s", e->hash, e->p.subject, e->p.role, e->p.site,
                   e->p.region) != 5 ||
            strlen(e->hash) != 64) {
            snprintf(err, errlen, "%s:%d: expected '<sha256> <subject> <role> <site> <region>'",
                     path, lineno);
            free(e);
            gw_tokens_free(&t);
            break;
        }
        int role_ok = 0;
        for (int i = 0; ROLES[i]; i++)
            role_ok |= strcmp(ROLES[i], e->p.role) == 0;
        if (!role_ok) {
            snprintf(err, errlen, "%s:%d: unknown role '%s'", path, lineno, e->p.role);
            free(e);
            gw_tokens_free(&t);
            break;
        }
        if (strcmp(e->p.site, "-") == 0)
            e->p.site[0] = '\0';
        if (strcmp(e->p.region, "-") == 0)
            e->p.region[0] = '\0';
        /* Scope fails closed: a centre principal without its site, or a region principal without
         * its region, would be scoped to nothing the checks can compare; refuse the file. */
        if ((strcmp(e->p.role, "center") == 0 && !e->p.site[0]) ||
            (strcmp(e->p.role, "region") == 0 && !e->p.region[0])) {
            snprintf(err, errlen, "%s:%d: a %s principal needs its %s (got '-')", path, lineno,
                     e->p.role, strcmp(e->p.role, "center") == 0 ? "site" : "region");
            free(e);
            gw_tokens_free(&t);
            break;
        }
        token_entry_t *dup = NULL;
        HASH_FIND_STR(t->map, e->hash, dup);
        if (dup) {
            free(e);
            continue;
        }
        HASH_ADD_STR(t->map, hash, e);
        t->n++;
    }
    fclose(f);
    return t;
}

const gw_principal_t *gw_tokens_find(const gw_tokens_t *t, const char *token)
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    char hex[65];
    crypto_hash_sha256(digest, (const unsigned char *)token, strlen(token));
    sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
    token_entry_t *e = NULL;
    HASH_FIND_STR(t->map, hex, e);
    return e ? &e->p : NULL;
}

size_t gw_tokens_count(const gw_tokens_t *t)
{
    return t->n;
}

void gw_tokens_free(gw_tokens_t **t_p)
{
    if (!t_p || !*t_p)
        return;
    token_entry_t *e, *tmp;
    HASH_ITER(hh, (*t_p)->map, e, tmp)
    {
        HASH_DEL((*t_p)->map, e);
        free(e);
    }
    free(*t_p);
    *t_p = NULL;
}

void gw_sha256_hex(const char *s, size_t len, char out[65])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, (const unsigned char *)s, len);
    sodium_bin2hex(out, 65, digest, sizeof digest);
}

/* ---- the identity cache ---- */

typedef struct id_entry {
    char hash[65];
    gw_principal_t p;
    int64_t until_ms;
    UT_hash_handle hh;
} id_entry_t;

static id_entry_t *idcache;
static size_t idcache_n;
#define IDCACHE_MAX 100000

static void id_del(id_entry_t *e)
{
    HASH_DEL(idcache, e);
    sodium_memzero(e, sizeof *e);
    free(e);
    idcache_n--;
}

const gw_principal_t *gw_idcache_find(const char *hash, int64_t now_ms)
{
    id_entry_t *e = NULL;
    HASH_FIND_STR(idcache, hash, e);
    if (!e)
        return NULL;
    if (e->until_ms <= now_ms) {
        id_del(e);
        return NULL;
    }
    return &e->p;
}

void gw_idcache_put(const char *hash, const gw_principal_t *p, int64_t until_ms)
{
    id_entry_t *e = NULL;
    HASH_FIND_STR(idcache, hash, e);
    if (e)
        id_del(e);
    if (idcache_n >= IDCACHE_MAX)
        gw_idcache_clear();
    e = calloc(1, sizeof *e);
    if (!e)
        return;
    snprintf(e->hash, sizeof e->hash, "%s", hash);
    e->p = *p;
    e->until_ms = until_ms;
    HASH_ADD_STR(idcache, hash, e);
    idcache_n++;
}

void gw_idcache_drop_token(const char *token_id)
{
    id_entry_t *e, *tmp;
    HASH_ITER(hh, idcache, e, tmp)
    {
        if (strcmp(e->p.token_id, token_id) == 0)
            id_del(e);
    }
}

void gw_idcache_drop_login(const char *login)
{
    id_entry_t *e, *tmp;
    HASH_ITER(hh, idcache, e, tmp)
    {
        if (strcmp(e->p.subject, login) == 0)
            id_del(e);
    }
}

void gw_idcache_clear(void)
{
    id_entry_t *e, *tmp;
    HASH_ITER(hh, idcache, e, tmp)
    {
        id_del(e);
    }
}

size_t gw_idcache_count(void)
{
    return idcache_n;
}
