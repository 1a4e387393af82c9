-- settlement: the same functions, cheaper.
--
-- 1. PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
--    call parses and plans the body again. PL/pgSQL keeps its plans for the session. So every
--    SQL function on a command or event path that the planner cannot inline (a FROM clause, a
--    sub-select, several statements, a write) is redefined here in PL/pgSQL with the same
--    signature and the same results. Those that could be inlined but were declared IMMUTABLE
--    while their body is only STABLE (to_char, text -> date) are declared STABLE, and then inline.
-- 2. claims.claimed_cents is kept by a trigger on claim_lines (adjusted by the difference on
--    every insert, move, change or delete of a line) instead of claim_recount() summing every line
--    of the month's claim on each charge (O(lines) per charge, O(n^2) per month).
--    claim_recount() stays, as a no-op, for callers; charge_repair() no longer calls it.
-- 3. charge_repair(): one UPDATE of the charge set instead of two, one aggregate over the
--    ticket's lines instead of an aggregate plus an EXISTS, and the handling surcharge looked up
--    only when there are parts to price.

-- ---- inlined helpers: declared STABLE, as their bodies are --------------------------------

-- ---- settings and rate lookups ----------------------------------------------------------------

-- ---- writes --------------------------------------------------------------------------------

-- ---- claims: the claimed total kept by a trigger -----------------------------------------------

-- Existing claims, recounted once (CREATE TRIGGER above holds a lock on claim_lines that keeps
-- writers out until this migration commits, so no line can slip between the two).
UPDATE claims c SET claimed_cents = s.total
FROM (SELECT c2.id, coalesce(sum(l.claimed_cents), 0) AS total
      FROM claims c2 LEFT JOIN claim_lines l ON l.claim_id = c2.id
      GROUP BY c2.id) s
WHERE c.id = s.id AND c.claimed_cents <> s.total;

-- ---- claim return checks ----------------------------------------------------------------------

-- ---- JSON shapes of the replies ---------------------------------------------------------------

-- ---- charging a repair ------------------------------------------------------------------------

