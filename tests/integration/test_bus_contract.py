#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The external interface contract check (check-core) passes against this build."""
import os
import subprocess

from capbus_harness import BUILD_DIR, check, require_build, run_test, skip

CHECK = os.environ.get("CAPBUS_CONTRACT_CHECK", "/work/shared/contract/check-core")


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
