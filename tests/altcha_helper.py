"""Solve ALTCHA challenges server-side, as the widget does in a browser.

Tests post forms that carry an ALTCHA field (sign-up, sending a login code): ``altcha_payload()``
builds a challenge with the site's own verifier (its HMAC secret), solves it with the
``altcha`` package and returns the base64 payload the widget would submit. Each payload is
good once (replay protection), so call it per request.
"""

from altcha import Challenge, Payload, solve_challenge
from altcha_django.verifiers import resolve_verifier


def altcha_payload() -> str:
    """Return a valid, unused ALTCHA payload for the form field ``altcha``."""
    challenge = Challenge.from_dict(resolve_verifier(None).get_challenge())
    solution = solve_challenge(challenge)
    assert solution is not None, "ALTCHA challenge not solved in time"
    return Payload(challenge, solution).to_base64()


def with_altcha(data: dict) -> dict:
    """Return ``data`` (a form's POST) with a fresh ALTCHA payload added."""
    return {**data, "altcha": altcha_payload()}


def wait_for_altcha(page) -> None:
    """In a browser test, wait until the invisible widget on the page has solved its
    challenge (its payload is in the form), as a person's browser does while they type."""
    page.wait_for_function(
        "() => [...document.querySelectorAll('altcha-widget')].every("
        "w => new FormData(w.closest('form')).get('altcha'))"
    )
