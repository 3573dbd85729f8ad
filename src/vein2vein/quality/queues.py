"""Work queues of QC release, each linking to the list filtered to exactly what it counts (the
count and the list come from the same function, so they cannot disagree):

================================  ==============  ==========================================
queue                             roles           list
================================  ==============  ==========================================
Tests due                         QC analyst      ``/qc`` (batches with tests still to report)
Open OOS investigations           QA reviewer,    ``/qc/investigations?show=open``
                                  QA approver
Batches ready for release         QA approver     ``/release?ready=1`` (every precondition met)
================================  ==============  ==========================================
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from vein2vein.auth.roles import Perm, Role
from vein2vein.auth.scope import Scope
from vein2vein.quality import oos, release, views
from vein2vein.web.queues import QueueItem, wanted

_QC = frozenset({Role.QC_ANALYST})
_QA = frozenset({Role.QA_REVIEWER, Role.QA_APPROVER})
_APPROVER = frozenset({Role.QA_APPROVER})


def work_queues(session: Session, scope: Scope, now: dt.datetime) -> list[QueueItem]:
    """The QC release queues meant for the caller's role."""
    if not (scope.is_cdmo and scope.can(Perm.QC_READ)):
        return []
    items: list[QueueItem] = []
    if wanted(scope, _QC) and scope.can(Perm.QC_RESULT_ENTER):
        due = views.worklist(session, scope)
        items.append(
            QueueItem(
                "qc.tests_due",
                "Tests due",
                len(due),
                "/qc",
                _QC,
                "batches with QC tests still to report, earliest due first",
            )
        )
    if wanted(scope, _QA):
        open_ = oos.list_investigations(session, scope, open_only=True)
        items.append(
            QueueItem(
                "qc.oos_open",
                "Open OOS investigations",
                len(open_),
                "/qc/investigations?show=open",
                _QA,
                "out-of-specification results in phase I or II",
            )
        )
    if wanted(scope, _APPROVER) and scope.can(Perm.BATCH_RELEASE):
        items.append(
            QueueItem(
                "qc.ready_for_release",
                "Batches ready for release",
                len(release.ready_for_release(session, scope)),
                "/release?ready=1",
                _APPROVER,
                "every precondition met: review the release page and sign",
            )
        )
    return items
