-- warranty: policy versions (manufacturer promises, fault codes, rates, holidays), decisions with
-- their inputs and the policy version they used, the devices' open tickets (duplicate claims),
-- and the manual-review queue.

-- ---- policies -------------------------------------------------------------------------------
--
-- A policy version is immutable once written. The version in force at an instant is the one with
-- the latest effective_from not after it; the service loads it at start and again whenever
-- another version becomes the one in force. Every decision names the version it used, so it can
-- be re-evaluated later under exactly the same data.

CREATE TABLE policy_versions (
    version                text PRIMARY KEY CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    effective_from         timestamptz NOT NULL UNIQUE,
    description            text NOT NULL DEFAULT '',
    -- M-10: depreciation per day of use of a phone host, parts per million of the price.
    phone_depreciation_ppm bigint NOT NULL DEFAULT 5000 CHECK (phone_depreciation_ppm BETWEEN 0 AND 1000000),
    -- C-9: the car use-compensation rate when the request carries none, ppm per 1000 km.
    car_use_comp_ppm       bigint NOT NULL DEFAULT 5000 CHECK (car_use_comp_ppm BETWEEN 0 AND 1000000),
    based_on               text REFERENCES policy_versions(version),
    created_at             timestamptz NOT NULL DEFAULT now()
);

-- Manufacturer promises above the legal floor: extra months per brand and product category
-- ('*' = every category of the brand). A promise can only widen the statute (months >= 0).
CREATE TABLE policy_promises (
    version               text NOT NULL REFERENCES policy_versions(version),
    brand                 text NOT NULL CHECK (length(brand) BETWEEN 1 AND 60),
    category              text NOT NULL CHECK (category IN ('*', 'phone_host', 'phone_battery',
                              'phone_charger', 'phone_headset', 'phone_data_card',
                              'phone_terminal_card', 'car', 'general')),
    extra_validity_months int NOT NULL DEFAULT 0 CHECK (extra_validity_months BETWEEN 0 AND 120),
    extra_warranty_months int NOT NULL DEFAULT 0 CHECK (extra_warranty_months BETWEEN 0 AND 120)
);
CREATE UNIQUE INDEX policy_promises_key ON policy_promises (version, lower(brand), category);

-- The fault-code table (M-14): a known code decides whether the fault is a listed performance
-- fault. A code the table does not know sends the ticket to a reviewer.
CREATE TABLE policy_fault_codes (
    version     text NOT NULL REFERENCES policy_versions(version),
    code        text NOT NULL CHECK (code ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$'),
    category    text NOT NULL CHECK (category IN ('*', 'phone_host', 'phone_battery',
                    'phone_charger', 'phone_headset', 'phone_data_card', 'phone_terminal_card',
                    'car', 'general')),
    listed      boolean NOT NULL,
    description text NOT NULL DEFAULT '',
    PRIMARY KEY (version, code, category)
);

-- Statutory holidays (D-3): a validity or warranty period ending on one ends the day after.
CREATE TABLE policy_holidays (
    version text NOT NULL REFERENCES policy_versions(version),
    day     date NOT NULL,
    name    text NOT NULL DEFAULT '',
    PRIMARY KEY (version, day)
);

-- The floor every later version builds on: the statute alone.
INSERT INTO policy_versions(version, effective_from, description)
VALUES ('statutory', '-infinity', 'The statutory floor: no manufacturer promises, no fault-code '
        'table, no holiday calendar, default depreciation and use-compensation rates.');

-- ---- devices and decisions ------------------------------------------------------------------

-- Tickets per device, followed from intake's events (opened, closed, cancelled): the same device
-- open at two centres at once is a possible duplicate claim.
CREATE TABLE device_tickets (
    ticket_id  text PRIMARY KEY,
    device_key text NOT NULL,
    center     text NOT NULL,
    open       boolean NOT NULL DEFAULT true,
    opened_at  timestamptz NOT NULL DEFAULT now(),
    closed_at  timestamptz
);
CREATE INDEX device_tickets_device ON device_tickets (device_key) WHERE open;

CREATE TABLE decisions (
    id             bigserial PRIMARY KEY,
    ticket_id      text NOT NULL UNIQUE,
    center         text,
    request        jsonb NOT NULL,   -- the contract request the engine saw
    decision       jsonb NOT NULL,   -- the engine's answer (a decision, or {"id","error"})
    published      jsonb NOT NULL,   -- the decision last announced for the ticket
    policy_version text NOT NULL REFERENCES policy_versions(version),
    review         boolean NOT NULL,
    review_reasons text[] NOT NULL DEFAULT '{}',
    decided_at     timestamptz NOT NULL DEFAULT now()
);

-- ---- manual review --------------------------------------------------------------------------

CREATE TABLE reviews (
    id          bigserial PRIMARY KEY,
    decision_id bigint NOT NULL UNIQUE REFERENCES decisions(id),
    ticket_id   text NOT NULL,
    center      text,
    reasons     text[] NOT NULL CHECK (cardinality(reasons) > 0),
    -- pending -> decided (a reviewer answered) | withdrawn (the ticket ended before that)
    status      text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'decided', 'withdrawn')),
    action      text CHECK (action IN ('approve', 'override')),
    final       jsonb,
    note        text,
    decided_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    decided_at  timestamptz,
    CHECK ((status = 'decided') = (action IS NOT NULL)),
    CHECK ((status = 'decided') = (final IS NOT NULL)),
    CHECK ((status = 'pending') = (decided_at IS NULL)),
    CHECK (action IS DISTINCT FROM 'override' OR length(btrim(coalesce(note, ''))) > 0)
);
CREATE INDEX reviews_status ON reviews (status, id);

-- ---- review commands ------------------------------------------------------------------------

