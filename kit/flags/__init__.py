"""Feature flags the standard way: flagd's JSON flag definitions in a file, evaluated in process through the
OpenFeature API, reloaded when the file changes.

- ``definitions``: the flag file: ``FlagSetting`` (percent of user keys on, killed), reading and checking a
  file with errors that name the flag and field, changing one flag atomically
- ``provider``: ``FlagFileProvider``, the OpenFeature provider a service evaluates its flags with (imported on
  its own: it loads the OpenFeature SDK)

Changing flags in the sandbox, with the deploy log, is kit.releases.flags.
"""

from .definitions import (
    OFF,
    ON,
    FlagFile,
    FlagSetting,
    change_flag,
    definition,
    ensure_flags,
    flag_document,
    parse_flags,
    read_flags,
    reset_flags,
)

__all__ = ["OFF", "ON", "FlagFile", "FlagSetting", "change_flag", "definition", "ensure_flags", "flag_document",
           "parse_flags", "read_flags", "reset_flags"]
