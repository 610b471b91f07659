"""fpnb's tasks: ``python tasks.py TASK`` on a bare python3, or ``invoke TASK`` once installed.

Run as a script, this file creates ``.venv`` from ``requirements.lock`` when it is missing
or stale, installs fpnb editable, and hands the task to invoke inside that environment.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
STAMP = VENV / ".fpnb-installed"


def _install_fingerprint() -> str:
    """Hash of what the environment is built from: a change means reinstall."""
    digest = hashlib.sha256()
    for name in ("requirements.lock", "pyproject.toml"):
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def install(python: Path = VENV_PYTHON) -> None:
    """Create the venv if needed and install the locked dependencies and fpnb (editable)."""
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "-r", str(ROOT / "requirements.lock")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    _install_browser()
    STAMP.write_text(_install_fingerprint())


def _install_browser() -> None:
    """Debian's headless Chromium for the page test (playwright cannot download browsers here)."""
    if shutil.which("chromium-headless-shell") or shutil.which("chromium"):
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        print("tasks.py: no Chromium; the browser test will skip (install chromium-headless-shell)")
        return
    quiet = {"stdout": subprocess.DEVNULL}
    ok = subprocess.run(["apt-get", "update", "-qq"], **quiet).returncode == 0 and subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium-headless-shell"], **quiet,
        env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
    ).returncode == 0
    if not ok:
        print("tasks.py: apt-get could not install chromium-headless-shell; the browser test will skip")


def _installed() -> bool:
    return STAMP.exists() and STAMP.read_text() == _install_fingerprint()


os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, in tasks and kernels
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve each other on 2 cores

if __name__ == "__main__":
    if not _installed():
        print("tasks.py: installing the locked environment into .venv (first run: a few minutes)")
        install()
    os.execv(VENV_PYTHON, [str(VENV_PYTHON), "-m", "invoke", "--search-root", str(ROOT), *sys.argv[1:]])

from invoke import Exit, task  # noqa: E402  (only reached inside the environment)

NOTEBOOK_TIMEOUT_S = 1800


@task
def setup(c):
    """(Re)install the locked environment into .venv."""
    install()


@task
def lock(c):
    """Rewrite requirements.lock from the current environment (after editing requirements.in)."""
    c.run(f"{VENV_PYTHON} -m pip install -q -r {ROOT / 'requirements.in'}")
    frozen = c.run(f"{VENV_PYTHON} -m pip freeze --exclude-editable", hide=True).stdout
    lines = [line.replace("+cpu", "") for line in frozen.splitlines() if line and not line.startswith("fpnb")]
    header = (
        "# Full pinned lock of fpnb's environment (pip freeze of requirements.in on CPython 3.11, linux x86_64).\n"
        "# Regenerate: python tasks.py lock\n"
    )
    (ROOT / "requirements.lock").write_text(header + "\n".join(lines) + "\n")


@task(help={"k": "pytest -k expression", "notebooks": "also run every notebook under nbval (default on)"})
def test(c, k="", notebooks=True):
    """pytest on tests/, then every notebook under nbval in the smoke profile."""
    os.environ["FPNB_PROFILE"] = "smoke"
    targets = "tests notebooks" if notebooks else "tests"
    select = f"-k '{k}'" if k else ""
    c.run(
        f"{VENV_PYTHON} -m pytest {targets} -q --durations=15 --nbval-lax --nbval-current-env "
        f"--nbval-cell-timeout={NOTEBOOK_TIMEOUT_S} {select}",
        pty=False,
    )


@task(help={
    "profile": "smoke / quick / full (default: the profile of the shipped weights, else smoke)",
    "only": "rerun only the notebook runs whose name starts with this, e.g. 04 or 04_restoration_loss-ms_ssim_l1",
    "start": "resume the rebuild from the notebook whose name starts with this",
    "retrain": "train even where matching shipped weights exist",
    "jobs": "notebooks run side by side, each once the notebooks it reads have finished, the longest of the "
            "last build first, each pinned to its share of the cores (default 1: every notebook gets every core; "
            "the full build is no faster side by side, the smoke build is)",
    "param": "name=value, a parameter for the notebooks that declare it (repeatable), e.g. gan_steps=3900",
    "check": "then compare the rebuilt metrics and tables with the committed ones, as check-report does",
}, iterable=["param"])
def report(c, profile=None, only=None, start=None, retrain=False, jobs=1, param=None, check=False):
    """Run the numbered notebooks with papermill and build reports/<profile>/index.html.

    The profile names the real prints notebooks 02 and 05 read (full: pyfnprint, fetched here once when
    missing); without them they read the 3-print fixture and write its results apart (fpnb.data.real_sets)."""
    import ast
    import functools
    import json
    import time

    from fpnb.config import get_profile, paths, shipped_profile
    from fpnb.data.real_sets import FETCH_ENV, resolve_real_set
    from fpnb.report import NotebookFailed, build_index, discover, execute, run_all

    settings = {}
    for item in param or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise Exit(f"report: --param expects name=value, got {item!r}", code=2)
        try:
            settings[name] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            settings[name] = value  # a plain string
    started = time.time()  # the index flags every notebook page older than this build
    profile = profile or shipped_profile()
    out_dir = paths.report_dir(profile)
    real = resolve_real_set(get_profile(profile))  # the profile's real prints, fetched once here when missing
    os.environ[FETCH_ENV] = "0"  # so the notebooks' kernels read what is there now, as the manifest records
    if real.fallback:
        print(f"report: {real.notice()}", flush=True)
    runs = discover(only=only)
    if start is not None:
        names = [r.source.name for r in runs]
        first = next((i for i, n in enumerate(names) if n.startswith(start)), None)
        if first is None:
            raise Exit(f"report: no notebook starts with {start!r}", code=2)
        runs = runs[first:]
    if settings:
        import papermill

        declared = set().union(*(papermill.inspect_notebook(str(run.source)) for run in runs))
        unknown = sorted(set(settings) - declared)
        if unknown:
            raise Exit(f"report: no notebook of this build declares {unknown}", code=2)
    times_file = out_dir / "wall_seconds.json"
    last_build = json.loads(times_file.read_text()) if times_file.exists() else {}
    done, wall = {}, {}
    rank = {run.stem: i for i, run in enumerate(discover())}

    def finished(run, seconds):
        nonlocal wall
        done[run.stem] = round(seconds, 1)
        # a partial rebuild merges into the file as it is now (another rebuild may have written it meanwhile)
        wall = json.loads(times_file.read_text()) if (only or start) and times_file.exists() else {}
        wall.update(done)
        wall = dict(sorted(wall.items(), key=lambda item: rank.get(item[0], len(rank))))  # notebook order
        times_file.write_text(json.dumps(wall, indent=2) + "\n")

    try:
        run_all(runs, functools.partial(execute, profile=profile, out_dir=out_dir, retrain=retrain,
                                  settings=settings), int(jobs),
                on_start=lambda run: print(f"report[{profile}]: {run.stem}", flush=True), on_done=finished,
                longest=last_build)
    except NotebookFailed as err:
        raise Exit(f"report: {err}", code=1)
    index = build_index(profile, wall, out_dir, started=started, real_set=real.record())
    print(f"report: {index}")
    if check:
        check_report(c, profile)


@task(help={
    "profile": "smoke / quick / full (default: the profile of the shipped weights, else smoke)",
    "ref": "the git revision to compare with (default HEAD)",
})
def check_report(c, profile=None, ref="HEAD"):
    """Compare reports/<profile>/metrics and tables with their committed version; name every value that moved
    (outside its committed 95 % interval, else beyond 3 significant digits) and exit 1 if any did."""
    from fpnb.config import paths, shipped_profile
    from fpnb.report.check import check_report as compare, format_check

    result = compare(paths.reports / (profile or shipped_profile()), ref)
    print(format_check(result))
    if not result.ok:
        raise Exit("check-report: the rebuild differs from what is committed", code=1)


@task(help={
    "profile": "smoke / quick / full: image size and split fractions (default quick)",
    "identities": "number of identities (default: the profile's)",
    "impressions": "impressions per identity (default: the profile's)",
    "seed": "dataset seed",
    "scheduler": "address of a running Dask scheduler (default: $FPNB_SCHEDULER, else a local cluster)",
    "workers": "local worker processes (default: one per core)",
    "root": "output folder (default: data/<profile>[-<identities>x<impressions>]/chalearn)",
})
def data(c, profile="quick", identities=0, impressions=0, seed=0, scheduler=None, workers=0, root=None):
    """Build a synthetic dataset on Dask; rerun the same command to resume an interrupted build."""
    import time

    from fpnb.config import get_profile, paths
    from fpnb.data.datasets import build_restoration_dataset

    overrides = {k: v for k, v in (("n_identities", identities), ("n_impressions", impressions)) if v}
    cfg = get_profile(profile, **overrides)
    name = f"{profile}-{cfg.n_identities}x{cfg.n_impressions}" if overrides else profile
    root = Path(root) if root else paths.data / name / "chalearn"
    start = time.perf_counter()
    build_restoration_dataset(cfg, seed=seed, root=root, workers=workers or None, scheduler=scheduler, progress=True)
    pairs = cfg.n_identities * cfg.n_impressions
    print(f"data: {pairs:,} pairs in {root} ({time.perf_counter() - start:.0f} s)")


@task(help={
    "identities": "number of identities (two impressions each)",
    "profile": "whose shipped generator, directions and threshold to use (default full)",
    "seed": "set seed",
    "score": "score each pair with Bozorth3 (default on; --no-score to skip)",
    "scheduler": "address of a running Dask scheduler (default: $FPNB_SCHEDULER, else a local cluster)",
    "workers": "local worker processes (default: one per core)",
    "root": "output folder (default: data/synfing-<profile>-<identities>)",
})
def synfing(c, identities=1000, profile="full", seed=0, score=True, scheduler=None, workers=0, root=None):
    """Build a SynFing-style pair set from the shipped generator on Dask; rerun the same command to resume."""
    import time

    from fpnb.config import get_profile, paths
    from fpnb.synthesis.synfing import build_from_shipped

    cfg = get_profile(profile)
    root = Path(root) if root else paths.data / f"synfing-{profile}-{identities}"
    start = time.perf_counter()
    stats = build_from_shipped(cfg, identities, root, seed=seed, score=score, workers=workers or None,
                               scheduler=scheduler, progress=True)
    print(f"synfing: {2 * identities:,} images in {root} ({time.perf_counter() - start:.0f} s); {stats}")


@task(help={
    "name": "which public set (fpnb.data.real_sets.REAL_SETS; default pyfnprint)",
    "source": "a folder already holding its prints, e.g. a clone's db/PNG (default: git clone, needs GitHub)",
})
def real_prints(c, name="pyfnprint", source=None):
    """Copy a public set of real prints into data/real/<name>, where the profiles that name it read it
    (Profile.real_set: full reads pyfnprint)."""
    from fpnb.config import PROFILE_NAMES, get_profile
    from fpnb.data.real_sets import fetch_real_set

    root = fetch_real_set(name, source)
    readers = [p for p in PROFILE_NAMES if get_profile(p).real_set == name]
    print(f"real-prints: {root}; read by the profiles {readers}" if readers else f"real-prints: {root}")


@task
def bench(c):
    """Run every benchmarks/bench_*.py; each writes its JSON under reports/bench/."""
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    if not scripts:
        raise Exit("bench: no benchmarks/bench_*.py yet", code=1)
    for script in scripts:
        c.run(f"{VENV_PYTHON} {script}")


@task(help={"port": "port to listen on"})
def lab(c, port=8888):
    """Open the study in JupyterLab."""
    c.run(f"{VENV_PYTHON} -m jupyter lab --notebook-dir={ROOT} --port={port}", pty=True)


@task(help={"host": "interface to bind", "port": "port to listen on"})
def serve(c, host="127.0.0.1", port=8000):
    """Serve the restoration API and upload page (uvicorn)."""
    c.run(f"{VENV_PYTHON} -m uvicorn --factory fpnb.restoration.service:create_app --host {host} --port {port}", pty=True)


@task
def clean(c):
    """Remove the smoke report, generated data and training runs (keeps the venv, weights and committed reports)."""
    for path in (ROOT / "reports" / "smoke", ROOT / "runs"):
        shutil.rmtree(path, ignore_errors=True)
    for path in (ROOT / "data").iterdir():
        if path.name != "README.md":
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink()
