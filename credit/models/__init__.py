"""The unified credit record store. One module per entity family; import them here
so Django finds every model."""

from credit.models.authorizations import Authorization
from credit.models.duplicates import ConflictingDuplicate
from credit.models.feed import ChangeFeedEntry, ChangeKind
from credit.models.objections import Objection, ObjectionStatus
from credit.models.records import Record, RecordSource, RecordState, RecordVersion
from credit.models.repairs import RepairRequest, RepairStatus
from credit.models.reports import CreditReport, ReportScope
from credit.models.staging import StagedRow, StagedStatus
from credit.models.subjects import AliasKind, Subject, SubjectAlias, SubjectKind

__all__ = [
    "AliasKind", "Authorization", "ChangeFeedEntry", "ChangeKind", "ConflictingDuplicate", "CreditReport", "Objection",
    "ObjectionStatus", "Record", "RecordSource", "RecordState", "RecordVersion", "RepairRequest", "RepairStatus",
    "ReportScope", "StagedRow", "StagedStatus", "Subject", "SubjectAlias", "SubjectKind",
]
