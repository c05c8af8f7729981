"""Where a dataset comes from: a run (its current mean or any checkpoint), an
imported file, or a bundled demo asset. Pure helpers (no Streamlit).

A `Source` is identified by a string key ``kind:ref`` that pages keep in session
state, so the Dataset and Rollouts pages open the same dataset.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

KINDS = ("run", "import", "demo")
_HISTORY_RE = re.compile(r"^g(\d+)\.npz$")


@dataclass(frozen=True)
class Source:
    kind: str
    """run, import or demo."""
    ref: str
    """Run id, path of an imported .npz, or directory of a demo item."""
    label: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"


def parse_key(key: str | None) -> Source | None:
    if not key or ":" not in key:
        return None
    kind, ref = key.split(":", 1)
    return Source(kind, ref) if kind in KINDS and ref else None


# Listing ----------
def run_sources(store) -> list[Source]:
    """Runs of the store that have a dataset or a checkpoint, newest first."""
    out = []
    for r in store.list():
        label = f"{r['id']}  {r.get('name') or ''}  {r.get('env')}  " + (
            f"N={r.get('size')}  {r.get('status')}  gen {r.get('generation')}"
        )
        out.append(Source("run", r["id"], " ".join(label.split())))
    return out


def import_sources(imports_dir: Path) -> list[Source]:
    """Datasets saved from the Import page (newest first)."""
    try:
        files = sorted(
            Path(imports_dir).glob("*.npz"), key=lambda p: -p.stat().st_mtime
        )
    except OSError:
        return []
    return [Source("import", str(p), p.stem) for p in files]


def demo_dir() -> Path:
    """The bundled demo runs: ``dashboard/assets/demo`` inside the package (a
    checkout and an installed wheel alike)."""
    return Path(__file__).resolve().parent / "assets" / "demo"


def demo_manifest(demo_dir: Path) -> dict:
    """The demo assets' manifest.json (empty if missing or unreadable)."""
    try:
        data = json.loads((Path(demo_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def demo_sources(demo_dir: Path) -> list[Source]:
    items = demo_manifest(demo_dir).get("items", {})
    out = []
    for item in items.values():
        d = Path(demo_dir) / item["dir"]
        if (d / "dataset.npz").is_file():
            out.append(Source("demo", str(d), item.get("title", item["dir"])))
    return out


# Snapshots ----------
def history_files(run_dir: Path) -> dict[int, Path]:
    """{generation: path} of a demo item's history/g<generation>.npz files."""
    out = {}
    hist = Path(run_dir) / "history"
    if hist.is_dir():
        for p in hist.iterdir():
            mt = _HISTORY_RE.match(p.name)
            if mt:
                out[int(mt.group(1))] = p
    return dict(sorted(out.items()))


def dataset_generation(path: Path) -> int | None:
    """The generation stored in a dataset file's metadata, if any."""
    from engine import dataset as ds_lib

    try:
        g = ds_lib.load(path).meta.get("generation")
    except ds_lib.DatasetError:
        return None
    return int(g) if isinstance(g, int | float) else None


def snapshots(source: Source, store=None) -> list[int]:
    """Generations at which the source's dataset can be shown, oldest first.

    Runs: every checkpoint that keeps its dataset, plus the generation of
    dataset.npz. Demo items: their
    history. Imported files: one snapshot (their own generation, or 0).
    """
    if source.kind == "run":
        gens = set(store.dataset_generations(source.ref))
        cur = dataset_generation(store.paths(source.ref).dataset)
        if cur is not None:
            gens.add(cur)
        return sorted(gens)
    if source.kind == "demo":
        gens = set(history_files(Path(source.ref)))
        cur = dataset_generation(Path(source.ref) / "dataset.npz")
        if cur is not None:
            gens.add(cur)
        return sorted(gens)
    g = dataset_generation(Path(source.ref))
    return [g if g is not None else 0]


def load(source: Source, generation: int | None = None, store=None):
    """The dataset of `source` at `generation` (None: the latest).

    Raises `engine.dataset.DatasetError` or `engine.runs.RunError` with a message.
    """
    from engine import dataset as ds_lib
    from engine.dataset_ref import load_dataset_ref

    if source.kind == "import":
        return load_dataset_ref(source.ref)[0]
    if source.kind == "demo":
        d = Path(source.ref)
        if generation is not None:
            hist = history_files(d)
            if generation in hist:
                return ds_lib.load(hist[generation])
        return ds_lib.load(d / "dataset.npz")
    path = store.paths(source.ref).dataset
    if generation is None or (
        path.is_file() and dataset_generation(path) == generation
    ):
        return store.load_dataset(source.ref)
    return store.load_dataset(source.ref, generation)


def stamp(source: Source, generation: int | None = None, store=None) -> float:
    """A cache stamp for the file a snapshot is read from (its mtime; 0 if none).

    A checkpoint never changes once written, so a generation's stamp stays the
    same while the run goes on; only the current dataset's stamp moves.
    """
    try:
        if source.kind == "run":
            if generation is not None:
                from engine.runs.checkpoint import dataset_name

                kept = store.paths(source.ref).checkpoints / dataset_name(generation)
                if kept.is_file():
                    return kept.stat().st_mtime
            return store.paths(source.ref).dataset.stat().st_mtime
        if source.kind == "demo" and generation is not None:
            hist = history_files(Path(source.ref))
            if generation in hist:
                return hist[generation].stat().st_mtime
            return (Path(source.ref) / "dataset.npz").stat().st_mtime
        p = Path(source.ref)
        return (p / "dataset.npz" if p.is_dir() else p).stat().st_mtime
    except (OSError, AttributeError):
        return 0.0


def listing_stamp(source: Source, store=None) -> tuple:
    """Changes whenever the set of snapshots may have changed."""
    try:
        if source.kind == "run":
            p = store.paths(source.ref)
            return tuple(
                f.stat().st_mtime if f.exists() else 0.0
                for f in (p.dataset, p.checkpoints)
            )
        p = Path(source.ref)
        hist = p / "history"
        return (p.stat().st_mtime, hist.stat().st_mtime if hist.is_dir() else 0.0)
    except (OSError, AttributeError):
        return (0.0,)
