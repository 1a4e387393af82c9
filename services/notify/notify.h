/* notify.h — what the notify service's modules share: its settings and the webhook sender.
 *
 * The service follows the other services' streams (main.c): each event is recorded once in the
 * feed and queued as a durable delivery row for every webhook that selects it, in the
 * transaction that advances the stream position. The sender (deliver.c) posts the pending rows
 * with libcurl's multi interface on the service's libuv loop, signed with HMAC-SHA256, one at a
 * time per (webhook, stream) so each receiver sees a stream in order, and records every answer. */
#ifndef NOTIFY_H
#define NOTIFY_H

#include "as/service.h"

typedef struct nt_settings {
    long poll_ms;       /* the sender looks for due deliveries at least this often */
    long max_inflight;  /* deliveries in flight at once (over all webhooks) */
    long timeout_s;     /* one attempt's time limit */
    long retry_base_ms; /* the first retry waits this long, doubling at each failure */
    long retry_max_s;   /* ... up to this */
    long max_attempts;  /* then the delivery fails (redeliver sends it again) */
    long allow_private; /* 1 = URLs may name loopback/private hosts (tests, on-premises) */
    /* the customer's channels (an empty URL turns the channel off) */
    char *sms_url, *sms_key; /* the SMS provider's HTTP API */
    char *customer_webhook_url, *customer_webhook_secret;
    long quiet_start_h, quiet_end_h; /* Asia/Shanghai; equal = no quiet hours */
    char *status_page_url;           /* the customer's status page, in the texts ("" = none) */
} nt_settings_t;

extern nt_settings_t nt_cfg;

int nt_deliver_start(as_service_t *svc);
void nt_deliver_stop(void);

#endif
