-- Row-level security is only a backstop if the role the pool runs as cannot step around it.
-- 0003 creates `postroute_app` without SUPERUSER or BYPASSRLS, but a role of that name that
-- existed before (made by hand, or granted more later) keeps whatever it had. Take both away;
-- altering a role that already lacks them is skipped, so a migrator without the privilege to
-- change role attributes only fails when there is something to fix.
DO $$
BEGIN
    IF EXISTS (
        SELECT FROM pg_roles
        WHERE rolname = 'postroute_app' AND (rolsuper OR rolbypassrls)
    ) THEN
        ALTER ROLE postroute_app NOSUPERUSER NOBYPASSRLS;
    END IF;
END
$$;
