"""``python -m kafkarpc``: the same as the ``kafkarpc`` command."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
