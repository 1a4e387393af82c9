-- The ticket state machine (services/intake/sql/lifecycle.sql): which commands move a ticket
-- from which state, what a refused move leaves behind, who may move it. pgTAP; run by
-- tests/integration/sql_functions.sh with search_path = intake, public, rolled back.
BEGIN;
SELECT plan(14);

INSERT INTO regions(code, name) VALUES ('UR1', 'unit region');
INSERT INTO centers(code, name, region) VALUES ('UC1', 'unit centre', 'UR1'), ('UC2', 'other centre', 'UR1');
INSERT INTO tickets(id, center, region, state, customer_name, customer_phone, category, device,
                    purchase, fault, request, claim_date)
SELECT 'UT-' || s, 'UC1', 'UR1', s, 'Unit Test', '13800000000', 'phone', '{}', '{}', '{}', 'repair',
       current_date
  FROM unnest(ARRAY['received', 'in_repair', 'ready', 'closed']) s;

CREATE TEMP TABLE p AS SELECT '{"role":"center","site":"UC1","subject":"unit"}'::jsonb AS me,
                              '{"role":"center","site":"UC2","subject":"other"}'::jsonb AS other,
                              '{"role":"reviewer","subject":"rev"}'::jsonb AS reviewer;

-- A received ticket can be cancelled; the move is stamped, timed and in the timeline.
SELECT is(cmd_cancel_ticket('u1', (SELECT me FROM p), '{"id":"UT-received","reason":"changed mind"}')->>'status',
          '200', 'a received ticket is cancelled');
SELECT is((SELECT state FROM tickets WHERE id = 'UT-received'), 'cancelled', 'its state is cancelled');
SELECT isnt((SELECT closed_at FROM tickets WHERE id = 'UT-received'), NULL, 'a final state stamps closed_at');
SELECT is((SELECT from_state || '>' || to_state FROM ticket_timeline WHERE ticket_id = 'UT-received'
            ORDER BY id DESC LIMIT 1), 'received>cancelled', 'the timeline records received > cancelled');

-- Cancelled is final; repairing tickets cannot be cancelled, only returned unrepaired.
SELECT throws_ok($$SELECT cmd_cancel_ticket('u2', (SELECT me FROM p), '{"id":"UT-received"}')$$,
                 'AS409', 'illegal_transition', 'a cancelled ticket cannot be cancelled again (409)');
SELECT throws_ok($$SELECT cmd_cancel_ticket('u3', (SELECT me FROM p), '{"id":"UT-in_repair"}')$$,
                 'AS409', 'illegal_transition', 'a ticket in repair cannot be cancelled (409)');
SELECT is((SELECT state FROM tickets WHERE id = 'UT-in_repair'), 'in_repair', 'the refused move changed nothing');
SELECT is(cmd_return_unrepaired('u4', (SELECT me FROM p), '{"id":"UT-in_repair","reason":"no parts"}')->>'status',
          '200', 'a ticket in repair is returned unrepaired');
SELECT is((SELECT state || ' ' || (closed_at IS NOT NULL) FROM tickets WHERE id = 'UT-in_repair'), 'returned true',
          'returned is a final state with closed_at');

-- Hand-back only from ready; a closed ticket takes no more moves.
SELECT throws_ok($$SELECT cmd_handback('u5', (SELECT me FROM p), '{"id":"UT-closed"}')$$,
                 'AS409', 'illegal_transition', 'a closed ticket cannot be handed back (409)');
SELECT throws_ok($$SELECT cmd_return_unrepaired('u6', (SELECT me FROM p), '{"id":"UT-ready","reason":"x"}')$$,
                 'AS409', 'illegal_transition', 'a ready ticket cannot be returned unrepaired (409)');

-- Who: another centre does not see the ticket; a reviewer sees it but may not move it.
SELECT throws_ok($$SELECT cmd_cancel_ticket('u7', (SELECT other FROM p), '{"id":"UT-ready"}')$$,
                 'AS404', 'not_found', 'another centre gets 404');
SELECT throws_ok($$SELECT cmd_handback('u8', (SELECT reviewer FROM p), '{"id":"UT-ready"}')$$,
                 'AS403', 'forbidden', 'a reviewer may not move tickets (403)');
SELECT is((SELECT count(*)::int FROM ticket_timeline WHERE ticket_id IN ('UT-ready', 'UT-closed')), 0,
          'refused moves leave no timeline rows');

SELECT * FROM finish();
ROLLBACK;
