"""Commands of the subscribers stage (filled in by that stage)."""
