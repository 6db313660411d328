"""The REST API: Powertools resolver, typed routes, problem+json errors."""
