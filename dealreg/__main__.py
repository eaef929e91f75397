import sys

from dealreg.cli import main

sys.exit(main())
