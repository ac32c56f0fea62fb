"""Make plugins/module_utils importable as ansible.module_utils.* without Ansible running.

Modules import their helpers as ``ansible.module_utils.<name>`` (that is how Ansible
ships them to managed hosts); unit tests import them the same way.
"""
import os
import sys

import ansible.module_utils

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MODULE_UTILS = os.path.join(ROOT, "plugins", "module_utils")
MODULES = os.path.join(ROOT, "plugins", "modules")

if MODULE_UTILS not in ansible.module_utils.__path__:
    ansible.module_utils.__path__.append(MODULE_UTILS)
if MODULES not in sys.path:
    sys.path.insert(0, MODULES)
