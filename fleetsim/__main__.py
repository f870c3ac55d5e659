import sys

from fleetsim.cli import main

sys.exit(main())
