"""Operator settings, read from environment variables (documented in README)."""
