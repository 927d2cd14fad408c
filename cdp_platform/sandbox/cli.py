"""``cdp-sandbox``: serve the emulated vendor APIs on a port, or write the ground truth next to them.

    cdp-sandbox serve --port 8500 --persons 100000 --seed 7 --faults storm [--host 127.0.0.1]
                      [--time-scale X] [--no-rate-limits] [--slow-seconds S] [--faults-for VENDOR=PROFILE]
                      [--today YYYY-MM-DD] [--span-days N]
    cdp-sandbox truth --out DIR --persons N --seed S [--today YYYY-MM-DD] [--span-days N]
    cdp-sandbox webhooks --to URL [--days N] [--faults storm] [--rate R] [--report FILE]
    cdp-sandbox serve ... --webhooks-to URL   (the same, posted while the APIs are served)

Both build the same :class:`SandboxConfig` from the same flags, so the truth written by ``truth``
describes exactly the records ``serve`` returns.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from cdp_platform.cleansed.handles import handle_fields_var
from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.faults import PROFILES, ConnectionCut, FaultProfile, resolve_faults, vendor_names
from cdp_platform.sandbox.plugins import source_mounts
from cdp_platform.settings import env_var_name


class _HideInjectedCuts(logging.Filter):
    """uvicorn logs every exception that ends a response; an injected cut is intended, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionCut))


def account_settings(data: Any) -> dict[str, str]:
    """The account identifiers each served source needs, as the settings name them
    (``CDP_<SOURCE>_<OPTION>``, see .env.example), and the fields of its accounts that hold
    handles (``CDP_<SOURCE>_<ENTITY>_HANDLE_FIELDS``), from the vendor modules' mounts."""
    options = {
        env_var_name(source, option): value
        for source, mount in source_mounts().items()
        if mount.account_options is not None
        for option, value in mount.account_options(data).items()
    }
    handles = {
        handle_fields_var(source, entity): fields
        for source, mount in source_mounts().items()
        for entity, fields in mount.handle_fields.items()
    }
    return {**options, **handles}


def _config(args: argparse.Namespace) -> SandboxConfig:
    return SandboxConfig(persons=args.persons, seed=args.seed, today=args.today, span_days=args.span_days)


def _today(text: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--today wants YYYY-MM-DD, got {text!r}") from None


def _world_arguments(command: argparse.ArgumentParser) -> None:
    """The flags besides size and seed that shape the synthetic world (serve and truth must agree)."""
    command.add_argument(
        "--today",
        type=_today,
        default=SandboxConfig.today,
        help="the sandbox's last day of history, YYYY-MM-DD (default %(default)s)",
    )
    command.add_argument(
        "--span-days",
        type=int,
        default=SandboxConfig.span_days,
        help="days of history the population's records are spread over: fewer make each day denser "
        "(default %(default)s)",
    )


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="cdp-sandbox", description=__doc__.split("\n")[0])
    commands = root.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the emulated vendor APIs over HTTP (uvicorn)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8500)
    serve.add_argument("--persons", type=int, default=SandboxConfig.persons)
    serve.add_argument("--seed", type=int, default=SandboxConfig.seed)
    serve.add_argument("--faults", default="none", choices=sorted(PROFILES))
    _world_arguments(serve)
    serve.add_argument(
        "--faults-for",
        action="append",
        default=[],
        metavar="VENDOR=PROFILE",
        help=f"a different fault profile for one vendor (repeatable), one of {', '.join(vendor_names())}",
    )
    serve.add_argument(
        "--slow-seconds",
        type=float,
        default=None,
        help="delay of an injected slow response (default: the profile's)",
    )
    serve.add_argument("--time-scale", type=float, default=1.0, help="divide every quota window by this")
    serve.add_argument("--no-rate-limits", action="store_true")
    serve.add_argument(
        "--latency-ms", type=float, default=0.0, help="delay every response, like a network to a real vendor"
    )
    serve.add_argument("--log-level", default="warning")
    serve.add_argument(
        "--webhooks-to",
        metavar="URL",
        help="also post the last --webhook-days' changes as signed vendor webhooks to URL/webhooks/<vendor> "
        "(a 'cdp webhooks serve' receiver given the sandbox's webhook secrets); --faults storm adds "
        "duplicates, forgeries and retries",
    )
    _webhook_arguments(serve, prefix="webhook-")
    truth = commands.add_parser(
        "truth", help="write the ground truth (persons, records, purchases) as Parquet"
    )
    truth.add_argument("--out", required=True)
    truth.add_argument("--persons", type=int, default=SandboxConfig.persons)
    truth.add_argument("--seed", type=int, default=SandboxConfig.seed)
    _world_arguments(truth)
    webhooks = commands.add_parser(
        "webhooks", help="post the sandbox's changes as signed vendor webhooks to a receiver, then exit"
    )
    webhooks.add_argument("--to", required=True, metavar="URL", help="the receiver's base URL")
    webhooks.add_argument("--persons", type=int, default=SandboxConfig.persons)
    webhooks.add_argument("--seed", type=int, default=SandboxConfig.seed)
    webhooks.add_argument("--faults", default="none", choices=sorted(PROFILES))
    _world_arguments(webhooks)
    _webhook_arguments(webhooks, prefix="")
    return root


def _webhook_arguments(command: argparse.ArgumentParser, prefix: str) -> None:
    command.add_argument(
        f"--{prefix}days",
        type=int,
        default=1,
        help="post the changes of this many days, ending with --today (default %(default)s)",
    )
    command.add_argument(
        f"--{prefix}rate",
        type=float,
        default=None,
        help="at most this many requests a second (default: no limit)",
    )
    command.add_argument(
        f"--{prefix}concurrency", type=int, default=8, help="requests in flight (default %(default)s)"
    )
    command.add_argument(
        f"--{prefix}report",
        metavar="FILE",
        help="write what was sent (event keys, forgeries, counts) as JSON",
    )


def fault_spec(args: argparse.Namespace) -> dict[str, FaultProfile]:
    """``--faults`` for every vendor, ``--faults-for VENDOR=PROFILE`` overrides, ``--slow-seconds`` on all."""
    vendors = vendor_names()
    chosen = dict.fromkeys(vendors, args.faults)
    for item in args.faults_for:
        vendor, _, name = item.partition("=")
        if vendor not in vendors or name not in PROFILES:
            raise ValueError(
                f"--faults-for wants VENDOR=PROFILE with VENDOR in {list(vendors)} and PROFILE in "
                f"{sorted(PROFILES)}, got {item!r}"
            )
        chosen[vendor] = name
    profiles = resolve_faults(chosen)
    if args.slow_seconds is not None:
        profiles = {v: dataclasses.replace(p, slow_seconds=args.slow_seconds) for v, p in profiles.items()}
    return profiles


def serve(args: argparse.Namespace) -> None:
    import uvicorn

    from cdp_platform.sandbox.app import create_app
    from cdp_platform.sandbox.records import SandboxData

    faults = fault_spec(args)
    config = _config(args)
    data = SandboxData(config)
    app = create_app(
        config,
        faults=faults,
        rate_limits=not args.no_rate_limits,
        time_scale=args.time_scale,
        data=data,
        latency=args.latency_ms / 1000.0,
    )
    logging.getLogger("uvicorn.error").addFilter(_HideInjectedCuts())
    if args.webhooks_to:
        _webhooks_beside_server(args, data)
    print(
        json.dumps(
            {
                "serving": f"http://{args.host}:{args.port}",
                "persons": args.persons,
                "seed": args.seed,
                "today": config.today.isoformat(),
                "span_days": config.span_days,
                # What a connector needs besides a base URL and a credential (see .env.example).
                "accounts": account_settings(data),
                "faults": {vendor: profile.name for vendor, profile in faults.items()},
                "time_scale": args.time_scale,
                "rate_limits": not args.no_rate_limits,
            }
        ),
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


def _post_webhooks(
    data, to: str, faults: str, days: int, rate: float | None, concurrency: int, report_path: str | None
) -> dict:
    import asyncio

    from cdp_platform.sandbox import webhooks

    end = webhooks.day_window(data.config.today)[1]
    start = end - datetime.timedelta(days=days)
    found = webhooks.changes(data, start, end)
    planned = webhooks.plan(found, faults, data.config.seed)
    report = asyncio.run(webhooks.send(planned, to, rate=rate, concurrency=concurrency))
    summary = {"webhooks_to": to, "window": [start.isoformat(), end.isoformat()], **report.summary()}
    if report_path:
        with open(report_path, "w") as handle:
            json.dump(
                {
                    **summary,
                    "valid": sorted(report.valid),
                    "forged": sorted(report.forged),
                    "records": [list(item) for item in webhooks.iter_keys(found)],
                },
                handle,
            )
    return summary


def post_webhooks(args: argparse.Namespace) -> None:
    if args.days < 1:
        raise ValueError(f"--days must be at least 1, got {args.days}")
    from cdp_platform.sandbox.records import SandboxData

    data = SandboxData(_config(args))
    summary = _post_webhooks(data, args.to, args.faults, args.days, args.rate, args.concurrency, args.report)
    print(json.dumps(summary), flush=True)


def _webhooks_beside_server(args: argparse.Namespace, data) -> None:
    """Post the webhooks from a thread once the APIs answer (the fast path fetches from them)."""
    import threading
    import time

    import httpx

    def run() -> None:
        for _ in range(600):
            try:
                httpx.get(f"http://{args.host}:{args.port}/", timeout=1)  # any answer: the server is up
                break
            except httpx.TransportError:
                time.sleep(0.1)
        summary = _post_webhooks(
            data,
            args.webhooks_to,
            args.faults,
            args.webhook_days,
            args.webhook_rate,
            args.webhook_concurrency,
            args.webhook_report,
        )
        print(json.dumps(summary), flush=True)

    threading.Thread(target=run, name="sandbox-webhooks", daemon=True).start()


def truth(args: argparse.Namespace) -> None:
    from cdp_platform.sandbox.truth import write_truth

    manifest = write_truth(_config(args), args.out)
    print(json.dumps(manifest, indent=2, sort_keys=True, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        {"serve": serve, "truth": truth, "webhooks": post_webhooks}[args.command](args)
    except ValueError as exc:  # invalid config values, reported without a traceback
        print(f"cdp-sandbox: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
