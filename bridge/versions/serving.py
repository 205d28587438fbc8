"""`serving.json`: which versions of one model answer, read as hostile input.

    {"aliases": {"champion": 3, "challenger": 4},
     "traffic": {"champion": 90, "challenger": 10},
     "shadow": "challenger",
     "load": "routed" | "all" | [2, 3, 4]}

Every key is optional; any other key, a weight that is not a finite number
>= 0, a split whose weights sum to 0, or a name that is no version or alias
is a `ServingError` naming what is wrong. Nothing in it is ever more than a
label compared with the folder's version names.
"""

import dataclasses
import json
import math
import re

from ..suggest import hint

KEYS = ("aliases", "traffic", "shadow", "load")
LOAD_MODES = ("routed", "all")
ALIAS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")
MAX_BYTES = 64 * 1024
MAX_ENTRIES = 100


class ServingError(ValueError):
    """serving.json refused; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class Serving:
    aliases: dict = dataclasses.field(default_factory=dict)   # alias -> version label
    traffic: tuple = ()     # ((version label, weight, the name serving.json used), ...)
    shadow: str = None      # version label
    shadow_name: str = None  # the name serving.json used for it
    load: object = "routed"  # "routed", "all" or a tuple of version labels

    def named(self):
        """The version labels this routing can send a call to (or shadow)."""
        out = set(self.aliases.values()) | {label for label, _, _ in self.traffic}
        if self.shadow:
            out.add(self.shadow)
        return out

    def to_dict(self):
        return {"aliases": dict(self.aliases),
                "traffic": {name: weight for _, weight, name in self.traffic},
                "shadow": self.shadow_name,
                "load": list(self.load) if isinstance(self.load, tuple) else self.load}


DEFAULT = Serving()


def read(path, labels):
    """The Serving in `path` (DEFAULT when there is none), checked against
    the version labels the folder has. Raises ServingError."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return DEFAULT
    except OSError as exc:
        raise ServingError(f"serving.json cannot be read ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise ServingError(f"serving.json is larger than {MAX_BYTES} bytes")
    try:
        doc = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ServingError(f"serving.json is not valid JSON ({exc})") from None
    return parse(doc, labels)


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def parse(doc, labels):
    labels = list(labels)
    if not isinstance(doc, dict):
        raise ServingError("serving.json must be a JSON object with any of: " + ", ".join(KEYS))
    unknown = [k for k in doc if k not in KEYS]
    if unknown:
        raise ServingError(f"serving.json: unknown key {_show(unknown[0])}{hint(unknown[0], KEYS)}; "
                           f"the keys are {', '.join(KEYS)}")
    aliases = _aliases(doc.get("aliases", {}), labels)
    traffic = _traffic(doc.get("traffic", {}), labels, aliases)
    shadow = shadow_name = None
    if doc.get("shadow") is not None:
        shadow_name = _label_text(doc["shadow"], "shadow")
        shadow = _target(shadow_name, labels, aliases, "shadow")
    return Serving(aliases, traffic, shadow, shadow_name, _load(doc.get("load", "routed"), labels))


def _aliases(value, labels):
    if not isinstance(value, dict):
        raise ServingError('serving.json: "aliases" must be an object such as {"champion": 3}')
    if len(value) > MAX_ENTRIES:
        raise ServingError(f'serving.json: more than {MAX_ENTRIES} aliases')
    out = {}
    for alias, version in value.items():
        if not ALIAS.fullmatch(alias):
            raise ServingError(f"serving.json: alias {_show(alias)} is not a name (a letter, then "
                               "letters, digits, '_' or '-'; at most 64)")
        out[alias] = _version(_label_text(version, f"aliases.{alias}"), labels, f"aliases.{alias}")
    return out


def _traffic(value, labels, aliases):
    if not isinstance(value, dict):
        raise ServingError('serving.json: "traffic" must be an object such as '
                           '{"champion": 90, "challenger": 10}')
    if len(value) > MAX_ENTRIES:
        raise ServingError(f'serving.json: more than {MAX_ENTRIES} traffic entries')
    out, seen = [], {}
    for name, weight in value.items():
        label = _target(name, labels, aliases, f"traffic.{name}")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) \
                or not math.isfinite(weight) or weight < 0:
            raise ServingError(f"serving.json: traffic.{_show(name)} is {_show(weight)}; a weight "
                               "is a number >= 0 (a percentage, or any share)")
        if label in seen:
            raise ServingError(f"serving.json: traffic names version {label} twice "
                               f"({_show(seen[label])} and {_show(name)})")
        seen[label] = name
        out.append((label, weight, name))
    if out and sum(w for _, w, _ in out) <= 0:
        raise ServingError("serving.json: the traffic weights sum to 0; give one version a weight > 0")
    return tuple(out)


def _load(value, labels):
    if isinstance(value, str):
        if value not in LOAD_MODES:
            raise ServingError(f'serving.json: "load" is {_show(value)}; use "routed" (the latest '
                               'and every version named here), "all", or a list of versions')
        return value
    if not isinstance(value, list) or len(value) > MAX_ENTRIES:
        raise ServingError('serving.json: "load" must be "routed", "all" or a list of versions')
    return tuple(_version(_label_text(v, "load"), labels, "load") for v in value)


def _label_text(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ServingError(f"serving.json: {where} is {_show(value)}; name a version (3) or an alias")
    return str(value)


def _version(text, labels, where):
    label = _normal(text)
    if label not in labels:
        raise ServingError(f"serving.json: {where} names version {_show(text)}, which is not in "
                           f"the folder{hint(text, labels)}; versions: {', '.join(labels) or 'none'}")
    return label


def _target(text, labels, aliases, where):
    """A version label from a version or alias name."""
    text = str(text)
    if text in aliases:
        return aliases[text]
    if _normal(text) in labels:
        return _normal(text)
    names = [*aliases, *labels]
    raise ServingError(f"serving.json: {where} names {_show(text)}, which is neither a version nor "
                       f"an alias{hint(text, names)}; versions: {', '.join(labels) or 'none'}; "
                       f"aliases: {', '.join(aliases) or 'none'}")


def _normal(text):
    """3, "3" and "03" are one version; other labels are as written."""
    return str(int(text)) if text.isdigit() and len(text) < 19 else text


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
