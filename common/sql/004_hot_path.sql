-- The runtime's hot path, made cheaper. Nothing here changes what the functions do.
--
-- PostgreSQL 15 keeps no plan for a LANGUAGE sql function it cannot inline: the body is parsed
-- and planned again on every call made from a new statement or (sub)transaction, which is every
-- call here (exec_batch runs each command in its own subtransaction). PL/pgSQL keeps its plans
-- for the life of the connection. Dynamic SQL (EXECUTE) is planned on every call too, so commands
-- are dispatched by a generated CASE instead.

-- (rebuild_dispatch() now runs after the family files on every start; see as_db_migrate.)
-- This migration's functions were folded into the family files (sql/*.sql).
