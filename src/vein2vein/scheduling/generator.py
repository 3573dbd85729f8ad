"""Seeded synthetic scheduling instances shaped like an autologous CAR-T CDMO.

Apheresis material arrives mostly Monday to Friday (fewer on Saturdays, none on Sundays) at a
rate that loads the suites to a target utilisation (processing plus cleaning, over suite-days).
Products differ in process length and QC release method (rapid sterility 7 days, compendial 14
days); a share of material is shipped fresh (hold of a few days), the rest cryopreserved (hold of
months); a small share comes from donors positive for an infectious marker and must go to the
designated suites, which are decontaminated after each such batch. Required-by dates give each
patient the product's lead time plus a clinical slack (urgent, standard or relaxed). Each suite has
a yearly maintenance shutdown. The same seed always gives the same instance.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass

from vein2vein.scheduling.model import Downtime, Order, Problem, Suite

# (name, process days, QC days): rapid-sterility and compendial-sterility release.
PRODUCTS: tuple[tuple[str, int, int], ...] = (
    ("CD19-A", 9, 7),
    ("CD19-B", 12, 14),
    ("BCMA-C", 10, 7),
    ("CD22-D", 8, 14),
)
PRODUCT_SHARE = (0.35, 0.25, 0.25, 0.15)
# (site, shipping days to the treatment site).
SITES: tuple[tuple[str, int], ...] = (
    ("Site-North", 1),
    ("Site-South", 1),
    ("Site-East", 2),
    ("Site-West", 2),
    ("Site-Abroad-1", 3),
    ("Site-Abroad-2", 3),
)
# Weight of apheresis (receipts) by weekday, Monday first.
RECEIPT_WEEKDAY_WEIGHT = (1.15, 1.15, 1.15, 1.15, 1.15, 0.25, 0.0)
# (share of patients, smallest and largest slack in days beyond the product's lead time).
SLACK_CLASSES: tuple[tuple[float, int, int], ...] = ((0.3, 0, 3), (0.5, 4, 10), (0.2, 11, 25))


@dataclass(frozen=True)
class GeneratorConfig:
    orders: int = 200
    suites: int = 12
    infectious_suites: int = 2
    utilisation: float = 0.9
    infectious_share: float = 0.08
    fresh_share: float = 0.1
    fresh_hold_days: tuple[int, int] = (3, 5)
    cryo_hold_days: tuple[int, int] = (60, 120)
    changeover_days: int = 1
    decon_days: int = 3
    qc_headroom: float = 1.3
    max_starts_per_day: int | None = 4
    maintenance_days: int = 5
    weekday_starts: bool = False
    start: dt.date = dt.date(2026, 1, 5)
    seed: int = 0


def expected_occupation(config: GeneratorConfig) -> float:
    """Mean suite-days one batch occupies: processing, changeover and (share of) decon."""
    process = sum(share * p for share, (_, p, _) in zip(PRODUCT_SHARE, PRODUCTS, strict=True))
    return process + config.changeover_days + config.infectious_share * config.decon_days


def arrival_rate(config: GeneratorConfig) -> float:
    """Orders per day that load the suites to the target utilisation."""
    return config.utilisation * config.suites / expected_occupation(config)


def generate_problem(config: GeneratorConfig | None = None) -> Problem:
    config = config or GeneratorConfig()
    if not 0 < config.utilisation <= 1.5:
        raise ValueError("utilisation must be in (0, 1.5]")
    if config.infectious_suites > config.suites or config.orders < 1:
        raise ValueError("need at least one order and no more infectious suites than suites")
    rng = random.Random(config.seed)
    rate = arrival_rate(config)
    receipts = _receipt_days(rng, config, rate)
    orders = tuple(_order(rng, config, k, day) for k, day in enumerate(receipts, start=1))
    span_days = receipts[-1] + 1
    suites = tuple(_suite(rng, config, k, span_days) for k in range(1, config.suites + 1))
    mean_qc = sum(share * q for share, (_, _, q) in zip(PRODUCT_SHARE, PRODUCTS, strict=True))
    qc_capacity = max(1, math.ceil(config.qc_headroom * rate * mean_qc))
    return Problem(
        orders=orders,
        suites=suites,
        qc_capacity=qc_capacity,
        max_starts_per_day=config.max_starts_per_day,
    )


def _receipt_days(rng: random.Random, config: GeneratorConfig, rate: float) -> list[int]:
    mean_weight = sum(RECEIPT_WEEKDAY_WEIGHT) / 7
    days: list[int] = []
    day = 0
    while len(days) < config.orders:
        weight = RECEIPT_WEEKDAY_WEIGHT[(config.start.weekday() + day) % 7] / mean_weight
        days.extend([day] * _poisson(rng, rate * weight))
        day += 1
    return days[: config.orders]


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small daily means used here.
    limit, k, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        k += 1
        product *= rng.random()
    return k


def _order(rng: random.Random, config: GeneratorConfig, number: int, day: int) -> Order:
    product, process, qc = rng.choices(PRODUCTS, weights=PRODUCT_SHARE)[0]
    site, ship = rng.choice(SITES)
    fresh = rng.random() < config.fresh_share
    hold = rng.randint(*(config.fresh_hold_days if fresh else config.cryo_hold_days))
    _, low, high = rng.choices(SLACK_CLASSES, weights=[c[0] for c in SLACK_CLASSES])[0]
    receipt = config.start + dt.timedelta(days=day)
    lead = process + qc + ship
    return Order(
        order_id=f"ORD-{number:05d}",
        receipt_date=receipt,
        max_hold_days=hold,
        required_by=receipt + dt.timedelta(days=lead + rng.randint(low, high)),
        infectious=rng.random() < config.infectious_share,
        process_days=process,
        qc_days=qc,
        ship_days=ship,
        product=product,
        site=site,
        start_weekdays=frozenset(range(5)) if config.weekday_starts else None,
    )


def _suite(rng: random.Random, config: GeneratorConfig, number: int, span_days: int) -> Suite:
    infectious = number > config.suites - config.infectious_suites
    downtime = []
    if config.maintenance_days > 0:
        for year in range(math.ceil(span_days / 365)):
            first = config.start + dt.timedelta(days=365 * year + rng.randint(30, 330))
            downtime.append(
                Downtime(first, first + dt.timedelta(days=config.maintenance_days), "maintenance")
            )
    return Suite(
        suite_id=f"S{number:02d}",
        infectious=infectious,
        available_from=config.start,
        changeover_days=config.changeover_days,
        decon_days=config.decon_days if infectious else 0,
        downtime=tuple(downtime),
    )
