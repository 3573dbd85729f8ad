"""Quality control and release: specifications, results and their judgement against the
specification (``docs/quality.md``)."""
