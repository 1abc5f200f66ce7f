"""The report's figures, drawn with matplotlib (Agg: no display needed).

Each function returns a matplotlib Figure; `save` writes it as PNG and SVG beside the report
and returns the PNG as a data URI for the HTML. Only this module imports matplotlib.
It runs over ~300 lines because it is the one module allowed to import matplotlib (the
report must import without it until a plot is drawn), so its figures stay together.
"""

import base64
import io
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.colors import LinearSegmentedColormap, Normalize, PowerNorm  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from .. import labels as label_space  # noqa: E402
from ..files import atomic_file, atomic_write  # noqa: E402

OOF_COLOR, TEST_COLOR, POINT_COLOR, FEW_COLOR = "#1f5fa8", "#d9730d", "#c0392b", "#8a8a8a"
COLUMNS = 6
WEIGHT_NORM = Normalize(0.1, 0.5)  # the 2020 off-diagonal weights are 0.15 to 0.5: red to green
ANNOTATED = 60  # cells of a class x class matrix whose value is written in them
plt.rcParams.update(
    {
        "font.size": 8,
        "axes.titlesize": 8.5,
        "axes.labelsize": 8,
        "svg.fonttype": "none",
        "figure.dpi": 100,
        "savefig.dpi": 110,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def save(figure, folder, stem):
    """Write `stem`.png and `stem`.svg into `folder`, each whole or not at all
    (`files.atomic_file`); return (data URI of the PNG, file names)."""
    png = io.BytesIO()
    try:
        figure.savefig(png, format="png")
        atomic_write(os.path.join(folder, stem + ".png"), png.getvalue())
        with atomic_file(os.path.join(folder, stem + ".svg"), binary=True) as f:
            figure.savefig(f, format="svg")
    finally:
        plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(png.getvalue()).decode("ascii"), (stem + ".png", stem + ".svg")


def _grid(count, share_y, width=13.5, panel_height=2.05):
    """`count` panels, COLUMNS a row, sharing the x axis (and y when `share_y`), with fixed
    margins (a layout engine costs seconds per figure with 24 panels): tick labels only on
    the outer panels, a band on top for the legend."""
    rows = max(1, math.ceil(count / COLUMNS))
    height = panel_height * rows + 0.95
    figure, axes = plt.subplots(rows, COLUMNS, figsize=(width, height), squeeze=False, sharex=True, sharey=share_y)
    figure.subplots_adjust(
        left=0.9 / width,
        right=1 - 0.15 / width,
        bottom=0.55 / height,
        top=1 - 0.6 / height,
        wspace=0.22 if share_y else 0.32,
        hspace=0.5,
    )
    for ax in axes.flat[count:]:
        ax.set_visible(False)
    panels = list(axes.flat[:count])
    for i, ax in enumerate(panels):
        if i + COLUMNS >= count:  # no panel below: its x tick labels are the column's
            ax.tick_params(labelbottom=True)
    return figure, panels


def _axis_labels(axes, xlabel, ylabel):
    """x label under the bottom panel of each column, y label left of each row's first panel."""
    count = len(axes)
    for i, ax in enumerate(axes):
        if i % COLUMNS == 0:
            ax.set_ylabel(ylabel)
        if i + COLUMNS >= count:
            ax.set_xlabel(xlabel)


def _title(ax, k, positives, few, extra=""):
    text = f"{label_space.ABBREVIATIONS[k]}  n={positives}{extra}"
    ax.set_title(text + ("  (few)" if few else ""), color=FEW_COLOR if few else "black", loc="left")


def _thin(*arrays, limit=1500):
    """At most `limit` points of each array (same indices), keeping the first and last."""
    n = len(arrays[0])
    if n <= limit:
        return arrays
    keep = np.unique(np.r_[np.linspace(0, n - 1, limit).astype(int), n - 1])
    return tuple(a[keep] for a in arrays)


def curve_grid(kind, sets, order, positives, few):
    """Per-class ROC (kind "roc") or PR ("pr") curves, one panel per class of `order` that
    has positives (the caption names the others).

    `sets`: list of (label, color, curves, operating points, thresholds) drawn on each panel;
    the operating point (the outputs at the chosen thresholds) is a dot on its curve."""
    order = [k for k in order if positives[k] > 0]
    figure, axes = _grid(len(order), share_y=True)
    for ax, k in zip(axes, order):
        auc_texts, drawn = [], []
        for label, color, curves, points, _ in sets:
            curve = curves[k]
            if curve is None:
                continue
            if kind == "roc":
                x, y = _thin(curve["fpr"], curve["tpr"])
                ax.plot(x, y, color=color, lw=1.2, label=label)
                drawn.append((x, y, False))
                px, py = points[k][0], points[k][1]
                area = np.sum(0.5 * np.diff(curve["tpr"]) * ((1 - curve["fpr"][1:]) + (1 - curve["fpr"][:-1])))
            else:
                x, y = _thin(curve["recall"][1:], curve["precision"][1:])
                ax.step(x, y, where="pre", color=color, lw=1.2, label=label)  # as AUPRC sums it
                drawn.append((x, y, True))
                px, py = points[k][1], points[k][2]
                area = np.sum(np.diff(curve["recall"]) * curve["precision"][1:])
            if np.isfinite(px) and np.isfinite(py):
                ax.plot([px], [py], "o", ms=5, mfc=color, mec=POINT_COLOR, mew=1.3, zorder=5)
            auc_texts.append((color, f"{area:.2f}"))
        if kind == "roc":
            ax.plot([0, 1], [0, 1], color="#cccccc", lw=0.8, ls="--", zorder=0)
        if not auc_texts:
            ax.text(0.5, 0.5, "no positives", ha="center", va="center", color=FEW_COLOR, transform=ax.transAxes)
        x_text, y_text, align = _emptiest_corner(drawn, len(auc_texts))
        for i, (color, text) in enumerate(auc_texts):
            ax.text(
                x_text,
                y_text + 0.12 * i,
                text,
                ha=align,
                va="bottom",
                color=color,
                transform=ax.transAxes,
                fontsize=8,
                fontweight="bold",
            )
        _title(ax, k, positives[k], few[k])
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.04)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.tick_params(labelsize=7)
    xlabel, ylabel = ("false positive rate", "true positive rate") if kind == "roc" else ("recall", "precision")
    _axis_labels(axes, xlabel, ylabel)
    handles = [plt.Line2D([], [], color=color, lw=1.5) for _, color, *_ in sets]
    handles.append(plt.Line2D([], [], ls="", marker="o", mfc=sets[0][1], mec=POINT_COLOR, mew=1.3))
    labels = [f"{label} (number: area under the curve)" for label, *_ in sets] + ["outputs at the chosen thresholds"]
    _legend(figure, handles, labels)
    return figure


# (x, y, alignment) of the area labels' first line, in axes fractions, in order of preference
CORNERS = ((0.97, 0.05, "right"), (0.03, 0.05, "left"), (0.97, 0.62, "right"), (0.03, 0.62, "left"))


def _path_points(x: np.ndarray, y: np.ndarray, steps: bool) -> tuple[np.ndarray, np.ndarray]:
    """Points along a drawn curve (`steps`: drawn as a step before each point), 200 per segment
    at most, so that a long flat segment counts where it runs."""
    from matplotlib.cbook import pts_to_prestep

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if steps:  # as ax.step(where="pre") draws it: up or down at x[i-1] to y[i], then across
        x, y = pts_to_prestep(x, y)
    if len(x) < 2:
        return x, y
    t = np.linspace(0, 1, 200)[:, None]
    return (x[:-1] + t * np.diff(x)).ravel(), (y[:-1] + t * np.diff(y)).ravel()


def _emptiest_corner(drawn: list, lines: int) -> tuple[float, float, str]:
    """The corner of CORNERS whose label box (`lines` lines, in data = axes units as the axes run
    from about 0 to 1) the drawn curves cross least: the area labels never sit on a curve where a
    corner is free (a PR curve ends in the bottom right, a ROC curve passes the top left)."""
    height, width = 0.12 * max(lines, 1) + 0.03, 0.3
    best, fewest = CORNERS[0], None
    for corner in CORNERS:
        x0 = corner[0] - width if corner[2] == "right" else corner[0]
        y0 = corner[1] - 0.03
        count = 0
        for x, y, steps in drawn:
            px, py = _path_points(x, y, steps)
            count += int(((px >= x0) & (px <= x0 + width) & (py >= y0) & (py <= y0 + height)).sum())
        if fewest is None or count < fewest:
            best, fewest = corner, count
    return best


def _legend(figure, handles, labels):
    """The legend in the band above the panels."""
    figure.legend(
        handles, labels, loc="upper left", ncol=len(labels), frameon=False, fontsize=8.5, bbox_to_anchor=(0.0, 1.0)
    )


def sweep_grid(grid, sweeps, order, thresholds, start, positives, few):
    """Challenge metric against each class's threshold, others at the chosen thresholds.

    `sweeps`: list of (label, color, metric[class, grid]). The chosen threshold is a solid
    vertical line, the search's starting point a dotted one."""
    figure, axes = _grid(len(order), share_y=False, panel_height=1.85)
    for ax, k in zip(axes, order):
        for label, color, sweep in sweeps:
            ax.plot(grid, sweep[k], color=color, lw=1.2, label=label)
            chosen = int(np.argmin(np.abs(grid - thresholds[k])))
            ax.plot([grid[chosen]], [sweep[k][chosen]], "o", ms=4.5, mfc=color, mec=POINT_COLOR, mew=1.2, zorder=5)
        ax.axvline(thresholds[k], color=POINT_COLOR, lw=0.9)
        ax.axvline(start, color="#999999", lw=0.8, ls=":")
        low = min(float(np.min(s[k])) for _, _, s in sweeps)
        high = max(float(np.max(s[k])) for _, _, s in sweeps)
        pad = max(0.004, 0.08 * (high - low))
        ax.set_ylim(low - pad, high + pad)
        ax.set_xlim(0, 1)
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.yaxis.set_major_locator(MaxNLocator(3))
        _title(ax, k, positives[k], few[k], f"  t={thresholds[k]:.2f}")
        ax.tick_params(labelsize=7)
    _axis_labels(axes, "threshold of the class", "challenge metric")
    handles = [plt.Line2D([], [], color=color, lw=1.5) for _, color, _ in sweeps]
    handles += [plt.Line2D([], [], color=POINT_COLOR, lw=1), plt.Line2D([], [], color="#999999", lw=1, ls=":")]
    _legend(figure, handles, [label for label, *_ in sweeps] + ["chosen threshold", f"search start ({start:g})"])
    return figure


def learning_curves(folds, milestones=()):
    """Training loss and validation challenge metric per epoch, one line per fold; the
    chosen (best) epoch of each fold is a ringed dot, learning-rate steps dotted lines. When no
    fold was validated (nor scored on an inner split) at more than one epoch (selection=last),
    the right panel is a dot per fold with its value: a curve of single points on an axis of its
    own would say nothing."""
    figure, (loss_ax, metric_ax) = plt.subplots(1, 2, figsize=(13.5, 3.8))
    colors = plt.get_cmap("tab10")
    curves = any(
        sum(h.get(key) is not None for h in f.get("history") or []) > 1
        for f in folds
        for key in ("val_challenge", "inner_challenge")
    )
    for i, fold in enumerate(folds):
        history = fold.get("history") or []
        if not history:
            continue
        epochs = [h["epoch"] for h in history]
        color = colors(i % 10)
        loss_ax.plot(
            epochs, [h["loss"] for h in history], color=color, lw=1.4, marker=".", label=f"fold {fold['fold']}"
        )
        best = fold.get("best_epoch")
        for h in history:
            if h["epoch"] == best:
                loss_ax.plot([best], [h["loss"]], "o", ms=10, mfc="none", mec=color, mew=2, zorder=5)
        if curves:
            _metric_curve(metric_ax, fold, history, color)
    if not curves:
        _metric_dots(metric_ax, folds, colors)
    for ax in (loss_ax, metric_ax) if curves else (loss_ax,):
        for m in milestones:
            ax.axvline(m + 0.5, color="#999999", lw=0.8, ls=":")
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.25)
    loss_ax.set_ylabel("training loss (binary cross-entropy)")
    loss_ax.set_yscale("log")
    _plain_log_ticks(loss_ax)
    if curves:
        metric_ax.set_ylabel("validation challenge metric (p >= 0.5 or most probable class)")
        has_inner = any(h.get("inner_challenge") is not None for fold in folds for h in fold.get("history") or [])
        title = "ringed: chosen epoch" + ("; dashed: inner split" if has_inner else "")
        metric_ax.legend(frameon=False, fontsize=8, title=title, title_fontsize=8)
    loss_ax.legend(frameon=False, fontsize=8, title="dotted: learning-rate steps", title_fontsize=8)
    figure.tight_layout()
    return figure


def _metric_curve(ax, fold: dict, history: list, color) -> None:
    """One fold's validation metric per epoch (and its inner split's, dashed), the chosen ringed."""
    validated = [h for h in history if h.get("val_challenge") is not None]
    ax.plot(
        [h["epoch"] for h in validated],
        [h["val_challenge"] for h in validated],
        color=color,
        lw=1.4,
        marker=".",
        label=f"fold {fold['fold']}",
    )
    inner = [h for h in history if h.get("inner_challenge") is not None]
    if inner:
        ax.plot([h["epoch"] for h in inner], [h["inner_challenge"] for h in inner], color=color, lw=1, ls="--")
    for h in validated:
        if h["epoch"] == fold.get("best_epoch"):
            ax.plot([h["epoch"]], [h["val_challenge"]], "o", ms=10, mfc="none", mec=color, mew=2, zorder=5)


def _metric_dots(ax, folds: list, colors) -> None:
    """Each fold's one validated value as a labelled dot, folds down the y axis."""
    rows = []
    for i, fold in enumerate(folds):
        validated = [h for h in fold.get("history") or [] if h.get("val_challenge") is not None]
        if validated:
            rows.append((i, fold, validated[-1]))
    for row, (i, _, h) in enumerate(rows):
        ax.plot([h["val_challenge"]], [row], "o", ms=8, color=colors(i % 10))
        ax.annotate(
            f"{h['val_challenge']:.3f} (epoch {h['epoch']})",
            (h["val_challenge"], row),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(range(len(rows)), [f"fold {fold['fold']}" for _, fold, _ in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    values = [h["val_challenge"] for _, _, h in rows] or [0.0]
    low, high = min(min(values), 0.0), max(max(values), 0.0)
    ax.set_xlim(low - 0.05, high + 0.25)  # room for the labels right of the dots
    ax.set_xlabel("validation challenge metric of the kept epoch (p >= 0.5 or most probable class)")
    ax.set_title("each fold validated at its last epoch only", loc="left", fontsize=8.5)
    ax.grid(alpha=0.25, axis="x")


def _plain_log_ticks(ax) -> None:
    """Tick labels of a log axis as plain decimals (0.34, not 3.4x10^-1), on minor ticks too
    when the axis spans less than a decade and so has at most one major tick."""
    from matplotlib.ticker import FuncFormatter, LogLocator

    def plain(value, _):
        return f"{value:.3g}"

    low, high = ax.get_ylim()
    ax.yaxis.set_major_formatter(FuncFormatter(plain))
    if high / max(low, 1e-300) < 10:
        ax.yaxis.set_minor_locator(LogLocator(subs=list(range(1, 10))))
        ax.yaxis.set_minor_formatter(FuncFormatter(plain))
    else:
        ax.yaxis.set_minor_formatter(FuncFormatter(lambda value, _: ""))


_COST = LinearSegmentedColormap.from_list("cost", ["#ffffff", "#f4a582", "#b2182b", "#67001f"])
_MASS = LinearSegmentedColormap.from_list("mass", ["#ffffff", "#9ecae1", "#2171b5", "#08306b"])


def _matrix_axes(ax, n_rows, columns, title):
    """Class names on both axes, a light grid between cells, a title."""
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=7)
    ax.set_yticks(range(n_rows), label_space.ABBREVIATIONS, fontsize=7)
    # Cell borders as two line collections: minor ticks would cost a text object each.
    ax.vlines(np.arange(0.5, len(columns) - 1), -0.5, n_rows - 0.5, color="#eeeeee", lw=0.4, zorder=0.5)
    ax.hlines(np.arange(0.5, n_rows - 1), -0.5, len(columns) - 0.5, color="#eeeeee", lw=0.4, zorder=0.5)
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#bbbbbb")
    ax.set_title(title, loc="left", fontsize=9.5)


def _matrix(ax, values, cmap, title, vmax=None, columns=None, annotate=True, norm_gamma=0.5):
    columns = columns or list(label_space.ABBREVIATIONS)
    vmax = vmax if vmax is not None else max(float(np.max(values)), 1e-9)
    image = ax.imshow(
        values, cmap=cmap, norm=PowerNorm(norm_gamma, vmin=0, vmax=vmax), aspect="equal", interpolation="nearest"
    )
    _matrix_axes(ax, values.shape[0], columns, title)
    if annotate:  # the values of the largest cells (at most ANNOTATED: more would be unreadable, and slow)
        norm = PowerNorm(norm_gamma, vmin=0, vmax=vmax)
        flat = np.argsort(-values, axis=None, kind="stable")[:ANNOTATED]
        for j, k in zip(*np.unravel_index(flat, values.shape)):
            v = values[j, k]
            if v >= 0.05:
                text = f"{v:.0f}" if v >= 9.5 else f"{v:.1f}"
                ax.text(
                    k, j, text, ha="center", va="center", fontsize=5.5, color="white" if norm(v) > 0.55 else "#222222"
                )
    return image


def _bubbles(ax, wrong, missed, W):
    """Wrong predictions as dots: area by mass in A, colour by the pair's weight (missed
    labels earn 0)."""
    n = wrong.shape[0]
    values = np.c_[wrong, missed]
    weights = np.c_[W, np.zeros(n)]
    j, k = np.nonzero(values > 0)
    top = max(float(values.max()), 1e-9)
    area = lambda mass: 10 + 240 * np.asarray(mass) / top  # noqa: E731
    dots = ax.scatter(
        k,
        j,
        s=area(values[j, k]),
        c=weights[j, k],
        cmap="RdYlGn",
        norm=WEIGHT_NORM,
        edgecolors="#333333",
        linewidths=0.4,
        zorder=3,
    )
    ax.set_xlim(-0.5, n + 0.5)
    ax.set_ylim(n - 0.5, -0.5)
    ax.set_aspect("equal")
    _matrix_axes(
        ax,
        n,
        list(label_space.ABBREVIATIONS) + ["missed"],
        "wrong predictions: area = mass in A, colour = W (green forgiven, red costly)",
    )
    ax.axvline(n - 0.5, color="#555555", lw=1)
    sizes = [top, top / 4, top / 16]
    handles = [ax.scatter([], [], s=area(m), c="#bbbbbb", edgecolors="#333333", linewidths=0.4) for m in sizes]
    ax.legend(
        handles,
        [f"{m:.2g}" for m in sizes],
        title="mass in A",
        loc="upper center",
        ncol=3,
        fontsize=7,
        title_fontsize=7,
        frameon=False,
        bbox_to_anchor=(0.5, -0.17),
        columnspacing=2.5,
    )
    return dots


def confusion_figure(views, title):
    """Four panels over (true, predicted) class pairs: the weights W, the matrix A the metric
    scores, A's wrong predictions as dots sized by mass and coloured by weight (plus the
    missed true labels), and the credit they lose, (1 - W) x mass."""
    A, wrong, missed, W = views["A"], views["wrong"], views["missed"], views["W"]
    figure, axes = plt.subplots(2, 2, figsize=(14, 14.2))
    off_diagonal = W.copy()
    np.fill_diagonal(off_diagonal, np.nan)
    cmap = matplotlib.colormaps["RdYlGn"].with_extremes(bad="#1d1d1f")
    image = axes[0, 0].imshow(off_diagonal, cmap=cmap, norm=WEIGHT_NORM, interpolation="nearest")
    _matrix_axes(
        axes[0, 0],
        W.shape[0],
        list(label_space.ABBREVIATIONS),
        "weights W: the credit of a (true, predicted) pair; black: 1",
    )
    figure.colorbar(image, ax=axes[0, 0], fraction=0.046, pad=0.02, extend="both", label="weight W")
    image = _matrix(axes[0, 1], A, _MASS, f"A, the matrix the metric scores ({title})")
    figure.colorbar(image, ax=axes[0, 1], fraction=0.046, pad=0.02)
    dots = _bubbles(axes[1, 0], wrong, missed, W)
    figure.colorbar(dots, ax=axes[1, 0], fraction=0.046, pad=0.02, extend="both", label="weight W of the pair")
    cost = np.c_[(1 - W) * wrong, missed]
    image = _matrix(
        axes[1, 1],
        cost,
        _COST,
        "credit lost: wrong predictions x (1 - W), and missed labels",
        columns=list(label_space.ABBREVIATIONS) + ["missed"],
    )
    axes[1, 1].axvline(len(label_space.ABBREVIATIONS) - 0.5, color="#555555", lw=1)
    figure.colorbar(image, ax=axes[1, 1], fraction=0.046, pad=0.02)
    for ax in axes.flat:
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
    figure.tight_layout()
    return figure


def measurement_strips(panels):
    """One panel per measurement: its values per label group as jittered points with the median
    marked, the criterion's limits dashed. `panels`: (axis title, [(group, values)], limits)."""
    figure, axes = plt.subplots(1, len(panels), figsize=(2.3 * len(panels), 3.0), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, (title, groups, limits) in zip(axes[0], panels):
        for x, (_, values) in enumerate(groups):
            ax.scatter(x + rng.uniform(-0.18, 0.18, len(values)), values, s=7, alpha=0.6, color=OOF_COLOR, lw=0)
            if len(values):
                ax.plot([x - 0.3, x + 0.3], [np.median(values)] * 2, color=POINT_COLOR, lw=1.5)
        for limit in limits:
            ax.axhline(limit, color=FEW_COLOR, ls="--", lw=0.8)
        ax.set_xticks(range(len(groups)), [f"{name}\n(n={len(values)})" for name, values in groups], fontsize=7)
        ax.set_title(title)
    figure.subplots_adjust(left=0.05, right=0.99, bottom=0.2, top=0.9, wspace=0.45)
    return figure
