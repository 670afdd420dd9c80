"""``python -m autograd_lite``: the command line (see `autograd_lite.tools.cli`)."""

import sys

from .tools.cli import build_parser, main

__all__ = ["build_parser", "main"]

if __name__ == "__main__":
    sys.exit(main())
