"""The restoration losses and metrics against TensorFlow's own, in one run: SSIM, MS-SSIM with its gradient,
and the study U-Net's and the tuned U-Net's training steps with either.

Run as ``python benchmarks/bench_losses.py [--repeats 10]``; writes reports/bench/losses.json. fpnb's SSIM
blurs with two matrix products where ``tf.image.ssim`` and ``tf.image.ssim_multiscale`` use a depthwise
convolution; the values agree to float rounding (tests/test_restoration.py). Each figure is the median
over ``repeats`` calls after a warm-up, on one thread (as a background training run uses); read the ratios.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
os.environ.setdefault("TF_NUM_INTEROP_THREADS", "1")

import numpy as np  # noqa: E402

from bench_precision import _median_seconds, save_results  # noqa: E402  (a script: its folder is on sys.path)
from fpnb.precision import detect, device  # noqa: E402


def _median_ms(fn, repeats: int) -> float:
    return round(_median_seconds(fn, repeats) * 1000, 1)


def _tf_ms_ssim_loss(y_true, y_pred):
    """1 - ``tf.image.ssim_multiscale`` with fpnb's three scales, 7 px window and renormalised weights."""
    import tensorflow as tf

    from fpnb.restoration import models as r

    weights = (np.array(r._MS_SSIM_WEIGHTS[:3]) / sum(r._MS_SSIM_WEIGHTS[:3])).tolist()
    return 1.0 - tf.image.ssim_multiscale(y_true, y_pred, 1.0, power_factors=weights, filter_size=7)


def _tf_ssim(y_true, y_pred):
    import tensorflow as tf

    return tf.image.ssim(y_true, y_pred, max_val=1.0)


def figures(repeats: int) -> dict:
    """Milliseconds per call, TensorFlow's implementation against fpnb's, batch 8 of 128 px crops."""
    import keras
    import tensorflow as tf

    from fpnb.restoration import models as r
    from fpnb.restoration.study import STUDY_UNET

    rng = np.random.default_rng(0)
    x = tf.constant(rng.random((8, 128, 128, 3), np.float32))
    y = tf.constant(rng.random((8, 128, 128, 1), np.float32))
    pred = tf.Variable(rng.random((8, 128, 128, 1), np.float32))

    def with_gradient(loss):
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                value = tf.reduce_mean(loss(y, pred))
            return tape.gradient(value, pred)
        return step

    out = {
        "ssim_metric": {"tensorflow": _median_ms(tf.function(lambda: _tf_ssim(y, pred)), repeats),
                        "fpnb": _median_ms(tf.function(lambda: r.ssim(y, pred)), repeats)},
        "ms_ssim_loss_with_gradient": {"tensorflow": _median_ms(with_gradient(_tf_ms_ssim_loss), repeats),
                                       "fpnb": _median_ms(with_gradient(r.ms_ssim_loss), repeats)},
    }
    # the study U-Net (16 filters, depth 4, batch norm) with its MS-SSIM + L1 loss, and the search winner's shape
    # (16 filters, depth 4, no batch norm, dropout 0.05) with an MS-SSIM loss; both log the SSIM metric
    def ms_ssim_l1(loss):
        return lambda y_true, y_pred: 0.84 * loss(y_true, y_pred) + 0.16 * r.mae(y_true, y_pred)

    models = {"study_unet_train_step": ("ms_ssim_l1", STUDY_UNET, ms_ssim_l1),
              "tuned_unet_train_step": ("ms_ssim", {"depth": 4, "base_filters": 16, "batch_norm": False,
                                                   "dropout": 0.05}, lambda loss: loss)}
    for key, (loss_name, kwargs, wrap) in models.items():
        out[key] = {}
        for name, loss, ssim in (("tensorflow", _tf_ms_ssim_loss, _tf_ssim), ("fpnb", r.ms_ssim_loss, r.ssim)):
            model = r.build_model("unet", loss=loss_name, learning_rate=1e-3, seed=0, **kwargs)
            model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=wrap(loss), metrics=[r.mae, r.psnr, ssim])
            out[key][name] = _median_ms(lambda: model.train_on_batch(x, y), repeats)
    for figures_of in out.values():
        figures_of["speedup"] = round(figures_of["tensorflow"] / figures_of["fpnb"], 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    results = {"machine": {"threads": 1, **device(), "detected_precision": detect(),
                           "load_average_before": os.getloadavg()},
               "time": time.strftime("%Y-%m-%dT%H:%M:%S"), "float32": figures(args.repeats)}
    save_results("losses", results)


if __name__ == "__main__":
    main()
