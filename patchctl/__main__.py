import sys

from patchctl.cli import main

sys.exit(main())
