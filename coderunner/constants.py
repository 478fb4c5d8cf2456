"""Collection names and defaults of coderunner."""

from __future__ import annotations

SERVICE = "coderunner"  # package name, metrics label and log field

PACKAGES_COLLECTION = "coderunner_packages"  # user packages installed for the sandbox workers
