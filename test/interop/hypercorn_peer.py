"""An RFC 8441 server for our client's interop tests: Debian's hypercorn (python3-hypercorn), which serves
WebSockets over HTTP/1.1 and HTTP/2, running a small ASGI echo app over TLS. Prints its port, then serves
until stdin closes. Usage: hypercorn_peer.py CERTFILE KEYFILE

The app accepts the subprotocol "chat" when offered, echoes text and binary messages, answers the text
"who?" with "<http_version> <client port>" (so a test sees HTTP/2, and which connection a stream came on),
and closes with 1000 "server says bye" on the text "close!"."""
import asyncio
import socket
import sys
import threading

from hypercorn.asyncio import serve
from hypercorn.config import Config


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "websocket":
        return
    await receive()  # websocket.connect
    offered = scope.get("subprotocols") or []
    await send({"type": "websocket.accept", "subprotocol": "chat" if "chat" in offered else None})
    while True:
        event = await receive()
        if event["type"] == "websocket.disconnect":
            return
        if event.get("text") == "close!":
            await send({"type": "websocket.close", "code": 1000, "reason": "server says bye"})
        elif event.get("text") == "who?":
            who = f"{scope['http_version']} {scope['client'][1]}"
            await send({"type": "websocket.send", "text": who})
        elif event.get("bytes") is not None:
            await send({"type": "websocket.send", "bytes": event["bytes"]})
        else:
            await send({"type": "websocket.send", "text": event["text"]})


async def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    # Listening before the port is printed: hypercorn listens only once it has started, and a test that
    # connects at once (on a loaded machine) would be refused.
    listener.listen(100)
    config = Config()
    config.bind = [f"fd://{listener.fileno()}"]
    config.certfile, config.keyfile = sys.argv[1], sys.argv[2]
    config.accesslog = None
    config.errorlog = None
    print(listener.getsockname()[1], flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # Stop when stdin closes (the test ends us), read by a thread so any kind of stdin will do.
    threading.Thread(target=lambda: (sys.stdin.read(), loop.call_soon_threadsafe(stop.set)), daemon=True).start()
    await serve(app, config, shutdown_trigger=stop.wait)


asyncio.run(main())
