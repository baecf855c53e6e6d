"""Entry point: python -m scimult_app."""
import sys

from .cli import main

sys.exit(main())
