"""The flag file: boolean feature flags in flagd's JSON flag-definition format, read, checked and changed.

A flag is on for a share of user keys (``FlagSetting.percent``): 0 is off, 100 is on, anything between is a
rollout, written as flagd's ``fractional`` operator over the evaluation's targeting key with the on variant
first. flagd hashes the flag's key with the user key (MurmurHash3 over their CBOR encoding) into one of
``weight total`` buckets; with weights that add up to 100 a bucket is 1 % of the keys, the same key always
lands in the same one, and the on variant holds the lowest buckets, so raising the percentage only adds keys.
A killed flag has ``"state": "DISABLED"``: flagd then answers with the caller's code default, whatever its
variants say, and the kit keeps the variants and rollout so that switching it on again brings them back.

Only this shape is accepted (boolean variants, no targeting or a ``fractional`` rollout): a file with anything
else is refused with an InvalidInput naming the flag and the field, so a hand edit cannot half-apply. Files
are replaced atomically (kit.atomicfile) under a folder lock, so a reader never sees half a file and two
changes at once cannot lose one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, StrictInt, model_validator

from ..atomicfile import folder_locked, write_atomically
from ..errors import InvalidInput, KitError
from ..validation import Document, validated

ON, OFF = "on", "off"
"""The variants the kit writes: ``on`` is true, ``off`` false."""
PERCENT_STEP = 1
"""Rollouts are whole percentages: weights that add up to 100 make 100 buckets of 1 % each."""


@dataclass(frozen=True)
class FlagSetting:
    """How one boolean flag is set: ``percent`` of user keys (0 to 100) get it on; ``killed`` serves every
    request the code default instead, whatever ``percent`` says, until the flag is set on, off or rolled out."""

    percent: float
    killed: bool = False

    @property
    def text(self) -> str:
        """``on``, ``off``, ``25%`` or ``killed``: the state the deploy log and ``kit flag list`` show."""
        if self.killed:
            return "killed"
        if self.percent >= 100:
            return ON
        return OFF if self.percent <= 0 else f"{self.percent:g}%"


def _weight() -> Any:
    return Annotated[StrictInt, Field(ge=0, le=2**31 - 1)]


class _Rollout(Document):
    """flagd's fractional operator in its short form, bucketing by the targeting key."""

    fractional: list[tuple[str, _weight()]] = Field(min_length=1, description='e.g. [["on", 25], ["off", 75]]')


class _Flag(Document):
    state: Literal["ENABLED", "DISABLED"] = Field(description="ENABLED, or DISABLED for a killed flag")
    variants: dict[str, StrictBool] = Field(min_length=1, description='e.g. {"on": true, "off": false}')
    defaultVariant: str = Field(description="the variant served when no rollout applies, e.g. off")
    targeting: _Rollout | None = None
    metadata: dict[str, str | int | float | bool] = {}

    @model_validator(mode="after")
    def _variants_named(self) -> "_Flag":
        if self.defaultVariant not in self.variants:
            raise InvalidInput("defaultVariant", f"{self.defaultVariant!r} is not one of the variants "
                                                 f"({', '.join(self.variants)})")
        if self.targeting is not None:
            for index, (variant, _) in enumerate(self.targeting.fractional):
                if variant not in self.variants:
                    raise InvalidInput(f"targeting.fractional[{index}][0]", f"{variant!r} is not one of the "
                                                                            f"variants ({', '.join(self.variants)})")
            if not sum(weight for _, weight in self.targeting.fractional):
                raise InvalidInput("targeting.fractional", "the weights add up to 0: no key would get a variant")
        return self

    def setting(self) -> FlagSetting:
        if self.targeting is None:
            percent = 100.0 if self.variants[self.defaultVariant] else 0.0
        else:
            total = sum(weight for _, weight in self.targeting.fractional)
            percent = 100 * sum(weight for variant, weight in self.targeting.fractional if self.variants[variant]) / total
        return FlagSetting(percent, killed=self.state == "DISABLED")


class _FlagFile(Document):
    schema_: str | None = Field(None, alias="$schema")
    flags: dict[str, _Flag] = Field(description="the flags by name")
    metadata: dict[str, str | int | float | bool] = {}


@dataclass(frozen=True)
class FlagFile:
    """A checked flag file: its flagd document (as parsed, for an evaluator), the kit's view of each flag, and
    ``digest``, the SHA-256 of its bytes in hex (what a shop reports having loaded)."""

    document: dict[str, Any]
    settings: dict[str, FlagSetting]
    digest: str


def parse_flags(data: bytes | str, known: Collection[str] | None, *, source: str = "") -> FlagFile:
    """Check a flag file's text against flagd's format and the kit's shape, with ``known`` the flags the
    service has (None: any name). A flag missing from the file is allowed (it serves its code default).

    Raises InvalidInput naming the flag and field (``flags.new_checkout.targeting.fractional[0][1]``) and
    ``source``: text that is not JSON, a field flagd does not know, a state other than ENABLED/DISABLED, a
    non-boolean variant, a default or rollout variant that is not declared, negative or all-zero weights,
    targeting other than a ``fractional`` rollout, a flag the service does not have.
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as error:
        where = f" (line {error.lineno}, column {error.colno})" if isinstance(error, json.JSONDecodeError) else ""
        raise InvalidInput("flags", f"the file is not JSON{where}: {error}", source=source) from None
    checked = validated(_FlagFile, document, source=source)
    unknown = sorted(set(checked.flags) - set(checked.flags if known is None else known))
    if unknown:
        raise InvalidInput(f"flags.{unknown[0]}", f"is not a feature flag; the flags are {', '.join(known)}",
                           source=source)
    return FlagFile(document, {name: flag.setting() for name, flag in checked.flags.items()},
                    hashlib.sha256(raw).hexdigest())


def read_flags(path: Path, known: Collection[str] | None) -> FlagFile:
    """The checked flag file at ``path`` (see ``parse_flags``); KitError when it cannot be read."""
    return parse_flags(_read(path), known, source=str(path))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KitError(f"no flag file at {path}: `kit up` writes it from the sandbox's default") from None
    except OSError as error:
        raise KitError(f"cannot read the flag file {path}: {error.strerror}") from None


def definition(setting: FlagSetting) -> dict[str, Any]:
    """One flag in flagd's format: variants on/off, a ``fractional`` rollout between 0 and 100 %, DISABLED when
    killed. Raises InvalidInput (``percent``) for a percentage that is not a whole number from 0 to 100."""
    percent = setting.percent
    if isinstance(percent, bool) or not (0 <= percent <= 100 and float(percent).is_integer()):
        raise InvalidInput("percent", f"a rollout is a whole percentage from 0 to 100, got {percent!r}")
    flag: dict[str, Any] = {"state": "DISABLED" if setting.killed else "ENABLED",
                            "variants": {ON: True, OFF: False}, "defaultVariant": ON if percent == 100 else OFF}
    if 0 < percent < 100:
        flag["targeting"] = {"fractional": [[ON, int(percent)], [OFF, 100 - int(percent)]]}
    return flag


def flag_document(settings: Mapping[str, FlagSetting]) -> str:
    """The text of a flag file holding ``settings`` (by flag name, in their order)."""
    return json.dumps({"flags": {name: definition(setting) for name, setting in settings.items()}}, indent=2) + "\n"


def change_flag(path: Path, name: str, known: Collection[str], *, percent: int | None = None,
                killed: bool | None = None) -> tuple[FlagSetting, FlagSetting, str]:
    """Set one flag in the file at ``path``: ``percent`` of user keys on (0 off, 100 on, whole numbers), and
    ``killed`` or not; an argument left None keeps what the file says. Setting a percentage revives a killed
    flag unless ``killed`` says otherwise; killing or reviving alone changes only the flag's ``state``. The rest
    of the file stays as it was. It is rewritten atomically under a lock on its folder, and not at all when the
    flag is already so.

    Returns (setting before, setting after, SHA-256 of the file now, hex). Raises InvalidInput (``name``,
    ``percent``) for an unknown flag or a percentage that is not a whole number from 0 to 100, InvalidInput
    naming the field when the file on disk is invalid (fix it, or go back to the default with
    ``kit flag reset``), KitError when it cannot be read or written.
    """
    if name not in known:
        raise InvalidInput("name", f"{name!r} is not a feature flag; the flags are {', '.join(known)}")
    with folder_locked(path.parent, lambda error: KitError(f"cannot lock {path.parent}: {error.strerror}")):
        current = read_flags(path, known)
        before = current.settings.get(name, FlagSetting(0.0))
        revived = False if percent is not None else before.killed
        after = FlagSetting(before.percent if percent is None else percent, revived if killed is None else killed)
        flag = definition(after) if percent is not None else {
            **current.document["flags"].get(name, definition(before)), "state": "DISABLED" if after.killed else "ENABLED"}
        if after == before:
            return before, after, current.digest
        document = {**current.document, "flags": {**current.document["flags"], name: flag}}
        text = json.dumps(document, indent=2) + "\n"
        _write(path, text)
    return before, after, hashlib.sha256(text.encode("utf-8")).hexdigest()


def reset_flags(path: Path, default: Path, known: Collection[str] | None) -> FlagFile:
    """Replace the flag file at ``path`` with the checked ``default`` file, atomically; returns it.

    Raises InvalidInput naming the field when the default itself is invalid, KitError when unreadable.
    """
    data = _read(default)
    checked = parse_flags(data, known, source=str(default))
    with folder_locked(path.parent, lambda error: KitError(f"cannot lock {path.parent}: {error.strerror}")):
        _write(path, data)
    return checked


def ensure_flags(path: Path, default: Path) -> bool:
    """Write the checked ``default`` flag file to ``path`` when there is none there; whether it did.

    A file already there is left as it is, valid or not: flag changes outlive `kit up`, and a shop reports an
    invalid file itself. Raises InvalidInput naming the field when the default is invalid.
    """
    data = _read(default)
    parse_flags(data, None, source=str(default))
    with folder_locked(path.parent, lambda error: KitError(f"cannot lock {path.parent}: {error.strerror}")):
        if path.exists():
            return False
        _write(path, data)
    return True


def _write(path: Path, data: bytes | str) -> None:
    try:
        write_atomically(path, data, mode=0o644)  # every shop process of the sandbox reads it
    except OSError as error:
        raise KitError(f"cannot write the flag file {path}: {error.strerror}") from None
