"""``python -m tinybert``: see tinybert.cli."""
import sys

from tinybert.cli import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
