"""Split a Certhelper pairs export chronologically for `manage.py evaluate`.

    .venv/bin/python bench/split_pairs.py ../shared/data/certhelper_pairs.csv.gz 362800 $TMP/pairs
    -> $TMP/pairs/train_362800.csv (run_number < 362800), $TMP/pairs/test_362800.csv (the rest)

($TMP: any scratch directory.)

The files keep the export's columns, so `evaluate` reads them with the same parser as `import_pairs`.
"""

import argparse
from pathlib import Path

import pandas as pd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pairs", type=Path, help="certhelper_pairs.csv(.gz)")
    parser.add_argument("cut", type=int, help="first run number of the test window")
    parser.add_argument("out", type=Path, help="directory for train_CUT.csv and test_CUT.csv")
    args = parser.parse_args()
    pairs = pd.read_csv(args.pairs, dtype=str, keep_default_na=False)
    run_numbers = pairs["run_number"].astype(int)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", pairs[run_numbers < args.cut]), ("test", pairs[run_numbers >= args.cut])):
        path = args.out / f"{name}_{args.cut}.csv"
        part.to_csv(path, index=False)
        print(f"{path}: {len(part)} pairs")


if __name__ == "__main__":
    main()
