"""test_admin: the admin API (issue 3) is not built yet.

src/admin/admin.c is still to be written; until it is, operators use
otactl on the state directory.  This file marks the gap in the suite (it
is reported as skipped) and is replaced by the admin API's tests.
"""
import sys

print("skipped: the admin API is not in this build yet (issue 3)")
sys.exit(77)
