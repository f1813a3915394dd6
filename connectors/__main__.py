"""Entry point for ``python -m connectors``: serves the gateway (see connectors.app.main)."""

from connectors.app import main

raise SystemExit(main())
