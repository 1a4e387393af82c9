-- The helpers every schema shares (ts_text, ts, actor, sees_phones) live once, in
-- common/sql/families/helpers.sql (issue 15). parts' own actor(jsonb) named its argument `p`,
-- which CREATE OR REPLACE cannot change, so it is dropped here and the family file creates the
-- shared one, actor(p_principal jsonb), again.
-- folded: the function's current text, if any, is in its family file
DROP FUNCTION IF EXISTS actor(jsonb);
