"""A python-websockets peer for test/interop/python.test.ts.

server: echo server on 127.0.0.1, port 0; prints the port, exits when stdin closes.
client URL: runs a scripted exchange against URL and prints one JSON line of results.
"""
import asyncio
import json
import sys

import websockets

SIZES = [0, 1, 125, 126, 65535, 65536, 16 * 1024 * 1024]
MAX_SIZE = 64 * 1024 * 1024


def pattern(size):
    return (bytes(range(256)) * (size // 256 + 1))[:size]


def text(size):
    return "é" * (size // 2) + ("a" if size % 2 else "")


async def echo(ws, path=None):
    path = getattr(ws, "path", path)
    if path == "/close":
        await ws.close(4001, "python server bye")
        return
    if path == "/fragments":
        await ws.send(["frag", "men", "ted"])
    if path == "/ping":
        await (await ws.ping(b"from python"))
    async for message in ws:
        await ws.send(message)


async def serve():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=MAX_SIZE) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


async def client(url):
    results = {}
    async with websockets.connect(url, max_size=MAX_SIZE) as ws:
        for size in SIZES:
            data = pattern(size)
            await ws.send(data)
            results[f"binary {size}"] = await ws.recv() == data
            words = text(size)
            await ws.send(words)
            results[f"text {size}"] = await ws.recv() == words
        await ws.send(["frag", "men", "ted"])
        results["fragmented"] = await ws.recv() == "fragmented"
        pong = await ws.ping(b"from python")
        await asyncio.wait_for(pong, 5)
        results["pong"] = True
        await ws.close(4000, "python done")
        results["close"] = [ws.close_code, ws.close_reason]
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "server":
        asyncio.run(serve())
    else:
        asyncio.run(client(sys.argv[2]))
