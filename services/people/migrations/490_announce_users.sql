-- Intake keeps a copy of the staff accounts (people.UserChanged) to check the technicians it
-- names (decision 0031). The accounts that exist when this migration runs are announced once
-- here, so an upgraded network's copy holds the accounts made before intake kept one. A fresh
-- database has no emit() before the family files are applied (and no accounts), hence the guard.
DO $$
BEGIN
    IF to_regprocedure('user_event(text,users,text)') IS NOT NULL THEN
        PERFORM user_event(NULL, u, 'announced') FROM users u ORDER BY u.login;
    END IF;
END $$;
