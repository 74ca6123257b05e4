"""Shared machinery every domain uses: database, errors, routing, paging, security."""
