"""Hosts of a test's own on one machine: network namespaces on a bridge, and partitions
between them made of nftables DROP rules.

The bridge lives in the test's own namespace and holds its first address, so the test reaches
every host; each host is a namespace with one veth on the bridge.
"""

from __future__ import annotations

import random
import subprocess
from dataclasses import dataclass, field


def run(*command: str) -> None:
    subprocess.run(command, check=True, capture_output=True, text=True)


@dataclass
class HostNetwork:
    suffix: str = field(default_factory=lambda: f"{random.randrange(16**4):04x}")
    subnet: int = field(default_factory=lambda: random.randrange(1, 250))
    hosts: dict[str, str] = field(default_factory=dict)  # name → address

    @property
    def bridge(self) -> str:
        return f"mpbr{self.suffix}"

    def __enter__(self) -> HostNetwork:
        run("ip", "link", "add", self.bridge, "type", "bridge")
        run("ip", "addr", "add", f"{self.address(1)}/24", "dev", self.bridge)
        run("ip", "link", "set", self.bridge, "up")
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.hosts:
            subprocess.run(["ip", "netns", "del", self.namespace(name)], capture_output=True)
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)

    def address(self, host_number: int) -> str:
        return f"10.213.{self.subnet}.{host_number}"

    def namespace(self, name: str) -> str:
        return f"mp-{name}-{self.suffix}"

    def add_host(self, name: str) -> str:
        """A namespace with loopback and one address on the bridge; returns the address."""
        address = self.address(2 + len(self.hosts))
        namespace, outside = self.namespace(name), f"mpv{len(self.hosts)}{self.suffix}"
        run("ip", "netns", "add", namespace)
        self.hosts[name] = address
        run("ip", "link", "add", outside, "type", "veth", "peer", "name", "eth0",
            "netns", namespace)  # fmt: skip
        run("ip", "link", "set", outside, "master", self.bridge)
        run("ip", "link", "set", outside, "up")
        run("ip", "-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
        run("ip", "-n", namespace, "link", "set", "eth0", "up")
        run("ip", "-n", namespace, "link", "set", "lo", "up")
        return address

    def launcher(self, name: str) -> tuple[str, ...]:
        """The prefix that runs a command on the host `name`."""
        return ("ip", "netns", "exec", self.namespace(name))

    def partition(self, name: str, peer: str) -> None:
        """Drop, silently, every packet between host `name` and host `peer`."""
        address = self.hosts[peer]
        rules = f"""
            table inet partition {{
                chain input {{ type filter hook input priority 0; ip saddr {address} drop; }}
                chain output {{ type filter hook output priority 0; ip daddr {address} drop; }}
            }}
        """
        subprocess.run([*self.launcher(name), "nft", "-f", "-"], input=rules, check=True,
                       capture_output=True, text=True)  # fmt: skip

    def heal(self, name: str) -> None:
        run(*self.launcher(name), "nft", "delete", "table", "inet", "partition")
