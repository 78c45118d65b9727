"""Large photos through `tfvae denoise`: seconds per megapixel and peak memory, by photo size.

    python benchmarks/denoise_memory.py saved_models/photos_vae/3            # 1, 12 and 24 megapixels
    python benchmarks/denoise_memory.py MODEL --megapixels 0.05 0.2 --page /tmp/memory.md   # seconds (CI)

Each size is a generated 8-bit RGB JPEG (4:3; smooth shapes plus grain, seeded) that `tfvae denoise`
denoises in a process of its own, as a user runs it. Reported per size: the wall-clock seconds of the
whole command, the seconds per megapixel above those of the first row (a 64 x 64 photo: starting
Python and TensorFlow, loading the model), and the process's peak resident memory (the kernel's
high-water mark, `VmHWM` in /proc/self/status: Linux), which includes TensorFlow's own ~0.5 GB.
Not `ru_maxrss`: Linux carries it over from the parent through fork and exec, so a child started by
a large parent would report the parent's memory as its own.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfvae.evaluation.provenance import ResultsPage

CHILD = """
import json, re, sys, time
from pathlib import Path
from tfvae import cli
start = time.perf_counter()
cli.main(["denoise", sys.argv[1], sys.argv[2], "--out", sys.argv[3], "--force"])
seconds = time.perf_counter() - start
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+) kB", Path("/proc/self/status").read_text()).group(1))
print(json.dumps({"seconds": seconds, "peak_mb": peak_kb / 1024}))
"""


def synthetic_photo(megapixels, seed):
    """uint8 (H, W, 3), H x W about `megapixels` million at 4:3: a smooth random field, then grain."""
    height = max(64, int(round((megapixels * 1e6 * 3 / 4) ** 0.5)))
    width = max(64, int(round(height * 4 / 3)))
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(0, 1, (1, max(2, height // 64), max(2, width // 64), 3)).astype(np.float32)
    smooth = tf.image.resize(coarse, (height, width), method="bicubic")[0].numpy()
    grain = rng.normal(0, 0.02, smooth.shape).astype(np.float32)
    return np.round(np.clip(smooth + grain, 0, 1) * 255).astype(np.uint8)


def measure(model, photo, folder):
    """{"seconds", "peak_mb"} of `tfvae denoise MODEL photo` in a fresh process."""
    path = Path(folder) / "photo.jpg"
    path.write_bytes(tf.io.encode_jpeg(photo, quality=95).numpy())
    command = [sys.executable, "-c", CHILD, str(model), str(path), str(Path(folder) / "out")]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"tfvae denoise failed on a {photo.shape} photo:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="a SavedModel folder, run folder or .keras file")
    parser.add_argument("--megapixels", type=float, nargs="+", default=[1, 12, 24], help="photo sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--page", default="benchmarks/results/denoise_memory.md", help="the results page to write")
    args = parser.parse_args()
    page = ResultsPage(args.page, f"Large photos: `tfvae denoise {args.model}`, time and peak memory")
    page.add(
        "Generated 8-bit RGB JPEGs (4:3), each denoised by `tfvae denoise` in a fresh process. Seconds per "
        "megapixel exclude the first row's seconds (Python, TensorFlow and the model starting on a 64 x 64 "
        "photo); peak memory is the process's resident high-water mark, TensorFlow's own included."
    )
    page.add()
    page.add("| photo | megapixels | seconds | seconds per megapixel | peak memory (MB) |")
    page.add("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        floor = None
        for megapixels in [0.0, *args.megapixels]:
            photo = synthetic_photo(megapixels, args.seed)
            result = measure(args.model, photo, folder)
            pixels = photo.shape[0] * photo.shape[1] / 1e6
            floor = result["seconds"] if floor is None else floor
            per_megapixel = f"{(result['seconds'] - floor) / pixels:.2f}" if megapixels else ""
            page.add(
                f"| {photo.shape[1]} x {photo.shape[0]} | {pixels:.2f} | {result['seconds']:.1f} | {per_megapixel} "
                f"| {result['peak_mb']:.0f} |"
            )
    page.write()


if __name__ == "__main__":
    main()
