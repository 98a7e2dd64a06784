"""Where live events come from: UDP packets as faery and aestream send them (`UdpSource`,
decoded here with numpy by `decode_packet`), or a recording replayed at its own pace
(`replay`). Both give ``(events, arrived)`` pairs: a structured array with fields t (int64
microseconds), x, y, p, in time order, and the ``time.perf_counter()`` at which it came.

numpy and the standard library only.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import numpy as np

EVENTS = np.dtype([("t", "<i8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")])
"""The events the live pipeline passes on."""

UDP_FORMATS = {
    # faery's EVENTS_DTYPE, packed: 13 bytes per event
    "t64_x16_y16_on8": np.dtype([("t", "<u8"), ("x", "<u2"), ("y", "<u2"), ("p", "u1")]),
    # 8 bytes: t (32 bits, wraps), x, then y << 1 | on
    "t32_x16_y15_on1": np.dtype([("t", "<u4"), ("x", "<u2"), ("yp", "<u2")]),
}

BAD_KINDS = ("short", "size", "backwards", "outside")
"""Why a packet is skipped: shorter than one event, not a whole number of events, a timestamp
before the one ahead of it, an event outside the sensor (or a polarity >= P)."""


class PacketDecoder:
    """Packets (bytes) of one UDP format -> events, with the checks a live stream needs: each
    bad packet is counted by kind (`bad`, keys `BAD_KINDS`) and skipped, never raised.

    ``t32_x16_y15_on1`` timestamps wrap at 2**32 us (71 min): a packet more than 2**31 us
    before the one ahead of it is read as a wrap (as faery's decoder reads it), not as going
    backwards.
    """

    def __init__(self, fmt: str, sensor_size: tuple[int, int, int]) -> None:
        if fmt not in UDP_FORMATS:
            raise ValueError(f"unknown UDP format {fmt!r}: expected one of {sorted(UDP_FORMATS)}")
        self.fmt, self.dtype = fmt, UDP_FORMATS[fmt]
        self.width, self.height, self.polarities = (int(v) for v in sensor_size)
        self.bad = dict.fromkeys(BAD_KINDS, 0)
        self.last_t: int | None = None
        self.offset = 0  # added to t32 timestamps after each wrap

    def __call__(self, data: bytes) -> np.ndarray | None:
        """The events [N] of one packet, or None (counted in `bad`)."""
        size = self.dtype.itemsize
        if len(data) < size:
            return self._skip("short")
        if len(data) % size:
            return self._skip("size")
        raw = np.frombuffer(data, self.dtype)
        events = np.empty(len(raw), EVENTS)
        events["x"] = raw["x"]
        if self.fmt == "t32_x16_y15_on1":
            t = raw["t"].astype(np.int64) + self.offset
            if self.last_t is not None and self.last_t - t[0] > 2**31:
                self.offset += 2**32
                t += 2**32
            events["y"], events["p"] = raw["yp"] >> 1, raw["yp"] & 1
        else:
            if raw["t"].max() >= 2**63:
                return self._skip("backwards")  # not a time int64 holds
            t = raw["t"].astype(np.int64)
            events["y"], events["p"] = raw["y"], raw["p"]
        events["t"] = t
        if np.any(np.diff(t) < 0) or (self.last_t is not None and t[0] < self.last_t):
            return self._skip("backwards")
        x, y, p = events["x"], events["y"], events["p"]
        if (x >= self.width).any() or (y >= self.height).any() or (p >= self.polarities).any():
            return self._skip("outside")
        self.last_t = int(t[-1])
        return events

    def _skip(self, kind: str) -> None:
        self.bad[kind] += 1
        return None


class UdpSource:
    """Events from UDP packets on (host, port): the socket is bound at once (OSError if the
    port is taken), `packets` reads it until `stop` is set. `port` is the bound port (port 0
    asks the system for a free one)."""

    def __init__(self, host: str, port: int, decoder: PacketDecoder) -> None:
        self.decoder = decoder
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
            self.socket.bind((host, port))
        except OSError:
            self.socket.close()
            raise
        self.socket.settimeout(0.1)
        self.host, self.port = self.socket.getsockname()[:2]
        self.packets_read = 0

    def packets(self, stop: threading.Event) -> Iterator[tuple[np.ndarray, float]]:
        """(events, arrival time) of each good packet, until `stop` is set; (no events, the
        time) after each 0.1 s without a packet."""
        buffer = bytearray(65536)
        while not stop.is_set():
            try:
                read = self.socket.recv_into(buffer)
            except TimeoutError:
                yield np.empty(0, EVENTS), time.perf_counter()
                continue
            arrived = time.perf_counter()
            self.packets_read += 1
            events = self.decoder(bytes(buffer[:read]))
            if events is not None:
                yield events, arrived

    def close(self) -> None:
        self.socket.close()


def replay(
    chunks: Iterator[np.ndarray], speed: float, stop: threading.Event, piece_us: int = 1000
) -> Iterator[tuple[np.ndarray, float]]:
    """The chunks of a recording as (events, arrival time) pieces of at most `piece_us` of
    event time each, each given when the wall clock reaches its last event's time (from the
    first event, divided by `speed`); `speed` 0 gives them at once (as fast as they are
    taken). Stops early when `stop` is set."""
    began, first = None, None
    for chunk in chunks:
        if not len(chunk):
            continue
        events = np.empty(len(chunk), EVENTS)
        for name in EVENTS.names:
            events[name] = chunk[name]
        t = events["t"]
        if first is None:
            first, began = int(t[0]), time.perf_counter()
        if speed == 0:
            cuts = [0, len(events)]
        else:
            edges = np.arange(int(t[0]) + piece_us, int(t[-1]) + piece_us, piece_us)
            cuts = [0, *np.unique(np.searchsorted(t, edges)).tolist(), len(events)]
        for low, high in zip(cuts[:-1], cuts[1:], strict=True):
            if high <= low:
                continue
            if stop.is_set():
                return
            piece = events[low:high]
            if speed:
                wait = began + (int(piece["t"][-1]) - first) / 1e6 / speed - time.perf_counter()
                if wait > 0:
                    stop.wait(wait)
            yield piece, time.perf_counter()
