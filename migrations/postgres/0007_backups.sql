-- Backups: the application role reads the migration history (a backup records its schema
-- version; a restore checks it), and the two tables that were visible only inside one
-- workspace's scope become visible to the cross-tenant scope too, as every other tenant table
-- already is, so that a backup copies their rows rather than silently skipping them.
GRANT SELECT ON _sqlx_migrations TO postroute_app;

DROP POLICY oauth_states_scope ON oauth_states;
CREATE POLICY oauth_states_scope ON oauth_states
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());

DROP POLICY pending_connections_scope ON pending_connections;
CREATE POLICY pending_connections_scope ON pending_connections
    USING (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant())
    WITH CHECK (workspace_id = postroute_scope_workspace() OR postroute_scope_cross_tenant());
