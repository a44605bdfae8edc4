"""Pulumi ComponentResources of pg-tenants."""
