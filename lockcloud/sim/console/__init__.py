"""The simulator's web console: every simulated lock, and the person standing at it.

``lockcloud sim serve`` (and :func:`lockcloud.sim.running`) serve it at ``/console/`` on the simulator's own
loopback port, its address (with a per-run token) printed at start and in ``SimServer.console_url``. The page shows
each lock (model, radio, online, battery, door and bolt, keys by member), the push messages as they go out,
decrypted, and the REST calls the app made; its buttons press the finger, type a PIN, ring the doorbell and so on,
through the simulator, so your app sees the same push messages a real lock would send.
"""

from lockcloud.sim.console._actions import AtTheLock
from lockcloud.sim.console._server import Console, is_loopback
from lockcloud.sim.console._view import snapshot

__all__ = ["AtTheLock", "Console", "is_loopback", "snapshot"]
