-- The stock ledger (services/parts/sql/stock.sql): balances change only by posting movements,
-- each movement records the balance after it, nothing goes negative, movements are never
-- changed, and ledger_mismatches() proves balances equal the ledger's sums. pgTAP; run by
-- tests/integration/sql_functions.sh with search_path = parts, public, rolled back.
BEGIN;
SELECT plan(13);

INSERT INTO sites(code, name, kind) VALUES ('UNITW1', 'unit warehouse', 'warehouse');
INSERT INTO skus(sku, name, brand, unit_cost_cents, list_price_cents)
VALUES ('UNIT-SKU-1', 'unit part', 'UNITBRAND', 1000, 2000);

SELECT lives_ok($$SELECT mv('UNITW1', 'UNIT-SKU-1', 'receipt', 10, 0, 0, '{"reason":"unit"}')$$,
                'a receipt of 10 is posted');
SELECT lives_ok($$SELECT mv('UNITW1', 'UNIT-SKU-1', 'reserve', 0, 3, 0, '{"ticket_id":"UNIT-T1","line_no":1}')$$, 'a reservation of 3 is posted');
SELECT is((SELECT on_hand || '/' || reserved || '/' || available FROM stock
            WHERE site = 'UNITW1' AND sku = 'UNIT-SKU-1'), '10/3/7',
          'on hand 10, reserved 3, available 7');
SELECT lives_ok($$SELECT mv('UNITW1', 'UNIT-SKU-1', 'issue', -3, -3, 0, '{"ticket_id":"UNIT-T1","line_no":1}')$$, 'the 3 are issued');
SELECT is((SELECT on_hand_after || '/' || reserved_after FROM movements
            WHERE site = 'UNITW1' AND sku = 'UNIT-SKU-1' AND kind = 'issue'), '7/0',
          'the movement records the balance after it');
SELECT is((SELECT last_movement_id FROM stock WHERE site = 'UNITW1' AND sku = 'UNIT-SKU-1'),
          (SELECT max(id) FROM movements WHERE site = 'UNITW1'), 'the balance points at its last movement');

-- Nothing goes negative; a refused movement leaves no trace.
SELECT throws_ok($$SELECT mv('UNITW1', 'UNIT-SKU-1', 'issue', -8, 0, 0, '{"ticket_id":"UNIT-T1","line_no":2}')$$,
                 'AS409', 'insufficient_stock', 'issuing 8 of 7 is refused (409)');
SELECT throws_ok($$SELECT mv('UNITW1', 'UNIT-SKU-1', 'reserve', 0, 8, 0, '{"ticket_id":"UNIT-T1","line_no":3}')$$,
                 'AS409', 'insufficient_stock', 'reserving 8 of 7 available is refused (409)');
SELECT is((SELECT count(*)::int FROM movements WHERE site = 'UNITW1'), 3, 'refused movements are not recorded');

-- Only the ledger changes balances, and the ledger is append-only.
SELECT throws_ok($$UPDATE stock SET on_hand = 100 WHERE site = 'UNITW1'$$,
                 'AS409', 'ledger_only', 'a balance cannot be set directly (409)');
SELECT throws_ok($$UPDATE movements SET qty = 1 WHERE site = 'UNITW1'$$,
                 'AS409', 'immutable', 'a movement cannot be changed (409)');

-- The proof: no mismatch now; a balance forced past the guard is caught.
SELECT is_empty($$SELECT * FROM ledger_mismatches() WHERE site = 'UNITW1'$$,
                'balances equal the ledger''s sums');
ALTER TABLE stock DISABLE TRIGGER stock_guard;
UPDATE stock SET on_hand = on_hand + 1 WHERE site = 'UNITW1' AND sku = 'UNIT-SKU-1';
ALTER TABLE stock ENABLE TRIGGER stock_guard;
SELECT results_eq($$SELECT problem, balance, expected FROM ledger_mismatches() WHERE site = 'UNITW1'$$,
                  $$VALUES ('on_hand'::text, 8, 7)$$, 'a balance off the ledger is reported');

SELECT * FROM finish();
ROLLBACK;
