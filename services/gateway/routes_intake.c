/* routes_intake.c — the HTTP routes of the intake service (tickets). */
#include "gateway.h"

#define DESK (R_ADMIN | R_REGION | R_CENTER)
#define READERS (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER | R_FINANCE)

const gw_route_t gw_routes_intake[] = {
    {"POST", "/v1/tickets", DESK, "intake", "intake.OpenTicket", 1, NULL, NULL, NULL,
     "open a repair ticket"},
    {"GET", "/v1/tickets", READERS, "intake", "intake.ListTickets", 0, NULL, NULL, NULL,
     "list tickets (filters, cursor pagination)"},
    {"GET", "/v1/tickets/{id}", READERS, "intake", "intake.GetTicket", 0, NULL, NULL, NULL,
     "one ticket with its full timeline"},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL},
};
