# SPDX-License-Identifier: GPL-3.0-or-later
"""A local stand-in for the get-pip bootstrap script ansible-test downloads.

ansible-test creates a virtual environment per sanity test and, for an empty one, runs
a "get-pip" script it fetches from its CI file server, which this machine kind cannot
reach. It looks for a cached copy first (~/.ansible/test/cache/get_pip_<version>.py);
scripts/setup.sh puts this file there. It does what get-pip does with the arguments
ansible-test gives it (pip options, then the pinned packages, e.g. pip==24.2, and
--no-setuptools / --no-wheel): pip from the interpreter's own ensurepip, then the pinned
packages from the package index pip is configured for.
"""
import ensurepip
import os
import subprocess
import sys


def main(argv):
    options = [a for a in argv if a.startswith("-") and not a.startswith("--no-")]
    packages = [a for a in argv if not a.startswith("-")]
    if "--no-setuptools" in argv:
        packages = [p for p in packages if not p.startswith("setuptools")]
    if "--no-wheel" in argv:
        packages = [p for p in packages if not p.startswith("wheel")]
    saved = dict(os.environ)
    ensurepip.bootstrap(upgrade=True)
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in this process: the install below must
    # read pip's own configuration (index, certificates) as any pip run would.
    os.environ.clear()
    os.environ.update(saved)
    if packages:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "-q"] + options + packages)


if __name__ == "__main__":
    main(sys.argv[1:])
