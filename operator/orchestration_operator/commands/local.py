"""``orchestration-operator local``: the whole thing on this machine, for a first look (``make run``).

Starts the Kubernetes API sandbox, the Drupal emulator (demo catalog, the user of
``deploy/examples/10-connection.yaml``: ``orchestration`` / ``change-me``, and the poll source
``user_registered`` of ``deploy/examples/40-eventpoll.yaml``) and the operator, each as a process
logging under the state directory (``.local/``); applies ``crds/`` (waits until Established) and
``deploy/examples/``; waits (bounded) until the examples are Ready; prints ``kubectl get orchestration``,
how to use kubectl against the sandbox, and how to stop. Ctrl-C (or SIGTERM) stops everything, the
operator first.

A test and local-trial tool (needs the ``testing`` extra): production is a real cluster and a real site.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import signal
import sys
import time
from types import FrameType
from typing import Any

DEMO_USER = "orchestration"
DEMO_PASSWORD = "change-me"  # the placeholder of deploy/examples/10-connection.yaml
DEMO_POLL = "user_registered"
EXAMPLE_SITE = "http://127.0.0.1:8081"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=pathlib.Path,
        default=pathlib.Path(".local"),
        help="where the kubeconfig and the logs go (default: .local)",
    )
    parser.add_argument(
        "--repo",
        type=pathlib.Path,
        default=pathlib.Path("."),
        help="the repository root, holding crds/ and deploy/examples/ (default: the current directory)",
    )
    parser.add_argument(
        "--emulator-port",
        type=int,
        default=8081,
        help="the Drupal emulator's port (default: 8081, the URL of the example connection; 0: any free "
        "port, the examples are then pointed at it)",
    )
    parser.add_argument(
        "--sandbox-port", type=int, default=0, help="the API sandbox's port (default: any free port)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=90.0,
        help="seconds to wait for the examples to be Ready (default: 90)",
    )


class _Stop(Exception):
    pass


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    del frame
    raise _Stop(signum)


def main(args: argparse.Namespace) -> int:
    try:
        from orchestration_operator.testing import stack  # noqa: F401 - needs the testing extra
        from orchestration_operator.testing.kube import kubectl, process
    except ImportError as exc:  # pragma: no cover - depends on the installation
        print(
            f"orchestration-operator local: needs the 'testing' extra ({exc.name} is missing)",
            file=sys.stderr,
        )
        return 2
    repo = args.repo.resolve()
    crds, examples = repo / "crds", repo / "deploy" / "examples"
    if not crds.is_dir() or not examples.is_dir():
        print(
            f"orchestration-operator local: {repo} has no crds/ and deploy/examples/: run it from the "
            "repository root (or pass --repo)",
            file=sys.stderr,
        )
        return 2
    if kubectl.find_binary() is None:
        print("orchestration-operator local: kubectl not found: install it, or set KUBECTL", file=sys.stderr)
        return 2
    state = args.state_dir.resolve()
    state.mkdir(parents=True, exist_ok=True)
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    children: list[tuple[str, Any]] = []
    try:
        return _run(args, state=state, crds=crds, examples=examples, children=children)
    except _Stop:
        print("\nStopping...", flush=True)
        return 0
    except (process.ProcessError, kubectl.KubectlError, _ChildStopped) as exc:
        print(f"orchestration-operator local: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig in previous:
            signal.signal(sig, signal.SIG_IGN)  # a second Ctrl-C must not cut the stop short
        for _, child in reversed(children):  # the operator first
            child.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class _ChildStopped(Exception):
    pass


def _run(
    args: argparse.Namespace,
    *,
    state: pathlib.Path,
    crds: pathlib.Path,
    examples: pathlib.Path,
    children: list[tuple[str, Any]],
) -> int:
    from orchestration_operator.testing import stack
    from orchestration_operator.testing.kube import kubectl as kubectl_module

    started = time.monotonic()
    print(f"Starting the Kubernetes API sandbox, the Drupal emulator and the operator (logs in {state})...")
    sandbox = stack.start_sandbox(state=state, port=args.sandbox_port)
    children.append(("the Kubernetes API sandbox", sandbox))

    users = state / "emulator-users.json"
    users.write_text(json.dumps({"users": [{"name": DEMO_USER, "password": DEMO_PASSWORD}]}))
    emulator, site_url = stack.start_emulator(
        state=state, port=args.emulator_port, args=["--users", str(users)]
    )
    children.append(("the Drupal emulator", emulator))
    _add_poll_source(site_url)

    kubectl = kubectl_module.Kubectl(sandbox.kubeconfig, cache_dir=state / "kubectl-cache")
    kubectl("apply", "-f", str(crds))
    kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=60s")

    operator = stack.start_operator(kubeconfig=sandbox.kubeconfig, log_path=state / "operator.log")
    children.append(("the operator", operator))

    manifests = "\n---\n".join(path.read_text() for path in sorted(examples.glob("*.yaml")))
    kubectl("apply", "-f", "-", input=manifests.replace(EXAMPLE_SITE, site_url))
    ready = _wait_ready(kubectl, timeout=args.timeout)

    table = kubectl("get", "orchestration", "-o", "wide").stdout
    elapsed = time.monotonic() - started
    print(f"\n{table.rstrip()}\n")
    if ready:
        print(f"Every example is Ready ({elapsed:.1f} s).")
    else:
        print(f"Not every example is Ready after {args.timeout:g} s: see {state / 'operator.log'}.")
    print(
        f"""
The local stack runs on this machine only (test and trial tools, not a cluster or a Drupal site):
  Kubernetes API sandbox   use it with:  export KUBECONFIG={sandbox.kubeconfig}
                                         kubectl get orchestration
  Drupal emulator          {site_url}  (user {DEMO_USER} / {DEMO_PASSWORD}; control API under /_emulator/)
  logs                     {state}/operator.log, emulator.log, sandbox.log

Press Ctrl-C to stop everything.""",
        flush=True,
    )
    while True:
        for name, child in children:
            if not stack.running(child):
                raise _ChildStopped(f"{name} stopped on its own:\n{child.logs()[-4000:]}")
        time.sleep(0.5)


def _add_poll_source(site_url: str) -> None:
    """The example EventPoll's source: a few user registrations, the latest a minute ago."""
    from orchestration_operator.testing.drupal import remote

    now = int(time.time())
    items = [
        {"timestamp": now - 60 * (3 - i), "data": {"uid": 40 + i, "name": f"user{40 + i}"}} for i in range(3)
    ]
    with remote.RemoteEmulator(f"{site_url.rstrip('/')}/_emulator") as control:
        control.add_poll_items(DEMO_POLL, "timestamp", items)


def _ready(item: dict[str, Any]) -> bool:
    return any(
        condition.get("type") == "Ready" and condition.get("status") == "True"
        for condition in (item.get("status") or {}).get("conditions") or []
    )


def _wait_ready(kubectl: Any, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        items = kubectl.json("get", "orchestration").get("items") or []
        if items and all(_ready(item) for item in items):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)
