"""Run a Sanic app with channel blueprints on a free 127.0.0.1 port in a background thread."""

from __future__ import annotations

import asyncio
import socket
import threading
import uuid
from typing import Any, Awaitable, Callable, List, Optional

from sanic import Sanic


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EchoAgent:
    """Stand-in for Rasa's agent: replies `echo: <text>` (and buttons on request)."""

    def __init__(self, reply: Optional[Callable[[Any], Awaitable[None]]] = None) -> None:
        self.messages: List[Any] = []
        self.reply = reply

    async def __call__(self, message: Any) -> None:
        self.messages.append(message)
        if self.reply is not None:
            await self.reply(message)
            return
        await message.output_channel.send_text_message(message.sender_id, f"echo: {message.text}")


class ServerThread:
    """`with ServerThread(channels, on_new_message) as server: server.url`"""

    def __init__(self, channels: List[Any], on_new_message: Callable, port: Optional[int] = None) -> None:
        self.channels = channels
        self.on_new_message = on_new_message
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.loop: Optional[asyncio.AbstractEventLoop] = None
        self._ready = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._error: Optional[BaseException] = None

    def _run(self) -> None:
        loop = self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            app = Sanic(f"test_{uuid.uuid4().hex[:8]}")
            Sanic.test_mode = True  # lets several apps run touch-ups in one process
            for channel in self.channels:
                app.blueprint(channel.blueprint(self.on_new_message), url_prefix=f"/webhooks/{channel.url_prefix()}")
            self.app = app

            async def boot():  # type: ignore[no-untyped-def]
                server = await app.create_server(
                    host="127.0.0.1", port=self.port, return_asyncio_server=True, access_log=False
                )
                await server.startup()
                await server.before_start()
                await server.start_serving()
                await server.after_start()
                return server

            server = self.server = loop.run_until_complete(boot())
        except BaseException as error:  # pragma: no cover - surfaced in start()
            self._error = error
            self._ready.set()
            return
        self._ready.set()
        loop.run_forever()
        try:
            self._shutdown(loop, server)
        finally:
            loop.close()

    @staticmethod
    def _shutdown(loop: asyncio.AbstractEventLoop, server: Any) -> None:
        """Stop like Sanic's own runner: close idle connections, abort the rest (open
        event streams, keep-alive clients) and finish every task, so nothing of this
        server is left for the garbage collector to tear down during a later test."""
        loop.run_until_complete(server.before_stop())
        server.close()
        loop.run_until_complete(server.wait_closed())
        for connection in list(server.connections):
            connection.close_if_idle()
        for _ in range(40):
            if not server.connections:
                break
            loop.run_until_complete(asyncio.sleep(0.05))
        for connection in list(server.connections):
            connection.abort()
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(server.after_stop())
        loop.run_until_complete(loop.shutdown_asyncgens())

    def call(self, coro: Awaitable[Any], timeout: float = 30) -> Any:
        """Run a coroutine on the server's loop and wait for its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def __enter__(self) -> "ServerThread":
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error:
            raise self._error
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.loop is not None:
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join(15)
