import pytest


@pytest.fixture
def torch_one_thread():
    """Tiny torch models run fastest on one thread, and tests then leave the other core free."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
