"""Shared fixtures. The emulator and sandbox fixtures come from the public test toolkit's plugins."""

pytest_plugins = [
    "orchestration_operator.testing.drupal.fixtures",
    "orchestration_operator.testing.kube.fixtures",
]
