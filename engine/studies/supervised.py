"""Supervised dataset distillation with HaDES: one synthetic image per class.

Lupu et al., "Behaviour Distillation" (ICLR 2024), section on MNIST/FashionMNIST:
the search variable is 10 images (one per class, fixed labels), the ES mean starts
at the per-class mean image of the training set, the inner loop trains the network
Conv16 3x3 -> ReLU -> Dense128 -> ReLU -> Dense10 with SGD 0.1 on the 10 images for
1000 full-batch steps (loss: cross-entropy / 10), and the fitness is the trained
network's loss on the real training set (minimised). The paper's MNIST file reports
a train accuracy of 0.896; the test accuracy was never measured by its code.

Here the ES is the same `engine.strategies.Strategy` (evosax OpenES) as HaDES runs,
driven by `engine.driver.EsDriver`. The fitness uses a fresh random subsample of
the training set each generation (common to all members), `inits` network inits
per candidate.
At the end, fresh networks trained on the final ES mean are scored on the full
training and test sets; the same is done for the starting point (class means).

Data: scikit-learn's bundled 8x8 digits (offline default, 1797 images scaled to
[0, 1], a seeded 75/25 split) or MNIST / FashionMNIST from local IDX files
(``train-images-idx3-ubyte[.gz]`` and friends; `load_idx` reads gzip or raw).
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from engine.config import OuterConfig
from engine.driver import EsDriver
from engine.figures.supervised import curve_figure, image_figure
from engine.strategies import Strategy
from engine.studies import common
from engine.studies.params import StudyParams, make

NAME = "supervised"
DATASETS = ("digits", "mnist", "fashion_mnist")
MAX_IDX_BYTES = 512 * 2**20
_IDX_DTYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
_IDX_FILES = {
    "x_train": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "y_train": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "x_test": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "y_test": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}


@dataclass(frozen=True)
class SupervisedSettings:
    population: int = 16
    """Candidate image sets per generation (the paper: 512)."""
    generations: int = 50
    """ES generations (the paper: 1000)."""
    sigma: float = 0.02
    """Initial ES standard deviation, in pixel units (images in [0, 1])."""
    sigma_decay: float = 0.999
    """Sigma multiplier per generation (floor `sigma_floor`)."""
    sigma_floor: float = 0.001
    """Lowest sigma."""
    lr: float = 0.01
    """ES learning rate (Adam) of the mean images."""
    lr_decay: float = 0.999
    """ES learning-rate multiplier per generation (floor `lr_floor`)."""
    lr_floor: float = 0.001
    """Lowest ES learning rate."""
    fitness_shaping: str = "centered_rank"
    """Fitness shaping of the OpenES update."""
    inner_steps: int = 100
    """SGD steps of the network on the 10 images (the paper: 1000)."""
    inner_lr: float = 0.1
    """SGD learning rate of the inner loop (the paper: 0.1)."""
    loss_scale: float = 1.0
    """Inner loss = cross-entropy * this (the paper: 0.1, i.e. / 10 classes; with
    only 100 steps the unscaled loss fits the 10 images, 0.1 does not)."""
    inits: int = 1
    """Network inits per candidate (common to the population)."""
    fitness_batch: int = 512
    """Training images scoring each generation (a fresh subsample; 0: all)."""
    eval_inits: int = 8
    """Fresh networks trained on the final images for the reported accuracies."""
    member_batch: int = 0
    """Members vectorised together (lax.map over groups); 0: all at once."""
    chunk: int = 10
    """Generations per jitted chunk."""
    eval_every: int = 10
    """Score the mean images on the training set every this many generations."""
    conv_features: int = 16
    """Channels of the 3x3 convolution."""
    hidden: int = 128
    """Units of the hidden dense layer."""
    seed: int = 0
    """Seed of the split, the ES and the inits."""


PRESETS = {
    # digits 8x8 on 2 CPU cores: about 1.5 minutes.
    "quick": SupervisedSettings(),
    # The paper's MNIST settings (a GPU job).
    "paper": SupervisedSettings(
        population=512,
        generations=1000,
        inner_steps=1000,
        loss_scale=0.1,
        inits=2,
        fitness_batch=0,
        member_batch=64,
    ),
}


# Data ----------
class ImageData(NamedTuple):
    name: str
    x_train: np.ndarray  # (n, H, W, C) float32 in [0, 1]
    y_train: np.ndarray  # (n,) int32
    x_test: np.ndarray
    y_test: np.ndarray

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max()) + 1)


def load_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (MNIST format), gzip-compressed or raw.

    Raises ValueError when the header, the data type or the size is wrong.
    """
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
        f.seek(0)
        if head == b"\x1f\x8b":
            with gzip.open(f) as g:
                data = g.read(MAX_IDX_BYTES + 1)
        else:
            data = f.read(MAX_IDX_BYTES + 1)
    if len(data) > MAX_IDX_BYTES:
        raise common.StudyError(f"{path}: larger than {MAX_IDX_BYTES >> 20} MiB")
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise common.StudyError(f"{path}: not an IDX file (bad magic number)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise common.StudyError(
            f"{path}: unsupported IDX type 0x{code:02x} / {ndim} dims"
        )
    hdr = 4 + 4 * ndim
    if len(data) < hdr:
        raise common.StudyError(f"{path}: truncated IDX header")
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    dtype = np.dtype(_IDX_DTYPES[code])
    count = int(np.prod(shape))
    if len(data) - hdr != count * dtype.itemsize:
        raise common.StudyError(
            f"{path}: header says shape {shape} ({count} values) but "
            f"{len(data) - hdr} bytes follow"
        )
    return (
        np.frombuffer(data, dtype, count, hdr)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def _find_idx(folder: Path, names: tuple[str, ...]) -> Path:
    for n in names:
        for cand in (folder / n, folder / f"{n}.gz"):
            if cand.is_file():
                return cand
    raise FileNotFoundError(f"{folder}: none of {', '.join(names)} (.gz) found")


def load_idx_folder(folder: str | os.PathLike, name: str = "mnist") -> ImageData:
    """MNIST-format training and test sets from a folder of IDX files."""
    folder = Path(folder).expanduser()
    arr = {k: load_idx(_find_idx(folder, v)) for k, v in _IDX_FILES.items()}
    for split in ("train", "test"):
        x, y = arr[f"x_{split}"], arr[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise common.StudyError(
                f"{folder}: {split} images {x.shape} and labels {y.shape}"
                " do not match (need (n, H, W) and (n,))"
            )
    scale = 255.0 if arr["x_train"].dtype == np.uint8 else 1.0
    prep = lambda x: (x.astype(np.float32) / scale)[..., None]  # noqa: E731
    return ImageData(
        name,
        prep(arr["x_train"]),
        arr["y_train"].astype(np.int32),
        prep(arr["x_test"]),
        arr["y_test"].astype(np.int32),
    )


def load_digits_data(seed: int = 0, test_fraction: float = 0.25) -> ImageData:
    """scikit-learn's bundled 8x8 digits, scaled to [0, 1], seeded split."""
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - scikit-learn is a test dependency
        raise RuntimeError(
            "the digits dataset needs scikit-learn (pip install scikit-learn)"
        ) from e
    d = load_digits()
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int32)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    te, tr = perm[:n_test], perm[n_test:]
    return ImageData("digits", x[tr], y[tr], x[te], y[te])


def load_data(
    dataset: str = "digits", data_dir: str | None = None, seed: int = 0
) -> ImageData:
    if dataset == "digits":
        return load_digits_data(seed)
    if dataset in ("mnist", "fashion_mnist"):
        if not data_dir:
            raise common.StudyError(
                f"{dataset}: pass the folder of its IDX files "
                "(--data-dir); nothing is downloaded"
            )
        return load_idx_folder(data_dir, dataset)
    raise common.StudyError(f"dataset {dataset!r}: use one of {', '.join(DATASETS)}")


def class_means(data: ImageData) -> np.ndarray:
    """(classes, H, W, C) mean training image of each class (the ES start)."""
    return np.stack(
        [data.x_train[data.y_train == c].mean(0) for c in range(data.num_classes)]
    ).astype(np.float32)


# The network and its inner loop ----------
class ConvNet(nn.Module):
    """The paper's classifier: Conv 3x3 -> ReLU -> Dense -> ReLU -> Dense."""

    num_classes: int = 10
    features: int = 16
    hidden: int = 128

    @nn.compact
    def __call__(self, x):  # (batch, H, W, C)
        x = nn.relu(nn.Conv(self.features, (3, 3))(x))
        x = x.reshape((x.shape[0], -1))
        x = nn.relu(nn.Dense(self.hidden)(x))
        return nn.Dense(self.num_classes)(x)


class SupervisedProblem:
    """Fitness of candidate image sets: train fresh nets on them, score on real data."""

    def __init__(self, data: ImageData, s: SupervisedSettings):
        self.data = data
        self.s = s
        self.net = ConvNet(data.num_classes, s.conv_features, s.hidden)
        self.labels = jnp.arange(data.num_classes, dtype=jnp.int32)
        self.template = {
            "images": np.zeros((data.num_classes, *data.x_train.shape[1:]), np.float32)
        }
        self.x_train = jnp.asarray(data.x_train)
        self.y_train = jnp.asarray(data.y_train)
        self.opt = optax.sgd(s.inner_lr)

    def init_params(self, key):
        return self.net.init(key, self.template["images"][:1])

    def train(self, images, init_key):
        """(params, final inner loss) of a net trained on `images` (K, H, W, C)."""
        params = self.init_params(init_key)
        onehot = jax.nn.one_hot(self.labels, self.data.num_classes)

        def loss_fn(p):
            logits = self.net.apply(p, images)
            return (
                optax.softmax_cross_entropy(logits, onehot).mean() * self.s.loss_scale
            )

        def step(carry, _):
            p, o = carry
            loss, g = jax.value_and_grad(loss_fn)(p)
            upd, o = self.opt.update(g, o, p)
            return (optax.apply_updates(p, upd), o), loss

        (params, _), losses = jax.lax.scan(
            step, (params, self.opt.init(params)), None, length=self.s.inner_steps
        )
        return params, losses[-1]

    def loss_and_accuracy(self, params, x, y):
        logits = self.net.apply(params, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def _member(self, solution, init_keys, xb, yb):
        def one(k):
            params, _ = self.train(solution["images"], k)
            return self.loss_and_accuracy(params, xb, yb)

        loss, acc = jax.vmap(one)(init_keys)
        return loss.mean(), acc.mean()

    def population_fitness(self, key, population):
        """(-training loss, training accuracy) per member; shared keys and batch."""
        k_init, k_batch = jax.random.split(key)
        init_keys = jax.random.split(k_init, self.s.inits)
        n = self.x_train.shape[0]
        b = self.s.fitness_batch
        if b and b < n:
            idx = jax.random.choice(k_batch, n, (b,), replace=False)
            xb, yb = self.x_train[idx], self.y_train[idx]
        else:
            xb, yb = self.x_train, self.y_train
        fn = lambda sol: self._member(sol, init_keys, xb, yb)  # noqa: E731
        mb = self.s.member_batch
        npop = jax.tree.leaves(population)[0].shape[0]
        if mb and mb < npop:
            loss, acc = jax.lax.map(fn, population, batch_size=mb)
        else:
            loss, acc = jax.vmap(fn)(population)
        return -loss, acc

    @partial(jax.jit, static_argnums=(0,))
    def _scores(self, images, init_key):
        params, inner = self.train(images, init_key)
        tr = self.loss_and_accuracy(params, self.x_train, self.y_train)
        te = self.loss_and_accuracy(
            params, jnp.asarray(self.data.x_test), jnp.asarray(self.data.y_test)
        )
        return tr, te, inner

    def evaluate(self, key, images, n_inits: int) -> dict:
        """Fresh nets trained on `images`: per-init train/test loss and accuracy."""
        images = jnp.asarray(images, jnp.float32)
        one = lambda k: self._scores(images, k)  # noqa: E731
        out = {
            "train_loss": [],
            "train_accuracy": [],
            "test_loss": [],
            "test_accuracy": [],
            "inner_loss": [],
        }
        for k in jax.random.split(key, n_inits):
            (trl, tra), (tel, tea), inner = one(k)
            for name, v in (
                ("train_loss", trl),
                ("train_accuracy", tra),
                ("test_loss", tel),
                ("test_accuracy", tea),
                ("inner_loss", inner),
            ):
                out[name].append(float(v))
        return out


def outer_config(s: SupervisedSettings) -> OuterConfig:
    return OuterConfig(
        "Open_ES",
        s.population,
        s.generations,
        sigma=s.sigma,
        sigma_decay=s.sigma_decay,
        sigma_floor=s.sigma_floor,
        lr=s.lr,
        lr_decay=s.lr_decay,
        lr_floor=s.lr_floor,
        optimizer="adam",
        adam_b1=0.9,
        fitness_shaping=s.fitness_shaping,
        antithetic=True,
        chunk=s.chunk,
        eval_every=s.eval_every,
    )


# The study ----------
@dataclass(frozen=True)
class Params(StudyParams):
    """The supervised study's parameters (``overrides``: `SupervisedSettings`
    fields as field=value, e.g. sigma=0.05)."""

    dataset: str = field(default="digits", metadata={"choices": DATASETS})
    """Images: digits (8x8, bundled with scikit-learn), mnist or fashion_mnist."""
    data_dir: str | None = None
    """Folder of MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...)."""
    generations: int | None = None
    """ES generations (default: the preset's)."""
    population: int | None = None
    """Candidate image sets per generation (default: the preset's)."""
    inner_steps: int | None = None
    """SGD steps of each network on the images (default: the preset's)."""
    eval_inits: int | None = None
    """Fresh networks scoring the final images (default: the preset's)."""

    def settings(self) -> SupervisedSettings:
        values = {
            k: getattr(self, k)
            for k in ("generations", "population", "inner_steps", "eval_inits")
            if getattr(self, k) is not None
        }
        known = {f.name for f in fields(SupervisedSettings)}
        for k, v in self.override_dict().items():
            if k not in known:
                raise common.StudyError(
                    f"{k}: not a supervised setting; known: {', '.join(sorted(known))}"
                )
            values[k] = type(getattr(SupervisedSettings(), k))(v)
        return replace(PRESETS[self.preset], seed=self.seed, **values)

    def __post_init__(self):
        if self.dataset not in DATASETS:
            raise common.StudyError(
                f"dataset {self.dataset!r}: use one of {', '.join(DATASETS)}"
            )
        if self.preset not in PRESETS:
            raise common.StudyError(
                f"preset {self.preset!r}: use one of {', '.join(PRESETS)}"
            )
        try:
            self.settings()
        except ValueError as e:
            raise common.StudyError(str(e)) from None


def run_supervised(
    params: Params | dict | None = None,
    *,
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    resume: str | None = None,
    **values,
) -> dict:
    """Distil one image per class with HaDES; report train and test accuracy.

    Returns the headline numbers (``test_accuracy``, ``train_accuracy`` of the
    distilled images, the same for the class-mean starting images, chance) and the
    output paths.
    """
    p = make(Params, params, values)
    s = p.settings()
    data = load_data(p.dataset, p.data_dir, s.seed)
    with common.StudyDir(NAME, p.to_dict(), runs_root, study_id=resume) as sd:
        return _study(p, s, data, sd, progress_fn)


def _study(p: Params, s: SupervisedSettings, data, sd, progress_fn) -> dict:
    problem = SupervisedProblem(data, s)
    strategy = Strategy(outer_config(s), problem.template)
    loop = EsDriver(strategy, problem.population_fitness, s.seed, s.chunk)
    start = class_means(data)
    es_state, es_params = loop.init({"images": jnp.asarray(start)})
    eval_key = jax.random.PRNGKey(s.seed + 10_000)

    @jax.jit
    def mean_train_loss(state):
        images = strategy.get_mean(state)["images"]
        losses = jax.vmap(
            lambda k: problem.loss_and_accuracy(
                problem.train(images, k)[0], problem.x_train, problem.y_train
            )
        )(jax.random.split(eval_key, 2))
        return losses[0].mean(), losses[1].mean()

    def eval_fn(state, gen):
        loss, acc = mean_train_loss(state)
        return float(loss), float(acc)

    def on_chunk(gen, rows, evals):
        common.report(
            progress_fn,
            NAME,
            "distil",
            gen,
            s.generations,
            train_loss=evals[-1][1][0] if evals else None,
        )

    loop.evaluate, loop.eval_every = eval_fn, s.eval_every
    es_state, rows, evals = common.evolve(
        loop, es_state, es_params, s.generations, on_chunk
    )
    final = np.asarray(strategy.get_mean(es_state)["images"])
    common.report(progress_fn, NAME, "evaluate", 0, 2)
    k_final = jax.random.PRNGKey(s.seed + 20_000)
    res_final = problem.evaluate(k_final, final, s.eval_inits)
    res_start = problem.evaluate(k_final, start, s.eval_inits)
    common.report(progress_fn, NAME, "evaluate", 2, 2)

    # Numbers ----------
    table = []
    for label, res in (("distilled", res_final), ("class_means", res_start)):
        for i in range(s.eval_inits):
            table.append(
                {"images": label, "init": i, **{k: v[i] for k, v in res.items()}}
            )
    curve = [
        {
            "generation": r["generation"],
            "fitness_mean": r["fitness_mean"],
            "fitness_max": r["fitness_max"],
            "population_train_accuracy": r["aux"],
        }
        for r in rows
    ]
    evals_rows = [
        {"generation": g, "mean_train_loss": v[0], "mean_train_accuracy": v[1]}
        for g, v in evals
    ]
    csv_path = common.write_csv(sd.file(f"{NAME}.csv"), table)
    curve_path = common.write_csv(
        sd.file(f"{NAME}_curve.csv"), _merge_curve(curve, evals_rows)
    )
    np.savez(
        sd.file("images.npz"),
        distilled=final,
        class_means=start,
        labels=np.arange(data.num_classes),
    )
    figs = {
        "images": common.save_figure(
            image_figure(start, final, data.name), sd.figures, "images"
        ),
        "curve": common.save_figure(
            curve_figure(curve, evals_rows, data.name), sd.figures, "curve"
        ),
    }
    m = lambda res, k: float(np.mean(res[k]))  # noqa: E731
    return sd.finish(
        {
            "dataset": data.name,
            "preset": p.preset,
            "test_accuracy": m(res_final, "test_accuracy"),
            "train_accuracy": m(res_final, "train_accuracy"),
            "test_accuracy_std": float(np.std(res_final["test_accuracy"])),
            "train_loss": m(res_final, "train_loss"),
            "start_test_accuracy": m(res_start, "test_accuracy"),
            "start_train_accuracy": m(res_start, "train_accuracy"),
            "chance": 1.0 / data.num_classes,
            "images_per_class": 1,
            "train_size": int(len(data.y_train)),
            "test_size": int(len(data.y_test)),
            "population": s.population,
            "generations": s.generations,
            "inner_steps": s.inner_steps,
            "strategy": type(strategy.es).__name__,
            "csv": csv_path,
            "curve_csv": curve_path,
            "images": str(sd.file("images.npz")),
            "figures": figs,
        }
    )


def _merge_curve(curve: list[dict], evals: list[dict]) -> list[dict]:
    by_gen = {e["generation"]: e for e in evals}
    out = [
        dict(
            r,
            **{
                k: v
                for k, v in by_gen.get(r["generation"], {}).items()
                if k != "generation"
            },
        )
        for r in curve
    ]
    if 0 in by_gen:
        out.insert(0, dict(by_gen[0]))
    return out
