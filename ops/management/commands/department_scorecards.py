"""Print a month's department scorecards (scorecards.md): a stored month as stored, another computed."""

import json

from django.core.management.base import BaseCommand, CommandError

from ops.scorecards.exports import card_as_json
from ops.scorecards.months import MonthInvalid, month_add, month_current, month_label, month_parse
from ops.scorecards.selectors import scorecards_of_month
from ops.scorecards.services import ScorecardMonthNotOver, scorecards_store

COLUMNS = (("rank", "名次", 4), ("department", "部门", 12), ("score", "得分", 6), ("batches", "批次", 6),
           ("batches_failed", "失败", 5), ("rows", "行数", 10), ("acceptance_rate", "接收率", 8),
           ("timeliness_rate", "及时率", 8), ("median_delay_working_days", "延迟中位", 8),
           ("objections_received", "异议", 5), ("objections_late", "逾期", 5), ("repairs_received", "修复", 5))


class Command(BaseCommand):
    help = "部门信用信息报送绩效评估：打印某月各部门的评估结果（默认上月）"

    def add_arguments(self, parser):
        parser.add_argument("--month", help="YYYY-MM, default: last month")
        parser.add_argument("--json", action="store_true", help="one JSON array, one object per department")
        parser.add_argument("--recompute", action="store_true",
                            help="compute the month again and store it (a month that is over)")

    def handle(self, *args, **options):
        try:
            chosen = month_parse(options["month"]) if options["month"] else month_add(month_current(), -1)
        except MonthInvalid as error:
            raise CommandError(str(error)) from error
        if options["recompute"]:
            try:
                cards, stored = scorecards_store(month=chosen, recompute=True), True
            except ScorecardMonthNotOver as error:
                raise CommandError(str(error)) from error
        else:
            cards, stored = scorecards_of_month(month=chosen)
        if options["json"]:
            self.stdout.write(json.dumps([card_as_json(card) for card in cards], ensure_ascii=False, indent=1))
            return
        self.stdout.write(f"{month_label(chosen)}  " + ("已保存的结果" if stored else "实时计算（未保存）"))
        self.stdout.write("  ".join(_pad(heading, width) for _, heading, width in COLUMNS))
        for card in cards:
            self.stdout.write("  ".join(_pad("" if card[name] is None else str(card[name]), width)
                                        for name, _, width in COLUMNS))


def _pad(text: str, width: int) -> str:
    """Left-aligned in `width` terminal columns: a Chinese character takes two."""
    shown = sum(2 if ord(char) > 0x2E80 else 1 for char in text)
    return text + " " * max(0, width - shown)
