"""Unit tests of the chain-of-identity feature (pure: no database)."""
