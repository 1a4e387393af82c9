-- intake: customers and the device registry (issue 17, point 4; decision 0016). A customer has
-- a name, phones, an address, consent to be contacted per channel and a tier (regular, key,
-- vip; key and VIP name an account owner). A device (IMEI, else VIN, else brand/serial: the
-- tickets' device_key) has an owner and its history is its tickets, at every centre.
--
-- Every ticket links to a customer: a trigger finds the customer by the ticket's phone
-- (`customer_phones` is the dedupe: one customer per phone number) or registers a new one, and
-- records the device with its current owner. cmd_open_ticket() stays unchanged.
--
-- Personal data: customers are read only by admin and the centre desks (sees_phones()); a desk
-- sees the customers registered at its centre or with a ticket there; every read of a customer
-- writes an audit row; replies are not stored (nostore). Devices carry no personal data (the
-- owner's id only) and are read by the ticket readers in scope (not finance). Events
-- (intake.CustomerChanged) carry the id, tier and account owner — never a name or phone.

CREATE SEQUENCE customer_no;

CREATE TABLE customers (
    id            text PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    phones        text[] NOT NULL,
    address       text CHECK (length(address) <= 500),
    consent       jsonb NOT NULL DEFAULT '{"sms": true, "phone": true}',
    tier          text NOT NULL DEFAULT 'regular' CHECK (tier IN ('regular', 'key', 'vip')),
    account_owner text,
    center        text REFERENCES centers(code),   -- where the customer was first registered
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (tier = 'regular' OR coalesce(account_owner, '') <> '')
);

CREATE TABLE customer_phones (
    phone       text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers(id)
);
CREATE INDEX customer_phones_customer ON customer_phones (customer_id);
CREATE INDEX customers_name ON customers (lower(name) text_pattern_ops);

CREATE TABLE devices (
    device_key    text PRIMARY KEY,
    imei          text,
    serial        text,
    vin           text,
    category      text,
    brand         text,
    model         text,
    purchase_date date,
    invoice_ref   text,
    customer_id   text REFERENCES customers(id),
    first_seen_at timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_customer ON devices (customer_id);

ALTER TABLE tickets ADD COLUMN customer_id text REFERENCES customers(id);
CREATE INDEX tickets_customer ON tickets (customer_id);

-- Tickets opened before this migration: their customers and devices, oldest first.
DO $$
DECLARE
    t record;
    v_id text;
    v_phone text;
BEGIN
    FOR t IN SELECT * FROM tickets ORDER BY opened_at, id LOOP
        v_phone := norm_phone(t.customer_phone);
        CONTINUE WHEN v_phone IS NULL;
        SELECT customer_id INTO v_id FROM customer_phones WHERE phone = v_phone;
        IF v_id IS NULL THEN
            v_id := 'CU' || lpad(nextval('customer_no')::text, 8, '0');
            INSERT INTO customers(id, name, phones, center, created_at)
                VALUES (v_id, t.customer_name, ARRAY[v_phone], t.center, t.opened_at);
            INSERT INTO customer_phones VALUES (v_phone, v_id);
        END IF;
        UPDATE tickets SET customer_id = v_id WHERE id = t.id;
        IF t.device_key IS NOT NULL THEN
            INSERT INTO devices(device_key, imei, serial, vin, category, brand, model, customer_id,
                                first_seen_at)
            VALUES (t.device_key, nullif(t.device->>'imei', ''), nullif(t.device->>'serial', ''),
                    nullif(t.device->>'vin', ''), t.category, nullif(t.device->>'brand', ''),
                    nullif(t.device->>'model', ''), v_id, t.opened_at)
            ON CONFLICT (device_key) DO UPDATE SET customer_id = EXCLUDED.customer_id;
        END IF;
    END LOOP;
END $$;

-- ---- commands ----

