"""Recorded vendor answers (VCR cassettes, documented example bodies) served to the real client.

A cassette is read as recorded: the response body is decoded only as far as the recording encoded
it (gzip for tweepy's), never edited. ``MockTransport`` answers each request with the recording
whose method and path match, so the platform's own client, paginator, pacer and error handling
run exactly as against the vendor.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Recording:
    method: str
    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    def response(self) -> httpx.Response:
        # The body is handed over decoded, so the recorded content-encoding/length no longer apply.
        headers = {
            k: v for k, v in self.headers.items() if k.lower() not in {"content-encoding", "content-length"}
        }
        return httpx.Response(self.status, headers=headers, content=self.body)


def cassette(path: Path) -> list[Recording]:
    """The interactions of a VCR (vcrpy) cassette."""
    document = yaml.safe_load(path.read_bytes())
    recordings = []
    for interaction in document["interactions"]:
        response = interaction["response"]
        headers = {name: values[-1] for name, values in response["headers"].items()}
        body = response["body"]["string"]
        if isinstance(body, str):
            body = body.encode()
        if body[:2] == b"\x1f\x8b":  # gzip as recorded (vcrpy keeps some bodies compressed, some not)
            body = gzip.decompress(body)
        recordings.append(
            Recording(
                interaction["request"]["method"],
                interaction["request"]["uri"],
                response["status"]["code"],
                headers,
                body,
            )
        )
    return recordings


def saved(path: Path, status: int = 200, headers: dict[str, str] | None = None) -> httpx.Response:
    """A saved answer body (a JSON file as the repository holds it), served as is."""
    return httpx.Response(
        status, content=path.read_bytes(), headers={"content-type": "application/json", **(headers or {})}
    )
