"""Scripted client peer on python-websockets (asyncio).

Usage: py_client.py URL (--messages JSON | --messages-file PATH)
                    [--protocols a,b] [--no-compression]
                    [--close-code 1000] [--close-reason bye]
                    [--max-size BYTES] [--timeout SECONDS]

Messages: a JSON array of {"text": str} or {"binary": base64}. Sends them all,
reads as many back, closes with --close-code/--close-reason, then prints one
line `RESULT {"received", "protocol", "extensions", "closeCode",
"closeReason"}`: received in the same shape, the negotiated subprotocol (null
if none), the response's Sec-WebSocket-Extensions header (null if none), and
the close code/reason the server sent back. On failure prints
`ERROR <message>` and exits 1.
"""

import argparse
import asyncio
import base64
import json
import sys

import websockets

try:  # websockets >= 13
    from websockets.asyncio.client import connect as _connect

    NEW_API = True
except ImportError:  # websockets < 13: legacy API
    _connect = websockets.connect
    NEW_API = False


def encode(message):
    if isinstance(message, str):
        return {"text": message}
    return {"binary": base64.b64encode(message).decode("ascii")}


def decode(item):
    if "text" in item:
        return item["text"]
    return base64.b64decode(item["binary"])


async def run(args):
    if args.messages_file:
        with open(args.messages_file, encoding="utf-8") as f:
            messages = json.load(f)
    else:
        messages = json.loads(args.messages or "[]")
    protocols = [p for p in args.protocols.split(",") if p]
    options = {
        "compression": None if args.no_compression else "deflate",
        "max_size": args.max_size,
    }
    if protocols:
        options["subprotocols"] = protocols
    async with _connect(args.url, **options) as ws:
        headers = ws.response.headers if NEW_API else ws.response_headers
        for item in messages:
            await ws.send(decode(item))
        received = [encode(await ws.recv()) for _ in messages]
        await ws.close(args.close_code, args.close_reason)
        return {
            "received": received,
            "protocol": ws.subprotocol,
            "extensions": headers.get("Sec-WebSocket-Extensions"),
            "closeCode": ws.close_code,
            "closeReason": ws.close_reason,
        }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--messages")
    parser.add_argument("--messages-file")
    parser.add_argument("--protocols", default="")
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--close-code", type=int, default=1000)
    parser.add_argument("--close-reason", default="bye")
    parser.add_argument("--max-size", type=int, default=64 * 1024 * 1024)
    parser.add_argument("--timeout", type=float, default=15)
    args = parser.parse_args()
    try:
        result = asyncio.run(asyncio.wait_for(run(args), args.timeout))
    except Exception as error:  # report every failure on one line
        sys.stdout.write(f"ERROR {type(error).__name__}: {error}\n")
        sys.exit(1)
    sys.stdout.write("RESULT " + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
