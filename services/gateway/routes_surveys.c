/* routes_surveys.c — the HTTP routes of the surveys service: satisfaction callbacks, survey
 * weights and reports, complaints. Scope (a centre sees its own, a region its region, head
 * office everything) is enforced by the service from the principal. Fixed paths come before
 * the {id} patterns they would otherwise match. */
#include "gateway.h"

#define DESK    (R_ADMIN | R_REGION | R_CENTER)
#define QUALITY (R_ADMIN | R_REGION | R_CENTER | R_REVIEWER)

const gw_route_t gw_routes_surveys[] = {
    /* callbacks */
    {"GET", "/v1/surveys/due", DESK, "surveys", "surveys.ListDue", 0, NULL, NULL, NULL,
     "satisfaction callbacks due on or before a date (?date=YYYY-MM-DD, default today)", NULL},
    {"GET", "/v1/surveys/callbacks/{id}", QUALITY, "surveys", "surveys.GetCallback", 0, NULL, NULL,
     NULL, "one callback with its attempts and response", NULL},
    {"POST", "/v1/surveys/callbacks/{id}/answer", DESK, "surveys", "surveys.AnswerCallback", 1,
     NULL, NULL, NULL, "record the customer's scores (1-5 per dimension, nps 0-10)", NULL},
    {"POST", "/v1/surveys/callbacks/{id}/refuse", DESK, "surveys", "surveys.RefuseCallback", 1,
     NULL, NULL, NULL, "the customer declined the survey", NULL},
    {"POST", "/v1/surveys/proactive/{id}/done", DESK, "surveys", "surveys.CompleteProactiveCall", 1,
     NULL, NULL, NULL, "the desk made the quality-tracking call or maintenance reminder", NULL},
    {"POST", "/v1/surveys/callbacks/{id}/unreachable", DESK, "surveys", "surveys.MarkUnreachable",
     1, NULL, NULL, NULL, "nobody answered: retry later, or close after the last attempt", NULL},
    /* weights */
    {"GET", "/v1/surveys/weights", QUALITY, "surveys", "surveys.ListWeightSets", 0, NULL, NULL,
     NULL, "every weight set, and the version in effect today", NULL},
    {"POST", "/v1/surveys/weights", R_ADMIN, "surveys", "surveys.AddWeightSet", 1, NULL, NULL, NULL,
     "add a weight set (thousandths summing to 1000) from a date on", NULL},
    /* test clock (refused unless the service runs with test_mode=1) */
    {"POST", "/v1/surveys/test/clock", R_ADMIN, "surveys", "surveys.AdvanceClock", 1, NULL, NULL,
     NULL, "test mode only: move the surveys clock forward by `seconds`", NULL},
    /* reports */
    {"GET", "/v1/reports/satisfaction", QUALITY, "surveys", "surveys.GetSatisfactionReport", 0,
     NULL, NULL, NULL, "weighted score, NPS and response rate per centre or region",
     "group=center|region"},
    {"GET", "/v1/reports/complaints", QUALITY, "surveys", "surveys.GetComplaintReport", 0, NULL,
     NULL, NULL, "complaint counts and hours to close per cause, severity or centre",
     "group=cause|severity|center"},
    /* complaints */
    {"POST", "/v1/complaints", DESK, "surveys", "surveys.OpenComplaint", 1, NULL, NULL, NULL,
     "open a complaint (severity follows the channel)", NULL},
    {"GET", "/v1/complaints", QUALITY, "surveys", "surveys.ListComplaints", 0, NULL, NULL, NULL,
     "list complaints (filters, cursor pagination)",
     "state=open|acknowledged|resolved|closed severity=general|serious|critical "
     "cause=attitude|repair_quality|overdue|parts_unavailable|price|other"},
    {"GET", "/v1/complaints/overdue", QUALITY, "surveys", "surveys.ListOverdue", 0, NULL, NULL,
     NULL, "complaints with a deadline passed and not met", NULL},
    {"GET", "/v1/complaints/{id}", QUALITY, "surveys", "surveys.GetComplaint", 0, NULL, NULL, NULL,
     "one complaint with its deadlines and full history", NULL},
    {"POST", "/v1/complaints/{id}/acknowledge", DESK, "surveys", "surveys.AcknowledgeComplaint", 1,
     NULL, NULL, NULL, "first response: open -> acknowledged", NULL},
    {"POST", "/v1/complaints/{id}/resolve", DESK, "surveys", "surveys.ResolveComplaint", 1, NULL,
     NULL, NULL, "acknowledged -> resolved (with the resolution)", NULL},
    {"POST", "/v1/complaints/{id}/close", DESK, "surveys", "surveys.CloseComplaint", 1, NULL, NULL,
     NULL, "resolved -> closed (needs the follow-up callback outcome)", NULL},
    {"POST", "/v1/complaints/{id}/reopen", DESK, "surveys", "surveys.ReopenComplaint", 1, NULL,
     NULL, NULL, "resolved or closed -> open, on fresh deadlines", NULL},
    {"POST", "/v1/complaints/{id}/severity", DESK, "surveys", "surveys.RaiseSeverity", 1, NULL,
     NULL, NULL, "raise the severity (lowering is refused with 409)", NULL},
    {"POST", "/v1/complaints/{id}/report", DESK, "surveys", "surveys.FileReport", 1, NULL, NULL,
     NULL, "file the written report (due within 2 days for serious complaints)", NULL},
    {"POST", "/v1/complaints/{id}/assign", R_ADMIN, "surveys", "surveys.AssignComplaint", 1, NULL,
     NULL, NULL, "head office reassigns the owner", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
