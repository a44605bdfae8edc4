"""`pg-tenants verify`: prove, against the live database, that every tenant is isolated.

catalog_checks reads the catalogs as the admin in set-based queries; login_checks logs in
once per tenant and tries what it must and must not be able to do; findings names what
is wrong; report shows it.
"""
