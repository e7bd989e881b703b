"""cueball: the Python client and worker SDK for cueballd.

    import cueball

    client = cueball.Client("localhost:7420")
    run = client.enqueue("py.greet", {"name": "ada"})
    done = client.wait([run.id])[0]

    worker = cueball.Worker(client, slots=16)
    greet = worker.workflow("py.greet")

    @greet.step("greet")
    def greet_step(ctx):
        ctx.state["greeting"] = "hello, " + ctx.input["name"]

    @greet.step("shout")
    def shout(ctx):
        return ctx.state["greeting"].upper()

    worker.run()  # until SIGTERM or SIGINT: drains, then gives leases back

The gRPC stubs (cueball.v1) are generated from the daemon's proto files
with Debian's protoc and grpc_python_plugin when the package is built or
installed (client/python/install.sh).
"""

from cueball.client import Blob, CallError, Client, Event, Run, Signal
from cueball.outcomes import (
    Complete,
    Defer,
    Next,
    PermanentError,
    Release,
    RetryableError,
    Sleep,
    WaitForRuns,
    WaitForSignal,
)
from cueball.worker import Retry, StepContext, Worker, Workflow

__all__ = [
    "Blob",
    "CallError",
    "Client",
    "Complete",
    "Defer",
    "Event",
    "Next",
    "PermanentError",
    "Release",
    "Retry",
    "RetryableError",
    "Run",
    "Signal",
    "Sleep",
    "StepContext",
    "WaitForRuns",
    "WaitForSignal",
    "Worker",
    "Workflow",
]
