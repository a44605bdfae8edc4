"""Domain code of pg-tenants that needs no Pulumi engine: the tenant model, its validation,
credential formats and SCRAM verifiers."""
