"""Webhook signing secrets: the ones Chronicle makes and the ones it accepts."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook as Verifier

from application.webhooks import check_secret, made_secret
from domain.errors import InvalidValue


def test_a_made_secret_is_in_the_standard_form_and_new_each_time() -> None:
    secret = made_secret()
    assert secret.startswith("whsec_") and secret != made_secret()
    check_secret(secret)
    Verifier(secret)  # the library takes it


@pytest.mark.parametrize(
    "secret", ["", "whsec_", "plain", "whsec_short", "whsec_" + "!" * 40, "whsec_" + "A" * 200]
)
def test_a_secret_not_in_the_standard_form_is_refused(secret: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        check_secret(secret)
    assert refused.value.field == "secret"
