"""QC release: specifications, results, OOS, dose, release and the Certificate of Analysis."""
