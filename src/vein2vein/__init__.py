"""vein2vein: one audited record of an autologous CAR-T program, vein to vein."""

__version__ = "0.1.0"
