/* routes_settlement.c — the HTTP routes of the settlement service. */
#include "gateway.h"

const gw_route_t gw_routes_settlement[] = {
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
