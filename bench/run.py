"""Run reluscope's microbenchmarks from a checkout: same as `reluscope bench` (see --help)."""
import sys

from reluscope.benchmarks import main

if __name__ == "__main__":
    sys.exit(main())
