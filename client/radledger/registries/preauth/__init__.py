"""registries/preauth."""
