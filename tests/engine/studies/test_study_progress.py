"""The studies' progress lines carry a per-stage ETA, as distill's do."""

import io

from engine.studies.cli import _Progress


def test_study_progress_lines_have_an_eta():
    now = [0.0]
    out = io.StringIO()
    p = _Progress(quiet=False, clock=lambda: now[0], out=out)

    def at(t, stage, done, total, **extra):
        now[0] = t
        p({"study": "size-sweep", "stage": stage, "done": done, "total": total,
           **extra})  # fmt: skip

    # distil: 10 generations per chunk; the first chunk compiles (20 s)
    at(20.0, "distil N=4", 10, 40)
    at(22.0, "distil N=4", 20, 40, mean_dataset_return=99.5)
    at(24.0, "distil N=4", 30, 40)
    at(30.0, "evaluate", 1, 3)  # a new stage starts its own estimate
    lines = out.getvalue().splitlines()
    assert lines[0] == "[size-sweep   20.0s] distil N=4 10/40 | ETA -"
    assert lines[1].endswith("distil N=4 20/40 | ETA 4s | mean dataset return 99.5")
    assert lines[2].endswith("distil N=4 30/40 | ETA 2s")
    assert lines[3].endswith("evaluate 1/3 | ETA -")
