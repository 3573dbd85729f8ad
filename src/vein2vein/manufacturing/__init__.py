"""Manufacturing: master batch records (versioned), executed batch records, deviations, material
lots and genealogy (``docs/manufacturing.md``)."""
