"""Insights on the stored record: site-transfer comparability on approved results, continued
process verification, product attributes beside clinical outcome, and the CTD tables filled from
signed records (issue 14). Each part keeps its own modules (``comparability_*``, ``cpv_*``,
``outcome_*``, ``ctd_*``); ``routers.py``, ``tables.py`` and ``demo.py`` join them for the
composition root."""
