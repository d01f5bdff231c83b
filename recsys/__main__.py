"""`python -m recsys` runs the same command line as the `recsys` script."""

import sys

from recsys.cli.main import main

sys.exit(main())
