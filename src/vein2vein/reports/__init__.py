"""Pieces shared by the reports of several features (PDF through fpdf2)."""
