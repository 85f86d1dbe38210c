"""Timestamps and durations the way Go (and so cel-go) parses and prints them.

Timestamps are ``int`` nanoseconds since the Unix epoch; durations are ``int`` nanoseconds.
Parsing follows ``time.Parse(time.RFC3339, ...)`` and ``time.ParseDuration``; printing follows
``time.RFC3339Nano`` and CEL's ``string(duration)`` (seconds with the shortest exact decimal).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

from kfp_triggers.golang import fmt as gofmt

NANOS = 1_000_000_000
MIN_UNIX_SECONDS = -62135596800  # 0001-01-01T00:00:00Z
MAX_UNIX_SECONDS = 253402300799  # 9999-12-31T23:59:59Z
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))\Z"
)


def parse_timestamp(text: str) -> tuple[int, int] | None:
    """Parse an RFC 3339 timestamp; return ``(nanos, offset_seconds)`` or None when invalid."""
    m = _RFC3339.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    if hour > 23 or minute > 59 or second > 59:
        return None
    try:
        base = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)
    except ValueError:
        return None
    frac = int((m.group(7) or "0").ljust(9, "0"))
    offset = 0
    if not m.group(8):
        oh, om = int(m.group(10)), int(m.group(11))
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (-1 if m.group(9) == "-" else 1)
    seconds = _unix_seconds(base) - offset
    return seconds * NANOS + frac, offset


def _unix_seconds(value: dt.datetime) -> int:
    delta = value - _EPOCH
    return delta.days * 86400 + delta.seconds


def in_range(nanos: int) -> bool:
    """Whether a timestamp lies in CEL's range, years 0001 to 9999."""
    return MIN_UNIX_SECONDS <= nanos // NANOS <= MAX_UNIX_SECONDS


def civil(nanos: int, offset: int) -> tuple[dt.datetime, int]:
    """Local wall-clock time (second precision) and the nanosecond part, at a fixed offset."""
    seconds, frac = divmod(nanos, NANOS)
    return _EPOCH + dt.timedelta(seconds=seconds + offset), frac


def format_timestamp(nanos: int, offset: int = 0) -> str:
    """Format as Go's ``time.RFC3339Nano`` (trailing zeros of the fraction dropped)."""
    local, frac = civil(nanos, offset)
    text = f"{local.year:04d}-{local.month:02d}-{local.day:02d}T"
    text += f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
    if frac:
        text += "." + f"{frac:09d}".rstrip("0")
    if offset == 0:
        return text + "Z"
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


def timezone_offset(nanos: int, tz: str) -> int | None:
    """Seconds east of UTC of ``tz`` (an IANA name or ``[+-]HH:MM``) at that instant; None if unknown."""
    if ":" not in tz:
        if tz in ("", "UTC"):
            return 0
        if tz == "Local":
            return 0
        try:
            zone = zoneinfo.ZoneInfo(tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return None
        moment = _EPOCH + dt.timedelta(seconds=nanos // NANOS)
        off = moment.astimezone(zone).utcoffset()
        return int(off.total_seconds()) if off is not None else 0
    hours_text, _, minutes_text = tz.partition(":")
    try:
        hours, minutes = int(hours_text), int(minutes_text)
    except ValueError:
        return None
    if not 0 <= minutes <= 59:
        return None
    total = abs(hours) * 60 + minutes
    return (-total if tz.startswith("-") else total) * 60


def format_duration(nanos: int) -> str:
    """CEL's ``string(duration)``: seconds as the shortest decimal, then ``s`` (``90s``, ``1.5s``)."""
    sign = -1 if nanos < 0 else 1
    whole, rest = divmod(abs(nanos), NANOS)
    return gofmt.format_f(float(sign * whole) + float(sign * rest) / 1e9) + "s"


_UNITS = {
    "ns": 1,
    "us": 1000,
    "µs": 1000,
    "μs": 1000,
    "ms": 1_000_000,
    "s": NANOS,
    "m": 60 * NANOS,
    "h": 3600 * NANOS,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> int | None:
    """Parse like Go's ``time.ParseDuration`` (``1h30m``, ``-1.5s``, ``300ms``); None when invalid."""
    s = text
    negative = False
    if s and s[0] in "+-":
        negative = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        return None
    total = 0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m or (not m.group(1) and not m.group(2)):
            return None
        whole, frac, unit = m.group(1) or "0", m.group(2) or "", _UNITS[m.group(3)]
        total += int(whole) * unit + (int(frac) * unit) // (10 ** len(frac)) if frac else int(whole) * unit
        if total > 2**63 - (0 if negative else 1):
            return None
        pos = m.end()
    return -total if negative else total
