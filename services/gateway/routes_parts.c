/* routes_parts.c — the HTTP routes of the parts service. */
#include "gateway.h"

const gw_route_t gw_routes_parts[] = {
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
