#!/usr/bin/env python3
"""The payment flow's fraud-check wait, as a Python worker: py.payment.

    authorize  asks the (simulated) provider; a card ending 0003 is
               "pending a fraud check": the run waits, holding no worker,
               for the signal `fraud_check` ({"approved": true|false,
               "reason": "..."}), up to input.fraud_check_timeout_s
               (default one day); then the attempt fails and is retried
    capture    captures the authorized amount

    python3 examples/python/fraud_check.py --server localhost:7420
    cueball enqueue py.payment --input '{"amount_cents":1200,"card":"4000000000000003"}'
    cueball signal RUN_ID fraud_check --payload '{"approved":true}'
"""

import argparse
import logging
import os

import cueball


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--server", default=os.environ.get("CUEBALL_SERVER", "localhost:7420"))
    ap.add_argument("--token", default=os.environ.get("CUEBALL_TOKEN"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    client = cueball.Client(args.server, token=args.token)
    worker = cueball.Worker(client, slots=8)
    payment = worker.workflow("py.payment", "a card payment that may wait for a fraud check")

    @payment.step("authorize", retry=cueball.Retry(max_attempts=3, initial=1.0))
    def authorize(ctx: cueball.StepContext):
        card = str(ctx.input.get("card", ""))
        if not card.isdigit() or not 12 <= len(card) <= 19:
            raise cueball.PermanentError("input.card must be 12 to 19 digits")
        ctx.state["payment_id"] = "pay_" + ctx.run_id[:8]
        if card.endswith("0002"):
            raise cueball.PermanentError(f"authorization declined (card ending {card[-4:]})")
        if not card.endswith("0003"):
            ctx.state["fraud_check"] = "not needed"
            return {"authorization": "auth_" + ctx.state["payment_id"]}
        # Pending a fraud check: the provider reports its outcome later.
        check = ctx.take_signal("fraud_check")
        if check is None:
            ctx.state["fraud_check"] = "pending"
            return cueball.WaitForSignal(
                "fraud_check", timeout=float(ctx.input.get("fraud_check_timeout_s", 86400))
            )
        p = check.payload
        if not isinstance(p, dict) or not isinstance(p.get("approved"), bool):
            raise cueball.PermanentError(
                f'signal fraud_check #{check.seq}: payload must be {{"approved": true|false}}'
            )
        if not p["approved"]:
            ctx.state["fraud_check"] = "rejected"
            raise cueball.PermanentError("fraud check rejected the payment: " + p.get("reason", ""))
        ctx.state["fraud_check"] = "approved"
        return {"authorization": "auth_" + ctx.state["payment_id"], "fraud_check": "approved"}

    @payment.step("capture")
    def capture(ctx: cueball.StepContext):
        return {
            "payment_id": ctx.state["payment_id"],
            "captured_cents": ctx.input["amount_cents"],
            "fraud_check": ctx.state["fraud_check"],
        }

    worker.run()


if __name__ == "__main__":
    main()
