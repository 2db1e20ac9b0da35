"""A faithful emulator of the Drupal orchestration module HTTP API (tests and local trials only)."""
