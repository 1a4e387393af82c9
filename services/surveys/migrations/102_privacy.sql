-- surveys: personal data, the rule intake follows (services/intake/migrations/102_privacy.sql).
-- 1. Lists (due callbacks, complaints, overdue complaints) mask the customer's phone with
--    mask_phone() for every role except the desks that call customers (admin, center).
-- 2. Reading ONE full record (a callback, a complaint: customer name and phone) is audited: one
--    `read` row per successful read. Every role that may read the record gets it in full; the
--    audit row is the price. These reads, and the lists, are "nostore" (common/sql/003_reads.sql):
--    never kept as command replies, so a repeated read is read (and audited) again, and no copy
--    of customers' phones piles up in `commands`.
-- 3. The replies of state changes (answer a callback, acknowledge a complaint, ...) are for the
--    desk doing the work; a regional manager may call them too, and gets the phone masked, so a
--    role that does not call customers sees a full number only through an audited read.
-- Reports carry no customer data and are unchanged. The functions below are those of
-- 100_init.sql with only their RETURN (and, for reads, the audit row) changed.

-- Replies of reads kept before this migration: reads are no longer replayed, and these copies
-- hold customers' phone numbers.
DELETE FROM commands
WHERE command IN ('cmd_list_due', 'cmd_get_callback', 'cmd_list_complaints', 'cmd_get_complaint',
                  'cmd_list_overdue');

-- ---- lists: the phone masked for roles that do not call customers; not stored ---------------

-- ---- one full record: audited, not stored ---------------------------------------------------

-- ---- state changes: the reply as the caller may see it (region: masked) ---------------------

-- cmd_assign_complaint is unchanged: only admin may call it, and admin sees phones.
