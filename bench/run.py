#!/usr/bin/env python
"""make bench / make bench-quick: every benchmark, results in bench/results/latest.md.

  bench/run.py            full: 5 bootstrap pairs, 3 migration rounds, 100 cold starts per service
  bench/run.py --quick    2 pairs, 1 round, 10 cold starts
  bench/run.py --cold     also benchmark 5 (debootstrap + image builds + bootstrap, minutes)
  bench/run.py --only bootstrap,migrations,readiness,profile,cold

Each section is written to the results file as soon as it is done, so an
interrupted run keeps what it measured.
"""

import argparse
import os
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import common  # noqa: E402

RESULTS = os.path.join(common.BENCH, "results", "latest.md")
SECTIONS = ("bootstrap", "migrations", "readiness", "profile", "cold")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer pairs, rounds and cold starts")
    parser.add_argument("--cold", action="store_true", help="also run benchmark 5 (cold start, minutes)")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(SECTIONS))
    parser.add_argument("--output", default=RESULTS)
    args = parser.parse_args()
    wanted = args.only.split(",") if args.only else [s for s in SECTIONS if s != "cold" or args.cold]
    unknown = set(wanted) - set(SECTIONS)
    if unknown:
        parser.error("unknown section(s): %s" % ", ".join(sorted(unknown)))
    pairs, rounds, starts = (2, 1, 10) if args.quick else (5, 3, 100)

    started = time.time()
    header = ["# kubernaut.devinfra benchmarks", "",
              "Run %s, `bench/run.py%s` (%s). Ratios compare runs interleaved in this one process; absolute "
              "times on a shared machine mean little." % (
                  time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
                  " " + " ".join(sys.argv[1:]) if sys.argv[1:] else "",
                  "quick" if args.quick else "full"), "",
              "## Machine", "", common.machine_description(), ""]
    parts = []

    def write(final=False):
        os.makedirs(os.path.dirname(args.output), exist_ok=True)
        tail = ["", "Total benchmark time: %s." % common.fmt_s(time.time() - started)] if final else \
            ["", "_(run in progress)_"]
        with open(args.output, "w") as fh:
            fh.write("\n".join(header + parts + tail) + "\n")

    failed = False
    for section in wanted:
        common.log("== %s" % section)
        try:
            if section == "bootstrap":
                import bench_bootstrap
                text = bench_bootstrap.run(pairs)[0]
            elif section == "migrations":
                import bench_migrations
                text = bench_migrations.run(rounds)[0]
            elif section == "readiness":
                import bench_readiness
                text = bench_readiness.run(starts)[0]
            elif section == "profile":
                import bench_bootstrap
                text = bench_bootstrap.profile()[0]
            else:
                import bench_cold
                text = bench_cold.run()[0]
        # Report the failure and go on with the next benchmark.
        except Exception:  # pylint: disable=broad-except
            failed = True
            text = "## %s: FAILED\n\n```\n%s```\n" % (section, traceback.format_exc()[-4000:])
        print(text)
        sys.stdout.flush()
        parts.append(text)
        write()
    write(final=True)
    common.log("results written to %s" % os.path.relpath(args.output, common.REPO))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
