"""Entry point: python -m scimult_app."""
import sys

from scimult_app.cli import main

sys.exit(main())
