"""pyvi's word segmentation, exactly, over batches of texts with numpy.

Self-contained: imports only numpy, pyvi's data files and the standard library, and its
modules import each other relatively, so the package can move as a whole.
"""
