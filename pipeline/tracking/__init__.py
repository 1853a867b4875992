"""First-party engagement tracking: link indexing at freeze, per-recipient tracking URLs,
the human/machine verdict of each open and click, recording into ``delivery_events``, and
the statistics and charts read from them (docs/tracking.md).

Modules: ``links`` (indexing an edition's links, UTM tags), ``plan`` (what the settings
ask to track for an edition and a recipient), ``classify`` (the rules, with their
sources), ``record`` (the event recorder behind the redirect and the pixel), ``stats`` and
``charts`` (reports).
"""
