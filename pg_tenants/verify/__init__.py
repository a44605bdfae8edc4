"""`pg-tenants verify`: prove, against the live database, that every tenant is isolated.

catalog/ reads the catalogs as the admin in set-based queries (role_settings judges
pg_db_role_setting against the declared settings); login_checks logs in once per tenant
that may log in and tries what it must and must not be able to do; catalog.readonly_checks
and readonly_probe do the same for read-only logins (`<username>_ro`); probe_steps runs both
probes' statements, one round trip per step; findings names what is
wrong; report shows it. The ownership model checked is docs/ownership-model.md.
"""
