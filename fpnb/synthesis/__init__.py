"""Synthesis and reconstruction (PyTorch): StyleGAN2 (``stylegan``), its training (``training``,
with crash-safe ``runs``) and sampling (``sampling``), the in-house PrintNet (``printnet``),
minutiae-to-print reconstruction (``reconstruction``), SeFa (``sefa``) and editing (``editing``),
and the synthesis study (``study``). May import ``fpnb.data`` and ``fpnb.identity``; never restoration.
"""
