/* routes_warranty.c — the HTTP routes of the warranty service. */
#include "gateway.h"

const gw_route_t gw_routes_warranty[] = {
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
