"""``python -m me_resnet.cli`` is the ``me-resnet`` command."""

from me_resnet.cli import main

raise SystemExit(main())
