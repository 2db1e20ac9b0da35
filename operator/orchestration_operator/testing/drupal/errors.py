"""The emulator's own errors: bad catalog, settings, users or faults given by a test or a file.

They are about how the emulator is driven, never about the emulated API: what Drupal answers is an
HTTP response, not an exception.
"""

from __future__ import annotations


class EmulatorError(Exception):
    """Base of every error the emulator toolkit raises."""


class CatalogError(EmulatorError, ValueError):
    """A catalog (services, behaviours, poll sources) is malformed."""


class SettingsError(EmulatorError, ValueError):
    """An unknown setting, or a value outside the setting's choices."""


class UsersError(EmulatorError, ValueError):
    """A users file or user definition is malformed."""


class FaultError(EmulatorError, ValueError):
    """A fault specification is malformed."""


class ControlError(EmulatorError):
    """The control API of an emulator in another process refused a request or could not be reached."""


class ProcessError(EmulatorError):
    """An emulator subprocess did not start or did not say where it listens."""
