"""The unified credit record store. One module per entity family; import them here
so Django finds every model."""

from credit.models.authorizations import Authorization
from credit.models.duplicates import ConflictingDuplicate
from credit.models.feed import ChangeFeedEntry, ChangeFeedItem, ChangeKind
from credit.models.objections import Objection, ObjectionStatus
from credit.models.records import Record, RecordSender, RecordSource, RecordState, RecordVersion
from credit.models.repairs import RepairRequest, RepairStatus
from credit.models.reports import CreditReport, ReportScope
from credit.models.staging import StagedRow, StagedStatus
from credit.models.subjects import AliasKind, Subject, SubjectAlias, SubjectKind

__all__ = [
    "AliasKind", "Authorization", "ChangeFeedEntry", "ChangeFeedItem", "ChangeKind", "ConflictingDuplicate",
    "CreditReport", "Objection", "ObjectionStatus", "Record", "RecordSender", "RecordSource", "RecordState",
    "RecordVersion", "RepairRequest", "RepairStatus", "ReportScope", "StagedRow", "StagedStatus", "Subject",
    "SubjectAlias", "SubjectKind",
]
