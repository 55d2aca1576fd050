#!/usr/bin/env python3
"""Interop peer for asyncforge's webhook tests, built on the Standard Webhooks reference
library (`pip install standardwebhooks`).

Reads one JSON object on stdin and runs one command:

  verify  {"secret", "headers": {...}, "body"}      exit 0 when the reference accepts it
  sign    {"secret", "id", "timestamp", "body"}     prints the `webhook-signature` value
  post    {"secret", "id", "body", "url"}           signs now, POSTs to url, prints the status

Exit code 3 means the library is missing (the Rust test then skips with a notice).
"""
import json
import sys
import urllib.error
import urllib.request
from datetime import datetime, timezone

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    print("standardwebhooks is not installed", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    command = sys.argv[1]
    req = json.load(sys.stdin)
    wh = Webhook(req["secret"])
    if command == "verify":
        try:
            wh.verify(req["body"], req["headers"], json_parse=False)
        except WebhookVerificationError as e:
            print(f"rejected: {e}")
            return 1
        print("ok")
        return 0
    if command == "sign":
        ts = datetime.fromtimestamp(int(req["timestamp"]), tz=timezone.utc)
        print(wh.sign(req["id"], ts, req["body"]))
        return 0
    if command == "post":
        now = datetime.now(tz=timezone.utc)
        signature = wh.sign(req["id"], now, req["body"])
        http_req = urllib.request.Request(
            req["url"],
            data=req["body"].encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "webhook-id": req["id"],
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            },
        )
        # Loopback only: never through a proxy from the environment.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(http_req, timeout=10) as resp:
                print(resp.status)
        except urllib.error.HTTPError as e:
            print(e.code)
        return 0
    print(f"unknown command {command}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
