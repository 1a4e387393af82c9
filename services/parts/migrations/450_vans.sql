-- Van stock (issue 19.3, docs/onsite.md "Van stock"): a technician's van is a parts site of kind
-- `van`, owned by a centre (its region is the centre's) and assigned to one technician. Stock
-- reaches it by transfer like any site; an on-site service order's parts used are issued from it
-- (order_issues), once per order. Parts follows the orders it issues for from intake's
-- ServiceOrderChanged events (service_orders: centre, technician, state).

ALTER TABLE sites DROP CONSTRAINT sites_kind_check;
ALTER TABLE sites ADD CONSTRAINT sites_kind_check CHECK (kind IN ('warehouse', 'center', 'van'));
ALTER TABLE sites ADD COLUMN center text REFERENCES sites(code);
ALTER TABLE sites ADD COLUMN technician text;
ALTER TABLE sites ADD COLUMN active boolean NOT NULL DEFAULT true;
ALTER TABLE sites ADD CONSTRAINT sites_van_owner CHECK ((kind = 'van') = (center IS NOT NULL));
-- one active van per technician
CREATE UNIQUE INDEX sites_van_technician ON sites (technician) WHERE kind = 'van' AND active;

-- intake's service orders as parts hears of them (no customer data: none is in the event)
CREATE TABLE service_orders (
    order_id   text PRIMARY KEY,
    center     text NOT NULL,
    technician text,
    state      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- the parts used on an order, issued from the technician's van: at most once per order
CREATE TABLE order_issues (
    order_id   text PRIMARY KEY,
    site       text NOT NULL REFERENCES sites(code),
    technician text NOT NULL,
    lines      jsonb NOT NULL,   -- [{sku, qty}] by SKU, each SKU once
    value_cents bigint NOT NULL DEFAULT 0,
    request_id text,
    issued_by  text NOT NULL,
    issued_at  timestamptz NOT NULL DEFAULT now()
);
