"""``python -m lockcloud.cli``."""

import sys

from lockcloud.cli import main

sys.exit(main())
