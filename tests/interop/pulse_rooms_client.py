#!/usr/bin/env python3
"""A peer no one on asyncforge wrote: the `websockets` library (PyPI) against the server
generated from specs/pulse-rooms.yaml.

Usage: pulse_rooms_client.py WS_BASE ORIGIN

WS_BASE is `ws://host:port` of the generated server, ORIGIN an Origin the server allows.
The script joins a room with two connections and checks relaying, sends invalid payloads,
an oversized frame, makes upgrades the server must refuse, pings the lobby (request/reply
correlated by `requestId`) and answers the server's own `whoAreYou` request. It prints one
JSON summary line on stdout; the Rust test `wire::interop` asserts on it. Any failure is
reported in the summary's `error` field and by a non-zero exit status.
"""

import asyncio
import json
import sys
import uuid

import websockets
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

TIMEOUT = 10.0
AGENT = f"python-websockets/{websockets.__version__}"


async def next_matching(ws, predicate, what):
    """The next JSON message on `ws` for which `predicate` holds (others are skipped)."""

    async def loop():
        while True:
            message = json.loads(await ws.recv())
            if predicate(message):
                return message

    try:
        return await asyncio.wait_for(loop(), TIMEOUT)
    except asyncio.TimeoutError:
        raise RuntimeError(f"timed out waiting for {what}") from None


async def rooms(base, origin, summary):
    room = f"{base}/ws/rooms/py"
    headers = {"X-Client-Version": "3.11"}
    async with connect(f"{room}?nick=py_ann", origin=origin, additional_headers=headers) as ann:
        summary["presence"] = await next_matching(
            ann, lambda m: m.get("nick") == "py_ann", "own presence"
        )
        async with connect(f"{room}?nick=py_bob", origin=origin) as bob:
            await next_matching(
                ann,
                lambda m: m.get("nick") == "py_bob" and m.get("state") == "joined",
                "py_bob joining",
            )
            # The Rust test's generated client posts once it sees py_bob join.
            from_rust = await next_matching(
                ann, lambda m: m.get("from") == "rustpeer", "the Rust peer's post"
            )
            await ann.send(json.dumps({"text": "hello from python"}))
            at_bob = await next_matching(
                bob, lambda m: m.get("text") == "hello from python", "relay to py_bob"
            )
            at_ann = await next_matching(
                ann, lambda m: m.get("text") == "hello from python", "relay to py_ann"
            )
            summary["relay"] = {
                "fromRust": from_rust,
                "atBob": at_bob,
                "sameSeq": at_bob["seq"] == at_ann["seq"],
            }

            errors = {}
            for key, frame in [
                ("empty", '{"text": ""}'),
                ("extra", '{"text": "hi", "mood": 1}'),
                ("notJson", "not json at all"),
                ("refused", '{"text": "forbidden"}'),
            ]:
                await ann.send(frame)
                reply = await next_matching(ann, lambda m: "error" in m, f"error for {key}")
                errors[key] = reply["error"]
            summary["errors"] = errors
            # The connection survived every invalid message.
            await ann.send(json.dumps({"text": "still open"}))
            after = await next_matching(
                bob, lambda m: m.get("text") == "still open", "post after the errors"
            )
            summary["afterErrors"] = after["from"]

            # A frame over the server's maximum message size ends the connection with 1009.
            await ann.send(json.dumps({"text": "x" * 100_000}))
            try:
                await next_matching(ann, lambda m: False, "the close after an oversized frame")
                summary["oversized"] = {"code": None}
            except ConnectionClosed as closed:
                frame = closed.rcvd
                summary["oversized"] = {
                    "code": frame.code if frame else None,
                    "reason": frame.reason if frame else None,
                }


async def refused(url, **options):
    """The HTTP status (and body) of an upgrade; 101 when it was accepted."""
    try:
        async with connect(url, **options):
            return {"status": 101}
    except InvalidStatus as refusal:
        body = refusal.response.body or b""
        return {"status": refusal.response.status_code, "body": body.decode("utf-8", "replace")}


async def upgrades(base, origin, summary):
    room = f"{base}/ws/rooms/py"
    summary["upgrades"] = {
        "badNick": await refused(f"{room}?nick=bad%20nick", origin=origin),
        "missingNick": await refused(room, origin=origin),
        "badHeader": await refused(
            f"{room}?nick=ok", origin=origin, additional_headers={"X-Client-Version": "one"}
        ),
        "forbiddenOrigin": await refused(f"{room}?nick=ok", origin="http://evil.example"),
        "noOrigin": await refused(f"{room}?nick=ok"),
        "allowed": await refused(f"{room}?nick=ok", origin=origin),
    }


async def lobby(base, origin, summary):
    async with connect(f"{base}/ws/lobby", origin=origin) as ws:
        pongs = {}
        unordered = []
        asked = []
        errors = []
        waiters = {}

        async def reader():
            async for raw in ws:
                message = json.loads(raw)
                event = message.get("event")
                if event == "pong":
                    request_id = message.get("requestId")
                    if request_id is None:
                        unordered.append(message)
                    else:
                        pongs[request_id] = message
                elif event == "whoAreYou":
                    # The server's request: answer with the same correlation id.
                    asked.append(message["requestId"])
                    await ws.send(
                        json.dumps(
                            {"event": "iAm", "requestId": message["requestId"], "agent": AGENT}
                        )
                    )
                elif "error" in message:
                    errors.append(message["error"])
                for key, (check, done) in list(waiters.items()):
                    if check() and not done.done():
                        done.set_result(None)
                        del waiters[key]

        async def until(key, check, what):
            if check():
                return
            done = asyncio.get_running_loop().create_future()
            waiters[key] = (check, done)
            try:
                await asyncio.wait_for(done, TIMEOUT)
            except asyncio.TimeoutError:
                raise RuntimeError(f"timed out waiting for {what}") from None

        task = asyncio.create_task(reader())
        try:
            ids = [str(uuid.uuid4()) for _ in range(5)]
            for request_id in ids:
                await ws.send(json.dumps({"event": "ping", "requestId": request_id}))
            await until("pongs", lambda: all(i in pongs for i in ids), "five pongs")
            # Without a requestId the reply carries none.
            await ws.send(json.dumps({"event": "ping"}))
            await until("unordered", lambda: len(unordered) == 1, "the pong without id")
            # A requestId that is not a UUID, and a reply to a request never made.
            await ws.send(json.dumps({"event": "ping", "requestId": "not-a-uuid"}))
            await until("bad id", lambda: len(errors) == 1, "the error for a bad requestId")
            await ws.send(
                json.dumps({"event": "iAm", "requestId": str(uuid.uuid4()), "agent": AGENT})
            )
            await until("stray", lambda: len(errors) == 2, "the error for a stray reply")
            # The Rust test asks this connection who it is once it sees it open.
            await until("asked", lambda: len(asked) == 1, "the server's whoAreYou")
            # A ping/pong round trip: the answer left before the connection closes.
            await asyncio.wait_for(await ws.ping(), TIMEOUT)
        finally:
            task.cancel()
        summary["lobby"] = {
            "sent": ids,
            "matched": [pongs[i]["requestId"] == i and pongs[i]["event"] == "pong" for i in ids],
            "serverTimes": [pongs[i]["serverTime"] for i in ids],
            "withoutId": unordered[0],
            "errors": errors,
            "asked": asked,
            "agent": AGENT,
        }


async def main(base, origin):
    summary = {"websockets": websockets.__version__}
    try:
        await rooms(base, origin, summary)
        await upgrades(base, origin, summary)
        await lobby(base, origin, summary)
    except Exception as failure:  # reported to the Rust test, which prints it
        summary["error"] = f"{type(failure).__name__}: {failure}"
    print(json.dumps(summary))
    return 1 if "error" in summary else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(asyncio.run(main(sys.argv[1], sys.argv[2])))
