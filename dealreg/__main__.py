import sys

from dealreg.cli import main

# Guarded: the intake's reader process imports the main module again, and must not run it.
if __name__ == "__main__":
    sys.exit(main())
