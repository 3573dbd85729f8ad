"""Password lock-out: a pause of the password after repeated wrong guesses, growing each time.

Anyone can type a user name and wrong passwords, so a lock-out that an anonymous client can
trigger must not be a weapon (OWASP Authentication Cheat Sheet, "Account lockout"; NIST SP
800-63B §5.2.2, rate limiting). The rules (docs/security.md, "Decisions on the probe's findings"):

- ``threshold`` consecutive wrong passwords (log-in, signature, current password on the
  change-password form) pause **the password** of the account for :data:`FIRST_PAUSE`; every
  further wrong password after a pause doubles the next one, up to :data:`LONGEST_PAUSE`. After
  the first pause one guess per pause is all an attacker gets.
- During the pause the password is not even checked: log-in answers as for any wrong password
  (nothing tells the account exists or is paused, nor whether a guess was right), a signature
  and a password change are refused. The pause ends by itself, or earlier when an administrator
  unlocks the account with a reason; a successful use of the password ends the count.
- The password is one credential; API tokens and open sessions are others and keep working
  during a pause caused by log-in attempts (an anonymous client cannot cut a user off). A pause
  caused inside a session (wrong passwords when signing or changing the password) ends the
  user's sessions: whoever is guessing holds one.
- Every wrong password, pause (``auth.lockout``, with its end), refused log-in during a pause and
  unlock is an audit entry.
"""

from __future__ import annotations

import datetime as dt

FIRST_PAUSE = dt.timedelta(minutes=15)
LONGEST_PAUSE = dt.timedelta(hours=24)


def pause_length(failed: int, threshold: int) -> dt.timedelta:
    """How long the password pauses after the ``failed``-th consecutive wrong password (the
    first pause at ``threshold``, doubling with each wrong password after it)."""
    beyond = max(0, failed - threshold)
    if beyond >= 7:  # 15 min x 2**7 is beyond the longest pause already
        return LONGEST_PAUSE
    return min(FIRST_PAUSE * 2**beyond, LONGEST_PAUSE)


def is_paused(locked_until: dt.datetime | None, now: dt.datetime) -> bool:
    return locked_until is not None and now < locked_until
