"""``python -m orchestration_operator``: the same as the ``orchestration-operator`` command."""

import sys

from orchestration_operator import cli

if __name__ == "__main__":
    sys.exit(cli.main())
