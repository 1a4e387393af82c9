-- charge_repair() (services/settlement/sql/charges.sql): who pays what for a completed repair.
-- Customers pay list prices plus VAT (13 %, once on the net) and get an invoice; manufacturers
-- pay cost plus handling, claimed, without VAT; a consented estimate caps the customer's bill;
-- a replay posts nothing. pgTAP; run by tests/integration/sql_functions.sh, rolled back.
BEGIN;
SELECT plan(14);

INSERT INTO parts_prices(sku, effective_from, description, manufacturer, list_cents, cost_cents,
                         warranty_covered)
VALUES ('UNIT-SCREEN', '2000-01-01', 'unit screen', 'UNITMFR', 10000, 6000, true),
       ('UNIT-GLUE', '2000-01-01', 'unit glue', 'UNITMFR', 500, 100, false);
INSERT INTO claim_handling(manufacturer, effective_from, handling_bp) VALUES ('UNITMFR', '2000-01-01', 1000);
DELETE FROM fee_rates; -- no service fees in these sums (rolled back)

-- A customer repair: 2 screens at list (20000) + 13 % VAT (2600) = 22600, invoiced.
SELECT lives_ok($$SELECT charge_repair('{"ticket_id":"UCH-1","center":"UC1","payer":"customer",
    "manufacturer":"UNITMFR","completed_at":"2026-03-10",
    "parts_used":[{"sku":"UNIT-SCREEN","qty":2,"line_no":1}]}')$$, 'a customer repair is charged');
SELECT is((SELECT customer_cents FROM charge_sets WHERE ticket_id = 'UCH-1'), 22600::bigint,
          'the customer pays list price plus 13 % VAT');
SELECT is((SELECT vat_cents FROM charge_sets WHERE ticket_id = 'UCH-1'), 2600::bigint, 'VAT once on the net total');
SELECT is((SELECT total_cents FROM invoices WHERE ticket_id = 'UCH-1'), 22600::bigint, 'the invoice holds the total');
SELECT is((SELECT manufacturer_cents FROM charge_sets WHERE ticket_id = 'UCH-1'), 0::bigint, 'the manufacturer pays nothing');

-- A replay of the same event posts nothing more.
SELECT lives_ok($$SELECT charge_repair('{"ticket_id":"UCH-1","center":"UC1","payer":"customer",
    "completed_at":"2026-03-10","parts_used":[{"sku":"UNIT-SCREEN","qty":5}]}')$$, 'a replay is accepted');
SELECT is((SELECT sum(amount_cents) FROM charge_lines WHERE ticket_id = 'UCH-1'), 22600::numeric,
          'a replay posts nothing');

-- Warranty work: cost plus 10 % handling for a covered part, no VAT, claimed; an uncovered part
-- is the company's, at cost.
SELECT lives_ok($$SELECT charge_repair('{"ticket_id":"UCH-2","center":"UC1","warranty_status":"granted",
    "remedy":"repair","manufacturer":"UNITMFR","completed_at":"2026-03-10",
    "parts_used":[{"sku":"UNIT-SCREEN","qty":1,"line_no":1},{"sku":"UNIT-GLUE","qty":1,"line_no":2}]}')$$,
    'a granted warranty repair is charged');
SELECT is((SELECT payer || ' ' || manufacturer_cents || ' ' || company_cents || ' ' || customer_cents
             FROM charge_sets WHERE ticket_id = 'UCH-2'), 'manufacturer 6600 100 0',
          'the manufacturer pays cost + 10 % handling, the company the uncovered part at cost, the customer nothing');
SELECT is((SELECT sum(claimed_cents) FROM claim_lines WHERE ticket_id = 'UCH-2'), 6600::numeric,
          'the manufacturer''s share is claimed');
SELECT is((SELECT count(*)::int FROM invoices WHERE ticket_id = 'UCH-2'), 0, 'no invoice without a customer share');

-- The consented estimate caps the customer's bill (VAT included); the rest is goodwill.
SELECT lives_ok($$SELECT charge_repair('{"ticket_id":"UCH-3","center":"UC1","payer":"customer",
    "completed_at":"2026-03-10","consented_estimate_cents":11300,
    "parts_used":[{"sku":"UNIT-SCREEN","qty":2}]}')$$, 'a capped customer repair is charged');
SELECT is((SELECT customer_cents || ' ' || company_cents FROM charge_sets WHERE ticket_id = 'UCH-3'),
          '11300 10000', 'the customer pays the consented 11300, the centre takes 10000 as goodwill');

-- An unknown payer is refused.
SELECT throws_ok($$SELECT charge_repair('{"ticket_id":"UCH-4","center":"UC1","payer":"nobody"}')$$,
                 'AS422', 'invalid_event', 'an unknown payer is refused (422)');

SELECT * FROM finish();
ROLLBACK;
