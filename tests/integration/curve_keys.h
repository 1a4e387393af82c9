/* curve_keys.h — for the integration test programs and the bench (tests/bench/load.c): give a raw
 * ZeroMQ client socket the CURVE identity `name` (a key pair from the stack's keys directory)
 * towards service `peer`, when the stack runs with CURVE. Header-only so each test stays one file.
 */
#ifndef IT_CURVE_KEYS_H
#define IT_CURVE_KEYS_H

#include <stdio.h>
#include <string.h>
#include <zmq.h>

#include "as/service.h"

static int it_read_key(const char *path, char *pub, char *sec)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int ok = fgets(pub, 64, f) != NULL;
    if (ok && sec)
        ok = fgets(sec, 64, f) != NULL;
    fclose(f);
    pub[strcspn(pub, "\n")] = '\0';
    if (sec)
        sec[strcspn(sec, "\n")] = '\0';
    return ok ? 0 : -1;
}

/* Give `sock` the CURVE keys: the server's public key, and this client's pair (Z85 text). */
static void it_curve_keys(void *sock, const char *server, const char *pub, const char *sec)
{
    zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, server, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, pub, 40);
    zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, sec, 40);
}

/* Returns 0 when done (or CURVE is off), -1 when the keys cannot be read. */
static int it_curve_client(void *sock, const char *name, const char *peer)
{
    if (!as_cfg_curve_keys || !*as_cfg_curve_keys)
        return 0;
    char path[600], pub[64], sec[64], server[64];
    snprintf(path, sizeof path, "%s/%s.key", as_cfg_curve_keys, name);
    if (it_read_key(path, pub, sec) < 0)
        return -1;
    snprintf(path, sizeof path, "%s/%s.pub", as_cfg_curve_keys, peer);
    if (it_read_key(path, server, NULL) < 0)
        return -1;
    it_curve_keys(sock, server, pub, sec);
    return 0;
}

#endif
