"""Restoration models of seed 000 rebuilt in Keras 3: builders, losses, Pix2Pix and prediction.

Every network maps a degraded RGB print in [0, 1] to a grey print in [0, 1] with dark
ridges on white (the data module's convention). Fully convolutional models take any
size and train on crops; ``predict_image`` pads a whole image to the network's
multiple and crops back, so the output always has the input's height and width.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
from keras import layers, ops

# --------------------------------------------------------------------------- losses

# Wang et al. (2003) MS-SSIM weights, finest scale first.
_MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_SSIM_FLOOR = 1e-4  # keeps x ** p differentiable: relu-clipped zeros give inf * 0 = NaN


def mse(y_true, y_pred):
    """Mean squared error per image."""
    return ops.mean(ops.square(y_true - y_pred), axis=(1, 2, 3))


def mae(y_true, y_pred):
    """Mean absolute error per image."""
    return ops.mean(ops.abs(y_true - y_pred), axis=(1, 2, 3))


def psnr(y_true, y_pred):
    """Peak signal-to-noise ratio per image, max value 1."""
    return tf.image.psnr(y_true, y_pred, max_val=1.0)


def ssim(y_true, y_pred):
    """Structural similarity per image: ``tf.image.ssim`` (11 px Gaussian window of sigma 1.5, valid windows,
    max value 1) to float rounding; the blur is two matrix products (``_blur``)."""
    x, y = tf.convert_to_tensor(y_true, tf.float32), tf.convert_to_tensor(y_pred, tf.float32)
    return _ssim_and_cs(x, y, _gaussian_1d(11, 1.5))[0]


def _gaussian_1d(size: int, sigma: float) -> np.ndarray:
    """Normalised 1-D Gaussian of ``size`` taps; its outer product with itself is the 2-D SSIM window."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(coords**2) / (2 * sigma**2))
    return (g / g.sum()).astype(np.float32)


def _band(n: tf.Tensor, taps: np.ndarray) -> tf.Tensor:
    """(n - k + 1, n) matrix whose rows slide ``taps`` along n samples: a valid 1-D filter as a matrix."""
    offset = tf.range(n)[None, :] - tf.range(n - len(taps) + 1)[:, None]
    inside = (offset >= 0) & (offset < len(taps))
    return tf.where(inside, tf.gather(tf.constant(taps), tf.clip_by_value(offset, 0, len(taps) - 1)), 0.0)


def _blur(t: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """Separable blur of an NHWC tensor over valid windows, as ``rows @ image @ cols.T`` per channel
    (``rows``, ``cols``: ``_band`` matrices for its height and width).

    On CPUs, TensorFlow's depthwise convolution of one-channel images is slow: the matrix form makes SSIM
    38x and MS-SSIM with its gradient 10x faster at 128 px (``benchmarks/bench_losses.py``). It is
    written as two einsums: ``tf.matmul`` of a 4-D tensor by a broadcast 2-D matrix returns wrong
    values and corrupts memory under oneDNN on an AVX512-BF16 CPU without AMX (TensorFlow 2.21).
    """
    return tf.einsum("qw,bpwc->bpqc", cols, tf.einsum("ph,bhwc->bpwc", rows, t))


def _ssim_and_cs(x: tf.Tensor, y: tf.Tensor, taps: np.ndarray) -> tuple[tf.Tensor, tf.Tensor]:
    """Mean SSIM and mean contrast-structure term per image (valid windows only)."""
    c1, c2 = 0.01**2, 0.03**2
    shape = tf.shape(x)
    rows, cols = _band(shape[1], taps), _band(shape[2], taps)  # once for the five blurs

    def blur(t):
        return _blur(t, rows, cols)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    luminance = (2 * mu_x * mu_y + c1) / (mu_x * mu_x + mu_y * mu_y + c1)
    cs = (2 * cov + c2) / (var_x + var_y + c2)
    return tf.reduce_mean(luminance * cs, axis=(1, 2, 3)), tf.reduce_mean(cs, axis=(1, 2, 3))


def ms_ssim_scales(height: int | None, width: int | None, scales: int = 3,
                   filter_size: int = 7) -> int:
    """Number of MS-SSIM scales that fit: each scale's side must hold one filter window.

    Fallback for small crops: drop the coarsest scales; one scale is plain SSIM.
    Unknown (None) sides keep ``scales``.
    """
    sides = [s for s in (height, width) if s is not None]
    if not sides:
        return scales
    fitting = 0
    while fitting < scales and min(sides) // 2**fitting >= filter_size:
        fitting += 1
    if fitting == 0:
        raise ValueError(f"ms_ssim: images of side {min(sides)} are smaller than filter {filter_size}")
    return fitting


def ms_ssim(y_true, y_pred, scales: int = 3, filter_size: int = 7, sigma: float = 1.5):
    """Multi-scale SSIM per image, computed in float32 with no offset (seed bug: ``y + 1e6``).

    Three scales with a 7 px window (not Wang's five with 11 px, which need >= 161 px)
    cover 1-4x the 8-12 px ridge period and fit 32-128 px crops. The first ``scales``
    Wang weights are renormalised to sum to one; per-scale terms are floored at 1e-4
    before the fractional powers so gradients stay finite when outputs are poor.
    """
    y_true = tf.convert_to_tensor(y_true, tf.float32)
    y_pred = tf.convert_to_tensor(y_pred, tf.float32)
    n_scales = ms_ssim_scales(y_true.shape[1], y_true.shape[2], scales, filter_size)
    weights = np.array(_MS_SSIM_WEIGHTS[:n_scales]) / sum(_MS_SSIM_WEIGHTS[:n_scales])
    taps = _gaussian_1d(filter_size, sigma)
    value = tf.ones_like(y_true[:, 0, 0, 0])
    for i, weight in enumerate(weights):
        if i > 0:
            y_true = tf.nn.avg_pool2d(y_true, 2, 2, "VALID")
            y_pred = tf.nn.avg_pool2d(y_pred, 2, 2, "VALID")
        full, cs = _ssim_and_cs(y_true, y_pred, taps)
        term = full if i == n_scales - 1 else cs
        value = value * tf.pow(tf.maximum(term, _SSIM_FLOOR), float(weight))
    return value


def ms_ssim_loss(y_true, y_pred):
    """1 - MS-SSIM per image: 0 for identical images."""
    return 1.0 - ms_ssim(y_true, y_pred)


def ms_ssim_l1_parts(y_true, y_pred, alpha: float = 0.84) -> dict[str, tf.Tensor]:
    """The MS-SSIM + L1 mix and its two parts per image (Zhao et al. 2017 use alpha 0.84)."""
    structure = ms_ssim_loss(y_true, y_pred)
    l1 = mae(y_true, y_pred)
    return {"loss": alpha * structure + (1 - alpha) * l1, "ms_ssim_loss": structure, "l1": l1}


def ms_ssim_l1(y_true, y_pred):
    """alpha * (1 - MS-SSIM) + (1 - alpha) * L1 per image, alpha 0.84."""
    return ms_ssim_l1_parts(y_true, y_pred)["loss"]


LOSSES: dict[str, Callable] = {
    "mse": mse,
    "mae": mae,
    "ms_ssim": ms_ssim_loss,
    "ms_ssim_l1": ms_ssim_l1,
}


def loss_function(loss: str, ms_ssim_weight: float | None = None) -> Callable:
    """The named loss; ``ms_ssim_l1`` with another MS-SSIM weight than 0.84 where one is given."""
    if loss not in LOSSES:
        raise ValueError(f"loss: unknown {loss!r}, expected one of {sorted(LOSSES)}")
    if ms_ssim_weight is None:
        return LOSSES[loss]
    if loss != "ms_ssim_l1":
        raise ValueError(f"ms_ssim_weight: only the ms_ssim_l1 loss has one, not {loss!r}")

    def ms_ssim_l1(y_true, y_pred):
        return ms_ssim_l1_parts(y_true, y_pred, alpha=ms_ssim_weight)["loss"]

    return ms_ssim_l1

# --------------------------------------------------------------------------- builders


def conv_dense(input_shape: tuple[int, int, int] = (128, 128, 3),
               filters: Sequence[int] = (16, 32, 64), hidden_units: int = 128) -> keras.Model:
    """Seed's Conv+Dense baseline; fixed size, so it trains on crops and predicts in tiles.

    The Dense layers grow with the image: at 128 px crops and 128 hidden units it holds
    about 4.2 M parameters (the seed's 512x384 version would need ~100 M); prediction
    tiles a whole image with ``input_shape`` windows.
    """
    height, width, _ = input_shape
    inputs = keras.Input(shape=input_shape)                              # (H, W, 3)
    x = inputs
    for n in filters:
        x = layers.Conv2D(n, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)                                     # (H/2^i, W/2^i, n)
    x = layers.Flatten()(x)                                              # (H/8 * W/8 * 64,)
    x = layers.Dense(hidden_units, activation="relu")(x)                 # (hidden,)
    x = layers.Dense(height * width, activation="sigmoid", dtype="float32")(x)  # (H * W,)
    outputs = layers.Reshape((height, width, 1), dtype="float32")(x)     # (H, W, 1)
    return keras.Model(inputs, outputs, name="conv_dense")


def autoencoder(filters: Sequence[int] = (32, 64, 128)) -> keras.Model:
    """Seed's convolutional autoencoder: 3x[Conv+MaxPool], 3x[Conv+UpSampling], Conv."""
    inputs = keras.Input(shape=(None, None, 3))                          # (H, W, 3)
    x = inputs
    for n in filters:
        x = layers.Conv2D(n, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)                                     # (H/2^i, W/2^i, n)
    for n in reversed(filters):
        x = layers.Conv2D(n, 3, padding="same", activation="relu")(x)
        x = layers.UpSampling2D()(x)                                     # (2x, 2x, n)
    outputs = layers.Conv2D(1, 3, padding="same", activation="sigmoid", dtype="float32")(x)  # (H, W, 1)
    return keras.Model(inputs, outputs, name="autoencoder")


def _unet_block(x, filters: int, activation: str, dropout: float, batch_norm: bool = False):
    """Two 3x3 convolutions with dropout between them (the seed's block); ``batch_norm`` adds
    BatchNormalization before each activation."""
    for i in range(2):
        if i and dropout:
            x = layers.Dropout(dropout)(x)
        x = layers.Conv2D(filters, 3, padding="same", activation=None if batch_norm else activation,
                          use_bias=not batch_norm, kernel_initializer="he_normal")(x)
        if batch_norm:
            x = layers.Activation(activation)(layers.BatchNormalization()(x))
    return x


def unet(depth: int = 4, base_filters: int = 32, activation: str = "relu",
         dropout: float = 0.1, batch_norm: bool = False, name: str = "unet") -> keras.Model:
    """U-Net, fully convolutional; defaults follow the ChaLearn winner (32->512 filters, dropout 0.1)."""
    inputs = keras.Input(shape=(None, None, 3))                          # (H, W, 3)
    x = inputs
    skips = []
    for level in range(depth):
        x = _unet_block(x, base_filters * 2**level, activation, dropout, batch_norm)  # (H/2^l, W/2^l, f*2^l)
        skips.append(x)
        x = layers.MaxPooling2D()(x)                                     # (H/2^(l+1), ...)
    x = _unet_block(x, base_filters * 2**depth, activation, dropout, batch_norm)  # (H/2^d, W/2^d, f*2^d)
    for level in reversed(range(depth)):
        n = base_filters * 2**level
        x = layers.Conv2DTranspose(n, 2, strides=2, padding="same")(x)  # (H/2^l, W/2^l, n)
        x = layers.Concatenate()([x, skips[level]])                      # (H/2^l, W/2^l, 2n)
        x = _unet_block(x, n, activation, dropout, batch_norm)           # (H/2^l, W/2^l, n)
    outputs = layers.Conv2D(1, 1, activation="sigmoid", dtype="float32")(x)  # (H, W, 1)
    return keras.Model(inputs, outputs, name=name)


# Seed 000's tuned U-Net: depth 3, ELU, dropout 0.077; 24 base filters gives ~1.08 M
# parameters, the seed's "about 1.0 M" (its exact filter count is not recorded).
SEED_UNET = dict(depth=3, base_filters=24, activation="elu", dropout=0.077)


def unet_seed() -> keras.Model:
    """Seed 000's U-Net configuration as a named baseline."""
    return unet(**SEED_UNET, name="unet_seed")


def _pix2pix_init() -> keras.initializers.Initializer:
    """Pix2pix weight initialisation, N(0, 0.02)."""
    return keras.initializers.RandomNormal(0.0, 0.02)


def _down(x, filters: int, batch_norm: bool = True):
    """Pix2pix encoder step: 4x4 stride-2 conv, batch norm, LeakyReLU; halves H and W."""
    x = layers.Conv2D(filters, 4, strides=2, padding="same", use_bias=not batch_norm,
                      kernel_initializer=_pix2pix_init())(x)
    if batch_norm:
        x = layers.BatchNormalization()(x)
    return layers.LeakyReLU(0.2)(x)


def _up(x, filters: int, dropout: float):
    """Pix2pix decoder step: 4x4 stride-2 transposed conv, batch norm, dropout, ReLU."""
    x = layers.Conv2DTranspose(filters, 4, strides=2, padding="same", use_bias=False,
                               kernel_initializer=_pix2pix_init())(x)
    x = layers.BatchNormalization()(x)
    if dropout:
        x = layers.Dropout(dropout)(x)
    return layers.ReLU()(x)


def pix2pix_generator(depth: int = 5, base_filters: int = 32, max_filters: int = 256,
                      dropout: float = 0.5) -> keras.Model:
    """TF-tutorial pix2pix U-Net generator, any size (multiple 2^depth), sigmoid output in [0, 1].

    The tutorial's 8 levels and 512 filters target 256 px; 5 levels reach a 32x-reduced
    bottleneck on 400x275 prints at a CPU-friendly size. Dropout (the GAN's noise) is on
    the three deepest decoder steps, as in the tutorial.
    """
    inputs = keras.Input(shape=(None, None, 3))                          # (H, W, 3)
    x = inputs
    skips = []
    for level in range(depth):
        n = min(base_filters * 2**level, max_filters)
        x = _down(x, n, batch_norm=level > 0)                            # (H/2^(l+1), ..., n)
        skips.append(x)
    for level in reversed(range(depth - 1)):
        n = min(base_filters * 2**level, max_filters)
        x = _up(x, n, dropout if level >= depth - 4 else 0.0)           # (H/2^(l+1), ..., n)
        x = layers.Concatenate()([x, skips[level]])                      # (H/2^(l+1), ..., 2n)
    outputs = layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="sigmoid",
                                     kernel_initializer=_pix2pix_init(), dtype="float32")(x)  # (H, W, 1)
    return keras.Model(inputs, outputs, name="pix2pix_generator")


def patchgan_discriminator(base_filters: int = 64, n_layers: int = 3) -> keras.Model:
    """Conditional PatchGAN: (input RGB, target or output grey) -> real/fake logit per patch.

    ``n_layers`` 3 gives the paper's 70x70 px receptive field, 6-8 ridge periods: enough
    context to judge whether ridges follow the degraded input, which the judge needs to
    reject invented ridges. Logits, not probabilities; same padding for any size.
    """
    image = keras.Input(shape=(None, None, 3), name="input_image")       # (H, W, 3)
    print_ = keras.Input(shape=(None, None, 1), name="print")            # (H, W, 1)
    x = layers.Concatenate()([image, print_])                            # (H, W, 4)
    x = _down(x, base_filters, batch_norm=False)                         # (H/2, W/2, 64)
    for i in range(1, n_layers):
        x = _down(x, min(base_filters * 2**i, 512))                      # (H/2^(i+1), ..., 64*2^i)
    x = layers.Conv2D(min(base_filters * 2**n_layers, 512), 4, padding="same", use_bias=False,
                      kernel_initializer=_pix2pix_init())(x)
    x = layers.LeakyReLU(0.2)(layers.BatchNormalization()(x))            # (H/2^n, W/2^n, 512)
    logits = layers.Conv2D(1, 4, padding="same", dtype="float32",
                           kernel_initializer=_pix2pix_init())(x)                      # (H/2^n, W/2^n, 1)
    return keras.Model([image, print_], logits, name="patchgan_discriminator")


def _bce_logits(target: float, logits):
    """Mean binary cross-entropy of logits against a constant label."""
    return ops.mean(ops.binary_crossentropy(ops.full_like(logits, target), logits, from_logits=True))


class Pix2Pix(keras.Model):
    """Conditional GAN (Isola et al. 2017): generator loss BCE + lambda * L1, discriminator BCE.

    Against seed 000's weak discriminator (outputs that look like prints with invented
    ridges): the discriminator is conditional on the degraded input, sees 70 px patches,
    has 64 base filters (2x the generator's), learns at 2x the generator's rate (TTUR,
    Heusel et al. 2017) and may take ``d_steps`` updates per generator update. Its
    accuracy on real and fake patches is logged (``d_real_acc``, ``d_fake_acc``) so a
    starved or overpowering discriminator shows in the training log. ``call`` runs the
    generator, so prediction and validation treat the GAN as the generator.
    """

    def __init__(self, generator: keras.Model | None = None,
                 discriminator: keras.Model | None = None,
                 lambda_l1: float = 100.0, d_steps: int = 1, **kwargs):
        super().__init__(**kwargs)
        self.generator = generator or pix2pix_generator()
        self.discriminator = discriminator or patchgan_discriminator()
        self.lambda_l1 = float(lambda_l1)
        self.d_steps = int(d_steps)
        self.trackers = [keras.metrics.Mean(name=n) for n in (
            "g_loss", "g_gan", "g_l1", "d_loss", "d_real_acc", "d_fake_acc")]
        self.val_trackers = [keras.metrics.Mean(name=n) for n in ("loss", "mae", "psnr", "ssim")]
        self.built = True  # both networks are built functional models

    def call(self, inputs, training: bool = False):
        """The generator's output."""
        return self.generator(inputs, training=training)

    def compile(self, g_learning_rate: float = 2e-4, d_learning_rate: float = 4e-4,
                beta_1: float = 0.5, **kwargs) -> None:
        """Two Adam optimizers (pix2pix's 2e-4, beta1 0.5; discriminator 2x), built at once."""
        self.g_optimizer = keras.optimizers.Adam(g_learning_rate, beta_1=beta_1, name="g_adam")
        self.d_optimizer = keras.optimizers.Adam(d_learning_rate, beta_1=beta_1, name="d_adam")
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        super().compile(optimizer=self.g_optimizer, jit_compile=False, **kwargs)

    def optimizer_slots(self) -> dict[str, keras.optimizers.Optimizer]:
        """Optimizers whose state a checkpoint must keep."""
        return {"generator": self.g_optimizer, "discriminator": self.d_optimizer}

    @property
    def metrics(self):
        return self.trackers + self.val_trackers

    def _d_losses(self, x, y, fake):
        """Discriminator loss (halved, as in the paper) and its accuracies on real / fake."""
        real_logits = self.discriminator([x, y], training=True)
        fake_logits = self.discriminator([x, fake], training=True)
        d_loss = 0.5 * (_bce_logits(1.0, real_logits) + _bce_logits(0.0, fake_logits))
        real_acc = ops.mean(ops.cast(real_logits > 0, "float32"))
        fake_acc = ops.mean(ops.cast(fake_logits < 0, "float32"))
        return d_loss, real_acc, fake_acc, fake_logits

    def train_step(self, data):
        """``d_steps - 1`` discriminator-only updates, then one joint update (tutorial style)."""
        x, y = data
        for _ in range(self.d_steps - 1):
            fake = self.generator(x, training=True)
            with tf.GradientTape() as tape:
                d_loss, *_ = self._d_losses(x, y, ops.stop_gradient(fake))
            grads = tape.gradient(d_loss, self.discriminator.trainable_variables)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_variables))
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = self.generator(x, training=True)
            d_loss, real_acc, fake_acc, fake_logits = self._d_losses(x, y, fake)
            g_gan = _bce_logits(1.0, fake_logits)
            g_l1 = ops.mean(ops.abs(y - fake))
            g_loss = g_gan + self.lambda_l1 * g_l1
        g_vars = self.generator.trainable_variables
        d_vars = self.discriminator.trainable_variables
        self.g_optimizer.apply_gradients(zip(g_tape.gradient(g_loss, g_vars), g_vars))
        self.d_optimizer.apply_gradients(zip(d_tape.gradient(d_loss, d_vars), d_vars))
        for tracker, value in zip(self.trackers, (g_loss, g_gan, g_l1, d_loss, real_acc, fake_acc)):
            tracker.update_state(value)
        return {t.name: t.result() for t in self.trackers}

    def test_step(self, data):
        """Validation on the generator alone: loss is the L1 term (monitor for early stopping)."""
        x, y = data
        fake = self.generator(x, training=False)
        l1 = ops.mean(ops.abs(y - fake))
        for tracker, value in zip(self.val_trackers, (l1, l1, ops.mean(psnr(y, fake)),
                                                      ops.mean(ssim(y, fake)))):
            tracker.update_state(value)
        return {t.name: t.result() for t in self.val_trackers}


def pix2pix(lambda_l1: float = 100.0, d_steps: int = 1, **generator_kwargs) -> Pix2Pix:
    """Pix2Pix GAN with the default generator and discriminator, compiled with its own optimizers."""
    model = Pix2Pix(pix2pix_generator(**generator_kwargs), patchgan_discriminator(),
                    lambda_l1=lambda_l1, d_steps=d_steps, name="pix2pix")
    model.compile()
    return model


MODELS: dict[str, Callable[..., keras.Model]] = {
    "conv_dense": conv_dense,
    "autoencoder": autoencoder,
    "unet": unet,
    "unet_seed": unet_seed,
    "pix2pix": pix2pix,
}


def compile_model(model: keras.Model, loss: str = "mse", learning_rate: float = 1e-3,
                  ms_ssim_weight: float | None = None) -> keras.Model:
    """Compile a non-GAN model with Adam, a named loss (``loss_function``) and MAE/PSNR/SSIM metrics.

    XLA is off: on two CPU cores its compile time outweighs the gain for short runs.
    A Pix2Pix model is returned as is (it compiles its own two optimizers).
    """
    if isinstance(model, Pix2Pix):
        return model
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss=loss_function(loss, ms_ssim_weight),
                  metrics=[mae, psnr, ssim], jit_compile=False)
    return model


def build_model(name: str, loss: str = "mse", learning_rate: float = 1e-3, seed: int = 0,
                ms_ssim_weight: float | None = None, **kwargs) -> keras.Model:
    """Seed Keras, build ``MODELS[name](**kwargs)`` and compile it for training."""
    if name not in MODELS:
        raise ValueError(f"model: unknown {name!r}, expected one of {sorted(MODELS)}")
    keras.utils.set_random_seed(seed)
    return compile_model(MODELS[name](**kwargs), loss, learning_rate, ms_ssim_weight)


# --------------------------------------------------------------------------- prediction


def inference_network(model: keras.Model) -> keras.Model:
    """The network that maps images to prints (a Pix2Pix model's generator)."""
    return model.generator if isinstance(model, Pix2Pix) else model


def network_multiple(model: keras.Model) -> int:
    """Factor the input side must divide: product of all pooling sizes and conv strides.

    Exact for the builders here, whose downsampling layers all lie on one path.
    """
    multiple = 1
    for layer in inference_network(model).layers:
        if isinstance(layer, layers.MaxPooling2D):
            multiple *= layer.pool_size[0]
        elif isinstance(layer, layers.Conv2D) and not isinstance(layer, layers.Conv2DTranspose):
            multiple *= layer.strides[0]
    return multiple


def fold_batch_norm(model: keras.Model) -> keras.Model:
    """For serving: the same U-Net with each BatchNormalization folded into the convolution before it.

    Inference-time BN is an affine map per channel, so ``W * g / sqrt(v + eps)`` and
    ``beta - mean * g / sqrt(v + eps)`` give a plain convolution with the activation fused back in.
    Any model that is not a batch-normalised ``unet`` is returned unchanged.
    """
    norms = [layer for layer in model.layers if isinstance(layer, layers.BatchNormalization)]
    if not norms or not model.name.startswith("unet"):
        return model
    convs = [layer for layer in model.layers if type(layer) is layers.Conv2D]
    activation = next(layer for layer in model.layers if isinstance(layer, layers.Activation)).activation
    plain = unet(depth=sum(isinstance(layer, layers.MaxPooling2D) for layer in model.layers),
                 base_filters=convs[0].filters, activation=activation.__name__, dropout=0.0, name=model.name)
    plain_convs = [layer for layer in plain.layers if type(layer) is layers.Conv2D]
    for conv, norm, target in zip(convs[:-1], norms, plain_convs[:-1], strict=True):
        gamma, beta, mean, variance = (np.asarray(w) for w in norm.get_weights())
        scale = gamma / np.sqrt(variance + norm.epsilon)
        target.set_weights([np.asarray(conv.get_weights()[0]) * scale, beta - mean * scale])
    plain_convs[-1].set_weights(convs[-1].get_weights())  # the 1x1 output convolution has no BN
    ups = [[layer for layer in net.layers if isinstance(layer, layers.Conv2DTranspose)] for net in (model, plain)]
    for layer, target in zip(*ups, strict=True):
        target.set_weights(layer.get_weights())
    return plain


def with_precision(model: keras.Model, precision: str) -> keras.Model:
    """The same network computing in ``precision`` ("bf16": mixed_bfloat16), weights copied.

    The output layer stays float32, as the builders make it, so predictions are float32 either way.
    """
    from fpnb.precision import keras_policy

    network = inference_network(model)
    policy, last = keras_policy(precision), network.layers[-1]

    def clone(layer):
        config = layer.get_config()
        config["dtype"] = "float32" if layer is last else policy
        return layer.__class__.from_config(config)

    cloned = keras.models.clone_model(network, clone_function=clone)
    cloned.set_weights(network.get_weights())
    return cloned


def to_rgb_float(image: np.ndarray) -> np.ndarray:
    """Grey (HxW or HxWx1), RGB or RGBA, uint8 or float in [0, 1] -> float32 HxWx3 in [0, 1].

    RGBA is composited over white (prints are dark on white), so transparent areas
    read as blank paper.
    """
    image = np.asarray(image)
    if image.dtype == np.uint8:
        image = image.astype(np.float32) / 255.0
    elif np.issubdtype(image.dtype, np.integer) or image.dtype == np.bool_:
        raise ValueError(f"image: expected uint8 or float, got {image.dtype}")
    image = np.clip(image.astype(np.float32), 0.0, 1.0)
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3, 4):
        raise ValueError(f"image: expected HxW, HxWx1, HxWx3 or HxWx4, got shape {image.shape}")
    if image.shape[2] == 4:
        alpha = image[:, :, 3:]
        image = image[:, :, :3] * alpha + (1.0 - alpha)
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    return np.ascontiguousarray(image)


def _pad_to(batch: np.ndarray, height: int, width: int) -> np.ndarray:
    """Reflect-pad an NxHxWxC batch at the bottom and right to height x width."""
    pad_h, pad_w = height - batch.shape[1], width - batch.shape[2]
    return np.pad(batch, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")


def _run_tiles(network: keras.Model, batch: np.ndarray, tile_h: int, tile_w: int,
               batch_size: int) -> np.ndarray:
    """Fixed-size network over an NxHxWx3 batch whose sides are multiples of the tile."""
    n, height, width, _ = batch.shape
    tiles = (batch.reshape(n, height // tile_h, tile_h, width // tile_w, tile_w, 3)
             .transpose(0, 1, 3, 2, 4, 5).reshape(-1, tile_h, tile_w, 3))
    out = _run(network, tiles, batch_size)
    return (out.reshape(n, height // tile_h, width // tile_w, tile_h, tile_w)
            .transpose(0, 1, 3, 2, 4).reshape(n, height, width))


def _run(network: keras.Model, batch: np.ndarray, batch_size: int) -> np.ndarray:
    """Network outputs (NxHxW) over a padded batch, ``batch_size`` images per call.

    ``predict_on_batch`` runs Keras's traced predict function: about half the time of an eager call
    on a 400x288 print here (reports/bench/api.json).
    """
    outs = [np.asarray(network.predict_on_batch(batch[i:i + batch_size]))[..., 0]
            for i in range(0, len(batch), batch_size)]
    return np.concatenate(outs)


def predict_batch(model: keras.Model, images: np.ndarray | Sequence[np.ndarray],
                  batch_size: int = 4) -> np.ndarray:
    """Restore same-size images (array NxHxW[xC] or a list): float32 NxHxW in [0, 1].

    Fully convolutional networks see the whole image reflect-padded to their multiple;
    fixed-size networks (conv_dense) run over reflect-padded tiles of their input size.
    The output is cropped back to each input's height and width.
    """
    batch = np.stack([to_rgb_float(im) for im in images])
    network = inference_network(model)
    height, width = batch.shape[1:3]
    tile_h, tile_w = network.input_shape[1:3]
    if tile_h is None or tile_w is None:
        multiple = network_multiple(network)
        padded = _pad_to(batch, -(-height // multiple) * multiple, -(-width // multiple) * multiple)
        out = _run(network, padded, batch_size)
    else:
        padded = _pad_to(batch, -(-height // tile_h) * tile_h, -(-width // tile_w) * tile_w)
        out = _run_tiles(network, padded, tile_h, tile_w, batch_size)
    return np.clip(out[:, :height, :width], 0.0, 1.0).astype(np.float32)


def predict_image(model: keras.Model, image: np.ndarray) -> np.ndarray:
    """Restore one image of any size (grey, RGB or RGBA; uint8 or float): float32 HxW in [0, 1]."""
    return predict_batch(model, [image], batch_size=1)[0]
