"""registries/credentials."""
