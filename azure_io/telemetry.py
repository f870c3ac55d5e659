"""What the app tells its operators: structured logs and custom metrics, with no secrets.

**Context.** An activity binds the cycle, phase, group, round and VM it works on
(`log_context`, or the `activity_logging` decorator, which reads them from its payload);
`ContextFilter` copies them onto every record as attributes. Those attributes are what
Application Insights shows as customDimensions (the OpenTelemetry log handler of
`azure-monitor-opentelemetry` turns a record's extra attributes into them) and what
`JsonFormatter` writes as fields on this machine.

**Redaction.** `RedactionFilter` masks storage account keys, SAS signatures, function keys
(`code=` query values), bearer tokens and Authorization headers in a record's message,
its arguments, its extra attributes and its traceback, before any handler sees it.

**Metrics.** Counters through the OpenTelemetry API (`opentelemetry-api`, which the Durable
SDK already requires): installs started, finished and failed per cycle, phase and
subscription, and the compliance records written per state. With no meter provider
configured they cost nothing; the Functions host's OpenTelemetry mode with
`configure_azure_monitor()` exports them to Application Insights customMetrics. Each one is
also written as a log record on the `patching.metrics` logger (`metric`, `value` and the
attributes as extras), so a host in its classic telemetry mode still shows them.
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, ParamSpec, TypeVar

from opentelemetry import metrics

CONTEXT_FIELDS: Final = ("activity", "cycle", "phase", "group", "round", "subscription", "vm")
METRICS_LOGGER: Final = "patching.metrics"
METER_NAME: Final = "availability_first_patching"
MASK: Final = "***"

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "patching_log_context", default=MappingProxyType({})
)

# Group ids are `p{phase}-...`, or `t{round}-p{phase}-...` for a re-plan's (patching.fanout).
_GROUP_PHASE = re.compile(r"^(?:t\d+-)?p(\d+)-")
_SUBSCRIPTION = re.compile(r"/subscriptions/([^/]+)", re.IGNORECASE)


def current_context() -> dict[str, str]:
    """The fields bound here (by the enclosing `log_context`s), innermost last."""
    return dict(_context.get())


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Binds fields (None leaves one out) on top of those already bound, for the block."""
    bound = {**_context.get(), **{k: str(v) for k, v in fields.items() if v is not None}}
    token = _context.set(MappingProxyType(bound))
    try:
        yield
    finally:
        _context.reset(token)


def payload_context(activity: str, payload: object) -> dict[str, str]:
    """The context fields an activity's payload names: its cycle, phase (or the phase its
    group id carries), group, assessment round and subscription."""
    fields = {"activity": activity}
    if isinstance(payload, str):
        # discover_subscription's input is the subscription id alone.
        fields["subscription"] = payload
        return fields
    if not isinstance(payload, Mapping):
        return fields
    for key in ("cycle", "phase", "group", "round", "subscription"):
        value = payload.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            fields[key] = str(value)
    group_phase = _GROUP_PHASE.match(fields.get("group", ""))
    if "phase" not in fields and group_phase is not None:
        fields["phase"] = group_phase.group(1)
    return fields


P = ParamSpec("P")
R = TypeVar("R")


def activity_logging(function: Callable[P, R]) -> Callable[P, R]:
    """Runs an activity inside the log context its payload (its one argument) names.

    Place it under the trigger decorator; `functools.wraps` keeps the name, parameters and
    annotations the Functions worker binds the input by."""

    @functools.wraps(function)
    def logged(*args: P.args, **kwargs: P.kwargs) -> R:
        payload = args[0] if args else next(iter(kwargs.values()), None)
        with log_context(**payload_context(function.__name__, payload)):
            return function(*args, **kwargs)

    return logged


def subscription_of(vm_id: str) -> str | None:
    match = _SUBSCRIPTION.search(vm_id)
    return match.group(1).lower() if match else None


# --- records -------------------------------------------------------------------------------


class ContextFilter(logging.Filter):
    """Sets each context field on the record: the bound value, or the `extra` one the call
    gave (which wins), or None, so every record has the same attributes."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _context.get()
        for name in CONTEXT_FIELDS:
            if getattr(record, name, None) is None:
                setattr(record, name, bound.get(name))
        return True


_SECRETS: Final = (
    # Storage connection strings and SAS: AccountKey=..., SharedAccessSignature=..., sig=...
    re.compile(r"(?i)\b(AccountKey|SharedAccessKey|SharedAccessSignature)=[^;\s\"']+"),
    re.compile(r"(?i)([?&;]\s*sig)=[^&;\s\"']+"),
    # Function keys in query strings (?code=...) and the key headers.
    re.compile(r"(?i)([?&]code)=[^&#\s\"']+"),
    re.compile(r"(?i)\b(x-functions-key|x-ms-functions-key)([\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"),
    # Authorization headers, whatever their scheme, and bare bearer tokens.
    re.compile(r"(?i)\b(Authorization)([\"']?\s*[:=]\s*[\"']?)[^\"',}\r\n]+"),
    re.compile(r"(?i)\b(Bearer)\s+[A-Za-z0-9\-._~+/]+=*"),
    # Anything that looks like a JWT (three base64url parts, the first a JSON header).
    re.compile(r"\beyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
)
_SECRET_NAMES: Final = re.compile(r"(?i)(authorization|password|secret|token|accountkey|^code$)")


def redact(text: str) -> str:
    """The text with every secret the patterns know masked (the name stays, the value goes)."""
    for pattern in _SECRETS:
        text = pattern.sub(_masked, text)
    return text


# What the Azure SDK's HTTP logging policy and this module already put in a secret's place.
_ALREADY_MASKED: Final = frozenset({"REDACTED", MASK})


def _masked(match: re.Match[str]) -> str:
    groups = [g for g in match.groups() if g is not None]
    value = match.group(0)[sum(len(g) for g in groups) :].lstrip("= ").strip("'\"")
    if value in _ALREADY_MASKED:
        return match.group(0)
    if not groups:
        return MASK
    if len(groups) == 1 and match.group(0).lower().startswith("bearer"):
        return f"{groups[0]} {MASK}"
    if len(groups) == 1:
        return f"{groups[0]}={MASK}"
    return f"{groups[0]}{groups[1]}{MASK}"


_STANDARD_ATTRIBUTES: Final = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class RedactionFilter(logging.Filter):
    """Masks secrets in the record's message (arguments merged in), extras and traceback.

    Extras named like a secret (authorization, token, password, code) are masked whole."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        for name, value in list(vars(record).items()):
            if name in _STANDARD_ATTRIBUTES:
                continue
            setattr(record, name, _redacted_value(name, value))
        if record.exc_info and record.exc_info[0] is not None:
            traceback = logging.Formatter().formatException(record.exc_info)
            cleaned = redact(traceback)
            if cleaned != traceback:
                # The exception object itself still holds the secret: keep its text only.
                record.exc_info, record.exc_text = None, cleaned
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _redacted_value(name: str, value: object) -> object:
    if _SECRET_NAMES.search(name) and value is not None:
        return MASK
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, Mapping):
        return {str(k): _redacted_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted_value(name, v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the context fields bound and
    any other extras (what Application Insights shows as customDimensions)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, default=str, sort_keys=False)


_CONTEXT_FILTER: Final = ContextFilter()
_REDACTION_FILTER: Final = RedactionFilter()


def app_logger(name: str) -> logging.Logger:
    """The logger of an app module, with the context and redaction filters on it (logger
    filters run before any handler, the host's or Application Insights')."""
    logger = logging.getLogger(name)
    _add_filters(logger)
    return logger


def install(handler: logging.Handler) -> logging.Handler:
    """Puts both filters on a handler, for the records of other libraries it carries too
    (the Functions worker's root handler, the OpenTelemetry handler)."""
    _add_filters(handler)
    return handler


def _add_filters(target: logging.Filterer) -> None:
    for wanted in (_CONTEXT_FILTER, _REDACTION_FILTER):
        if wanted not in target.filters:
            target.addFilter(wanted)


# --- metrics -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Instruments:
    installs_started: metrics.Counter
    installs_finished: metrics.Counter
    installs_failed: metrics.Counter
    compliance_recorded: metrics.Counter
    # The API exports its synchronous gauge as `_Gauge` (still provisional in name only).
    compliance_vms: metrics._Gauge


def _instruments(provider: metrics.MeterProvider | None) -> _Instruments:
    meter = metrics.get_meter(METER_NAME, meter_provider=provider)
    return _Instruments(
        installs_started=meter.create_counter(
            "patching.installs.started", unit="{install}", description="installs ARM accepted"
        ),
        installs_finished=meter.create_counter(
            "patching.installs.finished", unit="{install}", description="installs that ended"
        ),
        installs_failed=meter.create_counter(
            "patching.installs.failed",
            unit="{install}",
            description="installs that ended failed or could not start",
        ),
        compliance_recorded=meter.create_counter(
            "patching.compliance.recorded",
            unit="{vm}",
            description="compliance records written, by state",
        ),
        compliance_vms=meter.create_gauge(
            "patching.compliance.vms", unit="{vm}", description="VMs per compliance state"
        ),
    )


_current_instruments = _instruments(None)
_metrics_log = app_logger(METRICS_LOGGER)


def use_meter_provider(provider: metrics.MeterProvider | None) -> None:
    """Record the metrics on `provider` (tests' in-memory reader); None: the global one."""
    global _current_instruments
    _current_instruments = _instruments(provider)


def _attributes(**given: str | None) -> dict[str, str]:
    bound = _context.get()
    names = ("cycle", "phase", "subscription")
    attributes = {name: bound[name] for name in names if name in bound}
    attributes.update({k: v for k, v in given.items() if v is not None})
    return attributes


def _emit(instrument: metrics.Counter, name: str, value: int, attributes: dict[str, str]) -> None:
    if value <= 0:
        return
    instrument.add(value, attributes)
    extra = {"metric": name, "value": value, **attributes}
    _metrics_log.info("metric %s %d", name, value, extra=extra)


def installs_started(vm_id: str) -> None:
    attributes = _attributes(subscription=subscription_of(vm_id))
    _emit(_current_instruments.installs_started, "patching.installs.started", 1, attributes)


def install_finished(vm_id: str, status: str) -> None:
    """An install that ended with ARM's `status` (Succeeded, Failed, ...)."""
    attributes = _attributes(subscription=subscription_of(vm_id), status=status.lower())
    _emit(_current_instruments.installs_finished, "patching.installs.finished", 1, attributes)
    if status.lower() == "failed":
        _emit(_current_instruments.installs_failed, "patching.installs.failed", 1, attributes)


def install_not_started(vm_id: str, code: str) -> None:
    attributes = _attributes(subscription=subscription_of(vm_id), code=code)
    _emit(_current_instruments.installs_failed, "patching.installs.failed", 1, attributes)


def compliance_recorded(vm_id: str, state: str) -> None:
    attributes = _attributes(subscription=subscription_of(vm_id), state=state)
    _emit(_current_instruments.compliance_recorded, "patching.compliance.recorded", 1, attributes)


def compliance_counts(counts: Mapping[str, Mapping[str, int]]) -> None:
    """{subscription: {state: VMs}} (the store's `compliance_counts`) as the gauge's values."""
    for subscription, states in counts.items():
        for state, vms in states.items():
            attributes = {"subscription": subscription, "state": state}
            _current_instruments.compliance_vms.set(vms, attributes)
            _metrics_log.info(
                "metric patching.compliance.vms %d",
                vms,
                extra={"metric": "patching.compliance.vms", "value": vms, **attributes},
            )
