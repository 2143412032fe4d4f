"""chain/events."""
