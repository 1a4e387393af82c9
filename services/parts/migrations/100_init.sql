-- parts: the service's own tables arrive with its domain issue; the runtime objects come
-- from common/sql.
SELECT 1;
