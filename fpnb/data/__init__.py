"""Data the study makes and reads: SFinGe-style master prints and their impressions (``masters``),
ChaLearn-style degradations (``degradations``), datasets on disk and loaders for real folders
(``datasets``). Imports only ``fpnb.config`` and ``fpnb.files`` from the package: the lowest stage.
"""
