"""Output shapes of the public JSON API (documentation and rendering alike)."""

from rest_framework import serializers


class SearchHitOut(serializers.Serializer):
    code = serializers.CharField(help_text='USCC, or "N-<id>" for a subject without one (natural persons)')
    url = serializers.CharField(help_text="the subject's JSON resource")
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=["legal_person", "individual_business", "natural_person"])
    status = serializers.CharField(help_text="registration status: active, deregistered, revoked, moved_out; "
                                             "empty when not registered")
    id_number_masked = serializers.CharField(allow_null=True, help_text="natural persons: 4301**********123X")
    former_name = serializers.CharField(allow_null=True, help_text="the former name that matched, if any")
    match = serializers.ChoiceField(
        choices=["code", "exact", "prefix", "contains", "former_name"],
        help_text="how it matched, in the order results are listed: the whole USCC asked for (code), the exact "
                  "name, a name starting with the query, a name containing it, a former name containing it, part "
                  "of a code (code); within each, registered (存续) subjects before deregistered or revoked ones")
    penalties = serializers.IntegerField(help_text="administrative penalties in publicity, counted up to 1000")
    black_listed = serializers.BooleanField(help_text="on a black list (严重失信主体名单) in publicity: 失信")
    red_listed = serializers.BooleanField(help_text="on a red list (守信激励名单) in publicity: 守信")
    under_objection = serializers.BooleanField(help_text="a public record is under objection: 异议处理中")


class SearchPageOut(serializers.Serializer):
    query = serializers.CharField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    total = serializers.IntegerField(help_text="matches, counted up to 1000")
    capped = serializers.BooleanField(help_text="more than 1000 matches: only the first 1000 are listed")
    total_text = serializers.CharField(help_text='the total as the page shows it: the number, or "1000+" when capped')
    hint = serializers.CharField(allow_null=True, help_text="when capped, what to type to narrow the search "
                                                            "(Chinese, for people); null otherwise")
    results = SearchHitOut(many=True)


class RecordOut(serializers.Serializer):
    category = serializers.CharField()
    fields = serializers.DictField(help_text="the record's catalog fields (names as in catalog v1), as sent, "
                                             "normalised; never an ID number")
    source_department = serializers.CharField()
    updated_at = serializers.DateTimeField()
    publicity_from = serializers.DateField(allow_null=True)
    publicity_until = serializers.DateField(allow_null=True, help_text="last day in publicity (null: no end)")
    under_objection = serializers.BooleanField()


class RegistrationOut(serializers.Serializer):
    fields = serializers.DictField()
    source_department = serializers.CharField()
    updated_at = serializers.DateTimeField()


class SubjectOut(serializers.Serializer):
    code = serializers.CharField()
    kind = serializers.CharField()
    name = serializers.CharField()
    uscc = serializers.CharField(allow_null=True)
    id_number_masked = serializers.CharField(allow_null=True)
    status = serializers.CharField()
    legal_representative = serializers.CharField()
    address = serializers.CharField()
    registration_authority = serializers.CharField()
    former_names = serializers.ListField(child=serializers.CharField())
    registration_no = serializers.ListField(child=serializers.CharField())
    org_code = serializers.ListField(child=serializers.CharField())
    registration = RegistrationOut(allow_null=True)
    penalties = serializers.IntegerField(help_text="administrative penalties in publicity, counted up to 1000")
    black_listed = serializers.BooleanField()
    red_listed = serializers.BooleanField()
    under_objection = serializers.BooleanField()
    records = serializers.DictField(child=RecordOut(many=True),
                                    help_text="per category of the catalog (admin_license, admin_penalty, red_list, "
                                              "black_list, …): the first page (20, newest first) of the records in "
                                              "publicity today")
    record_counts = serializers.DictField(child=serializers.IntegerField(),
                                          help_text="per category: its records in publicity today, counted up to 1000")
    record_counts_capped = serializers.DictField(child=serializers.BooleanField(),
                                                 help_text="per category: more than 1000 (record_counts says 1000)")
    records_next = serializers.DictField(child=serializers.URLField(allow_null=True),
                                         help_text="per category: the link to the next page of records (null: none)")


class RecordPageOut(serializers.Serializer):
    code = serializers.CharField()
    category = serializers.CharField()
    label = serializers.CharField()
    total = serializers.IntegerField(help_text="the subject's records of this category in publicity today, "
                                               "counted up to 1000")
    capped = serializers.BooleanField(help_text="more than 1000: total says 1000")
    results = RecordOut(many=True)
    next = serializers.URLField(allow_null=True, help_text="the next page (null: this is the last)")
