"""Published datasets: re-evaluate the paper's pickles against reference numbers.

Every ``.pkl`` in a folder is converted with the safe importer
(`engine.paper_import.import_paper`) and scored with `engine.evaluate`
(fresh random inits for HaDES-R files, the recorded fixed init for HaDES-F files,
the paper's inner loop and fitness from the file's own config). Files the importer
refuses (the supervised MNIST file, anything malformed) are listed as skipped with
the reason.

Reference numbers: `REFERENCE` below holds the "re-evaluated" column of the shared
``reference/README.md`` (brax 0.14.2 / gymnax 1.0.1, 8 inits); a CSV with columns
``file,reference`` replaces or extends them. Breakout's return has a heavy lower
tail (some inits fail: 32 inits gave mean 11.89, median 12.5, 2 of 32 below 10), so
MinAtar files get `minatar_inits` inits and the table shows the median as well.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from engine.evaluate import evaluate_dataset
from engine.figures.published import figure
from engine.paper_import import PaperImportError, import_paper
from engine.studies import common
from engine.studies.params import StudyParams, make

NAME = "published"
REFERENCE: dict[str, float] = {
    "brax-hopper-D4-constnorm-hadesR-seed0.pkl": 1764.7,
    "brax-hopper-D4-constnorm-hadesR-seed2.pkl": 1073.1,
    "brax-hopper-D64-runningnorm-hadesR-seed0.pkl": 1779.4,
    "minatar-Breakout-D16-constnorm-hadesR-sampled-seed0.pkl": 12.50,
}
"""Fresh-random-init returns re-evaluated with brax 0.14.2 / gymnax 1.0.1."""
PRESETS = {
    "quick": {"inits": 8, "minatar_inits": 16},
    "paper": {"inits": 32, "minatar_inits": 32},
}


def default_folder() -> Path | None:
    """``../shared/reference/datasets`` beside the checkout, when present."""
    p = Path(__file__).resolve().parents[3] / "shared" / "reference" / "datasets"
    return p if p.is_dir() else None


def read_reference_csv(path: str | os.PathLike) -> dict[str, float]:
    """{file name: reference return} from a CSV with columns file, reference."""
    out = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if "file" not in row or "reference" not in row:
                raise common.StudyError(f"{path}: needs columns 'file' and 'reference'")
            if row["reference"].strip():
                out[os.path.basename(row["file"].strip())] = float(row["reference"])
    return out


@dataclass(frozen=True)
class Params(StudyParams):
    """The published study's parameters (``overrides``: config fields of the
    evaluation, e.g. fitness.num_steps=64 for a smoke test)."""

    folder: str | None = None
    """Folder of the paper's .pkl files (default: ../shared/reference/datasets)."""
    reference: str | None = None
    """CSV with columns file,reference (merged over the built-in references)."""
    eval_inits: int | None = None
    """Fresh inits per file (default: the preset's)."""
    minatar_eval_inits: int | None = None
    """Fresh inits per MinAtar file (Breakout has a heavy lower tail)."""
    max_files: int | None = None
    """Evaluate only the first this many files (in name order)."""


def run_published(
    params: Params | dict | None = None,
    *,
    runs_root=None,
    progress_fn: common.ProgressFn | None = None,
    resume: str | None = None,
    **values,
) -> dict:
    """Evaluate every .pkl of `folder`; table against reference numbers.

    Returns the rows (file, env, N, mean, median, std, reference, delta, status)
    and paths.
    """
    p = make(Params, params, values)
    folder = Path(p.folder).expanduser() if p.folder is not None else default_folder()
    if folder is None or not folder.is_dir():
        raise common.StudyError(
            f"no folder of published datasets: {folder} (pass --folder)"
        )
    with common.StudyDir(NAME, p.to_dict(), runs_root, study_id=resume) as sd:
        return _study(p, folder, sd, progress_fn)


def _study(p: Params, folder: Path, sd, progress_fn) -> dict:
    refs = dict(REFERENCE)
    if p.reference:
        refs.update(read_reference_csv(p.reference))
    n_inits = p.eval_inits or PRESETS[p.preset]["inits"]
    n_minatar = p.minatar_eval_inits or PRESETS[p.preset]["minatar_inits"]
    files = sorted(folder.glob("*.pkl"))[: p.max_files]
    seed, overrides = p.seed, p.override_dict() or None
    rows, per_init = [], []
    for i, f in enumerate(files):
        common.report(progress_fn, NAME, f"evaluate {f.name}", i, len(files))
        row = {"file": f.name, "reference": refs.get(f.name)}
        try:
            ds, _notes = import_paper(f)
        except PaperImportError as e:
            rows.append({**row, "status": "skipped", "reason": str(e)})
            continue
        k = n_minatar if ds.spec.family == "minatar" else n_inits
        res = evaluate_dataset(ds, inits=k, seed=seed, overrides=overrides)
        s = common.summary(res.per_init)
        log = ds.meta.get("training_log") or {}
        ref = row["reference"]
        rows.append(
            {
                **row,
                "status": "evaluated",
                "env": ds.env,
                "size": ds.size,
                "kind": "HaDES-F" if res.fixed_init else "HaDES-R",
                "inits": k,
                "mean": s["mean"],
                "std": s["std"],
                "median": s["median"],
                "min": s["min"],
                "max": s["max"],
                "delta": None if ref is None else s["mean"] - ref,
                "delta_pct": None if not ref else 100 * (s["mean"] - ref) / abs(ref),
                "training_log_fitness": log.get("final_mean_fitness"),
                "reason": "",
            }
        )
        per_init += [
            {"file": f.name, "init": j, "return": r} for j, r in enumerate(res.per_init)
        ]
    common.report(progress_fn, NAME, "evaluate", len(files), len(files))
    csv_path = common.write_csv(sd.file(f"{NAME}.csv"), rows)
    init_path = common.write_csv(sd.file(f"{NAME}_per_init.csv"), per_init)
    table = markdown_table(rows)
    sd.file(f"{NAME}.md").write_text(table + "\n")
    figs = {}
    if per_init:
        figs["published"] = common.save_figure(
            figure(rows, per_init), sd.figures, "published"
        )
    ev = [r for r in rows if r["status"] == "evaluated"]
    return sd.finish(
        {
            "folder": str(folder),
            "preset": p.preset,
            "evaluated": len(ev),
            "skipped": len(rows) - len(ev),
            "rows": rows,
            "returns": {r["file"]: r["mean"] for r in ev},
            "table": table,
            "csv": csv_path,
            "per_init_csv": init_path,
            "markdown": str(sd.file(f"{NAME}.md")),
            "figures": figs,
        }
    )


def _num(v, digits: int = 1) -> str:
    return "" if v is None else f"{v:.{digits}f}"


def _short_reason(reason: str) -> str:
    """The reason up to its first colon (the importer's detail follows it)."""
    head = reason.split(": ", 1)[0] if ": " in reason else reason
    return (head if len(head) <= 120 else head[:117] + "...").replace("|", "/")


def markdown_table(rows: list[dict]) -> str:
    """The reproduction table (Markdown)."""
    head = (
        "| file | env | N | kind | inits | mean ± std | median | min-max | "
        "reference | delta | training log |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        if r["status"] != "evaluated":
            lines.append(
                f"| {r['file']} | | | | | skipped: {_short_reason(r['reason'])} | | | "
                f"{_num(r.get('reference'))} | | |"
            )
            continue
        d = 2 if r["env"].endswith("MinAtar") else 1
        delta = (
            ""
            if r["delta"] is None
            else (f"{r['delta']:+.{d}f} ({r['delta_pct']:+.1f}%)")
        )
        lines.append(
            f"| {r['file']} | {r['env']} | {r['size']} | {r['kind']} | {r['inits']} | "
            f"{r['mean']:.{d}f} ± {r['std']:.{d}f} | {r['median']:.{d}f} | "
            f"{r['min']:.{d}f}-{r['max']:.{d}f} | {_num(r['reference'], d)} | "
            f"{delta} | {_num(r['training_log_fitness'], d)} |"
        )
    return "\n".join(lines)
