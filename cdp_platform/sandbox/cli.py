"""``cdp-sandbox``: serve the emulated vendor APIs on a port, or write the ground truth next to them.

    cdp-sandbox serve --port 8500 --persons 100000 --seed 7 --faults storm [--host 127.0.0.1]
                      [--time-scale X] [--no-rate-limits] [--slow-seconds S] [--faults-for VENDOR=PROFILE]
                      [--today YYYY-MM-DD] [--span-days N]
    cdp-sandbox truth --out DIR --persons N --seed S [--today YYYY-MM-DD] [--span-days N]

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

from cdp_platform.sandbox.config import SandboxConfig
from cdp_platform.sandbox.faults import PROFILES, VENDORS, ConnectionCut, FaultProfile, resolve_faults


class _HideInjectedCuts(logging.Filter):
    """uvicorn logs every exception that ends a response; an injected cut is intended, not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionCut))


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
        help="a different fault profile for one vendor (repeatable), e.g. salesforce=none",
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
    truth = commands.add_parser(
        "truth", help="write the ground truth (persons, records, purchases) as Parquet"
    )
    truth.add_argument("--out", required=True)
    truth.add_argument("--persons", type=int, default=SandboxConfig.persons)
    truth.add_argument("--seed", type=int, default=SandboxConfig.seed)
    _world_arguments(truth)
    return root


def fault_spec(args: argparse.Namespace) -> dict[str, FaultProfile]:
    """``--faults`` for every vendor, ``--faults-for VENDOR=PROFILE`` overrides, ``--slow-seconds`` on all."""
    chosen = dict.fromkeys(VENDORS, args.faults)
    for item in args.faults_for:
        vendor, _, name = item.partition("=")
        if vendor not in VENDORS or name not in PROFILES:
            raise ValueError(
                f"--faults-for wants VENDOR=PROFILE with VENDOR in {list(VENDORS)} and PROFILE in "
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
    print(
        json.dumps(
            {
                "serving": f"http://{args.host}:{args.port}",
                "persons": args.persons,
                "seed": args.seed,
                "today": config.today.isoformat(),
                "span_days": config.span_days,
                # What a connector needs besides a base URL and a credential (see .env.example).
                "accounts": {
                    "CDP_GOOGLE_ANALYTICS_PROPERTY_ID": str(data.ga4_property_id),
                    "CDP_FACEBOOK_PAGE_ID": str(data.facebook_page_id),
                    "CDP_FACEBOOK_LEAD_FORM_IDS": ",".join(data.facebook_lead_form_ids),
                    "CDP_INSTAGRAM_USER_ID": str(data.instagram_user_id),
                    "CDP_TWITTER_USER_ID": str(data.twitter_user_id),
                },
                "faults": {vendor: profile.name for vendor, profile in faults.items()},
                "time_scale": args.time_scale,
                "rate_limits": not args.no_rate_limits,
            }
        ),
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level, access_log=False)


def truth(args: argparse.Namespace) -> None:
    from cdp_platform.sandbox.truth import write_truth

    manifest = write_truth(_config(args), args.out)
    print(json.dumps(manifest, indent=2, sort_keys=True, default=str))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        {"serve": serve, "truth": truth}[args.command](args)
    except ValueError as exc:  # invalid config values, reported without a traceback
        print(f"cdp-sandbox: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
