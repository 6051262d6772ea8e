"""Enterprise self-service (portal.md): accounts bound to a subject, their activation codes, API tokens
and the audit trail of everything they do.

An account is a Django `User` (password hashing and validators, django-otp's TOTPDevice, which is keyed to
the user model) with a one-to-one `PortalAccount` saying which subject it acts for and its email. Its user is
never staff, so the console never lets it in. Secrets (activation codes, tokens) are stored as SHA-256
digests only: they are random and long (≥ 80 bits), so a fast digest is as good as a slow one.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone


class PortalAccount(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="portal_account")
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="portal_accounts")
    email = models.EmailField(max_length=254)  # kept lower-case: the sign-in name
    created_at = models.DateTimeField(auto_now_add=True)

    # DRF and templates ask the request's user these
    is_authenticated = True
    is_anonymous = False

    class Meta:
        verbose_name = verbose_name_plural = "企业账户"
        ordering = ["id"]
        constraints = [models.UniqueConstraint(Lower("email"), name="portal_account_unique_email")]

    def __str__(self) -> str:
        return self.email


class ActivationCode(models.Model):
    """Proof that a person may act for a subject (portal.md §1): single use, 30 days."""

    code_hash = models.CharField(max_length=64, unique=True)
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, related_name="+")
    uscc = models.CharField(max_length=18)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.OneToOneField(PortalAccount, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="activation_code")

    class Meta:
        verbose_name = verbose_name_plural = "激活码"
        ordering = ["id"]
        constraints = [models.CheckConstraint(condition=Q(used_at__isnull=True) | Q(used_by__isnull=False),
                                              name="activation_code_used_by_someone")]

    def __str__(self) -> str:
        return f"activation code {self.pk} for {self.uscc}"


class PortalToken(models.Model):
    """A bearer token of the portal API: 12 hours, or until revoked (DELETE session)."""

    token_hash = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(PortalAccount, on_delete=models.PROTECT, related_name="tokens")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "访问令牌"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"token {self.pk} of {self.account_id}"

    @property
    def subject(self):
        """The subject the token's holder acts for: every portal read and action is confined to it."""
        return self.account.subject


class PortalAuditEvent(models.Model):
    """Who did what, when, from where, for which subject. Append-only. Failed sign-ins and activations are
    counted here too (portal.services): the lockouts hold across every web worker."""

    at = models.DateTimeField(default=timezone.now)
    action = models.CharField(max_length=40)  # portal.services.AuditAction (no choices: adding one needs no migration)
    account = models.ForeignKey(PortalAccount, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    subject = models.ForeignKey("credit.Subject", on_delete=models.PROTECT, null=True, blank=True,
                                related_name="+")
    email = models.CharField(max_length=254, blank=True, default="")  # the sign-in name given, lower-case
    uscc = models.CharField(max_length=40, blank=True, default="")  # the USCC given, normalised
    ip = models.GenericIPAddressField(null=True, blank=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = verbose_name_plural = "企业账户审计日志"
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["action", "email", "at"], name="portal_audit_email"),
            models.Index(fields=["action", "uscc", "at"], name="portal_audit_uscc"),
            models.Index(fields=["subject", "at"], name="portal_audit_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.action}"
