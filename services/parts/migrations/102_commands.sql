-- parts: the command functions behind the warehouse and centre API. Each is
-- cmd_<verb>(request_id, principal, args) -> {"status", "body"}, run once per request id by
-- exec_command(); arguments were validated field by field in C (services/parts/main.c), so
-- these check what needs the database: existence, the caller's scope, stock and state.
--
-- Queries answer with "nostore": their replies are not kept as command results (003_reads.sql).
--
-- Scope: admin and warehouse act on every site; a centre acts on its own site only; a region
-- reads the sites of its region. Naming another site explicitly (site=, from/to) is 403;
-- an object of another site looked up by id (transfer, return, loaner) is 404, like a missing one.

-- ---- catalogue ----

-- ---- stock and the ledger ----

-- ---- transfers ----

-- ---- reservations ----

-- ---- replenishment ----
--
-- For each site x SKU with a safety policy or unserved demand, over the last W days
-- (replenishment_window_days, default 30):
--   consumed          = units issued to repairs + units shipped out on transfers
--   lead_time_demand  = ceil(consumed x lead_time_days / W)
--   target            = max(reorder_point, safety_level + lead_time_demand)
--   position          = available + inbound - backordered
--                       (inbound: transfers to the site not yet received; backordered: ticket
--                        lines waiting at the site and transfers waiting to leave it)
--   suggested_qty     = max(0, target - position)
-- A row is listed when position < target, or available is below the safety level.

-- ---- defective returns ----

-- ---- loaners ----

-- ---- the ledger proof, on demand ----
-- This migration's functions were folded into the family files (sql/*.sql).
