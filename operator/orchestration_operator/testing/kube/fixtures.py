"""pytest fixtures for this part of the test toolkit (loaded by tests/conftest.py)."""
