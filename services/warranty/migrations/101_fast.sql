-- warranty: the same functions, cheaper.
--
-- PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
-- call parses and plans the body again. PL/pgSQL keeps its plans for the session. So the SQL
-- functions on the command and event paths that the planner cannot inline (a sub-select, a
-- FROM clause, several statements) are redefined here in PL/pgSQL with the same signature and
-- the same results; the two declared IMMUTABLE while their bodies are only STABLE (to_char,
-- jsonb_build_object, timestamptz -> text) are declared STABLE, and then inline.

-- ---- inlined: declared STABLE, as their bodies are -------------------------------------------

-- ---- PL/pgSQL -----------------------------------------------------------------------------------
-- This migration's functions were folded into the family files (sql/*.sql).
