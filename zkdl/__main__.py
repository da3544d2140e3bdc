"""``python -m zkdl``: the zkdl command line (zkdl.cli)."""
import sys

from .cli import main

sys.exit(main())
