"""Where the app listens: loopback only unless sign-in is configured.

Two checks, because a configured address and what the process is really bound to can differ
(``streamlit run /path/app.py`` without ``--server.address`` binds every interface):

* ``address_problem(host)`` resolves a configured host name and accepts it only when every
  address it resolves to is a loopback address (a name such as ``127.example.org`` that
  resolves elsewhere, or a name that does not resolve, is refused);
* ``listening_addresses()`` reads the TCP sockets this process is listening on from
  ``/proc/net/tcp`` and ``/proc/net/tcp6`` (their inodes matched against ``/proc/self/fd``),
  so a wildcard bind is seen whatever the configuration says.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

UNIX_SOCKET_PREFIX = "unix://"
_LISTEN = "0A"  # TCP state LISTEN in /proc/net/tcp


@dataclass(frozen=True)
class Listening:
    address: str
    port: int

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.address)


def is_loopback(address: str) -> bool:
    """A loopback IP address (an IPv4-mapped IPv6 address counts as its IPv4 address)."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def resolve(host: str) -> tuple[str, ...]:
    """Every address ``host`` resolves to (empty when it does not resolve)."""
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return ()
    return tuple(sorted({str(info[4][0]).split("%")[0] for info in infos}))


def address_problem(host: str | None) -> str | None:
    """Why ``host`` is not loopback-only, or None when every address it names is loopback.

    An unset or empty host means every interface (Streamlit's default)."""
    host = (host or "").strip()
    if host.startswith(UNIX_SOCKET_PREFIX):
        return None  # a Unix socket is not reachable over the network
    if not host:
        return "no server address is set, so the server listens on every interface"
    literal = host.strip("[]")
    try:
        addresses: tuple[str, ...] = (str(ipaddress.ip_address(literal)),)
    except ValueError:
        addresses = resolve(host)
        if not addresses:
            return f"{host} does not resolve to any address"
    outside = [a for a in addresses if not is_loopback(a)]
    if outside:
        return f"{host} is not a loopback address (it resolves to {', '.join(outside)})"
    return None


def _socket_inodes(pid: str) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return inodes
    for name in names:
        try:
            target = os.readlink(fd_dir / name)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    return inodes


def _decode(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    # /proc prints each 32-bit word in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def parse_proc_net(text: str, inodes: set[str]) -> tuple[Listening, ...]:
    """The listening sockets among ``inodes`` in one /proc/net/tcp or tcp6 table."""
    found = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != _LISTEN or parts[9] not in inodes:
            continue
        hex_addr, hex_port = parts[1].split(":")
        found.append(Listening(_decode(hex_addr), int(hex_port, 16)))
    return tuple(found)


def listening_addresses(pid: str = "self") -> tuple[Listening, ...]:
    """The TCP addresses the process ``pid`` listens on (empty where /proc is unavailable)."""
    inodes = _socket_inodes(pid)
    found: set[Listening] = set()
    for table in ("tcp", "tcp6"):
        try:
            text = Path(f"/proc/{pid}/net/{table}").read_text()
        except OSError:
            continue
        found.update(parse_proc_net(text, inodes))
    return tuple(sorted(found, key=lambda s: (s.address, s.port)))


def serving_problem(host: str | None, pid: str = "self") -> str | None:
    """Why the app would be reachable from other machines, or None when it is not: the
    configured address and every socket the process actually listens on must be loopback."""
    problem = address_problem(host)
    if problem:
        return problem
    outside = [s for s in listening_addresses(pid) if not s.is_loopback]
    if outside:
        shown = ", ".join(f"{s.address}:{s.port}" for s in outside)
        return f"this process listens on {shown}, which other machines can reach"
    return None
