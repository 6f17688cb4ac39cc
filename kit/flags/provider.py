"""An OpenFeature provider that evaluates a flagd flag file in process and reloads it when it changes.

Evaluation is flagd's own, from the flagd project's evaluator core (``openfeature-flagd-core``: JsonLogic
targeting, ``fractional``, ``DISABLED`` flags); this module only feeds it the file. flagd's own Python provider
(``openfeature-provider-flagd``) has a file mode too, but it imports gRPC and protobuf whether or not they are
used (+20 MB resident per shop process, measured, against +1 MB for the core), watches the file by its mtime
alone (two writes within one timestamp tick look like one), and reports a bad file without naming the flag.

Reloading polls the file's identity (inode, size, mtime in ns) every ``poll_s`` seconds from a daemon thread:
polling works on every file system and bind mount, where inotify does not, and an atomic rename always makes a
new inode. A changed file is checked (kit.flags.definitions) before flagd sees it; an invalid one is refused
with the flag and field named, the last good flags keep serving, and ``problem`` says why until a good file
comes. With no good file yet every flag serves its code default, which must be the safe path.
"""

from __future__ import annotations

import logging
import os
import json
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, OpenFeatureError
from openfeature.flag_evaluation import FlagResolutionDetails
from openfeature.provider import AbstractProvider, Metadata

from ..errors import KitError
from .definitions import FlagFile, FlagSetting, read_flags

POLL_S = 0.25
"""How often a provider looks at its file: a kill switch reaches every request within this plus one request's
time (the target is 2 s); one look is a stat(2) call, about 2 µs of CPU (benchmarks/killswitch.py)."""

log = logging.getLogger(__name__)


class _KeylessRollout(logging.Filter):
    """flagd's evaluator logs an error for every evaluation of a rollout without a targeting key; such a request
    is simply served the default variant (off), which is no error, and a busy service would log it per request."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(("No valid string targetingKey", "No hashKey value resolved"))


_KEYLESS = _KeylessRollout()


@dataclass(frozen=True)
class Loaded:
    """What a provider serves: the settings of its last good file (``{}`` before one), that file's SHA-256
    ``digest`` (hex, "" before one), how many good files it has loaded, and ``problem``, why the file on disk
    is not being served (None when it is)."""

    settings: Mapping[str, FlagSetting]
    digest: str
    loads: int
    problem: str | None


class FlagFileProvider(AbstractProvider):
    """Serve the flags of the flagd file at ``path`` to the OpenFeature API, reloading it every ``poll_s`` s.

    ``known``: the flags the service has (a file naming another is refused). ``on_load(ok)`` is called after
    each attempt to load a changed file, with whether it was served (for a metric).
    """

    def __init__(self, path: Path, known: Collection[str], *, poll_s: float = POLL_S,
                 on_load: Callable[[bool], None] | None = None) -> None:
        super().__init__()
        self.path = path
        self.known = tuple(known)
        self.poll_s = poll_s
        self._on_load = on_load
        self._core = FlagdCore()
        self._seen: tuple[int, int, int] | None = None
        self._state = Loaded({}, "", 0, None)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def loaded(self) -> Loaded:
        return self._state

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Load the file once, then keep polling it. A missing or invalid file does not stop the service: its
        flags serve their code defaults and ``loaded.problem`` says why."""
        logging.getLogger("openfeature.contrib").addFilter(_KEYLESS)  # once: a logger keeps a filter only once
        self.check()
        self._thread = threading.Thread(target=self._poll, name="flag-file", daemon=True)
        self._thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _poll(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.check()

    def check(self) -> bool:
        """Load the file if it changed since the last look; whether a new good file is now served."""
        try:
            info = os.stat(self.path)
            identity = (info.st_ino, info.st_size, info.st_mtime_ns)
        except OSError as error:
            identity = None
            problem = f"cannot read {self.path}: {error.strerror}"
        if identity is None or identity == self._seen:
            if identity is None and self._state.problem != problem:
                self._refuse(problem)
            return False
        self._seen = identity
        try:
            checked: FlagFile = read_flags(self.path, self.known)
            self._core.set_flags(json.dumps(checked.document))  # flagd's parser changes what it is given
        except (KitError, OpenFeatureError) as error:
            self._refuse(str(error))
            return False
        changed = sorted(name for name in set(checked.settings) | set(self._state.settings)
                         if checked.settings.get(name) != self._state.settings.get(name))
        recovered = self._state.problem is not None
        self._state = Loaded(checked.settings, checked.digest, self._state.loads + 1, None)
        log.info("flag file %s loaded: %s", self.path,
                 ", ".join(f"{name} {setting.text}" for name, setting in checked.settings.items()) or "no flags")
        if recovered:
            self.emit_provider_ready(ProviderEventDetails(message=f"{self.path} is valid again"))
        self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))
        if self._on_load is not None:
            self._on_load(True)
        return True

    def _refuse(self, problem: str) -> None:
        kept = "keeping the last good flags" if self._state.loads else "every flag serves its code default"
        self._state = Loaded(self._state.settings, self._state.digest, self._state.loads, problem)
        log.error("flag file refused, %s: %s", kept, problem)
        self.emit_provider_error(ProviderEventDetails(message=problem, error_code=ErrorCode.PARSE_ERROR))
        if self._on_load is not None:
            self._on_load(False)

    def get_metadata(self) -> Metadata:
        return Metadata(name="flagd file (kit.flags)")

    def resolve_boolean_details(self, flag_key: str, default_value: bool,
                                evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[bool]:
        return self._core.resolve_boolean_value(flag_key, default_value, evaluation_context)

    def resolve_string_details(self, flag_key: str, default_value: str,
                               evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[str]:
        return self._core.resolve_string_value(flag_key, default_value, evaluation_context)

    def resolve_integer_details(self, flag_key: str, default_value: int,
                                evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[int]:
        return self._core.resolve_integer_value(flag_key, default_value, evaluation_context)

    def resolve_float_details(self, flag_key: str, default_value: float,
                              evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[float]:
        return self._core.resolve_float_value(flag_key, default_value, evaluation_context)

    def resolve_object_details(self, flag_key: str, default_value: Sequence[Any] | Mapping[str, Any],
                               evaluation_context: EvaluationContext | None = None) -> FlagResolutionDetails[Any]:
        return self._core.resolve_object_value(flag_key, default_value, evaluation_context)
