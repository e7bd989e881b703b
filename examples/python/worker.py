#!/usr/bin/env python3
"""A cueball worker in Python: serves py.greet, a two-step workflow type.

    greet  puts "hello, NAME" in the run's state, from the input's `name`
    shout  upper-cases it into the run's result

    python3 examples/python/worker.py --server localhost:7420
    cueball enqueue py.greet --input '{"name":"ada"}' --wait   # result "HELLO, ADA"

Runs until SIGTERM or SIGINT; then finishes the steps it is running (for
up to --grace seconds) and gives back the rest.
"""

import argparse
import logging
import os

import cueball


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=os.environ.get("CUEBALL_SERVER", "localhost:7420"))
    ap.add_argument("--token", default=os.environ.get("CUEBALL_TOKEN"))
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--grace", type=float, default=10.0)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    client = cueball.Client(args.server, token=args.token)
    worker = cueball.Worker(client, slots=args.slots, grace=args.grace)
    greet = worker.workflow("py.greet", "greets by name, then shouts it")

    @greet.step("greet", retry=cueball.Retry(max_attempts=3), timeout=30)
    def greet_step(ctx: cueball.StepContext) -> None:
        name = (ctx.input or {}).get("name")
        if not isinstance(name, str) or not name:
            raise cueball.PermanentError("input.name must be a non-empty string")
        ctx.state["greeting"] = f"hello, {name}"

    @greet.step("shout")
    def shout(ctx: cueball.StepContext) -> str:
        return ctx.state["greeting"].upper()

    worker.run()


if __name__ == "__main__":
    main()
