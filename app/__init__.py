"""The Streamlit dashboard of dse (``dse dashboard``): studies, Pareto fronts, designs,
builds, calibration and releases, read from the results store.

``main.py`` is the Streamlit script; ``views/`` holds one script per page; ``_data`` and
``_plots`` are plain functions (tested directly); ``_ui`` is the Streamlit glue (study
picker, cached loaders). The arrow is ``app -> dse``: nothing in ``dse`` imports this package.
"""
