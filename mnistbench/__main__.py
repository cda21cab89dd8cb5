"""``python -m mnistbench``."""

import sys

from mnistbench.cli import main

if __name__ == "__main__":
    sys.exit(main())
