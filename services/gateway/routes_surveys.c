/* routes_surveys.c — the HTTP routes of the surveys service. */
#include "gateway.h"

const gw_route_t gw_routes_surveys[] = {
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
