"""Commands of the lists stage (filled in by that stage)."""
