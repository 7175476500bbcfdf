"""The bundle's entry point: the ``peft-studio-offline`` command (window, CLI, self-test)."""

import multiprocessing
import sys

from peft_studio_offline.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()  # a frozen program must not re-run main() in children
    sys.exit(main())
