"""Work queues of the insights feature, each linking to the list filtered to exactly what it
counts (the count and the list come from the same function):

==================================  ==============  ========================================
queue                               roles           list
==================================  ==============  ========================================
Comparability protocols to approve  QA approver     ``/comparability?status=to_approve``
                                                    (signed by their author, not approved,
                                                    and not written by the caller)
==================================  ==============  ========================================
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm, Role
from vein2vein.auth.scope import Scope
from vein2vein.insights import comparability_views
from vein2vein.web.queues import QueueItem, wanted

_APPROVER = frozenset({Role.QA_APPROVER})


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    """The insights queues meant for the caller's role."""
    if not (scope.is_cdmo and wanted(scope, _APPROVER) and scope.can(Perm.COMPARABILITY_APPROVE)):
        return []
    waiting = comparability_views.list_protocols(session, scope, comparability_views.TO_APPROVE)
    return [
        QueueItem(
            "insights.comparability_to_approve",
            "Comparability protocols to approve",
            len(waiting),
            f"/comparability?status={comparability_views.TO_APPROVE}",
            _APPROVER,
            "protocol versions another person wrote and signed, awaiting your approval",
        )
    ]
