"""Identity measures: fields (orientation, period, mask, singular points), the ``Minutiae`` type
(``minutiae``), extraction, matchers and quality (``matchers``), minutiae maps (``maps``), the one
definition of every metric (``metrics``) and verification of pairs and sets (``verification``). May
import ``fpnb.data``; never restoration or synthesis.
"""
