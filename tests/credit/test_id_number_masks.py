"""ID number masks (issue #11 item 7): an 18-character resident ID shows its first and last 4 characters;
a shorter number shows at most a third of its characters, in stored masks and in messages alike."""

from __future__ import annotations

import importlib

import pytest
from django.db import connection

from credit.identity import id_number_mask
from credit.models import Subject
from validation.field_rules import mask_id

NUMBERS = ["43010219900307123X", "430102900307123", "A1234567(8)", "123456789", "12345678", "X"]


@pytest.mark.parametrize("number", NUMBERS)
def test_a_mask_shows_at_most_a_third_of_a_short_number(number):
    for mask in (id_number_mask(number), mask_id(number)):
        shown = [c for c in mask if c != "*"]
        if len(number) < 18:
            assert len(shown) <= len(number) // 3, mask
        assert number not in mask
    assert len(id_number_mask(number)) == len(number)
    assert id_number_mask("43010219900307123X") == "4301**********123X"


def _old_mask(number: str) -> str:
    """The mask stored before: first 4, a star per hidden character, last 4."""
    return "*" * len(number) if len(number) <= 8 else number[:4] + "*" * (len(number) - 8) + number[-4:]


@pytest.mark.django_db
def test_the_migration_shortens_masks_stored_before():
    remask = importlib.import_module("credit.migrations.0006_shorter_id_number_masks").REMASK
    subjects = [Subject.objects.create(kind="natural_person", id_number_index=f"index-{i}", name="张三", name_key="张三",
                                       id_number_masked=_old_mask(number),
                                       registration={"id_number": _old_mask(number), "name": "张三"})
                for i, number in enumerate(NUMBERS)]
    with connection.cursor() as cursor:
        cursor.execute(remask)
    for subject, number in zip(subjects, NUMBERS, strict=True):
        subject.refresh_from_db()
        assert subject.id_number_masked == id_number_mask(number)
        assert subject.registration == {"id_number": id_number_mask(number), "name": "张三"}
