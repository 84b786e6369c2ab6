"""The demand profile: who comes to a center, when, for what, and how they behave.

A versioned TOML file of its own (default ``simulations/data/demand_quangninh.toml``; every
field, its source and its assumption are in docs/planning.md), read beside the province file,
which keeps what the server also needs (services and their typical times, centers, counters,
hours, priority groups, policy). :func:`load_demand` checks the file on its own;
:func:`check_centers` checks it against the province for the centers to be simulated, so a
day that cannot be simulated is refused before it starts, with a sentence naming the file, the
center and the field.
"""

from __future__ import annotations

import math
import random
import statistics
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from queue_server.province import WEEKDAYS, Center, Province
from simulations.errors import PlanningInputError

DEFAULT_DEMAND_FILE = Path(__file__).parent / "data" / "demand_quangninh.toml"
DISTRIBUTIONS = ("lognormal", "gamma", "exponential", "fixed")
SUM_TOLERANCE = 0.001  # shares written with a few decimals must still add up to 1


@dataclass(frozen=True)
class Distribution:
    """A positive duration: its kind, mean (seconds) and coefficient of variation."""

    kind: str
    mean_s: float
    cv: float

    def sample(self, rng: random.Random) -> float:
        if self.kind == "fixed" or self.cv == 0:
            return self.mean_s
        if self.kind == "exponential":
            return rng.expovariate(1 / self.mean_s)
        if self.kind == "gamma":
            shape = 1 / self.cv**2
            return rng.gammavariate(shape, self.mean_s / shape)
        sigma = math.sqrt(math.log(1 + self.cv**2))
        return rng.lognormvariate(math.log(self.mean_s) - sigma**2 / 2, sigma)


@dataclass(frozen=True)
class ServiceDemand:
    id: str
    share: float                      # of the center's tickets
    time: Distribution                # service time at the counter
    transfer_share: float             # served in part, then sent on to ``transfer_to``
    transfer_to: str
    intensity: dict[int, float] | None  # its own arrival shape by clock hour, if any


@dataclass(frozen=True)
class DemandProfile:
    source: Path
    id: str
    version: int
    province_id: str
    description: str
    sources: tuple[str, ...]
    assumptions: tuple[str, ...]
    tickets_per_thousand: float
    min_trusted_population: int
    day_factor: dict[int, float]      # weekday (0 = Monday) → factor on the day's volume
    intensity: dict[int, float]       # clock hour → relative arrivals per open minute
    services: dict[str, ServiceDemand]
    priority_share: float
    priority_categories: dict[str, float]
    appointment_share: float
    online_share: float
    online_lead_s: tuple[float, float]
    appointment_slot_s: int
    appointment_arrival_s: tuple[float, float]
    appointment_no_show: float
    called_absent: float
    slow_to_answer: float
    recall_after_s: float
    no_show_after_recalls: int
    walk_up_s: float
    patience: Distribution
    cancel_share: float
    breaks_per_interval: int
    break_s: float
    break_reason: str
    serve_after_closing_s: float
    target_share: float
    target_wait_s: float
    center_tickets: dict[str, float]  # per-center tickets per day, overriding population

    def tickets_per_day(self, province: Province, center: Center, weekday: int) -> float:
        """Expected tickets on a working day with this weekday (before Poisson noise)."""
        base = self.center_tickets.get(center.id)
        if base is None:
            base = self.trusted_population(province, center) * self.tickets_per_thousand / 1000
        return base * self.day_factor.get(weekday, 1.0)

    def trusted_population(self, province: Province, center: Center) -> float:
        """The center's population, or the province median when it is missing or below
        ``min_trusted_population`` (figures from before the 2025 merger, data README)."""
        known = [c.population for c in province.centers if c.population]
        median = float(statistics.median(known)) if known else 0.0
        population = center.population or 0
        return float(population) if population >= self.min_trusted_population else median

    def intensity_of(self, service: str, hour: int) -> float:
        own = self.services[service].intensity
        return (own if own is not None else self.intensity).get(hour, 0.0)


class _Fields:
    """Typed reads of one TOML table that name the file and the field in every refusal."""

    def __init__(self, source: Path, table: dict[str, Any], path: str = "") -> None:
        self.source, self.table, self.path = source, table, path

    def name(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, problem: str) -> PlanningInputError:
        return PlanningInputError(self.source, self.name(key), problem)

    def raw(self, key: str, default: Any = None) -> Any:
        if key not in self.table:
            if default is None:
                raise self.fail(key, "missing")
            return default
        return self.table[key]

    def number(self, key: str, default: float | None = None, low: float = 0.0,
               high: float = math.inf, above: bool = False) -> float:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            raise self.fail(key, f"expected a number, got {value!r}")
        if value < low or value > high or (above and value <= low):
            bound = f"> {low:g}" if above else f"≥ {low:g}"
            limit = "" if math.isinf(high) else f" and ≤ {high:g}"
            raise self.fail(key, f"expected a number {bound}{limit}, got {value!r}")
        return float(value)

    def share(self, key: str, default: float | None = None) -> float:
        return self.number(key, default, 0.0, 1.0)

    def whole(self, key: str, default: int | None = None, low: int = 0) -> int:
        value = self.raw(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise self.fail(key, f"expected a whole number ≥ {low}, got {value!r}")
        return value

    def text(self, key: str, default: str | None = None) -> str:
        value = self.raw(key, default)
        if not isinstance(value, str):
            raise self.fail(key, f"expected a text, got {value!r}")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        value = self.raw(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(key, "expected a list of texts")
        return tuple(value)

    def span(self, key: str, scale: float) -> tuple[float, float]:
        value = self.raw(key)
        if (not isinstance(value, list) or len(value) != 2
                or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
                or value[0] > value[1]):
            raise self.fail(key, f"expected [low, high] with low ≤ high, got {value!r}")
        return float(value[0]) * scale, float(value[1]) * scale

    def sub(self, key: str, optional: bool = False) -> _Fields:
        value = self.table.get(key, {} if optional else None)
        if not isinstance(value, dict):
            raise self.fail(key, "expected a table" + ("" if key in self.table else " (missing)"))
        return _Fields(self.source, value, self.name(key))

    def weights(self, key: str, default: dict[str, Any] | None = None) -> dict[str, float]:
        table = self.sub(key, optional=default is not None)
        if default is not None and not table.table:
            return {}
        return {name: table.number(name) for name in table.table}

    def hourly(self, key: str) -> dict[int, float]:
        out = {}
        for name, value in self.weights(key).items():
            if not name.isdigit() or not 0 <= int(name) <= 23:
                raise self.fail(f"{key}.{name}", "expected a clock hour 0-23 as the key")
            out[int(name)] = value
        if not any(out.values()):
            raise self.fail(key, "expected at least one hour with arrivals")
        return out

    def distribution(self, default_mean_s: float | None) -> Distribution:
        kind = self.text("distribution", "lognormal")
        if kind not in DISTRIBUTIONS:
            raise self.fail("distribution", f"expected one of {list(DISTRIBUTIONS)}, got {kind!r}")
        if default_mean_s is None or "mean_minutes" in self.table:
            mean_s = self.number("mean_minutes", above=True) * 60
        else:
            mean_s = default_mean_s
        cv = 1.0 if kind == "exponential" else self.number("cv", 0.0 if kind == "fixed" else None)
        return Distribution(kind, mean_s, cv)


def load_demand(path: Path | str | None = None) -> DemandProfile:
    """Read and check a demand profile (not yet against a province: :func:`check_centers`)."""
    source = Path(path) if path is not None else DEFAULT_DEMAND_FILE
    try:
        with source.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise PlanningInputError(source, "", "demand profile not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PlanningInputError(source, "", f"not valid UTF-8 TOML: {error}") from None
    except OSError as error:
        raise PlanningInputError(source, "", f"cannot be read: {error}") from None
    return _profile(_Fields(source, data))


def _profile(root: _Fields) -> DemandProfile:
    head, volume, arrivals = root.sub("profile"), root.sub("volume"), root.sub("arrivals")
    priority, channels = root.sub("priority"), root.sub("channels")
    no_show, patience, staff = root.sub("no_show"), root.sub("patience"), root.sub("staff")
    target = root.sub("target")
    services = _services(root)
    categories = priority.weights("categories", default={})
    if categories and abs(sum(categories.values()) - 1) > SUM_TOLERANCE:
        raise priority.fail("categories", f"expected shares summing to 1, got "
                                          f"{sum(categories.values()):g}")
    appointment, online = channels.share("appointment"), channels.share("online")
    if appointment + online > 1:
        raise channels.fail("online", "appointment + online must not exceed 1")
    days = volume.weights("day_factor", default={})
    for day in days:
        if day not in WEEKDAYS:
            raise volume.fail(f"day_factor.{day}", f"expected a day among {list(WEEKDAYS)}")
    return DemandProfile(
        source=root.source, id=head.text("id"), version=head.whole("version", low=1),
        province_id=head.text("province"), description=head.text("description", ""),
        sources=head.texts("sources"), assumptions=head.texts("assumptions"),
        tickets_per_thousand=volume.number("tickets_per_thousand"),
        min_trusted_population=volume.whole("min_trusted_population", 0),
        day_factor={WEEKDAYS.index(day): value for day, value in days.items()},
        intensity=arrivals.hourly("intensity"),
        services=services,
        priority_share=priority.share("share"), priority_categories=categories,
        appointment_share=appointment, online_share=online,
        online_lead_s=channels.span("online_lead_minutes", 60),
        appointment_slot_s=channels.whole("appointment_slot_minutes", low=1) * 60,
        appointment_arrival_s=channels.span("appointment_arrival_minutes", 60),
        appointment_no_show=no_show.share("appointment"),
        called_absent=no_show.share("called_absent"),
        slow_to_answer=no_show.share("slow_to_answer"),
        recall_after_s=no_show.number("recall_after_seconds", above=True),
        no_show_after_recalls=no_show.whole("no_show_after_recalls", low=1),
        walk_up_s=no_show.number("walk_up_seconds"),
        patience=patience.distribution(None), cancel_share=patience.share("cancel_share"),
        breaks_per_interval=staff.whole("breaks_per_interval"),
        break_s=staff.number("break_minutes") * 60, break_reason=staff.text("break_reason"),
        serve_after_closing_s=staff.number("serve_after_closing_minutes") * 60,
        target_share=target.number("share", low=0.0, high=1.0, above=True),
        target_wait_s=target.number("wait_minutes", above=True) * 60,
        center_tickets=_center_tickets(root),
    )


def _services(root: _Fields) -> dict[str, ServiceDemand]:
    table = root.sub("service")
    services: dict[str, ServiceDemand] = {}
    for service_id in table.table:
        entry = table.sub(service_id)
        intensity = entry.hourly("intensity") if "intensity" in entry.table else None
        transfer_share = entry.share("transfer_share", 0.0)
        transfer_to = entry.text("transfer_to", "")
        if transfer_share > 0 and not transfer_to:
            raise entry.fail("transfer_to", "a transfer_share needs the service it goes to")
        services[service_id] = ServiceDemand(
            id=service_id, share=entry.share("share"),
            # The mean defaults to the province's typical_minutes, filled in by check_centers.
            time=entry.distribution(default_mean_s=0.0),
            transfer_share=transfer_share, transfer_to=transfer_to, intensity=intensity)
    total = sum(s.share for s in services.values())
    if abs(total - 1) > SUM_TOLERANCE:
        raise root.fail("service", f"expected service shares summing to 1, got {total:g}")
    return services


def _center_tickets(root: _Fields) -> dict[str, float]:
    rows = root.raw("center", [])
    if not isinstance(rows, list):
        raise root.fail("center", "expected an array of tables [[center]]")
    out: dict[str, float] = {}
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise root.fail(f"center[{index}]", "expected a table")
        entry = _Fields(root.source, row, f"center[{index}]")
        out[entry.text("code")] = entry.number("tickets_per_day")
    return out


def with_typical_times(profile: DemandProfile, province: Province) -> DemandProfile:
    """The profile with every service's mean time that the file leaves out taken from the
    province's ``typical_minutes``."""
    services = {}
    for service_id, demand in profile.services.items():
        time = demand.time
        if time.mean_s == 0.0:
            time = Distribution(time.kind, float(province.service(service_id).typical_s), time.cv)
        services[service_id] = ServiceDemand(demand.id, demand.share, time,
                                             demand.transfer_share, demand.transfer_to,
                                             demand.intensity)
    fields = dict(profile.__dict__)
    fields["services"] = services
    return DemandProfile(**fields)


def check_centers(profile: DemandProfile, province: Province,
                  centers: Iterable[Center]) -> DemandProfile:
    """Refuse what these centers cannot simulate; the profile with the province's typical
    times filled in. Every refusal names the demand file, the center and the field."""
    _check_names(profile, province)
    for center in centers:
        _check_served(profile, province, center)
    return with_typical_times(profile, province)


def _check_names(profile: DemandProfile, province: Province) -> None:
    source = profile.source
    if profile.province_id != province.id:
        raise PlanningInputError(source, "profile.province",
                                 f"written for {profile.province_id!r}, but the province "
                                 f"file {province.source} is {province.id!r}")
    known = set(province.service_ids)
    for service_id, demand in profile.services.items():
        if service_id not in known:
            raise PlanningInputError(source, f"service.{service_id}",
                                     f"no such service in {province.source}")
        if demand.transfer_to and demand.transfer_to not in known:
            raise PlanningInputError(source, f"service.{service_id}.transfer_to",
                                     f"no such service in {province.source}: "
                                     f"{demand.transfer_to!r}")
    groups = {p.id for p in province.priorities}
    for category in profile.priority_categories:
        if category not in groups:
            raise PlanningInputError(source, f"priority.categories.{category}",
                                     f"no such priority group in {province.source}")
    if profile.break_reason not in {r.id for r in province.pause_reasons}:
        raise PlanningInputError(source, "staff.break_reason",
                                 f"no such pause reason in {province.source}: "
                                 f"{profile.break_reason!r}")
    codes = {c.id for c in province.centers}
    for code in profile.center_tickets:
        if code not in codes:
            raise PlanningInputError(source, "center.code", f"no center {code!r} in "
                                     f"{province.source}", center=code)


def _check_served(profile: DemandProfile, province: Province, center: Center) -> None:
    served = {s for counter in center.counters for s in counter.services}
    for service_id, demand in profile.services.items():
        wanted = [service_id] if demand.share > 0 else []
        if demand.share > 0 and demand.transfer_share > 0:
            wanted.append(demand.transfer_to)
        for needed in wanted:
            if needed not in served:
                raise PlanningInputError(
                    profile.source, f"service.{service_id}.share", f"citizens come for "
                    f"{needed}, which no counter of {center.display_name} serves "
                    f"(counters in {province.source})", center=center.id)
