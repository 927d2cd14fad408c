"""``cdp``: the platform's command line (``cdp = "cdp_platform.cli:main"`` in pyproject).

``cdp erase --email X | --phone X | --client-id X`` files an erasure request and processes it at
once; ``cdp erase --pending`` processes every pending request of ``privacy.erasure_requests``;
``--queue`` only files the request, for the daily ``process_erasure_requests`` job. Requests are
processed as one batch (one pass over the layers, one rewrite of each file). Output is one JSON
object per request on stdout: counts and keyed hashes, never the identifier.

``cdp identity review --a RECORD_ID --b RECORD_ID --same|--different --reason TEXT [--reviewer NAME]``
records a reviewer's decision about two records of ``identity.identity_map`` in
``identity.review_decisions``; the next materialization of ``identity_map`` honours it (``different``
splits their client if they share one, ``same`` joins their clients within the limits). Output is
one JSON object: the decision id and whether the two are one client now.

``cdp webhooks serve --port P`` receives the vendors' signed webhooks and enqueues their events
(see :mod:`cdp_platform.webhooks.receiver`); it runs until stopped.

Exit codes: 0 done (also when nothing was found for an email or phone: it is suppressed all the
same), 1 a ``client_id`` or record id that is not in ``identity_map``, 2 bad input, 3 the warehouse
is in use by another process (a writer holds it), the configuration is wrong, or an erasure request
failed and stays pending (the reason is on stderr and in ``privacy.erasure_requests.error``).
"""

from __future__ import annotations

import argparse
import getpass
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
    identity = commands.add_parser("identity", help="identity resolution: review links")
    identity_commands = identity.add_subparsers(dest="identity_command", required=True, metavar="COMMAND")
    review = identity_commands.add_parser(
        "review",
        help="record that two records are the same person or different people",
        description=(
            "Record a reviewer's decision about two records (record_id of identity.identity_map, as "
            "client_360.record_ids and identity.review_queue list them) in identity.review_decisions. "
            "The next identity_map materialization honours it: --different splits their client if they "
            "share one (the side with more records keeps the client id), --same joins their clients "
            "within the identifier limits. The latest decision about a pair wins."
        ),
    )
    review.add_argument("--a", required=True, metavar="RECORD_ID", help="one record")
    review.add_argument("--b", required=True, metavar="RECORD_ID", help="the other record")
    verdict = review.add_mutually_exclusive_group(required=True)
    verdict.add_argument("--same", dest="decision", action="store_const", const="same", help="one person")
    verdict.add_argument(
        "--different", dest="decision", action="store_const", const="different", help="two people"
    )
    review.add_argument("--reason", required=True, help="why (kept with the decision)")
    review.add_argument("--reviewer", help="who decides (default: the login name)")
    webhooks = commands.add_parser("webhooks", help="receive vendor webhooks into the durable event queue")
    webhooks_commands = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="COMMAND")
    serve = webhooks_commands.add_parser(
        "serve",
        help="serve /webhooks/<vendor> (Starlette on uvicorn)",
        description=(
            "Verify each vendor's signed webhooks and enqueue their events on the durable queue "
            "(CDP_EVENTS_BROKER_URL, default redis://127.0.0.1:6379/0); a vendor's route exists only "
            "when its signing secret is set (see README, 'Webhooks')."
        ),
    )
    serve.add_argument("--port", type=int, required=True)
    serve.add_argument("--host", default="127.0.0.1", help="interface to listen on (default %(default)s)")
    serve.add_argument("--log-level", default="info")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "erase":
        return _erase(parser, args)
    if args.command == "identity":
        return _review(parser, args)
    if args.command == "webhooks":
        from cdp_platform.webhooks.serve import serve

        return serve(args.host, args.port, log_level=args.log_level)
    parser.error(f"unknown command {args.command!r}")  # argparse exits; kept for type checkers
    return EXIT_USAGE


def _erase(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:

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
    connection = _open_warehouse("cdp erase", settings.warehouse)
    if connection is None:
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
            warehouse=settings.warehouse,
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


def _open_warehouse(command: str, target):
    """A write connection to the warehouse (the file or the DuckLake, as the settings say), or None
    after saying on stderr why not: DuckDB lets one process write a file, so a running Dagster run
    or ``dagster dev`` keeps the CLI out of it; a DuckLake may be unreachable."""
    import duckdb

    from cdp_platform.io.warehouse import WarehouseError, connect_warehouse

    try:
        return connect_warehouse(target)
    except duckdb.IOException as exc:
        print(
            f"{command}: the warehouse {target.describe()} is held by a writer ({exc}). Another process "
            "(a Dagster run, dagster dev, a notebook) has it open: retry when it is done.",
            file=sys.stderr,
        )
        return None
    except WarehouseError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None


def _local_instance():
    """The Dagster instance of ``DAGSTER_HOME``, whose compute logs the erasure scrubs; none unset."""
    import os

    import dagster as dg

    home = os.environ.get("DAGSTER_HOME")
    if not home or not os.path.isdir(home):
        return None
    return dg.DagsterInstance.get()


def _review(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:

    from cdp_platform.identity import decisions
    from cdp_platform.settings import SettingsError, check_settings, load_settings

    record_a, record_b = args.a.strip(), args.b.strip()
    if not record_a or not record_b:
        parser.error("--a and --b must name records")
    if record_a == record_b:
        parser.error("--a and --b name the same record: a decision is about two records")
    if not args.reason.strip():
        parser.error("--reason must say why")
    reviewer = args.reviewer
    if reviewer is None:
        try:
            reviewer = getpass.getuser()
        except (KeyError, OSError):
            parser.error("--reviewer is required: the login name cannot be read here")
    if not reviewer.strip():
        parser.error("--reviewer must not be empty")
    try:
        settings = load_settings()
        check_settings(settings)
    except SettingsError as exc:
        print(f"cdp identity review: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    if not settings.warehouse.is_lake and not settings.warehouse_path.exists():
        print(
            f"cdp identity review: there is no warehouse at {settings.warehouse_path}: "
            "materialize identity_map first (or set CDP_WAREHOUSE_PATH)",
            file=sys.stderr,
        )
        return EXIT_UNAVAILABLE
    connection = _open_warehouse("cdp identity review", settings.warehouse)
    if connection is None:
        return EXIT_UNAVAILABLE
    with connection:
        if not connection.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'identity' and table_name = 'identity_map'"
        ).fetchone()[0]:
            print(
                "cdp identity review: identity.identity_map does not exist yet: materialize it first",
                file=sys.stderr,
            )
            return EXIT_NOT_FOUND
        clients = dict(
            connection.execute(
                "select record_id, client_id from identity.identity_map where record_id in (?, ?)",
                [record_a, record_b],
            ).fetchall()
        )
        for flag, record in (("--a", record_a), ("--b", record_b)):
            if record in clients:
                continue
            is_client = connection.execute(
                "select count(*) from identity.identity_map where client_id = ?", [record]
            ).fetchone()[0]
            hint = (
                " It is a client_id: a decision names records (client_360.record_ids lists a client's)."
                if is_client
                else ""
            )
            print(
                f"cdp identity review: {flag} is not a record_id of identity.identity_map.{hint}",
                file=sys.stderr,
            )
            return EXIT_NOT_FOUND
        decision_id = decisions.record_decision(
            connection, record_a, record_b, args.decision, reviewer=reviewer, reason=args.reason
        )
    print(
        json.dumps(
            {
                "decision_id": decision_id,
                "decision": args.decision,
                "one_client_now": clients[record_a] == clients[record_b],
                "takes_effect": "at the next materialization of identity_map",
            },
            sort_keys=True,
        )
    )
    return EXIT_DONE


if __name__ == "__main__":
    sys.exit(main())
