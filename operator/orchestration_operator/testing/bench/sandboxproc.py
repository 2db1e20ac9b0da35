"""The Kubernetes API sandbox as a process that counts the requests it answers (benchmarks only).

``python -m orchestration_operator.testing.bench.sandboxproc --kubeconfig PATH --counts PATH`` serves a
``KubeSandbox``, writes the kubeconfig, prints ``listening on URL``, and on SIGTERM/SIGINT writes how many
requests it answered per ``(method, namespace, resource, subresource)`` to ``--counts`` as JSON lines, so
a benchmark can count the operator's writes per object without sharing a process with the sandbox.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import pathlib
import signal
import sys
import urllib.parse
from collections.abc import Sequence

MAX_RECORDED = 2_000_000


def key_of(method: str, path: str) -> tuple[str, str, str, str]:
    """``(method, namespace, resource, subresource)`` of a request path (``""`` where absent)."""
    parts = [p for p in urllib.parse.urlsplit(path).path.split("/") if p]
    namespace = resource = subresource = ""
    if "namespaces" in parts:
        index = parts.index("namespaces")
        rest = parts[index + 1 :]
        if rest:
            namespace = rest[0]
            rest = rest[1:]
        if rest:
            resource = rest[0]
            subresource = rest[2] if len(rest) > 2 else ""
        elif index + 1 >= len(parts):
            resource = "namespaces"
    elif parts:
        resource = parts[-1] if parts[0] in ("api", "apis") and len(parts) > 2 else ""
    return method, namespace, resource, subresource


async def _serve(kubeconfig: pathlib.Path, counts: pathlib.Path) -> None:
    from orchestration_operator.testing.kube import server

    sandbox = server.KubeSandbox(record_requests=MAX_RECORDED)
    await sandbox.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        sandbox.write_kubeconfig(kubeconfig)
        print(f"sandbox listening on {sandbox.url}", flush=True)
        await stop.wait()
    finally:
        records = sandbox.request_log()
        await sandbox.stop()
        tally: collections.Counter[tuple[str, str, str, str]] = collections.Counter(
            key_of(record.method, record.path) for record in records
        )
        with counts.open("w", encoding="utf-8") as handle:
            for key, count in sorted(tally.items()):
                handle.write(json.dumps([*key, count]) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sandboxproc")
    parser.add_argument("--kubeconfig", type=pathlib.Path, required=True)
    parser.add_argument("--counts", type=pathlib.Path, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.kubeconfig, args.counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
