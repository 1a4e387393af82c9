-- intake keeps each centre's state (open / suspended / closed) from the people service's
-- CenterChanged events and refuses new tickets at a centre that is not open: 409
-- `center_suspended` or `center_closed`, naming the centre and its state. Tickets already open
-- there carry on (a suspended centre finishes its work). A trigger, like the reference checks
-- of 131, so every way a ticket is inserted is covered and cmd_open_ticket() stays unchanged.

ALTER TABLE centers ADD COLUMN state text NOT NULL DEFAULT 'open'
    CHECK (state IN ('open', 'suspended', 'closed'));

