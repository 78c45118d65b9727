"""Figures people would rather look at than read: labelled grids of images."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def save_image_grid(rows, path, title=None):
    """Save a grid with one labelled row per `rows` entry ({label: float32 NHWC images in [0, 1]})."""
    columns = max(len(images) for images in rows.values())
    figure, axes = plt.subplots(
        len(rows), columns, figsize=(1.1 * columns + 1.2, 1.1 * len(rows) + 0.4), squeeze=False
    )
    for axis_row, (label, images) in zip(axes, rows.items()):
        for axis, image in zip(axis_row, images):
            grey = image.shape[-1] == 1
            axis.imshow(image[..., 0] if grey else image, cmap="gray" if grey else None, vmin=0.0, vmax=1.0)
        for axis in axis_row:
            axis.set_xticks([])
            axis.set_yticks([])
            axis.spines[:].set_visible(False)
        axis_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    plt.close(figure)


def save_curves(x, series, path, xlabel, ylabel, title):
    """Save a line plot with one labelled line per `series` entry ({name: y values over x})."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for name, values in series.items():
        axis.plot(x, values, marker="o", label=name)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def save_scatter(points, labels, path, title):
    """Save a 2-D scatter of `points` (N, 2) coloured by integer `labels`."""
    figure, axis = plt.subplots(figsize=(5.5, 5))
    scatter = axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6, alpha=0.8)
    figure.colorbar(scatter, ax=axis, label="class")
    axis.set_xlabel("latent component 1")
    axis.set_ylabel("latent component 2")
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def save_search(points, path, objective):
    """Save the tuning objective against latent size, one line per hidden width ((latent, width, score) points)."""
    figure, axis = plt.subplots(figsize=(6, 4))
    for width in sorted({w for _, w, _ in points}):
        chosen = sorted((latent, score) for latent, w, score in points if w == width)
        axis.plot([p[0] for p in chosen], [p[1] for p in chosen], marker="o", label=f"width {width}")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("latent size (channels)")
    axis.set_ylabel(objective)
    axis.set_title("keras-tuner search")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
