"""How many outcomes the realized-performance check needs. Prints figures; asserts nothing.

    uv run --frozen python benchmarks/loop.py [--promised 0.78 0.832 0.88] [--trials 20000]

For each promised accuracy: the fewest labelled rows at which the check
(`ml.performance.worse_than_promised`, one-sided exact binomial, p < ALPHA, from
MIN_LABELLED rows) catches a 10-point drop with >= 95% power (exact computation), and, by
simulation at that size, its measured false-alarm rate (true accuracy = promised) beside its
measured power (true accuracy = promised - 0.10).

Only this part of the loop benchmark exists yet: time from drifted traffic to a new model
serving, accuracy before/after on a shifted population and the CBPE estimate's error per
shift are not measured here (see the issue's closing note).
"""

from __future__ import annotations

import argparse

import numpy as np

from titanic_assets.ml import performance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--promised", type=float, nargs="+", default=[0.78, 0.832, 0.88])
    parser.add_argument("--trials", type=int, default=20000)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"check: one-sided exact binomial, alpha={performance.ALPHA}, "
          f"from {performance.MIN_LABELLED} rows; drop to catch: 0.10")  # fmt: skip
    print(f"{'promised':>9} {'outcomes needed':>16} {'false alarms':>13} {'power':>7}")
    for promised in args.promised:
        n = performance.outcomes_needed(promised)
        # The check fails exactly when correct <= the critical count; simulate the counts.
        fails = {
            k: performance.worse_than_promised(k, n, promised) < performance.ALPHA
            for k in range(n + 1)
        }
        null = rng.binomial(n, promised, args.trials)
        shifted = rng.binomial(n, promised - 0.10, args.trials)
        false_alarms = np.mean([fails[k] for k in null])
        power = np.mean([fails[k] for k in shifted])
        print(f"{promised:>9.3f} {n:>16d} {false_alarms:>13.2%} {power:>7.1%}")


if __name__ == "__main__":
    main()
