/* auth.h — bearer tokens to principals. Tokens are stored only as SHA-256 hashes in a file of
 * lines `<sha256 hex> <subject> <role> <site|-> <region|->`; the gateway hashes what a caller
 * presents and looks the hash up. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stddef.h>
#include <stdint.h>

/* Who a caller is. From the tokens file (kind GW_FILE: service accounts and the bootstrap
 * principals) or from the people service (a staff account's session or personal API token). */
enum { GW_FILE = 0, GW_SESSION = 1, GW_TOKEN = 2 };

typedef struct gw_principal {
    char subject[72]; /* a staff account's login name */
    char role[16];
    char site[24];
    char region[40];
    char display_name[128]; /* staff accounts: the person's name */
    char token_id[24];      /* sessions and personal tokens: their id (revocation) */
    char csrf_hash[65];     /* sessions: sha256 hex of the CSRF token */
    int kind;               /* GW_FILE | GW_SESSION | GW_TOKEN */
} gw_principal_t;

typedef struct gw_tokens gw_tokens_t;

/* Load the token file. Returns NULL with a message in err. */
gw_tokens_t *gw_tokens_load(const char *path, char *err, size_t errlen);
/* The principal for a presented token, or NULL. Borrowed from the table. */
const gw_principal_t *gw_tokens_find(const gw_tokens_t *t, const char *token);
size_t gw_tokens_count(const gw_tokens_t *t);
void gw_tokens_free(gw_tokens_t **t_p);

/* sha256 of `s` as 64 lower-case hex digits. */
void gw_sha256_hex(const char *s, size_t len, char out[65]);

/* ---- identities resolved by the people service, cached ----
 * Keyed by the secret's sha256. An entry lives until the earlier of its own expiry and `ttl_ms`
 * after it was fetched; the people stream's events (a token revoked, a user disabled or its
 * password reset) drop entries at once. */
const gw_principal_t *gw_idcache_find(const char *hash, int64_t now_ms);
void gw_idcache_put(const char *hash, const gw_principal_t *p, int64_t until_ms);
void gw_idcache_drop_token(const char *token_id);
void gw_idcache_drop_login(const char *login);
void gw_idcache_clear(void);
size_t gw_idcache_count(void);

#endif
