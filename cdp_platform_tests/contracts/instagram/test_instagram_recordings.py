"""Instagram Graph recorded answers (pyfacebook's testdata) through the platform's own client,
paginator, raw rows and cleansed entities."""

from __future__ import annotations

import datetime

import httpx

from cdp_platform.cleansed.entity import cleanse
from cdp_platform.sources.graph import edge_request
from cdp_platform.sources.graph_auth import GraphTokenAuth
from cdp_platform.sources.instagram import COMMENT_FIELDS, MEDIA_FIELDS, STREAMS
from cdp_platform.sources.instagram.cleansed.media import ENTITY as MEDIA_ENTITY
from cdp_platform.sources.instagram.cleansed.media_comments import ENTITY as COMMENTS_ENTITY
from cdp_platform_tests.contracts.recordings import HERE, day_window, land_pages, saved, served
from cdp_platform_tests.support.pacers import declared_pacer

RECORDED = HERE / "instagram"
USER = "17841406338772941"
MEDIUM = "17846368219941692"
MEDIA, COMMENTS = (next(s for s in STREAMS if s.name == name) for name in ("media", "media_comments"))
START = datetime.datetime(2021, 8, 13, tzinfo=datetime.UTC)


def run_graph(stream, first, answer, slice_name="all"):
    api = served(
        "instagram",
        "https://graph.facebook.com",
        GraphTokenAuth("ig-token"),
        declared_pacer("instagram"),
        answer,
    )
    landed = land_pages(api.client, stream, day_window("2021-08-13"), first, slice_name)
    return landed.result, api.seen, landed.rows, landed.pages


def _paged(first: str, last: str):
    def answer(request: httpx.Request) -> httpx.Response:
        return saved(RECORDED / (last if request.url.params.get("after") else first))

    return answer


def test_recorded_media_pages_land_and_a_medium_without_caption_has_no_text():
    first = edge_request(USER, "media", MEDIA_FIELDS, START, START + datetime.timedelta(days=1), 2)
    result, seen, rows, _ = run_graph(MEDIA, first, _paged("users_medias_p1.json", "users_medias_p2.json"))
    assert result.complete and result.pages == 2 and seen[1].url.path == f"/v6.0/{USER}/media"
    clean = cleanse(rows, MEDIA_ENTITY, START.date()).clean.sort("media_id")
    assert clean.height == 4
    medium = clean.filter(clean["media_id"] == "17896622936197745").row(0, named=True)
    assert medium["text"] is None  # caption asked for, omitted by Graph: empty, not an error
    assert (medium["media_type"], medium["like_count"], medium["comments_count"]) == ("IMAGE", 2, 6)
    assert medium["created_at"] == datetime.datetime(2021, 8, 13, 8, 2, 40, tzinfo=datetime.UTC)
    assert clean["text"].null_count() == 2  # the two of page 1; page 2's two carry captions


def test_recorded_comment_pages_end_without_paging_and_cleanse():
    first = edge_request(MEDIUM, "comments", COMMENT_FIELDS, START, START + datetime.timedelta(days=1), 2)
    result, _, rows, _ = run_graph(
        COMMENTS, first, _paged("medias_comments_p1.json", "medias_comments_p2.json"), MEDIUM
    )
    assert result.complete and result.pages == 2  # the last page has no paging at all
    clean = cleanse(rows, COMMENTS_ENTITY, START.date()).clean
    by_id = {row["comment_id"]: row for row in clean.iter_rows(named=True)}
    assert set(by_id) == {"17858154961981086", "17874875428706419", "17892250648466172", "17914413430382429"}
    assert by_id["17892250648466172"]["text"] == "@ikroskun  Hey, guys"
    assert by_id["17858154961981086"]["created_at"] == datetime.datetime(
        2020, 6, 1, 10, 56, 52, tzinfo=datetime.UTC
    )
    assert (
        by_id["17858154961981086"]["media_id"] == MEDIUM
        and by_id["17858154961981086"]["instagram_username"] is None
    )
