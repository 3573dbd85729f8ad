"""Chain of identity and custody: ISBT 128 identifiers, custody rules, labels."""
