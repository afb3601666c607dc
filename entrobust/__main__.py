"""``python -m entrobust``."""

import sys

from entrobust.cli.main import main

sys.exit(main())
