"""Commands of the issue stage (filled in by that stage)."""
