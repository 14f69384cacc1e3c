"""Helpers the tests import: backends and databases, pages and forms, mail, registration, processes."""
