"""Worker processes that each listen on a socket of their own, on one port (SO_REUSEPORT).

uvicorn's own ``--workers`` share one listening socket, and a worker's event loop
accepts every connection waiting when it wakes: a burst of new connections (a client
opening its pool) lands mostly on one worker, which then serves those connections
for their whole life (32 keep-alive connections under load: one worker at 86 % of a
core, the other at 57 %). With a socket per worker, Linux hands each new connection
to one of the sockets by a hash of its addresses, so connections spread evenly.

The supervisor is uvicorn's (it starts the workers, restarts one that dies, and on
SIGTERM or Ctrl-C stops them all after their requests in flight); only the socket
each worker gets differs. Only processes of the same user can join the port's group.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess

logger = logging.getLogger("uvicorn.error")


def serve_workers(config: uvicorn.Config) -> None:
    """Serve ``config`` (an app factory's import string) with ``config.workers`` processes."""
    try:
        # A port in use is refused as uvicorn refuses it, even by a server of ours:
        # with SO_REUSEPORT alone, a second server would silently take half the
        # connections of the first.
        with socket.create_server((config.host, config.port), family=_family(config.host)) as probe:
            port = probe.getsockname()[1]  # a free one for port 0
        # Bound, never listening: it holds the port while the server runs, and receives
        # no connection (only listening sockets do).
        holder = reuse_port_socket(config.host, port)
    except OSError as exc:
        logger.error(exc)
        sys.exit(STARTUP_FAILURE)
    with holder:
        config.port = holder.getsockname()[1]
        scheme = "https" if config.is_ssl else "http"
        where = f"[{config.host}]" if ":" in config.host else config.host
        logger.info(f"Uvicorn running on {scheme}://{where}:{config.port} (Press CTRL+C to quit)")
        # Ctrl-C before the supervisor's signal handler is set ends here, quietly.
        with contextlib.suppress(KeyboardInterrupt):
            OwnSocketSupervisor(config).run()


class OwnSocketSupervisor(Multiprocess):
    """uvicorn's supervisor, giving each worker it starts (or restarts) a socket of its own."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config, sockets=[])

    @property
    def sockets(self) -> list[socket.socket]:
        """A new socket on the port, each time: uvicorn's ``Multiprocess`` reads this
        attribute whenever it starts a worker (the spread is tested in test_workers).

        The worker listens on it; this process keeps its copy until the worker is
        replaced, as it keeps uvicorn's shared socket.
        """
        sock = reuse_port_socket(self.config.host, self.config.port)
        sock.set_inheritable(True)
        return [sock]

    @sockets.setter
    def sockets(self, value: list[socket.socket]) -> None:
        pass  # uvicorn's __init__ sets its shared sockets: there are none


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``(host, port)`` with SO_REUSEPORT, not yet listening."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
