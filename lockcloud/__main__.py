"""``python -m lockcloud``: the ``lockcloud`` command."""

import sys

from lockcloud.cli import main

sys.exit(main())
