"""Reviewers' decisions in resolve(): ``different`` splits, ``same`` joins within the limits, the
latest decision wins, and an unmerge keeps the client id on the side with more records."""

from __future__ import annotations

import datetime

import polars as pl
import pytest

from cdp_platform.identity import ProbabilisticConfig, Resolution, ResolutionConfig, resolve
from cdp_platform.identity.evidence import hash_shared_values
from cdp_platform.identity.review import DecisionError, latest_decisions
from cdp_platform.privacy.hashing import identifier_hash
from cdp_platform.sandbox.identity_candidates import IDENTITY_COLUMNS, SandboxCandidates

RULES_ONLY = ResolutionConfig(probabilistic=ProbabilisticConfig(enabled=False))
T0 = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)

# A household: Ann and Tom Lee each gave the family mailbox on a Facebook lead (a wrong merge by
# email); Ann has two more records (her CRM id, her own mailbox), Tom one more (his CRM id).
HOUSEHOLD = pl.DataFrame(
    [
        {"record_id": "sf:ann", "source": "salesforce/contacts", "first_name": "Ann", "last_name": "Lee",
         "email": "ann.lee@mail.net", "crm_id": "sf-1"},
        {"record_id": "hs:ann", "source": "hubspot/contacts", "first_name": "Ann", "last_name": "Lee",
         "email": "ann.lee@mail.net"},
        {"record_id": "fb:ann", "source": "facebook/leads", "first_name": "Ann", "last_name": "Lee",
         "email": "lees@family.net", "crm_id": "sf-1"},
        {"record_id": "fb:tom", "source": "facebook/leads", "first_name": "Tom", "last_name": "Lee",
         "email": "lees@family.net", "crm_id": "sf-2"},
        {"record_id": "sf:tom", "source": "salesforce/contacts", "first_name": "Tom", "last_name": "Lee",
         "crm_id": "sf-2"},
    ],
    schema={column: pl.String for column in ("record_id", "source", "first_name", "last_name", "email", "crm_id")},
)  # fmt: skip


def _decision(
    a: str, b: str, decision: str, at: datetime.datetime = T0, decision_id: str | None = None
) -> dict:
    return {
        "decision_id": decision_id or f"d-{a}-{b}-{decision}-{at:%H%M}",
        "record_id_a": a,
        "record_id_b": b,
        "decision": decision,
        "reviewer": "qa",
        "reason": "checked by phone",
        "decided_at": at,
    }


def _clients(resolution: Resolution) -> dict[str, str]:
    return dict(resolution.mapping.select("record_id", "client_id").iter_rows())


def test_a_different_decision_splits_a_household_and_the_bigger_side_keeps_the_id() -> None:
    merged = resolve(HOUSEHOLD, RULES_ONLY, as_of=T0)
    assert len(set(_clients(merged).values())) == 1  # the family mailbox joined Ann and Tom
    (old_id,) = set(_clients(merged).values())

    decisions = pl.DataFrame([_decision("sf:tom", "sf:ann", "different")])
    split = resolve(
        HOUSEHOLD,
        RULES_ONLY,
        previous=merged.mapping,
        as_of=T0 + datetime.timedelta(days=1),
        decisions=decisions,
    )
    clients = _clients(split)
    assert clients["sf:ann"] != clients["sf:tom"]
    assert clients["sf:ann"] == clients["hs:ann"]
    assert clients["sf:tom"] == clients["fb:tom"]  # the CRM id outranks the family mailbox
    # Ann's side holds three of the five records: it keeps the id; Tom's side gets a new one.
    assert clients["sf:ann"] == old_id and clients["sf:tom"] != old_id
    assert split.refused.filter(pl.col("reason") == "review:different").height == 1
    assert split.changes.filter(pl.col("change") == "split")["client_id"].to_list() == [clients["sf:tom"]]
    assert split.decisions.select("decision", "outcome").row(0) == ("different", "split")


def test_the_latest_decision_about_a_pair_wins() -> None:
    later = T0 + datetime.timedelta(hours=1)
    decisions = pl.DataFrame(
        [_decision("sf:ann", "sf:tom", "different"), _decision("sf:tom", "sf:ann", "same", at=later)]
    )
    assert latest_decisions(decisions)["decision"].to_list() == ["same"]
    assert len(set(_clients(resolve(HOUSEHOLD, RULES_ONLY, decisions=decisions)).values())) == 1
    undone = pl.concat(
        [
            decisions,
            pl.DataFrame(
                [_decision("sf:ann", "sf:tom", "different", at=later + datetime.timedelta(hours=1))]
            ),
        ]
    )
    clients = _clients(resolve(HOUSEHOLD, RULES_ONLY, decisions=undone))
    assert clients["sf:ann"] != clients["sf:tom"]


def test_a_same_decision_joins_a_missed_pair_across_an_exclusive_source() -> None:
    records = pl.DataFrame(
        {
            "record_id": ["hs:1", "hs:2", "tw:3"],
            "source": ["hubspot/contacts", "hubspot/contacts", "twitter/authors"],
            "first_name": ["Maria", "Mary", None],
            "last_name": ["Okafor", "Okafor", None],
            "email": ["maria@okafor.org", "m.okafor@work.com", None],
        }
    )
    decisions = pl.DataFrame([_decision("hs:1", "hs:2", "same")])
    resolution = resolve(records, RULES_ONLY, decisions=decisions)
    clients = _clients(resolution)
    assert clients["hs:1"] == clients["hs:2"] != clients["tw:3"]
    assert resolution.links.filter(pl.col("rule") == "review").height == 1
    assert resolution.decisions["outcome"].to_list() == ["merged"]


def test_a_same_decision_stays_within_the_limits() -> None:
    records = pl.DataFrame(
        {
            "record_id": ["a", "b"],
            "first_name": ["Joe", "Joe"],
            "last_name": ["Park", "Park"],
            "date_of_birth": ["1980-04-02", "1991-07-30"],
        }
    )
    resolution = resolve(records, RULES_ONLY, decisions=pl.DataFrame([_decision("a", "b", "same")]))
    assert len(set(_clients(resolution).values())) == 2
    assert resolution.decisions["outcome"].to_list() == ["refused:limit:date_of_birth"]


def test_a_same_decision_never_crosses_a_different_one() -> None:
    decisions = pl.DataFrame(
        [_decision("sf:ann", "sf:tom", "different"), _decision("hs:ann", "sf:tom", "same")]
    )
    resolution = resolve(HOUSEHOLD, RULES_ONLY, decisions=decisions)
    clients = _clients(resolution)
    assert clients["sf:ann"] != clients["sf:tom"]
    outcomes = dict(resolution.decisions.select("decision", "outcome").iter_rows())
    assert outcomes == {"different": "apart", "same": "refused:review:different"}


def test_decisions_about_unknown_records_do_nothing_and_bad_ones_are_named() -> None:
    resolution = resolve(
        HOUSEHOLD, RULES_ONLY, decisions=pl.DataFrame([_decision("sf:ann", "gone:1", "different")])
    )
    assert len(set(_clients(resolution).values())) == 1
    assert resolution.decisions["outcome"].to_list() == ["unknown_record"]
    with pytest.raises(DecisionError, match="neither 'same' nor 'different'"):
        resolve(HOUSEHOLD, RULES_ONLY, decisions=pl.DataFrame([_decision("sf:ann", "sf:tom", "maybe")]))
    with pytest.raises(DecisionError, match="with itself"):
        resolve(HOUSEHOLD, RULES_ONLY, decisions=pl.DataFrame([_decision("sf:ann", "sf:ann", "same")]))


def test_rule_links_carry_their_rule_and_a_keyed_hash_never_the_value() -> None:
    evidence = resolve(HOUSEHOLD, RULES_ONLY).link_evidence
    assert set(evidence["rule"]) == {"email", "crm_id"}
    family = evidence.filter(pl.col("record_id_a").is_in(["fb:ann", "fb:tom"]) & (pl.col("rule") == "email"))
    assert family["shared_value"].to_list() == ["lees@family.net"]
    hashed = hash_shared_values(evidence, b"k" * 32)
    assert "shared_value" not in hashed.columns
    digests = hashed["shared_value_hash"]
    assert digests.null_count() == 0 and digests.str.len_chars().unique().to_list() == [64]
    assert "lees@family.net" not in hashed.write_csv()
    # The same key and value give the same hash (joinable), another key another one.
    assert hash_shared_values(evidence, b"k" * 32)["shared_value_hash"].to_list() == digests.to_list()
    assert hash_shared_values(evidence, b"j" * 32)["shared_value_hash"].to_list() != digests.to_list()


ROBERT = {"first_name": "Robert", "last_name": "Zyskowski", "phone": "+1 602 555 0187", "city": "Flagstaff"}


@pytest.fixture(scope="module")
def with_robert(small_candidates: SandboxCandidates) -> pl.DataFrame:
    """The sandbox plus Robert's CRM contact, his work lead (the same mailbox) and a Facebook lead
    of "Bob" in his city that only the model can link (at 0.9999 when measured)."""
    rows = [
        {"record_id": "crm-robert", "source": "salesforce/contacts", "email": "rz@corp.example.net", **ROBERT},
        {"record_id": "crm-robert-work", "source": "salesforce/leads", "email": "rz@corp.example.net"},
        {"record_id": "fb-bob", "source": "facebook/leads", "email": "bobz@gmail.com", "first_name": "Bob",
         "last_name": "Zyskowski", "city": "Flagstaff"},
    ]  # fmt: skip
    return pl.concat(
        [small_candidates.records, pl.DataFrame(rows, schema={c: pl.String for c in IDENTITY_COLUMNS})],
        how="diagonal_relaxed",
    )


def test_a_different_decision_stops_a_probabilistic_merge(with_robert: pl.DataFrame) -> None:
    # About Bob and Robert's other record: the client as a whole is kept apart from Bob.
    apart = pl.DataFrame([_decision("fb-bob", "crm-robert-work", "different")])
    resolution = resolve(with_robert, decisions=apart)
    clients = _clients(resolution)
    assert clients["crm-robert"] == clients["crm-robert-work"] != clients["fb-bob"]
    refused = resolution.refused.filter(pl.col("reason") == "review:different")
    assert refused["rule"].to_list() == ["probabilistic"]
    assert sorted(refused.select("record_id_a", "record_id_b").row(0)) == ["crm-robert", "fb-bob"]
    # Links the model did make carry their waterfall: per comparison, a level and its weight.
    scored = resolution.link_evidence.filter(pl.col("rule") == "probabilistic")
    assert scored.height > 0 and scored["match_probability"].min() >= 0.95
    assert scored["comparison"].null_count() == 0 and scored["level"].null_count() == 0
    assert (
        (scored["bayes_factor"] - 2 ** scored["match_weight"]).abs() < 1e-6 * scored["bayes_factor"]
    ).all()
    # Every link has its comparisons (as many as the model has), nothing else.
    per_link = scored.group_by("record_id_a", "record_id_b").agg(pl.col("comparison").n_unique())
    assert per_link["comparison"].unique().to_list() == [len(resolution.model.comparisons)]


def test_the_review_queue_holds_the_band_unless_a_reviewer_set_the_clients_apart(
    with_robert: pl.DataFrame,
) -> None:
    # Kate beside Katherine, built like Bob beside Robert: another pair the model scores in the band.
    kate = {"last_name": "Wojciechowski", "city": "Bozeman"}
    rows = [
        {"record_id": "crm-katherine", "source": "hubspot/contacts", "first_name": "Katherine",
         "email": "kw@ranch.example.org", "phone": "+1 406 555 0142", **kate},
        {"record_id": "fb-kate", "source": "facebook/leads", "first_name": "Kate", "email": "katew@gmail.com", **kate},
    ]  # fmt: skip
    records = pl.concat(
        [with_robert, pl.DataFrame(rows, schema={c: pl.String for c in IDENTITY_COLUMNS})],
        how="diagonal_relaxed",
    )
    # An accept threshold above both pairs' scores (0.9999) puts them in the review band; a reviewer
    # already set Bob apart from Robert's client (about his other record).
    strict = ResolutionConfig(probabilistic=ProbabilisticConfig(threshold=0.999999, review_threshold=0.5))
    apart = pl.DataFrame([_decision("fb-bob", "crm-robert-work", "different")])
    resolution = resolve(records, strict, decisions=apart)

    def rows_of(frame: pl.DataFrame, a: str, b: str) -> pl.DataFrame:
        return frame.filter(pl.col("record_id_a").is_in([a, b]) & pl.col("record_id_b").is_in([a, b]))

    assert (
        rows_of(resolution.evidence, "fb-bob", "crm-robert")["match_probability"]
        .is_between(0.5, 0.999999)
        .all()
    )
    assert rows_of(resolution.evidence, "fb-bob", "crm-robert").height == 1
    assert rows_of(resolution.review, "fb-bob", "crm-robert").height == 0
    kate_pair = rows_of(resolution.review, "fb-kate", "crm-katherine")
    # One row per comparison of its waterfall.
    assert kate_pair.height == kate_pair["comparison"].n_unique() == len(resolution.model.comparisons) > 1
    assert resolution.review["match_probability"].is_between(0.5, 0.999999, closed="left").all()


def test_a_shared_phone_hashes_as_the_privacy_layer_hashes_it() -> None:
    records = pl.DataFrame(
        {
            "record_id": ["a", "b"],
            "first_name": ["Ann", "Ann"],
            "last_name": ["Lee", "Lee"],
            "phone": ["(415) 555-0123", "+1 415 555 0123"],
        }
    )
    evidence = hash_shared_values(resolve(records, RULES_ONLY).link_evidence, b"k" * 32)
    assert evidence.select("rule", "shared_kind").row(0) == ("phone_name", "phone")
    # The suppression list's and the pseudonymized marts' hash of the same number, however typed.
    assert evidence["shared_value_hash"].item() == identifier_hash("phone", "(415) 555-0123", b"k" * 32)
