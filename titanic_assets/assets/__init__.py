"""The asset graph, one module per stage.

Heavy libraries (pandas, scikit-learn, LightGBM, Pandera, matplotlib) are imported inside the
asset bodies, not at module level, so the code location loads in well under three seconds.
"""
