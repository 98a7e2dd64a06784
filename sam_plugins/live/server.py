"""The live page over HTTP (the standard library's ThreadingHTTPServer in a thread). It serves
three things and nothing else (404): ``/`` the page, ``/state.json`` the numbers, and
``/frame.html`` the latest step drawn by the viewer (`sam_plugins.viewer.live.frame_html`). No
file is read on request; every name shown is escaped by the viewer or set as text by the page.
"""

from __future__ import annotations

import html
import ipaddress
import json
import secrets
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

POLL_MS = 100
"""How often the page asks for the state (10 times a second)."""


def is_loopback(host: str) -> bool:
    """Whether `host` is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class LiveServer:
    """Serves `state()` (a JSON-able dict) and `fragment()` (the latest step as HTML, or None
    before the first) on (host, port); binds at once (OSError if the port is taken), serves in a
    daemon thread after `start`. `port`: the bound port (0 asks the system for a free one)."""

    def __init__(
        self,
        host: str,
        port: int,
        state: Callable[[], dict[str, Any]],
        fragment: Callable[[], str | None],
        title: str = "SAM, live",
    ) -> None:
        nonce = secrets.token_urlsafe(16)
        page = PAGE.replace("{nonce}", nonce).replace("{title}", html.escape(title))
        page = page.replace("{poll}", str(POLL_MS)).encode()
        policy = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
            "img-src data:; connect-src 'self'"
        )

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                path = self.path.split("?", 1)[0]
                if path == "/":
                    self._send(200, "text/html; charset=utf-8", page)
                elif path == "/state.json":
                    body = json.dumps(state()).encode()
                    self._send(200, "application/json", body)
                elif path == "/frame.html":
                    said = fragment()
                    body = (said or '<p class="waiting">waiting for the first step</p>').encode()
                    self._send(200, "text/html; charset=utf-8", body)
                else:
                    self._send(404, "text/plain; charset=utf-8", b"not found\n")

            def _send(self, code: int, kind: str, body: bytes) -> None:
                self.send_response(code)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("X-Content-Type-Options", "nosniff")
                self.send_header("Content-Security-Policy", policy)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass  # quiet: the terminal is the user's

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        # each request's thread is waited for on close: one drawing a frame (torch) must not
        # be cut by the interpreter's exit (an abort)
        self.httpd.daemon_threads = False
        self.host, self.port = self.httpd.server_address[:2]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        if self.thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 1.2em; color: #222; }
#numbers span { margin-right: 1.4em; }
#behind { color: #b00; font-weight: bold; }
#gone { color: #555; }
</style></head><body>
<h1>{title}</h1>
<p id="numbers"><span>steps run <b id="steps">0</b></span>
<span>events <b id="events">0</b></span>
<span>dropped steps <b id="dropped">0</b></span>
<span>latency p50 <b id="p50">-</b> ms, p99 <b id="p99">-</b> ms</span>
<span>prediction <b id="prediction">-</b></span></p>
<p id="behind" hidden></p>
<p id="bad" hidden></p>
<p id="gone" hidden>the session has ended</p>
<div id="frame"><p class="waiting">waiting for the first step</p></div>
<p id="legend">The input at the latest step run, each layer's SAM over it, the prediction over
the trailing window; the line: events per step over the last seconds, up to that step.</p>
<script nonce="{nonce}">
let shown = null;
const text = (id, value) => { document.getElementById(id).textContent = value; };
async function poll() {
  let state;
  try {
    state = await (await fetch("/state.json", {cache: "no-store"})).json();
  } catch (e) {
    document.getElementById("gone").hidden = false;
    return;
  }
  text("steps", state.steps);
  text("events", state.events);
  text("dropped", state.dropped_steps);
  text("p50", state.latency_ms.p50 === null ? "-" : state.latency_ms.p50.toFixed(1));
  text("p99", state.latency_ms.p99 === null ? "-" : state.latency_ms.p99.toFixed(1));
  const p = state.prediction;
  text("prediction", p === null ? "none" :
       "class " + p["class"] + " (" + (100 * p.confidence).toFixed(0) + " %)");
  const behind = document.getElementById("behind");
  behind.hidden = state.dropped_steps === 0;
  behind.textContent = state.dropped_steps + " steps dropped: the model is slower than the " +
    "events, whole steps are skipped to stay in real time (at most " + state.queue.size +
    " steps wait)";
  const bad = Object.values(state.bad_packets).reduce((a, b) => a + b, 0);
  document.getElementById("bad").hidden = bad === 0;
  text("bad", bad + " bad packets skipped " + JSON.stringify(state.bad_packets));
  if (state.step !== null && state.step !== shown) {
    const html = await (await fetch("/frame.html", {cache: "no-store"})).text();
    document.getElementById("frame").innerHTML = html;
    shown = state.step;
  }
}
setInterval(poll, {poll});
poll();
</script>
</body></html>
"""
