"""Commands of the sending stage (filled in by that stage)."""
