"""`chronicle bench`: Chronicle measured beside its baselines, in the same run, on the
same embedded servers. Figures are medians of several runs and reported as ratios.
"""
