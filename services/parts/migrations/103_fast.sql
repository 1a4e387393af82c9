-- parts: the same functions, cheaper.
--
-- PostgreSQL does not cache the plans of LANGUAGE sql functions that are not inlined: every
-- call parses and plans the body again. PL/pgSQL keeps its plans for the session. So the SQL
-- functions on the command and event paths that the planner cannot inline (a FROM clause, a
-- sub-select, a write) are redefined here in PL/pgSQL with the same signature and the same
-- results; those declared IMMUTABLE while their bodies are only STABLE (to_char,
-- jsonb_build_object, to_jsonb) are declared STABLE, and then inline.

-- ---- inlined: declared STABLE, as their bodies are -------------------------------------------

-- ---- PL/pgSQL -----------------------------------------------------------------------------------
-- This migration's functions were folded into the family files (sql/*.sql).
