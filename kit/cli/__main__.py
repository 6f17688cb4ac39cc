"""`python -m kit.cli`: the `kit` command without its console script, as tests and kit.drills run it."""

import sys

from . import main

sys.exit(main())
