#!/usr/bin/env python
"""Django's command-line utility; `preau` (preau/cli.py) is the same thing, installed."""

from preau.cli import main

if __name__ == "__main__":
    main()
