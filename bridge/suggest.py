"""Did-you-mean: the closest known name to what a caller typed.

Used wherever a caller names something the bridge knows a closed set of:
columns, models, predict() arguments, factor levels. Case slips count as
the closest match of all. Shared code: pure Python, any process.
"""

import difflib


def closest(name, choices, cutoff=0.6):
    """The choice nearest to `name`, or None when nothing is near."""
    if not isinstance(name, str):
        return None
    choices = [c for c in choices if isinstance(c, str)]
    folded = {c.casefold(): c for c in choices}
    if name.casefold() in folded:
        return folded[name.casefold()]
    found = difflib.get_close_matches(name, choices, n=1, cutoff=cutoff)
    return found[0] if found else None


def hint(name, choices):
    """" (did you mean 'x'?)" or "" — to append to an error message."""
    found = closest(name, choices)
    return f" (did you mean {found!r}?)" if found is not None and found != name else ""
