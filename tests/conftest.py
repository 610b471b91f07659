import pytest


@pytest.fixture
def torch_one_thread():
    """Tiny torch models run fastest on one thread, and tests then leave the other core free."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_generator():
    """An untrained 32 px StyleGAN2 generator whose noise inputs matter (weight 0.5), frozen."""
    import torch

    from fpnb.synthesis.stylegan import Generator

    torch.manual_seed(0)
    generator = Generator(32, style_dim=16, n_mlp=1, channels=8).eval().requires_grad_(False)
    with torch.no_grad():
        for layer in [generator.conv1, *generator.convs]:
            layer.noise.weight.fill_(0.5)
    return generator


class MeanMatcher:
    """Stand-in matcher: high when two prints' means agree."""

    name = "mean"

    def score(self, a, b):
        return float(100 - 1000 * abs(a.mean() - b.mean()))

    def scores(self, pairs):
        return [self.score(a, b) for a, b in pairs]


@pytest.fixture
def mean_matcher():
    """A fast stand-in for a fingerprint matcher (``score`` from the prints' means)."""
    return MeanMatcher()
