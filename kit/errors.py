"""The kit's error tree: every failure a person can act on is one of these.

The CLI prints ``str(error)`` on one line and exits with ``error.exit_code``;
notebooks show the same message. Each error carries the data it talks about.
"""

from __future__ import annotations


class KitError(Exception):
    """Base of every error the kit raises on purpose."""

    exit_code = 1


class InvalidInput(KitError, ValueError):
    """A value given by a person is wrong; ``field`` names which one.

    ``source`` says where the value was read from when that is a file: its
    name, with ``:line:column`` or ``(document N)`` when known. The message is
    ``source: field: problem``, leaving out whichever of the first two is empty.
    """

    exit_code = 2

    def __init__(self, field: str, problem: str, *, source: str = "") -> None:
        self.field = field
        self.problem = problem
        self.source = source
        super().__init__(": ".join(part for part in (source, field, problem) if part))


class BinaryMissing(KitError):
    """A required program is not installed; the message says how to get it."""

    exit_code = 3


class PortBusy(KitError):
    """A port the sandbox needs cannot be listened on; ``reason`` says why (``kit.procs.port_problem``).

    ``learner`` is the hub's name for the user when the port is one the hub gave them: then the way out is the
    facilitator's (a new block of ports), not a port of their own choosing, which the hub's firewall and
    registry would not know.
    """

    exit_code = 4

    def __init__(self, name: str, port: int, env_var: str, reason: str = "another program listens on it",
                 learner: str | None = None) -> None:
        self.name = name
        self.port = port
        self.env_var = env_var
        self.reason = reason
        self.learner = learner
        way_out = (f"stop that program or wait, or pick another port with `{env_var}=<free port>`." if not learner
                   else f"the hub gave you this port: ask the facilitator to run `kit hub ports {learner} "
                        "--reassign` (a new block of ports for you), then restart your server (Hub Control "
                        "Panel: Stop My Server, then Start My Server).")
        super().__init__(f"port {port} for {name} cannot be used: {reason}. See `ss -tanp 'sport = :{port}'`; "
                         + way_out)


class SandboxNotReady(KitError):
    """The sandbox is down, or part of it is not healthy."""

    exit_code = 5


class ProcessFailed(KitError):
    """A child process exited or never became healthy; carries its log tail."""

    exit_code = 6

    def __init__(self, name: str, problem: str, log_tail: str = "") -> None:
        self.name = name
        self.log_tail = log_tail
        message = f"{name}: {problem}"
        if log_tail:
            message += f"\n--- last lines of the {name} log ---\n{log_tail}"
        super().__init__(message)


class PromQLError(KitError):
    """Prometheus rejected a query; the message is Prometheus's own."""

    exit_code = 7

    def __init__(self, expr: str, message: str) -> None:
        self.expr = expr
        super().__init__(f"Prometheus rejected {expr!r}: {message}")


class CheckFailed(KitError):
    """Something the kit checked (a wait, a grade, a lint) did not hold."""

    exit_code = 8


class NothingMeasured(KitError):
    """A measurement had nothing to measure (nothing answered, no traffic, no samples): no result, not a zero."""

    exit_code = 9

    def __init__(self, what: str, target: str, reason: str) -> None:
        self.what = what
        self.target = target
        self.reason = reason
        super().__init__(f"{what} measured nothing at {target}: {reason}")


class FirewallFailed(KitError):
    """nft refused to change the learners' firewall (``kit.hub.firewall``); the message says why and what to do."""

    exit_code = 10
