-- parts keeps its copy of the network's centres from the people service's CenterChanged events
-- (stream "people"), as intake does: a centre opened through /v1/centers is a site here at
-- once, so it can receive stock and transfers without seed SQL (deploy/demo/parts.sql is only
-- the first load). The handler is an upsert: an event delivered again changes nothing.
-- Warehouses stay as they are (the people service publishes no warehouse events).

-- Site codes follow the people service's centre codes (which also allow '_' and '-'); every
-- code the old rule accepted still fits.
ALTER TABLE sites DROP CONSTRAINT sites_code_check;
ALTER TABLE sites ADD CONSTRAINT sites_code_check CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{1,15}$');

