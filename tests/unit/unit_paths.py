# SPDX-License-Identifier: GPL-3.0-or-later
"""Where the unit tests find their fixtures and the project's own files, wherever the
test file sits below tests/unit/."""
import os

UNIT_ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES_ROOT = os.path.join(UNIT_ROOT, "fixtures")
PROJECT_ROOT = os.path.abspath(os.path.join(UNIT_ROOT, "..", ".."))
