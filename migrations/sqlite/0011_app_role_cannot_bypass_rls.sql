-- PostgreSQL's 0011 takes SUPERUSER and BYPASSRLS away from the application role. SQLite has
-- no roles or row-level security; the number is kept so both dialects share one history.
SELECT 1;
