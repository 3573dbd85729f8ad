"""The chain-of-identity (CoI) identifier: one per patient therapy, behind one small interface.

A CoI identifier is allocated before or at the first collection and binds patient, apheresis DIN,
batch and every final product bag. ICCBBA publishes a standard one (ST-028, ISBT 128 data
structure 040, implementation guide IG-050), but its exact format is in the licensed standard, so
vein2vein ships its own format and keeps every use of it behind :class:`CoiFormat`. A site that
holds the ICCBBA licence adds a format object implementing the same five methods, registers it
with :func:`register_format` and names it in its settings; nothing else changes.

Format ``v2v-1`` (the default)
    ``IIIII`` issuer (5 capital letters or digits: the site's FIN or another code it controls)
    + ``SSSSSSSSSS`` serial (10 Crockford base-32 characters, 50 random bits)
    + ``K`` ISO/IEC 7064 MOD 37-36 check character (a digit or capital letter, never ``*``).
    Stored compact (``A99997K3M9QPRT2J``, 16 characters) and printed in groups
    (``A9999-7K3M9-QPRT2-J``). The identifier carries no personal data. On a label's barcode it
    travels as a data structure not defined by ICCBBA, ``&c`` + the compact form.

Uniqueness is the store's job (a unique constraint, retry on the 1-in-10^15 clash); the random
serial means no counter has to be shared between sites.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol

from stdnum.iso7064 import mod_37_36

from vein2vein.core.errors import InputError
from vein2vein.identity.isbt128 import DataStructure, LocalStructure

CROCKFORD: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


class CoiFormat(Protocol):
    """What vein2vein needs from a chain-of-identity identifier format."""

    @property
    def name(self) -> str:
        """The name a site's settings select the format by."""
        ...

    def new(self, issuer: str, rng: random.Random | None = None) -> str:
        """A new identifier (compact form) issued by ``issuer``."""
        ...

    def normalize(self, text: str) -> str:
        """The compact form of a typed or scanned identifier; InputError if it is not one."""
        ...

    def display(self, coi: str) -> str:
        """The eye-readable form printed on labels and pages."""
        ...

    def to_structure(self, coi: str) -> DataStructure:
        """The ISBT 128 data structure that carries the identifier in a barcode."""
        ...

    def from_structures(self, structures: Iterable[DataStructure]) -> str | None:
        """The identifier carried by scanned structures, or None when none carries one."""
        ...


@dataclass(frozen=True)
class V2VCoiFormat:
    """Format ``v2v-1``: issuer + random Crockford serial + MOD 37-36 check character."""

    name: str = "v2v-1"
    data_identifier: str = "&c"
    serial_length: int = 10

    def _pattern(self) -> re.Pattern[str]:
        return re.compile(rf"[A-Z0-9]{{5}}[{CROCKFORD}]{{{self.serial_length}}}[A-Z0-9]")

    def new(self, issuer: str, rng: random.Random | None = None) -> str:
        issuer = issuer.strip().upper()
        if re.fullmatch(r"[A-Z0-9]{5}", issuer) is None:
            raise InputError("a CoI issuer code is 5 capital letters or digits", field="issuer")
        choose = rng.choice if rng is not None else secrets.choice
        serial = "".join(choose(CROCKFORD) for _ in range(self.serial_length))
        body = issuer + serial
        return body + mod_37_36.calc_check_digit(body)

    def normalize(self, text: str) -> str:
        compact = re.sub(r"[\s-]", "", text).upper()
        if self._pattern().fullmatch(compact) is None:
            raise InputError(
                f"a CoI identifier ({self.name}) is a 5-character issuer, "
                f"{self.serial_length} serial characters and a check character",
                field="coi",
            )
        if not mod_37_36.is_valid(compact):
            raise InputError("the CoI identifier's check character does not match", field="coi")
        return compact

    def display(self, coi: str) -> str:
        c = self.normalize(coi)
        half = 5 + self.serial_length // 2
        return f"{c[:5]}-{c[5:half]}-{c[half:-1]}-{c[-1]}"

    def to_structure(self, coi: str) -> DataStructure:
        return LocalStructure(self.data_identifier, self.normalize(coi))

    def from_structures(self, structures: Iterable[DataStructure]) -> str | None:
        found = [
            s.data
            for s in structures
            if isinstance(s, LocalStructure) and s.identifier == self.data_identifier
        ]
        if len(found) > 1:
            raise InputError("the scan carries more than one CoI identifier", field="coi")
        return self.normalize(found[0]) if found else None


DEFAULT_FORMAT: Final = "v2v-1"
_FORMATS: dict[str, CoiFormat] = {}


def register_format(fmt: CoiFormat) -> None:
    """Make ``fmt`` selectable by name (a site's licensed ICCBBA ST-028 format, for instance)."""
    _FORMATS[fmt.name] = fmt


register_format(V2VCoiFormat())


def get_format(name: str = DEFAULT_FORMAT) -> CoiFormat:
    try:
        return _FORMATS[name]
    except KeyError:
        known = ", ".join(sorted(_FORMATS))
        raise InputError(
            f"unknown CoI format {name!r}; known: {known}", field="coi_format"
        ) from None
