"""Echo server peer on python-websockets (asyncio).

Usage: py_echo_server.py [--host 127.0.0.1] [--port 0] [--protocols a,b]
                         [--no-compression] [--max-size BYTES]

Prints `LISTENING <port>` once bound. Per connection prints
`CONNECTION {"path", "protocol", "extensions", "requestProtocols",
"requestExtensions"}` and, when it ends, `CLOSED {"code", "reason"}`.
Echoes text as text and binary as binary; the library echoes the peer's close
code and reason in its own close frame. Subprotocol choice: the first of
--protocols (server preference order) that the client offered, else none.
Works with websockets 10.x-12.x (legacy API) and >= 13 (websockets.asyncio).
"""

import argparse
import asyncio
import json
import signal
import sys

import websockets

try:  # websockets >= 13
    from websockets.asyncio.server import serve as _serve

    NEW_API = True
except ImportError:  # websockets < 13: legacy API
    _serve = websockets.serve
    NEW_API = False


def emit(kind, payload=None):
    line = kind if payload is None else f"{kind} {json.dumps(payload)}"
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def request_info(ws):
    if NEW_API:
        return ws.request.path, ws.request.headers, ws.response.headers
    return ws.path, ws.request_headers, ws.response_headers


async def echo(ws, *_path):
    path, req_headers, resp_headers = request_info(ws)
    emit(
        "CONNECTION",
        {
            "path": path,
            "protocol": ws.subprotocol,
            "extensions": resp_headers.get("Sec-WebSocket-Extensions"),
            "requestProtocols": req_headers.get("Sec-WebSocket-Protocol"),
            "requestExtensions": req_headers.get("Sec-WebSocket-Extensions"),
        },
    )
    try:
        async for message in ws:
            await ws.send(message)
    except websockets.exceptions.ConnectionClosed:
        pass
    await ws.wait_closed()
    emit("CLOSED", {"code": ws.close_code, "reason": ws.close_reason})


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--protocols", default="")
    parser.add_argument("--no-compression", action="store_true")
    parser.add_argument("--max-size", type=int, default=64 * 1024 * 1024)
    args = parser.parse_args()
    protocols = [p for p in args.protocols.split(",") if p]

    options = {
        "compression": None if args.no_compression else "deflate",
        "max_size": args.max_size,
    }
    if protocols:
        options["subprotocols"] = protocols
        if NEW_API:
            options["select_subprotocol"] = lambda _conn, offered: next(
                (p for p in protocols if p in offered), None
            )
        else:
            options["select_subprotocol"] = lambda offered, server: next(
                (p for p in server if p in offered), None
            )

    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)

    async with _serve(echo, args.host, args.port, **options) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        emit(f"LISTENING {port}")
        await stop


if __name__ == "__main__":
    asyncio.run(main())
