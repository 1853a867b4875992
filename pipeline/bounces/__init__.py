"""Bounces and mail unsubscribes, from every transport, into one decision.

verp.py       the per-delivery Return-Path (bounces+TOKEN@domain) and mailto address
decision.py   ``apply_bounce``: the one function that decides suppression
mailbox.py    ``fetch_bounces``: reads the bounce mailbox (IMAP or Maildir)
"""
