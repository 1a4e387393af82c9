/* auth.h — bearer tokens to principals. Tokens are stored only as SHA-256 hashes in a file of
 * lines `<sha256 hex> <subject> <role> <site|-> <region|->`; the gateway hashes what a caller
 * presents and looks the hash up. */
#ifndef GATEWAY_AUTH_H
#define GATEWAY_AUTH_H

#include <stddef.h>

typedef struct gw_principal {
    char subject[64];
    char role[16];
    char site[16];
    char region[16];
} gw_principal_t;

typedef struct gw_tokens gw_tokens_t;

/* Load the token file. Returns NULL with a message in err. */
gw_tokens_t *gw_tokens_load(const char *path, char *err, size_t errlen);
/* The principal for a presented token, or NULL. Borrowed from the table. */
const gw_principal_t *gw_tokens_find(const gw_tokens_t *t, const char *token);
size_t gw_tokens_count(const gw_tokens_t *t);
void gw_tokens_free(gw_tokens_t **t_p);

#endif
