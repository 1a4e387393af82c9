-- intake: the station scorecard and its rewards (issue 19.5; docs/scorecard.md, decision 0027).
--
-- Intake computes the scorecard from its own tickets, repairs, promises and part lines, and from
-- local copies of the other services' facts, kept from their streams (no reads across schemas):
--   survey_facts     surveys.SurveyAnswered   the weighted score and NPS answer per response
--   complaint_facts  surveys.ComplaintOpened  every complaint naming a centre (ticket or not)
--   charge_facts     settlement.Charged       what a ticket's work was charged, all payers
-- Weights and the reward rule are versioned together (scorecard_weights, effective_from); a
-- period uses the set in force on its last day. A reward is computed once per centre and period
-- (scorecard_rewards) and published as intake.CenterRewardPosted for settlement to book.
-- The functions live in sql/scorecard.sql.

CREATE TABLE survey_facts (
    response_id    text PRIMARY KEY,
    ticket_id      text,
    center         text NOT NULL,
    region         text,
    weighted_milli int NOT NULL CHECK (weighted_milli BETWEEN 0 AND 5000),
    nps            int CHECK (nps BETWEEN 0 AND 10),
    answered_date  date NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX survey_facts_center ON survey_facts (center, answered_date);

CREATE TABLE complaint_facts (
    complaint_id text PRIMARY KEY,
    ticket_id    text,
    center       text NOT NULL,
    region       text,
    opened_date  date NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX complaint_facts_center ON complaint_facts (center, opened_date);

CREATE TABLE charge_facts (
    ticket_id    text PRIMARY KEY,
    total_cents  bigint NOT NULL CHECK (total_cents >= 0),
    received_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scorecard_weights (
    version           int PRIMARY KEY CHECK (version > 0),
    effective_from    date NOT NULL,
    turnaround        int NOT NULL CHECK (turnaround BETWEEN 0 AND 1000),
    first_time_fix    int NOT NULL CHECK (first_time_fix BETWEEN 0 AND 1000),
    repeat_repairs    int NOT NULL CHECK (repeat_repairs BETWEEN 0 AND 1000),
    promise_kept      int NOT NULL CHECK (promise_kept BETWEEN 0 AND 1000),
    satisfaction      int NOT NULL CHECK (satisfaction BETWEEN 0 AND 1000),
    nps               int NOT NULL CHECK (nps BETWEEN 0 AND 1000),
    complaints        int NOT NULL CHECK (complaints BETWEEN 0 AND 1000),
    cost_per_repair   int NOT NULL CHECK (cost_per_repair BETWEEN 0 AND 1000),
    parts_fill        int NOT NULL CHECK (parts_fill BETWEEN 0 AND 1000),
    reward_base_cents bigint NOT NULL CHECK (reward_base_cents BETWEEN 0 AND 100000000),
    reward_bands      jsonb NOT NULL,   -- [{min_score, pct}] ascending by min_score
    note              text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    created_by        text NOT NULL DEFAULT 'migration',
    CHECK (turnaround + first_time_fix + repeat_repairs + promise_kept + satisfaction + nps
           + complaints + cost_per_repair + parts_fill = 1000)
);
INSERT INTO scorecard_weights(version, effective_from, turnaround, first_time_fix, repeat_repairs,
                              promise_kept, satisfaction, nps, complaints, cost_per_repair,
                              parts_fill, reward_base_cents, reward_bands, note)
VALUES (1, '2000-01-01', 100, 150, 100, 150, 150, 100, 100, 75, 75, 2000,
        '[{"min_score": 0, "pct": 0}, {"min_score": 60, "pct": 50}, {"min_score": 75, "pct": 100},
          {"min_score": 90, "pct": 120}]', 'initial weights and reward rule');

CREATE SEQUENCE scorecard_reward_no;
CREATE TABLE scorecard_rewards (
    id              text PRIMARY KEY,
    center          text NOT NULL,
    region          text NOT NULL,
    period_from     date NOT NULL,
    period_to       date NOT NULL CHECK (period_to >= period_from),
    score           numeric(5, 1) NOT NULL,
    weights_version int NOT NULL REFERENCES scorecard_weights(version),
    repaired        int NOT NULL CHECK (repaired >= 0),
    band_pct        int NOT NULL CHECK (band_pct >= 0),
    amount_cents    bigint NOT NULL CHECK (amount_cents >= 0),
    posted_at       timestamptz NOT NULL DEFAULT now(),
    posted_by       text NOT NULL,
    UNIQUE (center, period_from, period_to)
);
