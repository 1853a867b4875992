"""Commands of the feeds stage (filled in by that stage)."""
