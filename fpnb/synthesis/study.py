"""The synthesis study: the profile's StyleGAN2, trained on the master prints or reused from weights/."""
from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from fpnb import plots
from fpnb.config import Profile, paths
from fpnb.data.datasets import NATIVE_SIDE, to_native
from fpnb.identity.metrics import frechet_distance
from fpnb.synthesis.sefa import conv_layers
from fpnb.synthesis.stylegan import Discriminator, Generator
from fpnb.weights_io import card_path, may_ship, shipped_for

GENERATOR_FILE = "stylegan_generator.safetensors"
DISCRIMINATOR_FILE = "stylegan_discriminator.safetensors"  # shipped beside it, to continue the training elsewhere
DISCRIMINATOR_FORMAT = "fpnb.stylegan.Discriminator/1"


def build_gan(profile: Profile) -> tuple[Generator, Discriminator]:
    """Generator and discriminator at the profile's resolution and channel width."""
    generator = Generator(profile.gan_resolution, channels=profile.gan_channels, noise_from=profile.gan_noise_from)
    discriminator = Discriminator(profile.gan_resolution, channels=profile.gan_channels)
    return generator, discriminator


def gan_run_dir(profile: Profile) -> Path:
    """Checkpoint, log and sample grids of the profile's GAN training (resumed after a crash); a generator
    with fewer noise inputs than StyleGAN2's (``gan_noise_from`` > 4) trains in a folder of its own."""
    suffix = "" if profile.gan_noise_from == 4 else f"-noise-from-{profile.gan_noise_from}"
    return paths.runs / profile.name / f"stylegan{suffix}"


def training_images(profile: Profile, seed: int = 0) -> torch.Tensor:
    """The training split's master prints as N x 1 x R x R in [-1, 1] (dark ridges at -1)."""
    from fpnb.data.datasets import build_restoration_dataset, master_prints

    build_restoration_dataset(profile, seed=seed)
    images = master_prints(profile, seed=seed, resolution=profile.gan_resolution)
    return torch.from_numpy(images * 2.0 - 1.0).unsqueeze(1)


def checkpoint_every(profile: Profile) -> int:
    """Steps between the checkpoints (and sample grids) of the profile's GAN runs: a few minutes of a full run."""
    return max(1, profile.gan_steps // 20)


def shipped_generator(profile: Profile) -> Path | None:
    """The shipped generator file when its model card names this profile, its resolution, width and noise inputs."""
    path = shipped_for(paths.weights / GENERATOR_FILE, profile,
                       args={"resolution": profile.gan_resolution, "channels": profile.gan_channels})
    if path is None:
        return None
    noise_from = json.loads(card_path(path).read_text())["args"].get("noise_from", 4)  # older cards: noise everywhere
    return path if noise_from == profile.gan_noise_from else None


def train_or_load_generator(profile: Profile, seed: int = 0, retrain: bool = False, device: str = "cpu",
                            progress: bool = False, steps: int | None = None) -> tuple[Generator, pd.DataFrame, str]:
    """The EMA generator of the profile: shipped weights when they match, else trained (resumably).

    ``steps`` (default: the profile's ``gan_steps``) asks for a generator trained that far: shipped
    weights that stopped short of it train on from where they stopped (``continue_from_shipped``), and
    a run folder at or past it is used as it stands, so a run can be evaluated and shipped part-way.
    Without ``steps``, shipped weights are used as they are.
    """
    from fpnb.synthesis.sampling import load_generator
    from fpnb.synthesis.runs import CHECKPOINT_NAME
    from fpnb.precision import resolve
    from fpnb.synthesis.training import load_training_run, train_stylegan

    shipped = shipped_generator(profile)
    if shipped is not None and not retrain:
        log = pd.read_csv(shipped.with_suffix(".log.csv"))
        if steps is None or int(log["step"].max()) >= steps:
            return load_generator(shipped, device), log, f"shipped {shipped.name}"
        if not continue_from_shipped(profile, shipped):
            raise ValueError(f"{shipped}: stopped at {int(log['step'].max())} steps and no discriminator of it was "
                             f"shipped to train on to {steps}; retrain=True trains from scratch")
    steps = steps or profile.gan_steps
    finished = gan_run_dir(profile) / CHECKPOINT_NAME
    if finished.exists() and not retrain:
        run = load_training_run(finished, device)  # a finished run keeps the model arguments it was built with
        if run["step"] >= steps:
            return run["g_ema"], run["log"], f"trained here ({profile.name})"
    torch.manual_seed(seed)
    generator, discriminator = build_gan(profile)
    g_ema = copy.deepcopy(generator)
    every = checkpoint_every(profile)
    log = train_stylegan(generator, discriminator, training_images(profile, seed), gan_run_dir(profile),
                         steps, profile.gan_batch, seed, device=device, resume=not retrain,
                         g_ema=g_ema, sample_every=every, checkpoint_every=every, progress=progress,
                         precision=resolve(profile))
    return g_ema.eval().requires_grad_(False), log, f"trained here ({profile.name})"


def ship_generator(g_ema: Generator, profile: Profile, log: pd.DataFrame, metrics: dict,
                   data_hash: str, source: str = "trained") -> Path | None:
    """Write the EMA generator, its training log and model card under weights/ (only for a profile that ships weights,
    and only a generator trained in this run: ``source`` from ``train_or_load_generator``; a reused one keeps its card).

    The discriminator of the run's checkpoint at the same step goes beside it (``DISCRIMINATOR_FILE``), so a
    machine without the run folder can train on from the shipped weights.
    """
    from fpnb.precision import resolve
    from fpnb.synthesis.runs import CHECKPOINT_NAME
    from fpnb.synthesis.sampling import save_generator
    from fpnb.synthesis.training import load_training_run
    from fpnb.weights_io import save_module

    path = paths.weights / GENERATOR_FILE
    if not source.startswith("trained") or not may_ship(path, profile):
        return None
    steps = int(log["step"].max())
    log.to_csv(path.with_suffix(".log.csv"), index=False)
    card = {"name": "stylegan_generator", "profile": profile.name, "data_manifest_hash": data_hash,
            "training_steps": steps, "planned_steps": profile.gan_steps, "images_shown": steps * profile.gan_batch,
            "wall_seconds": round(float(log["seconds"].sum())), "precision": resolve(profile), "metrics": metrics}
    shipped = save_generator(g_ema, path, card)
    checkpoint = gan_run_dir(profile) / CHECKPOINT_NAME
    run = load_training_run(checkpoint) if checkpoint.exists() else None
    d_file = paths.weights / DISCRIMINATOR_FILE
    if run is not None and run["step"] == steps:
        save_module(run["discriminator"], d_file, DISCRIMINATOR_FORMAT,
                    {"name": "stylegan_discriminator", "profile": profile.name, "training_steps": steps,
                     "generator_sha256": json.loads(card_path(shipped).read_text())["sha256"]})
    else:  # a discriminator of an earlier generator is of no use
        d_file.unlink(missing_ok=True)
        card_path(d_file).unlink(missing_ok=True)
    return shipped


def continue_from_shipped(profile: Profile, generator_file: Path) -> bool:
    """Seed the profile's GAN run folder from shipped weights that stopped part-way; whether it did.

    Needs the shipped discriminator of the same generator (``ship_generator``). A run folder whose
    checkpoint is at or past the shipped step is kept; otherwise its checkpoint becomes the shipped
    EMA generator (as both G and its EMA), the discriminator, the step and the training log, with
    fresh Adam moments: a fresh machine trains on instead of starting again.
    """
    from fpnb.synthesis.runs import CHECKPOINT_NAME, load_checkpoint, save_checkpoint
    from fpnb.synthesis.sampling import load_generator
    from fpnb.weights_io import load_module, sha256_file

    d_file = paths.weights / DISCRIMINATOR_FILE
    if not d_file.exists():
        return False
    d_card = json.loads(card_path(d_file).read_text())
    if d_card.get("generator_sha256") != sha256_file(generator_file):
        return False
    log = pd.read_csv(generator_file.with_suffix(".log.csv"))
    step = int(log["step"].max())
    existing = load_checkpoint(gan_run_dir(profile) / CHECKPOINT_NAME)
    if existing is not None and existing["step"] >= step:
        return True
    g_ema = load_generator(generator_file)
    discriminator = load_module(Discriminator, d_file, DISCRIMINATOR_FORMAT)
    save_checkpoint(gan_run_dir(profile), {"generator": g_ema, "g_ema": g_ema, "discriminator": discriminator},
                    log.to_dict("records"), step=step, pl_mean=float(log["pl_mean"].iloc[-1]),
                    args={"generator": g_ema.args, "discriminator": discriminator.args})
    return True


def train_run_on(profile: Profile, run_dir: str | Path, steps: int, seed: int = 0, progress: bool = False,
                 **settings) -> pd.DataFrame:
    """Train the GAN run in ``run_dir`` on to ``steps`` with the models and settings of its checkpoint
    (``settings`` override those, e.g. ``noise_fade``), on the profile's masters; return the log."""
    from fpnb.synthesis.runs import load_checkpoint
    from fpnb.synthesis.training import train_stylegan

    args = load_checkpoint(run_dir)["args"]
    generator = Generator(**args["generator"])
    every = checkpoint_every(profile)
    return train_stylegan(generator, Discriminator(**args["discriminator"]), training_images(profile, seed),
                          Path(run_dir), **{**args.get("train", {}), "steps": steps, **settings},
                          g_ema=copy.deepcopy(generator), sample_every=every, checkpoint_every=every,
                          progress=progress)


def continue_run(profile: Profile, source: str | Path, fade: tuple[int, int] | None = None, seed: int = 0,
                 progress: bool = False, run_dir: str | Path | None = None) -> Path:
    """Seed the profile's GAN run from another run's checkpoint, one with noise inputs at more layers.

    With ``fade=(start, end)`` the source run first trains on to step ``end`` in its own folder
    (``train_run_on``) while the noise of layers below the profile's ``gan_noise_from`` fades out
    from step ``start`` (``train_stylegan``'s ``noise_fade``), so that dropping those inputs changes
    no output. Everything else carries over: weights, both Adam states, step, path-length mean and
    log. The new run goes to ``run_dir`` (default: the profile's ``gan_run_dir``). Returns its checkpoint.
    """
    from fpnb.synthesis.runs import load_checkpoint, save_checkpoint

    ckpt = load_checkpoint(source)
    if ckpt is None:
        raise FileNotFoundError(f"{source}: no GAN checkpoint")
    if fade is not None and ckpt["step"] < fade[1]:
        train_run_on(profile, source, fade[1], seed, progress, noise_fade=(profile.gan_noise_from, *fade))
        ckpt = load_checkpoint(source)
    generator, discriminator = build_gan(profile)
    g_ema = copy.deepcopy(generator)
    keep = generator.state_dict().keys()
    for name, module in (("generator", generator), ("g_ema", g_ema)):
        state = {k: v for k, v in ckpt[name].items() if k in keep or not k.endswith("noise.weight")}
        module.load_state_dict(state)  # strict: only noise scales may be dropped
    discriminator.load_state_dict(ckpt["discriminator"])
    stateful = {"generator": generator, "g_ema": g_ema, "discriminator": discriminator}
    old_generator = Generator(**ckpt["args"]["generator"])
    for name, module, old_module in (("d_optim", discriminator, discriminator), ("g_optim", generator, old_generator)):
        if name in ckpt:  # Adam state by parameter index: re-index it by name, without the dropped scales
            old, names = ckpt[name], [n for n, _ in module.named_parameters()]
            index = {n: i for i, (n, _) in enumerate(old_module.named_parameters())}
            stateful[name] = torch.optim.Adam(module.parameters())
            stateful[name].load_state_dict({
                "state": {j: old["state"][index[n]] for j, n in enumerate(names) if index[n] in old["state"]},
                "param_groups": [{**old["param_groups"][0], "params": list(range(len(names)))}]})
    return save_checkpoint(run_dir or gan_run_dir(profile), stateful, ckpt["log"], step=ckpt["step"],
                           pl_mean=ckpt["pl_mean"], args={"generator": generator.args,
                                                          "discriminator": discriminator.args,
                                                          "train": ckpt["args"].get("train", {})})


# ---- quality of the generated prints -------------------------------------------------------------



def held_out_targets(profile: Profile, n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """``printnet_targets`` of n fresh masters at R (evaluation-stream seeds: seen by neither the GAN nor PrintNet)."""
    from fpnb.synthesis.printnet import EVALUATION_STREAM, fresh_seeds, printnet_targets
    from fpnb.data.masters import make_masters

    masters = make_masters(fresh_seeds(n, seed, EVALUATION_STREAM), profile.image_height, profile.image_width)
    return printnet_targets(masters, profile.gan_resolution)


def ceiling_images(reference: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Two sets that are plainly not prints, as large as ``reference`` (N x R x R in [0, 1]).

    ``blurred noise``: white noise blurred to about a ridge width; ``ridge-free``: the reference
    prints blurred over about two ridge periods, which keeps their silhouettes and grey level.
    """
    n, side = reference.shape[:2]
    period = 10.0 * side / NATIVE_SIDE  # the masters' ridge period at this resolution
    rng = np.random.default_rng(seed)
    noise = ndimage.gaussian_filter(rng.standard_normal(reference.shape), (0, period / 4, period / 4))
    noise = (noise - noise.min(axis=(1, 2), keepdims=True)) / np.ptp(noise, axis=(1, 2), keepdims=True)
    ridge_free = ndimage.gaussian_filter(reference, (0, 2 * period, 2 * period), mode="nearest")
    return {"blurred noise": noise.astype(np.float32), "ridge-free": ridge_free.astype(np.float32)}


def quality_table(net, real_a: np.ndarray, real_b: np.ndarray, generated: np.ndarray,
                  ceiling: np.ndarray | dict[str, np.ndarray]) -> pd.DataFrame:
    """FID-style distance (PrintNet last-stage features) of each set to ``real_a``: floor, generated, ceiling(s).

    The floor compares two disjoint sets of masters. The distance is biased by the set
    sizes, so compare rows of equal n (pass as many generated and ceiling images as ``real_b``).
    """
    from fpnb.synthesis.printnet import embed

    ceilings = ceiling if isinstance(ceiling, dict) else {"ceiling": ceiling}
    sets = {"floor: masters vs masters": real_b, "generated vs masters": generated,
            **{f"ceiling: {name}": images for name, images in ceilings.items()}}
    reference = embed(net, real_a)
    rows = {name: {"fid": frechet_distance(embed(net, images), reference), "n": len(images),
                   "n_reference": len(real_a)} for name, images in sets.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table["ratio_to_floor"] = table["fid"] / table.loc["floor: masters vs masters", "fid"]
    return table


def print_statistics(images: np.ndarray) -> pd.DataFrame:
    """Per print, at the masters' scale: median ridge period (px) and mean coherence in the foreground,
    foreground fraction, MINDTCT endings and bifurcations."""
    from fpnb.identity.fields import foreground_mask, orientation_field, ridge_period
    from fpnb.identity.matchers import extract_minutiae
    from fpnb.identity.minutiae import BIFURCATION, ENDING

    rows = []
    for image in to_native(images):
        foreground = foreground_mask(image)
        inside = foreground if foreground.any() else np.ones_like(foreground)
        _, coherence = orientation_field(image)
        minutiae = extract_minutiae(image)
        rows.append({"ridge_period_px": float(np.median(ridge_period(image, stride=32)[inside])),
                     "coherence": float(coherence[inside].mean()), "foreground_fraction": float(foreground.mean()),
                     "endings": int((minutiae.kind == ENDING).sum()),
                     "bifurcations": int((minutiae.kind == BIFURCATION).sum())})
    table = pd.DataFrame(rows)
    table["minutiae"] = table["endings"] + table["bifurcations"]
    return table


def _pairs(n: int, max_pairs: int | None, seed: int) -> np.ndarray:
    """All index pairs i < j of n items, or a seeded subset of ``max_pairs``."""
    pairs = np.stack(np.triu_indices(n, 1), axis=1)
    if max_pairs is not None and len(pairs) > max_pairs:
        pairs = pairs[np.sort(np.random.default_rng(seed).choice(len(pairs), max_pairs, replace=False))]
    return pairs


def diversity(images: np.ndarray, matcher, reference: np.ndarray, far: float = 1e-3,
              max_pairs: int | None = None, seed: int = 0) -> dict:
    """Impostor scores among generated prints against the threshold at ``far`` on master impostor pairs.

    ``reference``: masters of distinct identities (their pairs are the master impostors). Both sets
    are compared at the masters' scale (``fpnb.data.datasets.to_native``). With independent identities about
    far x n_pairs generated pairs pass the threshold by chance; ``p_value`` (one-sided binomial)
    says whether more do. ``threshold`` is only resolved when n_master_pairs >= 1 / far.
    """
    from scipy.stats import binomtest

    from fpnb.identity.metrics import threshold_at_far

    generated, real = to_native(images), to_native(reference)
    pairs, real_pairs = _pairs(len(generated), max_pairs, seed), _pairs(len(real), max_pairs, seed)
    scores = matcher.scores((generated[i], generated[j]) for i, j in pairs)
    master_scores = matcher.scores((real[i], real[j]) for i, j in real_pairs)
    threshold = threshold_at_far(master_scores, far)
    n_above = int((scores >= threshold).sum())
    return {"scores": scores, "pairs": pairs, "master_scores": master_scores, "threshold": threshold, "far": far,
            "n_pairs": len(pairs), "n_master_pairs": len(real_pairs), "n_above": n_above,
            "fraction_above": n_above / max(len(pairs), 1), "expected_above": far * len(pairs),
            "p_value": float(binomtest(n_above, len(pairs), far, alternative="greater").pvalue) if len(pairs) else 1.0,
            "max_score": float(scores.max()) if len(scores) else math.nan,
            "median_score": float(np.median(scores)) if len(scores) else math.nan}


def generation_speed(generator: Generator, n: int = 64, batch: int = 32, truncation: float = 1.0) -> float:
    """Images per second of ``sampling.sample`` (seeds, per-seed noise) after one warm-up batch."""
    from fpnb.synthesis.sampling import sample

    sample(generator, range(batch), truncation, batch=batch)
    started = time.perf_counter()
    sample(generator, range(n), truncation, batch=batch)
    return n / (time.perf_counter() - started)


# ---- figures of the synthesis notebook -----------------------------------------------------------

def style_mix_rows(generator: Generator, seeds_a: list[int], seeds_b: list[int], crossover: int,
                   truncation: float = 0.7) -> list[list[np.ndarray]]:
    """Rows for ``plots.image_grid``: a blank and the B prints, then per A: A, then A's coarse + B's fine styles."""
    from fpnb.synthesis.sampling import sample, style_mix

    a_images = sample(generator, seeds_a, truncation)
    b_images = sample(generator, seeds_b, truncation)
    blank = np.ones_like(a_images[0])
    rows = [[blank, *b_images]]
    for seed_a, image_a in zip(seeds_a, a_images):
        rows.append([image_a, *[style_mix(generator, seed_a, seed_b, crossover, truncation) for seed_b in seeds_b]])
    return rows


def noise_ablation_rows(generator: Generator, seeds: list[int],
                        truncation: float = 0.7) -> tuple[list[list[np.ndarray]], list[str]]:
    """Rows for ``plots.image_grid`` and their column titles: each seed as trained, then with the noise
    of one side's layers switched off (``NoiseInjection.fade`` 0), a column per side that has noise inputs."""
    from fpnb.synthesis.sampling import sample

    by_side: dict[int, list] = {}
    for _, side, conv in conv_layers(generator):
        if conv.noise is not None:
            by_side.setdefault(side, []).append(conv.noise)
    columns = [sample(generator, seeds, truncation)]
    for modules in by_side.values():
        try:
            for module in modules:
                module.fade = 0.0
            columns.append(sample(generator, seeds, truncation))
        finally:
            for module in modules:
                module.fade = 1.0
    titles = ["as trained", *(f"no noise at {side} px" for side in by_side)]
    return [[column[i] for column in columns] for i in range(len(seeds))], titles


def distributions_figure(stats: dict[str, pd.DataFrame],
                         columns: tuple[str, ...] = ("ridge_period_px", "coherence", "foreground_fraction",
                                                     "endings", "bifurcations")):
    """Overlaid histograms of per-print statistics, one panel per column, one colour per set."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(columns), figsize=(3.2 * len(columns), 2.8), squeeze=False)
    for ax, column in zip(axes[0], columns):
        values = np.concatenate([t[column].to_numpy(float) for t in stats.values()])
        bins = np.histogram_bin_edges(values[np.isfinite(values)], bins=20)
        for name, table in stats.items():
            ax.hist(table[column], bins=bins, alpha=0.5, density=True, label=name)
        ax.set(xlabel=plots.quantity_label(column), ylabel="density")
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    return fig


def diversity_figure(result: dict):
    """Histograms of impostor scores: master pairs vs generated pairs, with the threshold at the FAR."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3))
    values = np.concatenate([result["master_scores"], result["scores"]])
    bins = np.histogram_bin_edges(values, bins=30) if len(values) else 10
    ax.hist(result["master_scores"], bins=bins, alpha=0.5, density=True,
            label=f"master impostors ({result['n_master_pairs']})")
    ax.hist(result["scores"], bins=bins, alpha=0.5, density=True, label=f"generated pairs ({result['n_pairs']})")
    if np.isfinite(result["threshold"]):
        ax.axvline(result["threshold"], color="k", ls="--", label=f"threshold at FAR {result['far']:g}")
    ax.set(xlabel="matcher score", ylabel="density")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def printnet_rows(net, targets: dict[str, np.ndarray], n: int = 3) -> tuple[list[list[np.ndarray]], list[str]]:
    """Rows for ``plots.image_grid``: print, true / predicted orientation (RGB), mask, minutiae, for n prints."""
    from matplotlib.colors import hsv_to_rgb

    images = targets["images"][:n]
    with torch.inference_mode():
        out = {k: v.numpy() for k, v in net(torch.from_numpy(images)[:, None] * 2 - 1).items()}

    def colour(vectors: np.ndarray) -> np.ndarray:
        hue = (np.arctan2(vectors[1], vectors[0]) / (2 * np.pi)) % 1.0
        value = np.clip(np.hypot(vectors[0], vectors[1]), 0, 1)
        return hsv_to_rgb(np.stack([hue, np.ones_like(hue), value], -1))

    rows = []
    for i, image in enumerate(images):
        sigmoid = 1 / (1 + np.exp(-out["minutiae"][i]))
        rows.append([image, colour(targets["orientation"][i]), colour(out["orientation"][i]),
                     1 / (1 + np.exp(-out["mask"][i, 0])), targets["minutiae"][i].max(0), sigmoid.max(0)])
    titles = ["print", "orientation (truth)", "orientation (PrintNet)", "mask (PrintNet)", "minutiae (truth)",
              "minutiae (PrintNet)"]
    return rows, titles


def variation_split(generator: Generator, n_pairs: int = 16, truncation: float = 1.0, seed: int = 0) -> pd.DataFrame:
    """Which input carries the print: for ``n_pairs`` seed pairs (a, b), the difference between a's and b's
    prints (w and noise both differ), and what remains when only the noise is resampled (a's w, b's noise)
    or only w (b's w, a's noise), as fractions of the first. Differences are in pixels (mean squared) and in
    ridge flow (mean orientation difference, at the masters' scale, inside both prints' foregrounds).
    One row per pair; a latent that carries the print has a small noise-only and a large w-only fraction.
    """
    from fpnb.identity.fields import angle_error, foreground_mask, orientation_field
    from fpnb.synthesis.sampling import render, seed_latents, seed_noise

    seeds_a = [seed * 1000 + 2 * k for k in range(n_pairs)]
    seeds_b = [s + 1 for s in seeds_a]
    w_a, w_b = seed_latents(generator, seeds_a, truncation), seed_latents(generator, seeds_b, truncation)
    noise_a, noise_b = seed_noise(generator, seeds_a), seed_noise(generator, seeds_b)
    images = {kind: to_native(render(generator, w, noise=noise)) for kind, w, noise in (
        ("a", w_a, noise_a), ("both", w_b, noise_b), ("noise only", w_a, noise_b), ("w only", w_b, noise_a))}
    fields = {kind: [orientation_field(image)[0] for image in stack] for kind, stack in images.items()}
    masks = [foreground_mask(image) for image in images["a"]]
    rows = []
    for k, mask in enumerate(masks):
        inside = mask if mask.any() else np.ones_like(mask)
        pixel = {kind: float(np.mean((images[kind][k] - images["a"][k]) ** 2)) for kind in ("both", "noise only", "w only")}
        flow = {kind: float(np.degrees(angle_error(fields[kind][k], fields["a"][k])[inside].mean()))
                for kind in ("both", "noise only", "w only")}
        rows.append({"seed_a": seeds_a[k], "seed_b": seeds_b[k], "pixel_both": pixel["both"], "flow_both_deg": flow["both"],
                     **{f"pixel_{kind.split()[0]}_fraction": pixel[kind] / max(pixel["both"], 1e-12)
                        for kind in ("noise only", "w only")},
                     **{f"flow_{kind.split()[0]}_fraction": flow[kind] / max(flow["both"], 1e-12)
                        for kind in ("noise only", "w only")}})
    return pd.DataFrame(rows)


def noise_strengths(generator: Generator) -> pd.DataFrame:
    """Each noise input's learned scale (zero at init), by the side its layer draws at: where the
    trained generator lets per-pixel noise in (set against ``variation_split``'s fractions); 0 where a
    layer has no noise input (``Generator`` ``noise_from``)."""
    return pd.DataFrame([{"layer": "conv1" if index == 0 else f"convs.{index - 1}", "resolution": side,
                          "strength": 0.0 if conv.noise is None else float(conv.noise.weight.detach().abs().max())}
                         for index, side, conv in conv_layers(generator)])
