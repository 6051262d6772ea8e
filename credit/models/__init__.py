"""The unified credit record store. One module per entity family; import them here
so Django finds every model."""

from credit.models.duplicates import ConflictingDuplicate
from credit.models.feed import ChangeFeedEntry, ChangeKind
from credit.models.objections import Objection, ObjectionStatus
from credit.models.records import Record, RecordSource, RecordState, RecordVersion
from credit.models.staging import StagedRow, StagedStatus
from credit.models.subjects import AliasKind, Subject, SubjectAlias, SubjectKind

__all__ = [
    "AliasKind", "ChangeFeedEntry", "ChangeKind", "ConflictingDuplicate", "Objection", "ObjectionStatus", "Record",
    "RecordSource", "RecordState", "RecordVersion", "StagedRow", "StagedStatus", "Subject", "SubjectAlias", "SubjectKind",
]
