"""Chronicle's use cases: command handlers, the unit of work, idempotency, authorisation.

Depends only on the domain; drivers and frameworks stay in infrastructure and api.
"""
