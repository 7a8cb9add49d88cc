import sys

from .cli import main

if __name__ == "__main__":  # the reproductions start worker processes, which re-import the main module
    sys.exit(main())
