"""Train, fine-tune and quantise the ViT digits classifier; write its shipped files.

    python scripts/vit_digits_train.py            # rewrites both files in the package folder
    python scripts/vit_digits_train.py --out DIR  # writes them into DIR instead

Byte for byte reproducible on one NumPy build: seeded, one BLAS thread. Takes about two
minutes on one core; prints its progress every 10 epochs.
"""

import os

# One BLAS thread before NumPy loads: the sums then run in one fixed order (and the shared
# machine keeps its other core).
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generators.demos.vit_digits import model, train  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=model.PACKAGE_DIR,
                        help="folder for float_params.json and weights.json")
    args = parser.parse_args(argv)
    float_file, weights_file = train.run(progress=lambda line: print(line, flush=True))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / model.FLOAT_FILE).write_text(train.dumps(float_file), encoding="utf-8")
    (args.out / model.WEIGHTS_FILE).write_text(train.dumps(weights_file), encoding="utf-8")
    acc = float_file["accuracy"]
    print(f"test split ({float_file['split']['test']} images): float {acc['float']:.4f}, "
          f"quantisation-aware {acc['quantisation_aware']:.4f}, integer {acc['integer']:.4f}")
    print(f"wrote {args.out / model.FLOAT_FILE} and {args.out / model.WEIGHTS_FILE}")


if __name__ == "__main__":
    main()
