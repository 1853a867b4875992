"""`newsletter init DIR` (written by the foundation stage)."""
