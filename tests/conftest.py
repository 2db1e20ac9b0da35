"""Shared fixtures. Fixtures for the emulator and the sandbox live in their own plugins."""
