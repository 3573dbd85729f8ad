"""Quality control and release: specifications, results and their judgement, dose and bags,
calculated results (``docs/quality.md``)."""
