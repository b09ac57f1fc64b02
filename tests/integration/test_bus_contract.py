#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The external interface contract check (check-core) passes against this build.

The checker lives beside the checkout, in ../shared/contract/check-core relative to
CAPBUS_SOURCE_DIR ($CAPBUS_CONTRACT_CHECK overrides the path). Where it is absent the test is
skipped, or fails when CI=true (CI checks out the tree with ../shared beside it)."""
import os
import subprocess

from capbus_harness import BUILD_DIR, SOURCE_DIR, check, require_build, run_test, skip

CHECK = os.environ.get("CAPBUS_CONTRACT_CHECK") or os.path.join(
    os.path.dirname(os.path.abspath(SOURCE_DIR)), "shared", "contract", "check-core")


def main():
    require_build()
    if not os.path.exists(CHECK):
        skip("%s not present" % CHECK)
    cp = subprocess.run(["bash", CHECK, BUILD_DIR], capture_output=True, text=True, timeout=110)
    print(cp.stdout[-4000:], cp.stderr[-2000:])
    check(cp.returncode == 0, "check-core failed (%d)" % cp.returncode)
    check("FAIL" not in cp.stdout, "check-core reported a failure")


if __name__ == "__main__":
    run_test(main)
