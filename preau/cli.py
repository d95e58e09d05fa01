"""The `preau` console script: Django's manage.py plus the domain commands.

`preau import-territory ...` runs the management command `import_territory`:
hyphens and underscores are interchangeable in command names.
"""

import os
import sys


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "preau.settings")
    from django.conf import settings

    settings.DATA_DIR.mkdir(parents=True, exist_ok=True)
    if len(argv) > 1 and not argv[1].startswith("-"):
        argv[1] = argv[1].replace("-", "_")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
