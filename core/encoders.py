import json
from typing import Any


class UnicodeJSONEncoder(json.JSONEncoder):
    """JSON with Chinese as it reads (not \\u escapes), so a text search finds it on SQLite too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ensure_ascii"] = False
        super().__init__(*args, **kwargs)
