"""``cdp``: the platform's command line (``cdp = "cdp_platform.cli:main"`` in pyproject).

``cdp erase --email X | --phone X | --client-id X`` files an erasure request and processes it at
once; ``cdp erase --pending`` processes every pending request of ``privacy.erasure_requests``;
``--queue`` only files the request, for the daily ``process_erasure_requests`` job. Requests are
processed as one batch (one pass over the layers, one rewrite of each file). Output is one JSON
object per request on stdout: counts and keyed hashes, never the identifier.

Exit codes: 0 done (also when nothing was found for an email or phone: it is suppressed all the
same), 1 a ``client_id`` that is not in ``identity_map``, 2 bad input, 3 the warehouse is in use
by another process, the configuration is wrong, or a request failed and stays pending (the reason
is on stderr and in ``privacy.erasure_requests.error``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

EXIT_DONE, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cdp", description="cdp_platform command line.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    erase = commands.add_parser(
        "erase",
        help="erase a person from every layer (GDPR right to be forgotten, CCPA deletion)",
        description=(
            "Erase a person from the raw lake, checkpoints, dead letters, cleansed tables, quarantine, "
            "identity_map and every mart; add them to the suppression list so ingestion never brings "
            "them back; record keyed hashes and counts in privacy.erasure_audit."
        ),
    )
    who = erase.add_mutually_exclusive_group(required=True)
    who.add_argument("--email", help="the person's email address")
    who.add_argument("--phone", help="the person's phone number (with country code, or national)")
    who.add_argument("--client-id", dest="client_id", help="the person's client_id (identity.identity_map)")
    who.add_argument("--pending", action="store_true", help="process every pending request of the table")
    erase.add_argument("--reference", help="your ticket or case reference, kept in the audit log")
    erase.add_argument("--request-id", dest="request_id", help="the request id (default: a new UUID)")
    erase.add_argument(
        "--queue",
        action="store_true",
        help="only file the request in privacy.erasure_requests; the daily job processes it",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "erase":
        return _erase(parser, args)
    parser.error(f"unknown command {args.command!r}")  # argparse exits; kept for type checkers
    return EXIT_USAGE


def _erase(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    import duckdb

    from cdp_platform.io.lake import lake_from_settings
    from cdp_platform.privacy import audit
    from cdp_platform.privacy.assets import artifact_folders
    from cdp_platform.privacy.erasure import ErasureInputError, WarehouseBusyError, normalized_seed, run_batch
    from cdp_platform.privacy.hashing import PrivacyKeyError, privacy_key
    from cdp_platform.settings import SettingsError, check_settings, load_settings

    if args.pending and (args.queue or args.request_id or args.reference):
        parser.error(
            "--pending processes the table's requests: it takes no --queue, --request-id or --reference"
        )
    kind, value = next(
        ((k, getattr(args, k)) for k in audit.REQUEST_KINDS if getattr(args, k) is not None), (None, None)
    )
    try:
        settings = load_settings()
        check_settings(settings)
    except SettingsError as exc:
        print(f"cdp erase: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if kind is not None:
        try:
            normalized_seed(kind, value, settings.default_phone_region)
        except ErasureInputError as exc:
            parser.error(f"--{kind.replace('_', '-')}: {exc}")

    lake = lake_from_settings(settings)
    try:
        key = privacy_key(lake, production=settings.env == "production")
    except PrivacyKeyError as exc:
        print(f"cdp erase: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    try:
        connection = duckdb.connect(str(settings.warehouse_path))
    except duckdb.IOException as exc:
        print(
            f"cdp erase: the warehouse {settings.warehouse_path} cannot be opened for writing ({exc}). "
            "Another process (a Dagster run, dagster dev, a notebook) holds it: retry when it is done.",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    with connection:
        if args.pending:
            requests = audit.pending_requests(connection)
        else:
            try:
                requests = [
                    audit.file_request(
                        connection, kind, value, reference=args.reference, request_id=args.request_id
                    )
                ]
            except ValueError as exc:
                parser.error(str(exc))
            if args.queue:
                print(json.dumps({"request_id": requests[0].request_id, "status": "pending"}))
                return EXIT_DONE
    if not requests:
        return EXIT_DONE
    try:
        batch = run_batch(
            requests,
            lake=lake,
            warehouse=settings.warehouse_path,
            key=key,
            phone_region=settings.default_phone_region,
            pseudonymized=settings.pseudonymized_warehouse_path,
            artifact_folders=artifact_folders(_local_instance()),
        )
    except WarehouseBusyError as exc:
        print(f"cdp erase: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    code = EXIT_DONE
    for outcome in batch.outcomes:
        print(json.dumps(outcome.summary(), sort_keys=True))
        if outcome.status == "not_found":
            print(f"cdp erase: request {outcome.request_id}: {outcome.error}", file=sys.stderr)
            code = EXIT_NOT_FOUND
    for request_id, reason in batch.failed.items():
        print(f"cdp erase: request {request_id} failed and stays pending: {reason}", file=sys.stderr)
        code = EXIT_UNAVAILABLE
    return code


def _local_instance():
    """The Dagster instance of ``DAGSTER_HOME``, whose compute logs the erasure scrubs; none unset."""
    import os

    import dagster as dg

    if not os.environ.get("DAGSTER_HOME"):
        return None
    return dg.DagsterInstance.get()


if __name__ == "__main__":
    sys.exit(main())
