"""Subscribers, lists, consent, suppression, imports and exports."""
