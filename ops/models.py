"""Department performance evaluation (部门信用信息报送绩效评估, scorecards.md): each department's figures for
a calendar month, stored once the month is over so that the month is shown as it was computed."""

from django.db import models


class DepartmentScorecard(models.Model):
    department = models.ForeignKey("exchange.Department", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()  # its first day
    name = models.CharField(max_length=200)  # the department's name when the month was computed

    batches = models.IntegerField()
    batches_failed = models.IntegerField()
    rows = models.BigIntegerField()
    accepted = models.BigIntegerField()
    rejected = models.BigIntegerField()
    acceptance_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True)
    top_rejection_codes = models.JSONField(default=list)  # [{"code", "count"}], most frequent first
    timeliness_rows = models.BigIntegerField()
    timely_rows = models.BigIntegerField()
    timeliness_rate = models.DecimalField(max_digits=5, decimal_places=4, null=True)
    median_delay_working_days = models.DecimalField(max_digits=8, decimal_places=1, null=True)
    objections_received = models.IntegerField()
    objections_on_time = models.IntegerField()
    objections_late = models.IntegerField()
    repairs_received = models.IntegerField()
    repairs_decided = models.IntegerField()
    score = models.DecimalField(max_digits=4, decimal_places=1)
    rank = models.IntegerField()

    computed_at = models.DateTimeField()

    class Meta:
        verbose_name = verbose_name_plural = "部门绩效评估"
        ordering = ["month", "rank", "department"]
        permissions = [("recompute_departmentscorecard", "可重新计算部门绩效评估")]
        constraints = [
            models.UniqueConstraint(fields=["department", "month"], name="scorecard_unique_department_month"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="scorecard_month_first_day"),
        ]
        indexes = [models.Index(fields=["month", "rank"], name="scorecard_month_rank")]

    def __str__(self) -> str:
        return f"{self.department_id} {self.month:%Y-%m}"
