"""One line per check and the closing 'NAME: N passed, N failed' line, for
the lint scripts beside this file."""
import sys


class Report:
    def __init__(self, name):
        self.name = name
        self.passed = self.failed = 0

    def check(self, ok, what):
        if ok:
            self.passed += 1
            print(f"  ok    {what}")
        else:
            self.failed += 1
            print(f"  FAIL  {what}")

    def close(self):
        """Print the summary and exit: 1 when a check failed or none ran."""
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed or not self.passed else 0)
