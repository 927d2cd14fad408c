"""Who buys, when and for how much: a repeat-buying process whose parameters are known.

Counts follow BG/NBD (Fader, Hardie & Lee 2005): while alive a customer buys as a Poisson process of
rate lambda ~ Gamma(shape=r, rate=alpha); after every repeat purchase they drop out with probability
p ~ Beta(a, b). Values follow Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV"): each purchase is
Gamma(shape=p, rate=nu) with nu ~ Gamma(shape=q, rate=gamma) per customer. Time is measured in days.

A CLV model fitted on the CRM deals the sandbox serves should land near :data:`PURCHASE_PARAMETERS`;
that is the point of knowing them. The simulation is vectorized numpy (one generator seeded from the
sandbox seed) so a million persons take seconds, and only compact per-purchase arrays are kept.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from cdp_platform.sandbox.population import DAY_MS, Population, key_of, uniforms


@dataclass(frozen=True)
class PurchaseParameters:
    """BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, gamma); rates per day, amounts in USD."""

    r: float = 0.75
    alpha: float = 60.0
    a: float = 0.8
    b: float = 2.5
    p: float = 6.0
    q: float = 3.8
    gamma: float = 40.0
    time_unit: str = "day"
    currency: str = "USD"

    def to_dict(self) -> dict[str, float | str]:
        return asdict(self)


PURCHASE_PARAMETERS = PurchaseParameters()

# Share of persons known to a CRM who ever buy: the rest stay prospects.
CUSTOMER_SHARE = 0.5
# A customer's first purchase comes this long after they first appear (so their CRM record exists).
_FIRST_PURCHASE_DELAY_DAYS = (3.0, 60.0)

# The purchase history of the initial base (the customers a business already had when the history
# starts) reaches back at least this far, whatever the span of everything else. A short sandbox (the
# README's quick look, ten days) would otherwise hold a few dozen first purchases and no repeat
# buying to fit churn and lifetime value on; a CRM connected for the first time holds years of won
# deals too. Those earlier deals arrive with their customer's CRM record (their last change is then),
# their close dates in the past. A span of this length or more is unchanged by it.
PURCHASE_HISTORY_DAYS = 365

# The systems a purchase is recorded in: a won deal in one of two CRMs, or a card payment in the web
# shop. Which emulated vendor serves which system its module declares (EmulatedVendor.purchases and
# the ``customers_of`` of its contacts stream, cdp_platform.sandbox.plugins).
SYSTEM_CRM = 0
SYSTEM_SECOND_CRM = 1
SYSTEM_SHOP = 2
# Share of customers who buy in the web shop (every purchase of theirs is a shop charge). Drawn
# from a hash of the person, not from the generator, so the times and amounts of every purchase
# are the same as without it: only which system records a purchase depends on it.
SHOP_SHARE = 0.3


def __getattr__(name: str) -> int:
    # ``SYSTEM_<VENDOR>``: the purchase system the vendor module <vendor> carries (read on use: the
    # vendor modules import this one).
    if name.startswith("SYSTEM_"):
        from cdp_platform.sandbox.plugins import emulated_vendors

        for vendor in emulated_vendors():
            if vendor.name.upper() == name[len("SYSTEM_") :] and len(vendor.purchases) == 1:
                return vendor.purchases[0].system
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class PurchaseHistory:
    """Every simulated purchase, ordered by (person, time), plus each customer's latent traits.

    Per purchase: ``person`` index, ``time_ms`` (UTC epoch ms), ``amount_cents``, ``system`` (which CRM
    records it, or the shop for web shop customers), ``repeat`` (False for the customer's first purchase). Per customer (``customer_*``,
    aligned): person index, lambda, p, nu, first purchase time, and x, the number of repeat purchases.
    """

    person: np.ndarray
    time_ms: np.ndarray
    amount_cents: np.ndarray
    system: np.ndarray
    repeat: np.ndarray
    customer_person: np.ndarray
    customer_lambda: np.ndarray
    customer_p: np.ndarray
    customer_nu: np.ndarray
    customer_first_ms: np.ndarray
    customer_repeats: np.ndarray


def simulate_purchases(
    population: Population,
    in_crm: np.ndarray,
    in_second_crm: np.ndarray,
    parameters: PurchaseParameters = PURCHASE_PARAMETERS,
    shop: str | None = None,
) -> PurchaseHistory:
    """Simulate the purchases of every person who is in at least one CRM (boolean masks by person).

    ``shop``: the name of the web shop (the vendor module serving it), which keys the draw of its
    customers; None: no web shop, every purchase is a CRM deal.
    """
    seed = population.seed
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xB6]))
    persons = np.flatnonzero(in_crm | in_second_crm)
    buys = uniforms(key_of(seed, "purchases", "customer"), persons) < CUSTOMER_SHARE
    persons = persons[buys]
    lo, hi = _FIRST_PURCHASE_DELAY_DAYS
    delay_u = uniforms(key_of(seed, "purchases", "delay"), persons)
    first_ms = population.acquired_ms(persons) + ((lo + delay_u * (hi - lo)) * DAY_MS).astype(np.int64)
    lookback_days = PURCHASE_HISTORY_DAYS - (population.end_ms - population.start_ms) / DAY_MS
    if lookback_days > 0:
        # The initial base's first purchases are spread over the lookback before the history.
        earlier = population.start_ms - (delay_u * lookback_days * DAY_MS).astype(np.int64)
        first_ms = np.where(population.initial_base(persons), earlier, first_ms)
    # A customer needs at least a day of observation to be a customer of this history at all.
    keep = first_ms < population.end_ms - DAY_MS
    persons, first_ms = persons[keep], first_ms[keep]
    n = persons.size
    horizon_days = (population.end_ms - 1 - first_ms) / DAY_MS

    lam = rng.gamma(parameters.r, 1.0 / parameters.alpha, n)
    drop_p = rng.beta(parameters.a, parameters.b, n)
    nu = rng.gamma(parameters.q, 1.0 / parameters.gamma, n)
    # Repeat purchases a customer would make before dropping out, if time never ran out.
    lifetime_repeats = rng.geometric(drop_p)
    # Arrivals of the Poisson process within the horizon; the first min(J, N) of them happen.
    arrivals = rng.poisson(lam * horizon_days)
    repeats = np.minimum(lifetime_repeats, arrivals)

    owner = np.repeat(np.arange(n), arrivals)
    offsets_days = rng.random(owner.size) * horizon_days[owner]
    order = np.lexsort((offsets_days, owner))
    owner, offsets_days = owner[order], offsets_days[order]
    starts = np.concatenate(([0], np.cumsum(arrivals)[:-1]))
    rank = np.arange(owner.size) - starts[owner]
    kept = rank < repeats[owner]
    owner, offsets_days = owner[kept], offsets_days[kept]

    # One row per purchase: the first purchase (offset 0) then the repeats, grouped by customer.
    all_owner = np.concatenate((np.arange(n), owner))
    all_offset = np.concatenate((np.zeros(n), offsets_days))
    is_repeat = np.concatenate((np.zeros(n, dtype=bool), np.ones(owner.size, dtype=bool)))
    order = np.lexsort((all_offset, all_owner))
    all_owner, all_offset, is_repeat = all_owner[order], all_offset[order], is_repeat[order]
    time_ms = first_ms[all_owner] + (all_offset * DAY_MS).astype(np.int64)
    amounts = rng.gamma(parameters.p, 1.0 / nu[all_owner])
    amount_cents = np.maximum(1, np.round(amounts * 100)).astype(np.int64)

    person = persons[all_owner]
    both = in_crm[person] & in_second_crm[person]
    coin = rng.random(person.size) < 0.5
    system = np.where(
        both,
        np.where(coin, SYSTEM_CRM, SYSTEM_SECOND_CRM),
        np.where(in_crm[person], SYSTEM_CRM, SYSTEM_SECOND_CRM),
    ).astype(np.int8)
    if shop is not None:
        # The web shop (and its payment account) opened when the history starts: earlier purchases
        # of the initial base (PURCHASE_HISTORY_DAYS) were CRM deals, whoever made them.
        online = (uniforms(key_of(seed, "purchases", shop), person) < SHOP_SHARE) & (
            time_ms >= population.start_ms
        )
        system = np.where(online, SYSTEM_SHOP, system).astype(np.int8)
    return PurchaseHistory(
        person=person.astype(np.int32),
        time_ms=time_ms,
        amount_cents=amount_cents,
        system=system,
        repeat=is_repeat,
        customer_person=persons.astype(np.int32),
        customer_lambda=lam,
        customer_p=drop_p,
        customer_nu=nu,
        customer_first_ms=first_ms,
        customer_repeats=repeats.astype(np.int32),
    )
