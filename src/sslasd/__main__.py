"""``python -m sslasd`` runs the command line."""

import sys

from sslasd.cli.main import main

sys.exit(main())
