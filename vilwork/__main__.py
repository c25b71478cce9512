"""``python -m vilwork …``: the same as the ``vilwork`` console script."""
import sys

from vilwork.cli import main

sys.exit(main())
