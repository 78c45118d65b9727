"""The README's results: `tfvae bench` over MNIST and CIFAR-10 (see tfvae/evaluation/bench.py).

python benchmarks/quality.py                      # full run, by hand (about an hour on 2 cores)
python benchmarks/quality.py --fast --out /tmp/q  # seconds: proves the script works (CI)
"""

import sys

from tfvae import cli

if __name__ == "__main__":
    defaults = ["bench", "--table", "benchmarks/results/quality.md", "--figures", "benchmarks/results"]
    sys.exit(cli.main(defaults + sys.argv[1:]))
