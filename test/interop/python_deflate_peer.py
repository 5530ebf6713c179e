"""A python-websockets peer with permessage-deflate for test/interop/deflate-python.test.ts.

server PARAMS: echo server on 127.0.0.1:0 with PARAMS (JSON: ServerPerMessageDeflateFactory keyword
    arguments, or "default" for websockets' own default compression); prints the port, exits when stdin
    closes. A text message "?extensions" is answered with the Sec-WebSocket-Extensions it sent.
client URL PARAMS: connects with PARAMS (ClientPerMessageDeflateFactory arguments or "default"), sends
    compressible and incompressible messages, checks the echoes, prints one JSON line of results.
"""
import asyncio
import json
import random
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)

MAX_SIZE = 64 * 1024 * 1024


def json_text(size, seed):
    items = []
    text = "["
    i = seed
    while len(text) < size:
        text += json.dumps({"id": i, "name": f"user{i % 89}", "online": i % 3 == 0}) + ","
        i += 1
    return text[:size]


def messages():
    rng = random.Random(7)
    yield ""
    yield "short"
    for seed, size in enumerate([1024, 1024, 5000, 65536, 1 << 20]):
        yield json_text(size, seed)
    yield "é" * 3000
    yield bytes(rng.getrandbits(8) for _ in range(70_000))
    yield json_text(200_000, 9).encode()


def extensions(params, factory):
    if params == "default":
        return None  # websockets compresses by default
    return [factory(**params)]


async def echo(ws, path=None):
    async for message in ws:
        if message == "?extensions":
            await ws.send(ws.response_headers.get("Sec-WebSocket-Extensions", ""))
        else:
            await ws.send(message)


async def serve(params):
    async with websockets.serve(
        echo,
        "127.0.0.1",
        0,
        max_size=MAX_SIZE,
        extensions=extensions(params, ServerPerMessageDeflateFactory),
    ) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def client(url, params):
    results = {"echoes": [], "extensions": None}
    async with websockets.connect(
        url, max_size=MAX_SIZE, extensions=extensions(params, ClientPerMessageDeflateFactory)
    ) as ws:
        results["extensions"] = ws.response_headers.get("Sec-WebSocket-Extensions", "")
        for message in messages():
            await ws.send(message)
            results["echoes"].append(await ws.recv() == message)
        await ws.send(["frag" * 1000, "men" * 1000, "ted" * 1000])
        results["echoes"].append(await ws.recv() == "frag" * 1000 + "men" * 1000 + "ted" * 1000)
        await ws.close(1000, "python done")
        results["close"] = ws.close_code
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(serve(json.loads(sys.argv[2])))
    else:
        asyncio.run(client(sys.argv[2], json.loads(sys.argv[3])))
