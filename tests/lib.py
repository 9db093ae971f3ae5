# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Python side of tests/lib.sh: a suite that knows how many checks it plans.

    from lib import Suite            (tests/ on sys.path)
    s = Suite("nginx", planned=30)
    s.check("nginx_x", ok, "why it failed", ["detail line", ...])
    sys.exit(s.end())                prints "nginx: P passed, F failed"

end() fails the suite unless every planned check ran and none failed; a
check that never ran counts as failed, as in lib.sh.
"""
import sys


class Suite:
    def __init__(self, name, planned, out=sys.stdout):
        self.name, self.planned, self.out = name, planned, out
        self.passed = self.failed = 0

    def _print(self, s):
        print(s, file=self.out)
        self.out.flush()

    def check(self, name, ok, why="", details=()):
        if ok:
            self.passed += 1
            self._print("PASS %s" % name)
        else:
            self.failed += 1
            self._print("FAIL %s: %s" % (name, why))
            for d in details:
                self._print("    %s" % d)
        return bool(ok)

    def end(self):
        ran = self.passed + self.failed
        if ran != self.planned:
            self._print("FAIL %s_ran_every_check: ran %d of %d planned checks"
                        % (self.name, ran, self.planned))
            self.failed += max(self.planned - ran, 1)
        self._print("%s: %d passed, %d failed" % (self.name, self.passed, self.failed))
        return 0 if self.failed == 0 else 1
