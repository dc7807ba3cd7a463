import sys

from c360.run.cli import main

sys.exit(main())
