"""registries/records."""
