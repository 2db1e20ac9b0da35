"""Sub-commands of the ``orchestration-operator`` CLI; each exposes ``add_arguments`` and ``main``."""
