"""ISBT 128 identifiers: the Donation Identification Number (DIN) and a label's data structures.

Everything here is pure: strings in, frozen dataclasses out, :class:`InputError` for anything that
is not what it claims to be. Issuing DINs without gaps or duplicates needs a counter in the store;
:func:`next_din` is the pure step that counter calls.

What is implemented, and from where (public sources only; no ICCBBA database table is shipped):

* DIN (data structure 001): ``αppppyynnnnnn`` = facility identification number (FIN, 5 chars),
  nominal year (2 digits), sequence (6 digits); in a barcode it follows the data identifier ``=``
  and is followed by two flag characters ``ff``.
* Check character: ISO/IEC 7064 MOD 37-2 over the 13 DIN characters, computed by
  ``python-stdnum``. Printed boxed after the DIN; in the flag positions it is carried as the
  two-digit number ``checksum + 60`` (60–96). Worked example (UK Blood Services "Red Book",
  Annex 2): ``G123 498 654 321`` → checksum 17 → ``H``, flags ``77``.
* Flag types: ``00`` not used, 01–19 ICCBBA-defined process control, 20–59 locally defined
  process control, 60–96 check character, anything else reserved.
* Other data structures a bag label carries: blood groups ``=%`` (002), product code ``=<``
  (003), expiration / collection / production date ``=>`` ``=*`` ``=}`` (004, 006, 008) and
  the same with a time ``&>`` ``&*`` ``&}`` (005, 007, 009), compound message ``=+`` (023), and
  the data structures not defined by ICCBBA (``&`` followed by a lower-case letter), which a
  facility may assign - vein2vein carries its chain-of-identity identifier in one
  (see :mod:`vein2vein.identity.coi`). Layouts follow the public descriptions of ICCBBA ST-001;
  the product description codes themselves (``αoooo``) are licensed and configured per site.
"""

from __future__ import annotations

import datetime as dt
import enum
import re
from dataclasses import dataclass
from typing import ClassVar, Final

from stdnum.iso7064 import mod_37_2

from vein2vein.core.errors import InputError

#: ISO/IEC 7064 MOD 37-2 character set, in value order (0-9 → 0-9, A-Z → 10-35, * → 36).
ALPHABET: Final = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
DIN_LENGTH: Final = 13
#: Flag value that carries the check character is ``checksum + FLAG_CHECK_OFFSET``.
FLAG_CHECK_OFFSET: Final = 60
MAX_SEQUENCE: Final = 999_999

_FIN_RE = re.compile(r"[A-NP-Z1-9][0-9]{4}")
_DIN_RE = re.compile(r"(?P<fin>[A-NP-Z1-9][0-9]{4})(?P<year>[0-9]{2})(?P<sequence>[0-9]{6})")
_FLAGS_RE = re.compile(r"[0-9A-Z]{2}")
#: Characters a keyboard-wedge scanner may add: AIM symbology identifiers for Code 128 (``]C0``)
#: and Data Matrix (``]d1``), plus the trailing carriage return / line feed.
_AIM_PREFIX_RE = re.compile(r"^\][Cd][0-9]")


class IsbtFormatError(InputError):
    """A string is not the ISBT 128 identifier or data structure it was given as."""


# --------------------------------------------------------------------------------------------
# Check character
# --------------------------------------------------------------------------------------------


def check_character(din13: str) -> str:
    """ISO/IEC 7064 MOD 37-2 check character of a 13-character DIN (``G123498654321`` → ``H``)."""
    _require_din13(din13)
    return str(mod_37_2.calc_check_digit(din13))


def check_value(din13: str) -> int:
    """Numeric value (0-36) of the check character; ``17`` for the Red Book example."""
    return ALPHABET.index(check_character(din13))


def check_flags(din13: str) -> str:
    """Flag characters that carry the check character: ``f"{check_value + 60:02d}"`` (``"77"``)."""
    return f"{check_value(din13) + FLAG_CHECK_OFFSET:02d}"


def _require_din13(din13: str) -> None:
    if _DIN_RE.fullmatch(din13) is None:
        raise IsbtFormatError(
            "a DIN is 13 characters: facility identification number (a letter other than O, or a "
            "digit 1-9, then four digits), a two-digit year and a six-digit sequence number",
            field="din",
        )


# --------------------------------------------------------------------------------------------
# Flags
# --------------------------------------------------------------------------------------------


class FlagType(enum.StrEnum):
    """What the two flag characters after a DIN carry."""

    NOT_USED = "not_used"  # 00
    ICCBBA = "iccbba"  # 01-19: process control defined by ICCBBA (container of a set, ...)
    LOCAL = "local"  # 20-59: process control defined by the facility
    CHECK = "check"  # 60-96: check character value + 60
    RESERVED = "reserved"  # 97-99 and alphanumeric values


def flag_type(flags: str) -> FlagType:
    if _FLAGS_RE.fullmatch(flags) is None:
        raise IsbtFormatError("flag characters are two digits or capital letters", field="flags")
    if not flags.isdigit():
        return FlagType.RESERVED
    value = int(flags)
    if value == 0:
        return FlagType.NOT_USED
    if value <= 19:
        return FlagType.ICCBBA
    if value <= 59:
        return FlagType.LOCAL
    if value <= 96:
        return FlagType.CHECK
    return FlagType.RESERVED


# --------------------------------------------------------------------------------------------
# DIN
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Din:
    """A Donation Identification Number: FIN, two-digit nominal year, sequence number."""

    fin: str
    year: int  # two-digit nominal year, 0-99 (26 for 2026)
    sequence: int  # 1-999999

    def __post_init__(self) -> None:
        if _FIN_RE.fullmatch(self.fin) is None:
            raise IsbtFormatError(
                "a facility identification number is a letter other than O (or a digit 1-9) "
                "followed by four digits",
                field="fin",
            )
        if not 0 <= self.year <= 99:
            raise IsbtFormatError("the DIN year is the two-digit nominal year, 0-99", field="year")
        if not 1 <= self.sequence <= MAX_SEQUENCE:
            raise IsbtFormatError("the DIN sequence number is 1-999999", field="sequence")

    @property
    def code(self) -> str:
        """The 13 characters, as stored and compared: ``G123498654321``."""
        return f"{self.fin}{self.year:02d}{self.sequence:06d}"

    @property
    def check_character(self) -> str:
        return check_character(self.code)

    @property
    def check_flags(self) -> str:
        return check_flags(self.code)

    def grouped(self) -> str:
        """Eye-readable groups as printed on labels: ``G123 498 654 321``."""
        c = self.code
        return f"{c[:4]} {c[4:7]} {c[7:10]} {c[10:]}"

    def eye_readable(self) -> str:
        """Groups followed by the check character: ``G123 498 654 321 H``."""
        return f"{self.grouped()} {self.check_character}"

    def barcode_data(self, flags: str | None = None) -> str:
        """Code 128 content: ``=`` + DIN + flags (default: the check character as flags)."""
        flags = self.check_flags if flags is None else flags
        flag_type(flags)
        return f"={self.code}{flags}"

    @classmethod
    def from_code(cls, din13: str) -> Din:
        _require_din13(din13)
        m = _DIN_RE.fullmatch(din13)
        assert m is not None
        return cls(m["fin"], int(m["year"]), int(m["sequence"]))

    def __str__(self) -> str:
        return self.code


@dataclass(frozen=True, slots=True)
class DinCheck:
    """Result of checking a typed or scanned DIN; ``valid`` is None when no check was given."""

    din: str
    check_character: str
    valid: bool | None

    def to_dict(self) -> dict[str, str | bool | None]:
        return {"din": self.din, "check_character": self.check_character, "valid": self.valid}


def check_din(text: str) -> DinCheck:
    """Check a DIN typed from a label or scanned from its barcode.

    Accepted: the 13 characters with or without the check character (spaces and lower case
    allowed: ``"g123 498 654 321 h"``), or the barcode content ``=`` + DIN + flags. ``valid`` is
    ``None`` when the text carries no check (no check character, or flags that are not of the
    check type), else whether the check matches.
    """
    compact = normalize_scan(text)
    if compact.startswith("="):
        structure = parse_din_structure(compact)
        din13 = structure.din.code
        given = structure.flags if structure.flag_type is FlagType.CHECK else None
        expected = check_flags(din13)
    else:
        compact = "".join(compact.split()).upper()
        if len(compact) not in (DIN_LENGTH, DIN_LENGTH + 1):
            raise IsbtFormatError(
                f"a DIN has 13 characters, 14 with its check character; got {len(compact)}",
                field="din",
            )
        din13 = compact[:DIN_LENGTH]
        given = compact[DIN_LENGTH:] or None
        expected = check_character(din13)
        if given is not None and given not in ALPHABET:
            raise IsbtFormatError("a check character is 0-9, A-Z or *", field="din")
    return DinCheck(
        din=din13,
        check_character=check_character(din13),
        valid=None if given is None else given == expected,
    )


def is_valid_din(text: str) -> bool:
    """True only for a well-formed DIN whose check character (or check flags) matches."""
    try:
        return check_din(text).valid is True
    except InputError:
        return False


def parse_din(text: str) -> Din:
    """A DIN from typed or scanned text; refuses a check character or flags that do not match."""
    result = check_din(text)
    if result.valid is False:
        raise IsbtFormatError(
            "the check character does not match the DIN: re-scan or re-type it", field="din"
        )
    return Din.from_code(result.din)


def next_din(fin: str, year: int, last_sequence: int | None) -> Din:
    """The DIN after ``last_sequence`` for this FIN and year (the first one when None).

    ``year`` may be given in full (2026) or as its two digits (26). The store keeps
    ``last_sequence`` per (FIN, year) under a lock; this function only computes the next value
    and refuses to run past 999999 rather than wrap.
    """
    seq = 1 if last_sequence is None else last_sequence + 1
    if seq > MAX_SEQUENCE:
        raise IsbtFormatError(
            f"sequence numbers for FIN {fin}, year {year % 100:02d} are used up (999999)",
            field="sequence",
        )
    if seq < 1:
        raise IsbtFormatError("the last sequence number cannot be negative", field="sequence")
    return Din(fin, year % 100, seq)


# --------------------------------------------------------------------------------------------
# Data structures of a label
# --------------------------------------------------------------------------------------------


class DataStructure:
    """Common face of the parsed data structures: number, name, and the encoded text."""

    __slots__ = ()
    number: ClassVar[str]
    name: ClassVar[str]

    def encode(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class DinStructure(DataStructure):
    """Data structure 001: ``=αppppyynnnnnnff``."""

    number: ClassVar[str] = "001"
    name: ClassVar[str] = "Donation Identification Number"

    din: Din
    flags: str = "00"

    def __post_init__(self) -> None:
        flag_type(self.flags)

    @property
    def flag_type(self) -> FlagType:
        return flag_type(self.flags)

    @property
    def flags_valid(self) -> bool | None:
        """Whether check-type flags match the DIN; None for other flag types."""
        if self.flag_type is not FlagType.CHECK:
            return None
        return self.flags == self.din.check_flags

    def encode(self) -> str:
        return self.din.barcode_data(self.flags)


class AboRhD(enum.StrEnum):
    O_NEG = "O RhD negative"
    O_POS = "O RhD positive"
    A_NEG = "A RhD negative"
    A_POS = "A RhD positive"
    B_NEG = "B RhD negative"
    B_POS = "B RhD positive"
    AB_NEG = "AB RhD negative"
    AB_POS = "AB RhD positive"


class IntendedUse(enum.StrEnum):
    """Type of collection carried in the blood group code (offset within each group's block)."""

    DIRECTED = "directed collection use only"
    EMERGENCY = "for emergency use only"
    DIRECTED_BIOHAZARD = "directed collection, biohazardous"
    DIRECTED_CROSSOVER = "directed collection, eligible for crossover"
    DEFAULT = "intended use not specified"
    AUTOLOGOUS_CROSSOVER = "autologous collection, eligible for crossover"
    AUTOLOGOUS = "for autologous use only"
    AUTOLOGOUS_BIOHAZARD = "for autologous use only, biohazardous"


# Each ABO/RhD group owns a block of eight numeric codes; the offset in the block is the type of
# collection, in IntendedUse order (e.g. O RhD positive: 47-54, 51 = default, 53 = autologous).
_GROUP_BLOCKS: Final = {
    91: AboRhD.O_NEG,
    47: AboRhD.O_POS,
    2: AboRhD.A_NEG,
    58: AboRhD.A_POS,
    13: AboRhD.B_NEG,
    69: AboRhD.B_POS,
    24: AboRhD.AB_NEG,
    80: AboRhD.AB_POS,
}
_INTENDED_USES: Final = tuple(IntendedUse)


@dataclass(frozen=True, slots=True)
class BloodGroupStructure(DataStructure):
    """Data structure 002: ``=%ggre`` (ABO/RhD with type of collection, phenotype, reserved)."""

    number: ClassVar[str] = "002"
    name: ClassVar[str] = "Blood Groups [ABO and RhD]"

    code: str  # gg
    phenotype: str = "0"  # r: Rh/Kell/Mia phenotype code, 0 = no information
    reserved: str = "0"  # e

    def __post_init__(self) -> None:
        if re.fullmatch(r"[0-9A-Za-z]{2}", self.code) is None:
            raise IsbtFormatError("a blood group code is two characters", field="blood_group")
        if re.fullmatch(r"[0-9A-Z]", self.phenotype) is None or self.reserved != "0":
            raise IsbtFormatError(
                "blood group phenotype is one character and the reserved character is 0",
                field="blood_group",
            )

    def _decoded(self) -> tuple[AboRhD, IntendedUse] | None:
        if not self.code.isdigit():
            return None
        value = int(self.code)
        for start, group in _GROUP_BLOCKS.items():
            if start <= value < start + 8:
                return group, _INTENDED_USES[value - start]
        return None

    @property
    def abo_rhd(self) -> AboRhD | None:
        """The ABO/RhD group for the numeric codes; None for special messages and pooled codes."""
        decoded = self._decoded()
        return decoded[0] if decoded else None

    @property
    def intended_use(self) -> IntendedUse | None:
        decoded = self._decoded()
        return decoded[1] if decoded else None

    @classmethod
    def for_group(
        cls, group: AboRhD, use: IntendedUse = IntendedUse.AUTOLOGOUS
    ) -> BloodGroupStructure:
        start = next(s for s, g in _GROUP_BLOCKS.items() if g is group)
        return cls(f"{start + _INTENDED_USES.index(use):02d}")

    def encode(self) -> str:
        return f"=%{self.code}{self.phenotype}{self.reserved}"


#: Collection type codes (``t`` of the product code) that matter for autologous cell therapy;
#: other codes are kept as they are, without a description.
COLLECTION_TYPES: Final = {
    "0": "not specified",
    "V": "volunteer allogeneic",
    "1": "for autologous use only",
    "A": "autologous, eligible for crossover",
    "X": "for autologous use only, biohazard",
    "8": "for autologous use, contains allogeneic material",
}


@dataclass(frozen=True, slots=True)
class ProductCodeStructure(DataStructure):
    """Data structure 003: ``=<αooootds``.

    ``description_code`` (αoooo) refers to the licensed product description code table, so it is
    configured by the site; ``collection_type`` (t) and ``division`` (ds) are decoded here.
    """

    number: ClassVar[str] = "003"
    name: ClassVar[str] = "Product Code"

    description_code: str
    collection_type: str = "1"
    division: str = "00"

    def __post_init__(self) -> None:
        if re.fullmatch(r"[A-Z][A-Z0-9]{4}", self.description_code) is None:
            raise IsbtFormatError(
                "a product description code is a capital letter and four letters or digits",
                field="product_code",
            )
        if re.fullmatch(r"[0-9A-Za-z]", self.collection_type) is None:
            raise IsbtFormatError("the collection type is one character", field="product_code")
        if re.fullmatch(r"[0-9A-Za-z]{2}", self.division) is None:
            raise IsbtFormatError("the division code is two characters", field="product_code")

    @property
    def collection_type_text(self) -> str | None:
        return COLLECTION_TYPES.get(self.collection_type)

    @property
    def autologous(self) -> bool:
        return self.collection_type in {"1", "A", "X", "8"}

    def encode(self) -> str:
        return f"=<{self.description_code}{self.collection_type}{self.division}"


def autologous_product_code(code: str) -> ProductCodeStructure:
    """The product code of an autologous cell-therapy order, as typed (``S1234100``, spaces
    allowed): data structure 003 of ICCBBA ST-001 (ISBT 128 Standard Technical Specification),
    ``αooootds`` without its data identifier ``=<`` — product description code ``αoooo`` (5),
    type of collection ``t`` (1) and division ``ds`` (2).

    The type of collection must be one for autologous use (ST-001, "Type of Collection" of the
    product code: ``1`` for autologous use only, ``A`` autologous eligible for crossover, ``X``
    autologous biohazardous, ``8`` autologous containing allogeneic material; see
    :data:`COLLECTION_TYPES`). Raises :class:`InputError` for a code of another length, a
    malformed one, or one whose type of collection is not autologous.
    """
    compact = code.replace(" ", "").strip()
    if len(compact) != 8:
        raise InputError(
            "the product code has 8 characters: description code (5), collection type, "
            "division (2), e.g. S1234100",
            field="product_code",
        )
    product = parse_structures("=<" + compact)[0]
    assert isinstance(product, ProductCodeStructure)
    if not product.autologous:
        raise InputError(
            "an autologous product needs an autologous collection type (1, A, X or 8)",
            field="product_code",
        )
    return product


class DateKind(enum.StrEnum):
    EXPIRATION = "expiration"
    COLLECTION = "collection"
    PRODUCTION = "production"


_DATE_DI_CHAR: Final = {
    DateKind.EXPIRATION: ">",
    DateKind.COLLECTION: "*",
    DateKind.PRODUCTION: "}",
}
_DATE_NUMBERS: Final = {
    (DateKind.EXPIRATION, False): "004",
    (DateKind.EXPIRATION, True): "005",
    (DateKind.COLLECTION, False): "006",
    (DateKind.COLLECTION, True): "007",
    (DateKind.PRODUCTION, False): "008",
    (DateKind.PRODUCTION, True): "009",
}


@dataclass(frozen=True, slots=True)
class DateStructure(DataStructure):
    """Data structures 004-009: ``=>cyyjjj`` or, with a time, ``&>cyyjjjhhmm`` (and ``*``, ``}``).

    ``cyy`` are the last three digits of the year (read as 2000-2999), ``jjj`` the ordinal day.
    The time is the local time printed on the label, so ``value`` is a naive datetime.
    """

    number: ClassVar[str] = "004-009"
    name: ClassVar[str] = "Date"

    kind: DateKind
    value: dt.date | dt.datetime

    def __post_init__(self) -> None:
        if not 2000 <= self.value.year <= 2999:
            raise IsbtFormatError("ISBT 128 dates cover 2000-2999", field=self.kind.value)
        if isinstance(self.value, dt.datetime):
            if self.value.tzinfo is not None:
                raise IsbtFormatError(
                    "label dates carry local time: convert to the site's time and drop the zone",
                    field=self.kind.value,
                )
            if self.value.second or self.value.microsecond:
                raise IsbtFormatError("label times are to the minute", field=self.kind.value)

    @property
    def has_time(self) -> bool:
        return isinstance(self.value, dt.datetime)

    @property
    def structure_number(self) -> str:
        return _DATE_NUMBERS[(self.kind, self.has_time)]

    def encode(self) -> str:
        v = self.value
        body = f"{v.year - 2000:03d}{v.timetuple().tm_yday:03d}"
        if isinstance(v, dt.datetime):
            return f"&{_DATE_DI_CHAR[self.kind]}{body}{v:%H%M}"
        return f"={_DATE_DI_CHAR[self.kind]}{body}"


@dataclass(frozen=True, slots=True)
class CompoundMessageStructure(DataStructure):
    """Data structure 023: ``=+aabbb``: ``aa`` structures follow; ``bbb`` names the message
    (``000``: no ICCBBA-defined sequence)."""

    number: ClassVar[str] = "023"
    name: ClassVar[str] = "Compound Message"

    count: int
    message: str = "000"

    def __post_init__(self) -> None:
        if not 1 <= self.count <= 99 or re.fullmatch(r"[0-9]{3}", self.message) is None:
            raise IsbtFormatError("a compound message is =+ aa bbb", field="compound")

    def encode(self) -> str:
        return f"=+{self.count:02d}{self.message}"


@dataclass(frozen=True, slots=True)
class LocalStructure(DataStructure):
    """A data structure not defined by ICCBBA: ``&`` + a lower-case letter + site-defined data.

    Its length is not known to this parser, so its data runs to the next ``=``/``&`` or the end:
    a local structure must not contain those two characters.
    """

    number: ClassVar[str] = "local"
    name: ClassVar[str] = "Data structure not defined by ICCBBA"

    identifier: str  # "&c"
    data: str

    def __post_init__(self) -> None:
        if re.fullmatch(r"&[a-z]", self.identifier) is None:
            raise IsbtFormatError("a local data identifier is & and a lower-case letter")
        if not self.data or "=" in self.data or "&" in self.data:
            raise IsbtFormatError("local data is not empty and has no = or &")

    def encode(self) -> str:
        return f"{self.identifier}{self.data}"


#: Data identifiers that are recognised but not decoded here (named in the error message).
_NOT_DECODED: Final = {
    "=#": "Patient Date of Birth",
    "&#": "Patient Identification Number",
    "=)": "Container Manufacturer and Catalog Number",
    "&)": "Container Lot Number",
    "=;": "Donor Identification Number",
    "='": "Staff Member Identification Number",
    "=-": "Manufacturer and Catalog Number",
    "&-": "Lot Number",
    "=]": "Expiration Month and Year",
    "=,": "Product Divisions",
    "&(": "Special Testing: General",
}


def normalize_scan(text: str) -> str:
    """Strip what a keyboard-wedge scanner adds around the data: white space at the ends,
    a trailing Enter, and an AIM symbology identifier (``]C0``, ``]d1``)."""
    text = text.strip()
    return _AIM_PREFIX_RE.sub("", text, count=1)


def parse_din_structure(text: str) -> DinStructure:
    m = re.fullmatch(r"=(?P<din>[A-Z0-9]{13})(?P<flags>[0-9A-Z]{2})", text)
    if m is None:
        raise IsbtFormatError(
            "a scanned DIN is = followed by the 13-character DIN and two flag characters",
            field="din",
        )
    return DinStructure(Din.from_code(m["din"]), m["flags"])


def _parse_date(kind: DateKind, body: str, with_time: bool) -> DateStructure:
    year, day = 2000 + int(body[:3]), int(body[3:6])
    try:
        date = dt.date(year, 1, 1) + dt.timedelta(days=day - 1)
        if day < 1 or date.year != year:
            raise ValueError("ordinal day out of range")
        if with_time:
            t = dt.time(int(body[6:8]), int(body[8:10]))
            return DateStructure(kind, dt.datetime.combine(date, t))
    except ValueError as exc:
        raise IsbtFormatError(f"not a valid {kind.value} date: {body}", field=kind.value) from exc
    return DateStructure(kind, date)


def _read_one(text: str, pos: int) -> tuple[DataStructure, int]:
    """Parse the data structure starting at ``pos``; return it and the position after it."""
    rest = text[pos:]
    di = rest[:2]
    if re.match(r"=[A-NP-Z1-9]", di):
        return parse_din_structure(rest[:16]), pos + 16
    if di == "=%":
        m = re.match(r"=%([0-9A-Za-z]{2})([0-9A-Z])([0-9])", rest)
        if m:
            return BloodGroupStructure(m[1], m[2], m[3]), pos + 6
    elif di == "=<":
        m = re.match(r"=<([A-Z][A-Z0-9]{4})([0-9A-Za-z])([0-9A-Za-z]{2})", rest)
        if m:
            return ProductCodeStructure(m[1], m[2], m[3]), pos + 10
    elif di == "=+":
        m = re.match(r"=\+([0-9]{2})([0-9]{3})", rest)
        if m:
            return CompoundMessageStructure(int(m[1]), m[2]), pos + 7
    elif len(di) == 2 and di[0] in "=&" and di[1] in "".join(_DATE_DI_CHAR.values()):
        kind = next(k for k, c in _DATE_DI_CHAR.items() if c == di[1])
        with_time = di[0] == "&"
        length = 10 if with_time else 6
        body = rest[2 : 2 + length]
        if len(body) == length and body.isdigit():
            return _parse_date(kind, body, with_time), pos + 2 + length
    elif re.match(r"&[a-z]", di):
        m = re.match(r"&[a-z]([^=&]+)", rest)
        if m:
            return LocalStructure(di, m[1]), pos + len(m[0])
    elif di in _NOT_DECODED:
        raise IsbtFormatError(f"data structure '{di}' ({_NOT_DECODED[di]}) is not decoded here")
    else:
        raise IsbtFormatError(f"unknown ISBT 128 data identifier at character {pos + 1}: {di!r}")
    raise IsbtFormatError(f"malformed data structure '{di}' at character {pos + 1}")


def parse_structures(text: str) -> list[DataStructure]:
    """Parse a scanned ISBT 128 string: one data structure, several concatenated, or a
    compound message (whose count must match the structures that follow)."""
    text = normalize_scan(text)
    if not text:
        raise IsbtFormatError("nothing was scanned")
    pos, out = 0, []
    while pos < len(text):
        structure, pos = _read_one(text, pos)
        out.append(structure)
    compounds = [s for s in out if isinstance(s, CompoundMessageStructure)]
    if compounds:
        if len(compounds) > 1 or out[0] is not compounds[0]:
            raise IsbtFormatError("a compound message header must come first, and only once")
        if compounds[0].count != len(out) - 1:
            raise IsbtFormatError(
                f"the compound message announces {compounds[0].count} data structures "
                f"but {len(out) - 1} follow"
            )
    return out


def compound_message(structures: list[DataStructure], message: str = "000") -> str:
    """Encode structures as one compound message (the content of a label's Data Matrix)."""
    body = [s for s in structures if not isinstance(s, CompoundMessageStructure)]
    return CompoundMessageStructure(len(body), message).encode() + "".join(s.encode() for s in body)


def structure_to_dict(structure: DataStructure) -> dict[str, object]:
    """Plain JSON-ready description of a parsed structure (for the CLI and the API)."""
    out: dict[str, object] = {"data_structure": structure.number, "name": structure.name}
    match structure:
        case DinStructure(din=din, flags=flags):
            out |= {
                "din": din.code,
                "fin": din.fin,
                "year": f"{din.year:02d}",
                "sequence": f"{din.sequence:06d}",
                "check_character": din.check_character,
                "flags": flags,
                "flag_type": structure.flag_type.value,
                "flags_valid": structure.flags_valid,
            }
        case BloodGroupStructure():
            out |= {
                "code": structure.code,
                "abo_rhd": structure.abo_rhd,
                "intended_use": structure.intended_use,
                "phenotype": structure.phenotype,
            }
        case ProductCodeStructure():
            out |= {
                "product_description_code": structure.description_code,
                "collection_type": structure.collection_type,
                "collection_type_text": structure.collection_type_text,
                "division": structure.division,
            }
        case DateStructure():
            out |= {
                "data_structure": structure.structure_number,
                "kind": structure.kind.value,
                "value": structure.value.isoformat(),
            }
        case CompoundMessageStructure():
            out |= {"count": structure.count, "message": structure.message}
        case LocalStructure():
            out |= {"identifier": structure.identifier, "data": structure.data}
    out["encoded"] = structure.encode()
    return out
