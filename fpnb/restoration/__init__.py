"""Restoration (Keras 3 / TensorFlow): model builders and losses (``models``), the resumable
training routine and model cards (``training``), the study's runs and evaluation (``study``) and
the web service (``service``). May import ``fpnb.data`` and ``fpnb.identity``; never synthesis.
"""
