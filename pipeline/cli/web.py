"""Commands of the web stage (filled in by that stage)."""
