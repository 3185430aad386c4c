#!/usr/bin/python3
"""What Domogik's manager starts for this package (`python bin/patchbay.py -m`): Patchbay itself,
`patchbay run --config <file>`, as a child whose signals it forwards, so that the manager's
`ps` check (the name and "python") sees it running and its stop reaches the gateway.

  PATCHBAY      the patchbay launcher (default: patchbay on PATH, e.g. /opt/patchbay/bin/patchbay)
  PATCHBAY_CONFIG  the gateway config with a domogik host (default /etc/patchbay/patchbay.yml)
"""
import os
import signal
import subprocess
import sys


def main():
    binary = os.environ.get("PATCHBAY", "patchbay")
    config = os.environ.get("PATCHBAY_CONFIG", "/etc/patchbay/patchbay.yml")
    try:
        child = subprocess.Popen([binary, "run", "--config", config])
    except OSError as error:
        sys.stderr.write("patchbay.py: cannot start %s: %s\n" % (binary, error))
        return 1
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    return child.wait()


if __name__ == "__main__":
    sys.exit(main())
