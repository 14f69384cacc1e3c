"""Administrators: accounts with argon2 password hashes."""
