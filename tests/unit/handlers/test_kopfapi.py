"""kopf's internal API client, which the start marker uses, is where ``handlers.kopfapi`` expects it."""

from __future__ import annotations

import inspect

from orchestration_operator.handlers import kopfapi


def test_kopfs_internal_client_is_available() -> None:
    # If this fails after a kopf upgrade, the start marker silently falls back to the kubernetes client
    # in a thread (correct, but several times slower): update kopfapi for the new kopf.
    assert kopfapi.AVAILABLE is True
    assert "backoffs" in inspect.signature(kopfapi._api.request).parameters  # retry=False relies on it
    assert issubclass(kopfapi._errors.APIConflictError, kopfapi._errors.APIError)
    assert issubclass(kopfapi._errors.APINotFoundError, kopfapi._errors.APIError)
    assert kopfapi._posting.settings_var.name == "settings_var"


def test_a_plural_names_our_own_namespaced_kind() -> None:
    url = kopfapi.resource_of("eventpolls").get_url(namespace="team", name="feed", subresource="status")
    assert url == "/apis/drupal-orchestration.io/v1alpha1/namespaces/team/eventpolls/feed/status"
