"""Write the ALTCHA widget's CSS, which its script injects as an inline <style>, to
static/vendor/altcha/altcha.css, so that a CSP without inline styles still styles the widget.

Run after upgrading altcha-django: .venv/bin/python scripts/extract_altcha_css.py
(tests/registration/test_abuse_budgets.py fails while the two differ).
"""

import codecs
import re
from pathlib import Path

import altcha_django

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = Path(altcha_django.__file__).parent / "static" / "altcha_django" / "altcha.min.js"
TARGET = ROOT / "static" / "vendor" / "altcha" / "altcha.css"
# The script ends its style injector with this call; the CSS is the string argument.
MARKER = "document.head.appendChild(n)}}("


def widget_css(script: str) -> str:
    """Return the CSS the widget script would inject."""
    start = script.index(MARKER) + len(MARKER)
    literal = re.compile(r"'((?:\\.|[^'\\])*)'").match(script, start)
    if literal is None:
        raise ValueError("the widget's CSS is no longer a single-quoted string")
    return codecs.decode(literal.group(1), "unicode_escape")


def header(version: str) -> str:
    return (
        f"/* The ALTCHA widget's own CSS (altcha {version}, vendored by altcha-django), taken\n"
        "   out of altcha.min.js so that a CSP without inline styles still styles (and hides)\n"
        "   the widget. Regenerate with scripts/extract_altcha_css.py. */\n"
    )


def expected() -> str:
    version = SCRIPT.with_name("altcha.min.js.VERSION").read_text().strip()
    return header(version) + widget_css(SCRIPT.read_text(encoding="utf-8"))


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(expected(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
