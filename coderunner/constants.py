"""Collection names and defaults of coderunner."""

from __future__ import annotations

SERVICE = "coderunner"  # package name, metrics label and log field

PACKAGES_COLLECTION = "coderunner_packages"  # user packages installed for the sandbox workers
ALLOWLIST_COLLECTION = "coderunner_package_allowlist"  # packages admins allow, with their import names
PACKAGES_DIR = "coderunner/packages"  # under the state dir: one directory per installed package version
