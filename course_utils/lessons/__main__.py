"""`python -m course_utils.lessons [--check]`: regenerate (or check) cells.py from the notebooks."""
import sys

from . import main

sys.exit(main())
