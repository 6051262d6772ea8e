"""Staff accounts of the operators' console: a password, a TOTP device (the second factor) and groups."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

# made by exchange migration 0007: what each may do is written there
CONSOLE_GROUPS = ("viewer", "operator", "key_manager")


class OperatorError(Exception):
    """Bad operator input, in plain words."""


@dataclass(frozen=True)
class NewOperator:
    user: object
    device: TOTPDevice

    @property
    def provisioning_uri(self) -> str:
        """otpauth://totp/… for an authenticator app (or a QR code made of it)."""
        return self.device.config_url


@transaction.atomic
def operator_create(*, username: str, password: str, groups: list[str], superuser: bool = False,
                    totp_key: str | None = None) -> NewOperator:
    """A staff account that can sign in to the console only with a token of its new TOTP device."""
    unknown = sorted(set(groups) - set(CONSOLE_GROUPS))
    if unknown:
        raise OperatorError(f"no group {', '.join(unknown)} (the console's groups: {', '.join(CONSOLE_GROUPS)})")
    if not groups and not superuser:
        raise OperatorError("give at least one --group: an operator in no group sees nothing")
    if not password:
        raise OperatorError("the password must not be empty")
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise OperatorError(f"user {username!r} exists already")
    user = User.objects.create_user(username=username, password=password, is_staff=True, is_superuser=superuser)
    user.groups.set(Group.objects.filter(name__in=groups))
    device = TOTPDevice(user=user, name="console", confirmed=True)
    if totp_key:
        device.key = totp_key
    device.save()
    return NewOperator(user, device)
