"""Identity measures: fields (orientation, period, mask, singular points), minutiae, matchers and
quality (``matchers``), minutiae maps (``maps``) and the one definition of every metric
(``metrics``). May import ``fpnb.data``; never restoration or synthesis.
"""
