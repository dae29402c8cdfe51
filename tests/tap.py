"""The TAP runner the Python test scripts share (meson runs them with
protocol 'tap'): register tests with @suite.test, raise SkipTest to skip,
and call suite.run() from main."""
import sys
import time
import traceback


class SkipTest(Exception):
    pass


class Suite:
    def __init__(self):
        self.tests = []

    def test(self, fn):
        self.tests.append(fn)
        return fn

    def run(self, name_filter="", after_each=None):
        """Runs the tests whose names contain name_filter, printing TAP;
        after_each() runs after every test, pass or fail. Returns the exit
        status: 1 if any test failed."""
        todo = [t for t in self.tests if name_filter in t.__name__]
        print("1..%d" % len(todo), flush=True)
        failed = 0
        for i, t in enumerate(todo, 1):
            t0 = time.time()
            try:
                t()
                print("ok %d %s (%.1f s)" % (i, t.__name__, time.time() - t0), flush=True)
            except SkipTest as e:
                print("ok %d %s # SKIP %s" % (i, t.__name__, e), flush=True)
            except Exception:
                failed += 1
                print("not ok %d %s" % (i, t.__name__), flush=True)
                for line in traceback.format_exc().splitlines():
                    print("# " + line, flush=True)
                # stderr too: meson's error log shows a TAP test's stderr
                print("not ok %d %s\n%s" % (i, t.__name__, traceback.format_exc()), file=sys.stderr, flush=True)
            finally:
                if after_each:
                    after_each()
        sys.stdout.flush()
        return 1 if failed else 0
