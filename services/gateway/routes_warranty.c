/* routes_warranty.c — the HTTP routes of the warranty service: the what-if evaluation, policy
 * versions, re-evaluation of a stored decision, and the manual-review queue. */
#include "gateway.h"

#define REVIEWERS (R_ADMIN | R_REVIEWER)

const gw_route_t gw_routes_warranty[] = {
    {"POST", "/v1/warranty/evaluate", R_ALL, "warranty", "warranty.Evaluate", 1, "request",
     "decision", NULL, "what-if: the contract's request in, the decision out (policy in force)",
     NULL},
    {"GET", "/v1/warranty/policy", R_ALL, "warranty", "warranty.GetPolicy", 0, NULL, NULL, NULL,
     "the policy version in force (or ?version=...)", NULL},
    {"POST", "/v1/warranty/policies", R_ADMIN, "warranty", "warranty.PublishPolicy", 1, "policy",
     NULL, NULL, "publish a new policy version (a JSON policy document)", NULL},
    {"POST", "/v1/warranty/decisions/{ticket_id}/re-evaluate", REVIEWERS, "warranty",
     "warranty.ReEvaluate", 0, NULL, NULL, NULL,
     "re-run a ticket's stored request under its recorded policy version", NULL},
    {"GET", "/v1/warranty/reviews", REVIEWERS, "warranty", "warranty.ListReviews", 0, NULL, NULL,
     NULL, "the manual-review queue (?status=pending|decided)", "status=@warranty.ReviewStatus"},
    {"POST", "/v1/warranty/reviews/{id}/decision", REVIEWERS, "warranty", "warranty.DecideReview",
     1, NULL, NULL, NULL, "approve or override a decision waiting for review", NULL},
    {NULL, NULL, 0, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
