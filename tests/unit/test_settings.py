"""Settings parse the policies they carry."""

from __future__ import annotations

import pytest

from content_service.domain.bundle import TamperPolicy
from content_service.settings import Settings


def test_the_tamper_policy_is_on_by_default_with_per_tenant_overrides():
    policy = Settings(tamper_auto_revoke_overrides="acme=off, beta=on").tamper_policy
    assert policy.auto_revoke_for("acme") is False
    assert policy.auto_revoke_for("beta") is True
    assert policy.auto_revoke_for("anyone") is True
    assert TamperPolicy(default=False).auto_revoke_for("anyone") is False
    with pytest.raises(ValueError):
        _ = Settings(tamper_auto_revoke_overrides="acme=maybe").tamper_policy
