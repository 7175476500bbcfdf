"""``python -m peft_studio_offline``: the same as the ``peft-studio-offline`` command."""

import sys

from peft_studio_offline.cli import main

sys.exit(main())
