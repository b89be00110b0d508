"""What every service stands on: the request context (context.py), the method registry
(registry.py), the REST transport (params, filters, listing and paging, ``batch``, PHP-style
queries, rate limits, portal time formats), the event bus (bus.py) and the shared errors
(errors.py). Imports no service."""
