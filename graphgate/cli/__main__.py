"""``python -m graphgate.cli``: the ``graphgate`` command."""

from graphgate.cli.main import main

raise SystemExit(main())
