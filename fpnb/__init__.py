"""fpnb: a reproducible study of fingerprint restoration, synthesis and reconstruction.

Importing the package is cheap: TensorFlow is imported only by the restoration
modules and torch only by the GAN modules.
"""
from fpnb.config import Profile, get_profile, paths

__all__ = ["Profile", "get_profile", "paths"]
__version__ = "0.1.0"
