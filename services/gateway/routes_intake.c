/* routes_intake.c — the HTTP routes of the intake service (tickets). */
#include "gateway.h"

#define DESK      (R_ADMIN | R_REGION | R_CENTER)
#define READERS   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER | R_FINANCE)
#define CUSTOMERS (R_ADMIN | R_CENTER)
#define DEVICES   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)
#define QUALITY   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)
#define SCORECARD (R_ADMIN | R_REGION | R_CENTER | R_FINANCE)

const gw_route_t gw_routes_intake[] = {
    {"POST", "/v1/tickets", DESK, "intake", "intake.OpenTicket", 1, NULL, NULL, NULL,
     "open a repair ticket", NULL},
    {"GET", "/v1/tickets", READERS, "intake", "intake.ListTickets", 0, NULL, NULL, NULL,
     "list tickets (filters, cursor pagination)", "state=@intake.TicketState"},
    {"GET", "/v1/tickets/{id}", READERS, "intake", "intake.GetTicket", 0, NULL, NULL, NULL,
     "one ticket with its full timeline", NULL},
    {"POST", "/v1/tickets/{id}/diagnosis", DESK, "intake", "intake.Diagnose", 1, NULL, NULL, NULL,
     "record the diagnosis (and the estimate for paid work)", NULL},
    {"POST", "/v1/tickets/{id}/consent", DESK, "intake", "intake.Consent", 1, NULL, NULL, NULL,
     "the customer accepts or declines the estimate", NULL},
    {"POST", "/v1/tickets/{id}/revise-estimate", DESK, "intake", "intake.ReviseEstimate", 1, NULL,
     NULL, NULL, "the work needs more: a revised estimate, back to the customer for consent", NULL},
    {"POST", "/v1/tickets/{id}/parts-requests", DESK, "intake", "intake.RequestParts", 1, NULL,
     NULL, NULL, "ask the parts service for parts", NULL},
    {"POST", "/v1/tickets/{id}/repair-complete", DESK, "intake", "intake.CompleteRepair", 1, NULL,
     NULL, NULL, "the repair is done (parts used, labour)", NULL},
    {"POST", "/v1/tickets/{id}/handback", DESK, "intake", "intake.Handback", 1, NULL, NULL, NULL,
     "hand the product back (repaired, refunded or exchanged)", NULL},
    {"POST", "/v1/tickets/{id}/cancel", DESK, "intake", "intake.CancelTicket", 1, NULL, NULL, NULL,
     "cancel a ticket in an early state", NULL},
    {"POST", "/v1/tickets/{id}/return-unrepaired", DESK, "intake", "intake.ReturnUnrepaired", 1,
     NULL, NULL, NULL, "give the device back unrepaired (any state before the repair is done)",
     NULL},
    /* promised deadlines (docs/intake.md "Promised deadlines") */
    {"GET", "/v1/promises", DESK, "intake", "intake.ListPromises", 0, NULL, NULL, NULL,
     "running promises at risk or overdue, most urgent first", "status=at_risk|overdue|all"},
    {"GET", "/v1/reports/promises", READERS, "intake", "intake.GetPromiseReport", 0, NULL, NULL,
     NULL, "per centre: running, at-risk, overdue and escalated promises; kept and missed", NULL},
    {"GET", "/v1/service-levels", READERS, "intake", "intake.ListServiceLevels", 0, NULL, NULL,
     NULL, "the service levels (hours promised per centre and category)", NULL},
    {"POST", "/v1/service-levels", R_ADMIN, "intake", "intake.SetServiceLevel", 1, NULL, NULL, NULL,
     "set (or with hours 0 remove) a centre's service level for a category", NULL},
    /* the hotline's call log (docs/intake.md "Call log") */
    {"POST", "/v1/calls", DESK, "intake", "intake.RecordCall", 1, NULL, NULL, NULL,
     "record a call; a repair request opens its ticket, a complaint its complaint", NULL},
    {"GET", "/v1/calls", QUALITY, "intake", "intake.ListCalls", 0, NULL, NULL, NULL,
     "the call archive (phone, ticket, category, centre, dates, text; cursor pagination)",
     "category=consultation|repair_request|complaint|suggestion|praise|other"},
    {"GET", "/v1/calls/stats", QUALITY, "intake", "intake.GetCallStats", 0, NULL, NULL, NULL,
     "calls by category, centre and hour of the day", NULL},
    {"GET", "/v1/calls/{id}", QUALITY, "intake", "intake.GetCall", 0, NULL, NULL, NULL,
     "one call (the customer's phone in full; each read audited)", NULL},
    /* quality feedback (docs/intake.md "Quality report") */
    {"GET", "/v1/reports/quality", QUALITY, "intake", "intake.GetQualityReport", 0, NULL, NULL,
     NULL, "faults by brand, model, fault code, part and month; repeat hot spots; trend", NULL},
    {"GET", "/v1/reports/quality/csv", QUALITY, "intake", "intake.ExportQualityReport", 0, NULL,
     "csv", NULL, "the quality report as CSV (per manufacturer with ?manufacturer=)", NULL},
    /* the station scorecard and its rewards (docs/scorecard.md) */
    {"GET", "/v1/reports/scorecard", SCORECARD, "intake", "intake.GetScorecard", 0, NULL, NULL,
     NULL, "per centre: the eight service metrics, the weighted score and the rank in its region",
     NULL},
    {"POST", "/v1/reports/scorecard/rewards", R_ADMIN, "intake", "intake.PostScorecardRewards", 1,
     NULL, NULL, NULL,
     "a closed period's market-maintenance rewards, once per centre, posted to settlement", NULL},
    {"GET", "/v1/scorecard/weights", R_ADMIN | R_FINANCE, "intake", "intake.ListScorecardWeights",
     0, NULL, NULL, NULL, "the scorecard weight sets and reward rules, by version", NULL},
    {"POST", "/v1/scorecard/weights", R_ADMIN, "intake", "intake.AddScorecardWeights", 1, NULL,
     NULL, NULL, "a new scorecard weight set and reward rule, in force from effective_from", NULL},
    /* customers: personal data, for admin and the centre desks only (docs/roles.md) */
    {"POST", "/v1/customers", CUSTOMERS, "intake", "intake.CreateCustomer", 1, NULL, NULL, NULL,
     "register a customer (phones are unique: one customer per phone)", NULL},
    {"GET", "/v1/customers", CUSTOMERS, "intake", "intake.ListCustomers", 0, NULL, NULL, NULL,
     "find customers by phone or name prefix (paged)", NULL},
    {"GET", "/v1/customers/{id}", CUSTOMERS, "intake", "intake.GetCustomer", 0, NULL, NULL, NULL,
     "one customer with devices and tickets (each read is audited)", NULL},
    {"PATCH", "/v1/customers/{id}", CUSTOMERS, "intake", "intake.UpdateCustomer", 1, NULL, NULL,
     NULL, "change a customer: address, consent, tier and account owner, more phones", NULL},
    {"GET", "/v1/customers/{id}/devices", CUSTOMERS, "intake", "intake.ListCustomerDevices", 0,
     NULL, NULL, NULL, "the devices a customer owns, each with its repair history", NULL},
    {"GET", "/v1/devices/{imei}", DEVICES, "intake", "intake.GetDevice", 0, NULL, NULL, NULL,
     "a device (IMEI or VIN): owner and repair history at every centre", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
