"""registries/consent."""
