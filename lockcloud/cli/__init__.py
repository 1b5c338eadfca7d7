"""The ``lockcloud`` command: a demo on the embedded simulator, the simulator as a server, and lock chores.

::

    lockcloud demo                         # no account needed: simulator + broker, enroll, duress, PIN, photo
    lockcloud sim serve [--json]           # a simulated cloud for your own app; prints URLs and credentials
    lockcloud keys DEVICE --user USER      # list keys
    lockcloud enroll DEVICE --user USER    # enroll a fingerprint with a live progress bar
    lockcloud unlock DEVICE --pin -        # unlock with a PIN read from stdin (or password-free without --pin)
    lockcloud remote-unlock DEVICE         # show the lock's remote-unlock switches (--enable / --disable)
    lockcloud listen                       # print push events as they arrive (--relay REDIS_URL: forward too)
    lockcloud history DEVICE --since 7d    # who opened the door and how, and the alarms (--kind duress)
    lockcloud status DEVICE                # battery, door, bolt, last alarm
    lockcloud members list DEVICE          # the household and their keys (add, rename, give-key)
    lockcloud doctor                       # check credentials, region, clock, subscriptions, push channel

Credentials come from ``--access-id`` / ``--access-secret`` / ``--region`` or from ``LOCKCLOUD_ACCESS_ID``,
``LOCKCLOUD_ACCESS_SECRET``, ``LOCKCLOUD_REGION`` (and ``LOCKCLOUD_BASE_URL`` / ``LOCKCLOUD_PULSAR_URL`` to point at
a simulator started with ``lockcloud sim serve``). Without credentials a command stops and says so; ``--sim`` runs
it against a simulator started just for it, and says that too.

Errors are one line on stderr, naming the command or flag that fixes them, and a non-zero exit status: 1 for a
failed operation, 2 for bad usage, 130 when interrupted. ``--json`` prints machine-readable output on stdout.
"""

from lockcloud.cli._app import cli, main

__all__ = ["cli", "main"]
