"""``orchestration-operator sandbox``: serve the Kubernetes API sandbox and write a kubeconfig for it.

A test and local-trial tool (see ``testing.kube``): production is a real cluster. Plain HTTP on the
loopback interface; kubectl and kopf both accept an ``http://`` server. Runs until interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import pathlib
import signal
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: 0, any free port)")
    parser.add_argument(
        "--kubeconfig",
        type=pathlib.Path,
        default=pathlib.Path(".local/sandbox.kubeconfig"),
        help="where to write the kubeconfig (default: .local/sandbox.kubeconfig)",
    )
    parser.add_argument("--token", default=None, help="the admin bearer token (default: random)")
    parser.add_argument("--namespace", default=None, help="the kubeconfig context's namespace")
    parser.add_argument(
        "--apply",
        action="append",
        type=pathlib.Path,
        default=[],
        metavar="PATH",
        help="YAML file or directory to apply at start (CRDs first); repeatable",
    )
    parser.add_argument(
        "--bookmark-interval", type=float, default=15.0, help="seconds between watch bookmarks (default: 15)"
    )


async def _serve(args: argparse.Namespace) -> int:
    from orchestration_operator.testing.kube import manifests, server

    sandbox = server.KubeSandbox(admin_token=args.token, bookmark_interval=args.bookmark_interval)
    await sandbox.start(host=args.host, port=args.port)
    try:
        for path in args.apply:
            sandbox.apply_objects(manifests.load(path))
        kubeconfig = sandbox.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
        print(
            f"Kubernetes API sandbox (tests and local trials only) listening on {sandbox.url}\n"
            f"  export KUBECONFIG={kubeconfig.resolve()}\n"
            f"  kubectl get namespaces",
            flush=True,
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await sandbox.stop()
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_serve(args))
    except OSError as exc:
        print(f"orchestration-operator sandbox: {exc}", file=sys.stderr)
        return 1
