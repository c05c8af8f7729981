"""``python -m dashboard [streamlit flags]``: serve the dashboard with its shipped
settings (what ``hades dashboard`` runs); see `dashboard.server`."""

import os
import sys

from dashboard.server import command

if __name__ == "__main__":
    cmd = command(sys.argv[1:])
    os.execv(cmd[0], cmd)
