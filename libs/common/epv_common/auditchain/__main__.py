"""``python -m epv_common.auditchain EXPORT --checkpoint CP --public-key KEYS``."""

import sys

from epv_common.auditchain.cli import main

if __name__ == "__main__":
    sys.exit(main())
