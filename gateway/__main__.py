"""``python -m gateway``: serve the gateway, its log passed through logsafe (no personal data, no bearer ids)."""

import sys

import logsafe
from gateway.app import main

logsafe.install()  # here, not in main(): tests that call main() keep plain logging
sys.exit(main())
