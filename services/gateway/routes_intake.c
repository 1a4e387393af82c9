/* routes_intake.c — the HTTP routes of the intake service (tickets). */
#include "gateway.h"

#define DESK      (R_ADMIN | R_REGION | R_CENTER)
#define READERS   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER | R_FINANCE)
#define CUSTOMERS (R_ADMIN | R_CENTER)
#define DEVICES   (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)

const gw_route_t gw_routes_intake[] = {
    {"POST", "/v1/tickets", DESK, "intake", "intake.OpenTicket", 1, NULL, NULL, NULL,
     "open a repair ticket", NULL},
    {"GET", "/v1/tickets", READERS, "intake", "intake.ListTickets", 0, NULL, NULL, NULL,
     "list tickets (filters, cursor pagination)",
     "state=received|adjudicated|awaiting_review|estimate_pending|in_repair|awaiting_parts|ready|"
     "closed|cancelled|declined|refunded|exchanged"},
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
