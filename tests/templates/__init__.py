"""Tests for the design templates in ``templates/`` and their loader ``runners._templates``."""
