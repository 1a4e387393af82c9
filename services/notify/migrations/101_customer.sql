-- notify: telling the customer. Events that matter to the customer (ticket received with its
-- warranty decision, estimate waiting for consent, parts arrived, ready for pickup, callback
-- coming) become rows of the notification outbox, one per configured channel (sms, webhook),
-- with the text from a versioned zh-CN template. A phone that opted out gets a row in state
-- `suppressed` (nothing is sent); quiet hours hold a row until the morning. The sender
-- (deliver.c) posts due rows through the channel's adapter and records the answer here, with
-- the same retry and once-only rules as webhooks.

INSERT INTO settings(name, value) VALUES ('quiet_start_h', 21), ('quiet_end_h', 8)
ON CONFLICT (name) DO NOTHING;

-- Who to tell about a ticket: the customer's phone and the brand, from TicketOpened.
ALTER TABLE tickets ADD COLUMN phone text, ADD COLUMN brand text;

-- The channels this service was configured with (rewritten at every start).
CREATE TABLE channels (
    name    text PRIMARY KEY CHECK (name IN ('sms', 'webhook')),
    enabled boolean NOT NULL
);

-- Templates, versioned: a new version of a kind applies from its `effective_from` on; a
-- notification keeps the version it was written with. Variables are {{name}}.
CREATE TABLE templates (
    kind           text NOT NULL,
    version        int NOT NULL CHECK (version > 0),
    effective_from timestamptz NOT NULL DEFAULT '2020-01-01',
    body           text NOT NULL,
    PRIMARY KEY (kind, version)
);
INSERT INTO templates(kind, version, body) VALUES
    ('ticket_received', 1, '【售后服务】您的{{brand}}设备已受理，工单号{{ticket_id}}。三包判定：{{decision}}。查询进度请凭工单号及手机后四位。'),
    ('estimate_pending', 1, '【售后服务】工单{{ticket_id}}维修报价{{estimate_yuan}}元，需您同意后开始维修，请联系服务网点确认。'),
    ('parts_arrived', 1, '【售后服务】工单{{ticket_id}}所需配件已到位，我们正在为您维修。'),
    ('ready_for_pickup', 1, '【售后服务】工单{{ticket_id}}已维修完毕，请携带取机凭证到{{center}}服务网点取机。'),
    ('callback_coming', 1, '【售后服务】感谢您的信任，我们将于{{due_date}}致电回访工单{{ticket_id}}的服务情况。');

-- Events of other streams can reach notify before the ticket's TicketOpened (each stream is
-- consumed on its own): those for a ticket not seen yet wait here and are queued when it opens.
CREATE TABLE customer_waiting (
    ticket_id text NOT NULL,
    stream    text NOT NULL,
    sequence  bigint NOT NULL,
    PRIMARY KEY (stream, sequence)
);
CREATE INDEX customer_waiting_ticket ON customer_waiting(ticket_id);

CREATE TABLE opt_outs (
    phone      text PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT now(),
    by_subject text,
    note       text
);

CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    channel          text NOT NULL CHECK (channel IN ('sms', 'webhook')),
    kind             text NOT NULL,
    event_id         text NOT NULL,
    ticket_id        text,
    center           text,
    region           text,
    phone            text NOT NULL,
    template_version int NOT NULL,
    text             text NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sent', 'failed', 'suppressed')),
    attempts         int NOT NULL DEFAULT 0,
    last_status      int,
    last_error       text,
    next_at          timestamptz NOT NULL DEFAULT now(),
    held_for_quiet   boolean NOT NULL DEFAULT false,
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (channel, kind, event_id)
);
CREATE INDEX notifications_due ON notifications(next_at) WHERE state = 'pending';
CREATE INDEX notifications_ticket ON notifications(ticket_id);

-- ---- the sender's side -----------------------------------------------------------------------

-- ---- commands --------------------------------------------------------------------------------

