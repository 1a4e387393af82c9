-- surveys: the same functions, cheaper.
--
-- PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
-- call parses and plans the body again. PL/pgSQL keeps its plans for the session. So the SQL
-- functions on the command and event paths that the planner cannot inline (a FROM clause, a
-- sub-select, an aggregate, a write) are redefined here in PL/pgSQL with the same signature and
-- the same results; ts_text(), declared IMMUTABLE while to_char is only STABLE, is declared
-- STABLE and then inlines. svc_now(), svc_today(), window_h() and the other one-expression
-- helpers were inlined already and stay as they are (they now call the PL/pgSQL setting()).
--
-- on_ticket_closed() reads the service clock once and the centre's region once (it read the
-- clock, two settings each time, up to three times, and the region twice).

-- ---- inlined: declared STABLE, as its body is --------------------------------------------------

-- ---- PL/pgSQL -----------------------------------------------------------------------------------

-- ---- events in ---------------------------------------------------------------------------------
-- This migration's functions were folded into the family files (sql/*.sql).
