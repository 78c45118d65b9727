"""Figures people would rather look at than read. Each function returns a matplotlib Figure
(shown inline when a notebook cell returns it); `save` writes one to a file.

Figures are built with `matplotlib.figure.Figure`, not pyplot: no backend, no global state.
"""

from matplotlib.figure import Figure


def save(figure, path):
    """Write `figure` to `path` (format from the suffix) at the figure's own, modest resolution."""
    figure.savefig(path)


def image_grid(rows, title=None):
    """A grid with one labelled row per `rows` entry ({label: float32 NHWC images in [0, 1]})."""
    columns = max(len(images) for images in rows.values())
    figure = Figure(figsize=(1.1 * columns + 1.2, 1.1 * len(rows) + 0.4), dpi=64)
    axes = figure.subplots(len(rows), columns, squeeze=False)
    for axis_row, (label, images) in zip(axes, rows.items()):
        for axis, image in zip(axis_row, images):
            grey = image.shape[-1] == 1
            axis.imshow(
                image[..., 0] if grey else image,
                cmap="gray" if grey else None,
                vmin=0.0,
                vmax=1.0,
                interpolation="nearest",
            )
        for axis in axis_row:
            axis.set_xticks([])
            axis.set_yticks([])
            axis.spines[:].set_visible(False)
        axis_row[0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def curves(series, xlabel, ylabel, title, log_x=False):
    """A line plot with one labelled line per `series` entry ({name: (x values, y values)})."""
    figure = Figure(figsize=(6, 4), dpi=80)
    axis = figure.subplots()
    for name, (x, y) in series.items():
        axis.plot(x, y, marker="o", label=name)
    if log_x:
        axis.set_xscale("log", base=2)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    return figure


def scatter(points, labels, title, xlabel="latent component 1", ylabel="latent component 2"):
    """A 2-D scatter of `points` (N, 2) coloured by integer `labels`."""
    figure = Figure(figsize=(5.5, 5), dpi=80)
    axis = figure.subplots()
    dots = axis.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", s=6, alpha=0.8)
    figure.colorbar(dots, ax=axis, label="class")
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    figure.tight_layout()
    return figure


def search_plot(points, objective):
    """The tuning objective against latent size, one line per hidden width ((latent, width, score) points)."""
    series = {}
    for width in sorted({w for _, w, _ in points}):
        chosen = sorted((latent, score) for latent, w, score in points if w == width)
        series[f"width {width}"] = ([latent for latent, _ in chosen], [score for _, score in chosen])
    return curves(series, "latent size (channels)", objective, "keras-tuner search", log_x=True)
