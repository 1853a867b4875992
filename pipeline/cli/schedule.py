"""Commands of the schedule stage (filled in by that stage)."""
