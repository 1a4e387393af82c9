-- Complaint deadlines (services/surveys/sql/complaints.sql): the severity a channel gives, the
-- windows each severity allows, business hours, and the escalation ladder when a deadline
-- passes. pgTAP; run by tests/integration/sql_functions.sh with search_path = surveys, public,
-- rolled back (the service clock is moved with the settings test_mode and clock_offset_s).
BEGIN;
SELECT plan(14);

-- Business hours are 09:00-18:00 in Shanghai.
SELECT is(business_add('2026-03-10 16:00+08', 4), '2026-03-11 11:00+08'::timestamptz,
          '16:00 + 4 business hours = 11:00 the next day');
SELECT is(business_add('2026-03-10 20:00+08', 1), '2026-03-11 10:00+08'::timestamptz,
          'after hours the count starts at 09:00 the next day');
SELECT is(business_add('2026-03-10 08:00+08', 2), '2026-03-10 11:00+08'::timestamptz,
          'before hours the count starts at 09:00');

INSERT INTO settings(name, value) VALUES ('test_mode', 1), ('clock_offset_s', 0)
ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value;
CREATE TEMP TABLE c AS
SELECT (complaint_create('u1', '{"role":"center","site":"UC1","subject":"unit"}', 'phone', NULL, 'UC1',
                         'UR1', 'attitude', 'rude', 'Unit Test', '13800000000', 'manual', NULL)).id AS general,
       (complaint_create('u2', '{"role":"center","site":"UC1","subject":"unit"}', 'hotline_12315', NULL,
                         'UC1', 'UR1', 'overdue', 'late', 'Unit Test', '13800000000', 'manual', NULL)).id AS serious;

SELECT is((SELECT severity || ' ' || level FROM complaints WHERE id = (SELECT general FROM c)),
          'general centre_lead', 'a phone complaint is general, at the front-desk lead');
SELECT is((SELECT severity || ' ' || level FROM complaints WHERE id = (SELECT serious FROM c)),
          'serious centre_manager', 'a 12315 hotline complaint is serious, with the centre manager');
SELECT results_eq($$SELECT kind, round(extract(epoch FROM due_at - (SELECT created_at FROM complaints WHERE id = complaint_id)) / 3600)::int
                      FROM complaint_deadlines WHERE complaint_id = (SELECT general FROM c) ORDER BY kind$$,
                  $$VALUES ('acknowledge'::text, 24), ('resolve', 168)$$,
                  'general: acknowledge within 24 h, resolve within 7 days, no written report');
SELECT results_eq($$SELECT kind, round(extract(epoch FROM due_at - (SELECT created_at FROM complaints WHERE id = complaint_id)) / 3600)::int
                      FROM complaint_deadlines WHERE complaint_id = (SELECT serious FROM c) ORDER BY kind$$,
                  $$VALUES ('acknowledge'::text, 4), ('report', 48), ('resolve', 48)$$,
                  'serious: acknowledge within 4 h, resolve and report within 48 h');
SELECT ok(NOT complaint_overdue((SELECT x FROM complaints x WHERE id = (SELECT serious FROM c))),
          'nothing is overdue at once');

-- Five hours later: the serious complaint missed its 4 h acknowledgement, the general one did not.
UPDATE settings SET value = 5 * 3600 WHERE name = 'clock_offset_s';
SELECT ok(complaint_overdue((SELECT x FROM complaints x WHERE id = (SELECT serious FROM c))),
          'after 5 h the serious complaint is overdue');
SELECT lives_ok('SELECT escalate_due()', 'the timer runs');
SELECT is((SELECT level || ' ' || escalations FROM complaints WHERE id = (SELECT serious FROM c)),
          'branch 1', 'the breach escalates it one step, to the branch');
SELECT is((SELECT level || ' ' || escalations FROM complaints WHERE id = (SELECT general FROM c)),
          'centre_lead 0', 'the general complaint, within its 24 h, stays');

-- A met deadline escalates no more.
SELECT lives_ok($$SELECT deadline_meet((SELECT serious FROM c), 'acknowledge')$$, 'the acknowledgement is met');
UPDATE settings SET value = 30 * 3600 WHERE name = 'clock_offset_s';
SELECT is((SELECT met_at IS NOT NULL AND next_check_at IS NULL FROM complaint_deadlines
            WHERE complaint_id = (SELECT serious FROM c) AND kind = 'acknowledge'), true,
          'a met deadline is no longer checked');

SELECT * FROM finish();
ROLLBACK;
