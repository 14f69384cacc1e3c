"""Deliverability: bounces and complaints read back from the bounce mailbox, and the suppression list."""
